#!/usr/bin/env bash
# Runs one NASM guest on every engine and checks it:
#   - tandem exits with status 1 (the guest wrote 0 to the debug-exit port),
#   - the COM1 transcript equals the checked-in expected transcript, byte for byte,
#   - the transcripts and the final CPU states (--dump-state) of the engines match.
#
# Usage: run_guest.sh TANDEM IMAGE EXPECTED_FILE [--reboot]
#                     [--sandbox-known-diff REGEX REASON] [extra tandem args...]
#   --sandbox-known-diff: a known limitation of the nested sandbox (REASON).
#   Its KVM run is reported instead of failing only when it shows exactly
#   that difference: the guest ran to its own exit (debug-exit status) and
#   the first line of its transcript that differs from EXPECTED_FILE matches
#   the extended regular expression REGEX. Anything else (the sandbox could
#   not run, a timeout, an engine error, another difference) fails.
#   IMAGE ending in .elf is booted with --kernel (Multiboot), anything else
#   with --bios. --reboot (the harness's own flag) runs without --no-reboot,
#   for guests that reset the machine on purpose.
#
# Environment:
#   TANDEM_GUEST_ENGINES   engines to run (default "interp jit kvm")
#   TANDEM_KVM_MODE        direct | sandbox | auto (default): where the KVM
#                          engine runs. auto uses the host's /dev/kvm when it is
#                          a hardware KVM and the nested sandbox
#                          (scripts/kvm-sandbox) when /dev/kvm is missing or is
#                          the kvm_pvm module, which cannot run every guest.
#   TANDEM_GUEST_OUT       where transcripts/states go (default ./guest-out/NAME)
#   TANDEM_KVM_SANDBOX     the sandbox command (default scripts/kvm-sandbox;
#                          the harness's self-test puts a stand-in here)
#   TANDEM_GUEST_UPDATE=1  write EXPECTED_FILE from the run when all engines
#                          agree (read the result before committing it!)
#
# Exit status: 0 pass; 1 failure; 77 skip (an engine is unavailable here, so
# engine parity was not checked: reported loudly on stderr).
set -u

if [ $# -lt 3 ]; then
  echo "usage: $0 TANDEM IMAGE EXPECTED_FILE [--reboot] [tandem args...]" >&2
  exit 1
fi
tandem=$1 image=$2 expected=$3
shift 3
reboot=0
exempt=""
known_diff=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --reboot) reboot=1 ;;
    --sandbox-known-diff) known_diff=$2; exempt=$3; shift 2 ;;
    *) extra+=("$1") ;;
  esac
  shift
done
top=$(cd "$(dirname "$0")/../.." && pwd)

name=$(basename "$expected" .txt)
engines=${TANDEM_GUEST_ENGINES:-"interp jit kvm"}
out=${TANDEM_GUEST_OUT:-$PWD/guest-out/$name}
mkdir -p "$out"
case "$image" in
  *.elf) boot=(--kernel "$image") ;;
  *) boot=(--bios "$image") ;;
esac
[ $reboot -eq 1 ] || boot+=(--no-reboot)

failed=0
skipped=()
ran=()

fail() {
  echo "FAIL: guest.$name: $*" >&2
  failed=1
}

# A failure that involves ENGINE; the KVM run's failures are reported
# without failing when that run showed the known sandbox difference.
kvm_known=0
fail_for() {  # engine message...
  local engine=$1
  shift
  if [ "$engine" = kvm ] && [ "$kvm_known" = 1 ]; then
    echo "KNOWN SANDBOX LIMITATION ($exempt): guest.$name: $*" >&2
  else
    fail "$*"
  fi
}

# Line N of a file, quoted, with tabs and carriage returns made visible.
show_line() {  # N file
  awk -v n="$1" 'NR == n { s = $0; gsub(/\t/, "\\t", s); gsub(/\r/, "\\r", s); print "\"" s "\""; found = 1; exit }
                 END { if (!found) print "(none: the file ends before it)" }' "$2"
}

# Prints where two files first differ: byte offset, line number, both lines.
show_difference() {  # what_a file_a what_b file_b
  local msg line
  msg=$(cmp -- "$2" "$4" 2>&1)
  echo "  $msg" >&2
  line=$(printf '%s\n' "$msg" | sed -n 's/.*line \([0-9]*\).*/\1/p' | head -n1)
  if [ -n "$line" ]; then
    printf '  line %s of %s: %s\n' "$line" "$1" "$(show_line "$line" "$2")" >&2
    printf '  line %s of %s: %s\n' "$line" "$3" "$(show_line "$line" "$4")" >&2
  fi
}

# 0 when a sandbox KVM run shows the known difference and nothing else: the
# guest exited through the debug-exit port (odd status), and the first line
# of its transcript that differs from the expected one matches known_diff.
shows_known_difference() {  # transcript status
  local line text
  [ $(($2 & 1)) -eq 1 ] || { echo "exit status $2 is not the guest's own exit"; return 1; }
  [ -f "$1" ] || { echo "no transcript"; return 1; }
  line=$(cmp -- "$expected" "$1" 2>&1 | sed -n 's/.*line \([0-9]*\).*/\1/p' | head -n1)
  [ -n "$line" ] || { echo "no line differs"; return 1; }
  text=$(sed -n "${line}p" "$1")
  printf '%s\n' "$text" | grep -Eq -- "$known_diff" ||
    { echo "line $line is \"$text\", not the known difference /$known_diff/"; return 1; }
  echo "line $line is \"$text\""
}

# Which engines does this machine offer? (`tandem accels`: NAME available|unavailable ...)
accels=$("$tandem" accels 2>&1)
accels_status=$?

# Where the KVM engine runs (see TANDEM_KVM_MODE above).
kvm_mode=${TANDEM_KVM_MODE:-auto}
if [ "$kvm_mode" = auto ]; then
  kvm_info=$(printf '%s\n' "$accels" | awk '$1 == "kvm"')
  if [ "$(printf '%s\n' "$kvm_info" | awk '{print $2}')" = available ] && [ ! -d /sys/module/kvm_pvm ]; then
    kvm_mode=direct
  else
    kvm_mode=sandbox
  fi
fi

# Runs tandem for one engine; in the sandbox the outputs come back as a
# base64 tar on stdout, and tandem's exit status in a file.
run_engine() {  # engine transcript state stderr
  if [ "$1" != kvm ] || [ "$kvm_mode" = direct ]; then
    "$tandem" run --accel "$1" "${boot[@]}" --serial "file:$2" --timeout 60 --dump-state "$3" \
      "${extra[@]}" 2>"$4"
    return
  fi
  local d=/tmp/guest-run tmp status inner sandbox=${TANDEM_KVM_SANDBOX:-$top/scripts/kvm-sandbox}
  inner="mkdir -p $d; \"\$0\" \"\$@\" 2>$d/stderr; echo \$? >$d/status; cd $d && tar cf - . | base64"
  tmp=$(mktemp -d)
  if ! "$sandbox" --file "$tandem" --file "$image" -- sh -c "$inner" "$tandem" \
       run --accel kvm "${boot[@]}" --serial "file:$d/transcript" --timeout 60 \
       --dump-state "$d/state" "${extra[@]}" >"$tmp/tar.b64" 2>"$tmp/sandbox.err"; then
    { echo "kvm-sandbox failed:"; cat "$tmp/sandbox.err"; } >"$4"
    rm -rf "$tmp"
    return 125
  fi
  base64 -d "$tmp/tar.b64" | tar xf - -C "$tmp"
  cp "$tmp/stderr" "$4"
  [ -f "$tmp/transcript" ] && cp "$tmp/transcript" "$2"
  [ -f "$tmp/state" ] && cp "$tmp/state" "$3"
  status=$(cat "$tmp/status" 2>/dev/null || echo 125)
  rm -rf "$tmp"
  return "$status"
}

for engine in $engines; do
  info=$(printf '%s\n' "$accels" | awk -v e="$engine" '$1 == e')
  if [ "$engine" = kvm ] && [ "$kvm_mode" = sandbox ]; then
    echo "guest.$name: kvm runs in the nested KVM sandbox (host: ${info:-no kvm entry}${info:+; }$( [ -d /sys/module/kvm_pvm ] && echo 'kvm_pvm module'))" >&2
  elif [ $accels_status -ne 0 ] || [ "$(printf '%s\n' "$info" | awk '{print $2}')" != available ]; then
    echo "*** SKIPPED: guest.$name on $engine: engine unavailable here: ${info:-$accels}" >&2
    skipped+=("$engine")
    continue
  fi
  transcript=$out/transcript.$engine
  state=$out/state.$engine
  rm -f "$transcript" "$state"
  run_engine "$engine" "$transcript" "$state" "$out/stderr.$engine"
  status=$?
  # A Multiboot command line starts with the kernel's path, which depends on
  # where the build is: the expected transcripts say KERNEL there.
  if [[ $image == *.elf ]] && [ -f "$transcript" ]; then
    IMAGE=$image perl -pi -e 's/\Q$ENV{IMAGE}\E/KERNEL/g' "$transcript"
  fi
  ran+=("$engine")
  if [ "$engine" = kvm ] && [ "$kvm_mode" = sandbox ] && [ -n "$known_diff" ]; then
    if why=$(shows_known_difference "$transcript" "$status"); then
      kvm_known=1
      echo "guest.$name: KNOWN SANDBOX LIMITATION ($exempt): kvm's $why; its differences do not fail this test" >&2
    elif ! cmp -s "$expected" "$transcript" 2>/dev/null || [ "$status" -ne 1 ]; then
      echo "guest.$name: the known sandbox difference ($exempt) does not explain this kvm run: $why" >&2
    fi
  fi
  if [ $status -ne 1 ]; then
    # (v << 1) | 1 is the guest's exit code v; 0 reset, 2 bad input, 4 engine
    # error, 124 timeout, 125 the sandbox could not run.
    case $status in
      0) why="the guest reset or triple-faulted (--no-reboot)" ;;
      2) why="tandem refused the input" ;;
      4) why="engine error" ;;
      125) why="the KVM sandbox could not run" ;;
      124) why="timeout after 60 s" ;;
      255) why="guest code 7Fh: unexpected interrupt or exception" ;;
      *) if [ $((status & 1)) -eq 1 ]; then
           why=$(printf 'guest failure code %02Xh' $((status >> 1)))
         else
           why="engine error"
         fi ;;
    esac
    fail_for "$engine" "$engine: exit status $status, expected 1 ($why)"
    if [ -s "$out/stderr.$engine" ]; then
      echo "  stderr ($engine):" >&2
      sed 's/^/    /' "$out/stderr.$engine" | tail -n 30 >&2
    fi
    if [ -f "$transcript" ]; then
      echo "  transcript ($engine), last lines:" >&2
      tail -n 10 "$transcript" | sed 's/^/    /' >&2
    fi
  fi
  if [ ! -f "$transcript" ]; then
    fail_for "$engine" "$engine: no transcript written"
    continue
  fi
  if [ "${TANDEM_GUEST_UPDATE:-0}" != 1 ]; then
    if [ ! -f "$expected" ]; then
      fail_for "$engine" "$engine: no expected transcript $expected (review $transcript, then copy it there)"
    elif ! cmp -s "$expected" "$transcript"; then
      fail_for "$engine" "$engine: transcript differs from $expected"
      show_difference expected "$expected" "$engine" "$transcript"
    fi
  fi
done

# Engine parity: transcripts and final CPU states.
if [ ${#ran[@]} -ge 2 ]; then
  first=${ran[0]}
  for engine in "${ran[@]:1}"; do
    if [ -f "$out/transcript.$first" ] && [ -f "$out/transcript.$engine" ] &&
       ! cmp -s "$out/transcript.$first" "$out/transcript.$engine"; then
      fail_for "$engine" "transcripts differ between $first and $engine"
      show_difference "$first" "$out/transcript.$first" "$engine" "$out/transcript.$engine"
    fi
    missing=""
    for e in "$first" "$engine"; do
      [ -f "$out/state.$e" ] || missing+=" $e"
    done
    if [ -n "$missing" ]; then
      fail_for "$engine" "no --dump-state file from$missing: final states not compared"
      continue
    fi
    # GPRs, RIP, RFLAGS, control registers, EFER, segment selectors and bases.
    diffs=$(awk -F= -v a="$first" -v b="$engine" '
      function wanted(n) {
        return n ~ /^(r[a-d]x|r[sd]i|r[sb]p|r[0-9]+|rip|rflags|cr[034]|efer|[c-gs]s\.(sel|base))$/
      }
      FNR == 1 { file++ }
      file == 1 && wanted($1) { va[$1] = $2; order[++n] = $1 }
      file == 2 && wanted($1) { vb[$1] = $2; if (!($1 in va)) order[++n] = $1 }
      END {
        if (n == 0) print "  no comparable fields (rax=, rip=, ...) in the state files"
        for (i = 1; i <= n; i++) {
          k = order[i]
          if (!(k in va)) printf "  %s: missing on %s, %s on %s\n", k, a, vb[k], b
          else if (!(k in vb)) printf "  %s: %s on %s, missing on %s\n", k, va[k], a, b
          else if (va[k] != vb[k]) printf "  %s: %s on %s, %s on %s\n", k, va[k], a, vb[k], b
        }
      }' "$out/state.$first" "$out/state.$engine")
    if [ -n "$diffs" ]; then
      fail_for "$engine" "final CPU state differs between $first and $engine"
      printf '%s\n' "$diffs" >&2
    fi
  done
fi

if [ "${TANDEM_GUEST_UPDATE:-0}" = 1 ] && [ $failed -eq 0 ] && [ ${#ran[@]} -ge 1 ]; then
  cp "$out/transcript.${ran[0]}" "$expected"
  echo "guest.$name: wrote $expected from the ${ran[0]} transcript; read it before committing" >&2
fi

if [ $failed -ne 0 ]; then
  echo "guest.$name: FAILED (outputs in $out)" >&2
  exit 1
fi
if [ ${#skipped[@]} -ne 0 ]; then
  echo "*** guest.$name: passed on ${ran[*]:-no engine}; SKIPPED on ${skipped[*]}: engine parity NOT checked" >&2
  exit 77
fi
echo "guest.$name: passed on ${ran[*]}, transcripts and final states identical"
exit 0
