#!/usr/bin/env bash
# The default firmware (Debian's SeaBIOS) on every engine: with nothing to
# boot it must reach "No bootable device." on the serial console (through
# fw_cfg's etc/sercon-port), with identical transcripts on each engine,
# and without tandem's fw_cfg reporting (-d guest_errors) an item it lacks.
#
# Usage: seabios_boot_test.sh TANDEM
# Environment: TANDEM_GUEST_ENGINES (default "interp jit kvm"),
#   TANDEM_KVM_MODE direct|sandbox|auto (as tests/guests/run_guest.sh),
#   TANDEM_FIRMWARE_OUT (default ./firmware-out/seabios).
# Exit status: 0 pass, 1 failure, 77 skip (an engine is unavailable here).
set -u
tandem=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
until_line=$top/scripts/lib/run-until-line.sh
firmware=/usr/share/seabios/bios-256k.bin
text="No bootable device."
engines=${TANDEM_GUEST_ENGINES:-"interp jit kvm"}
out=${TANDEM_FIRMWARE_OUT:-$PWD/firmware-out/seabios}
mkdir -p "$out"
if [ ! -f "$firmware" ]; then
  echo "*** SKIPPED: $firmware is missing (Debian package seabios; scripts/install-deps installs it)" >&2
  exit 77
fi

accels=$("$tandem" accels 2>&1)
kvm_mode=${TANDEM_KVM_MODE:-auto}
if [ "$kvm_mode" = auto ]; then
  if printf '%s\n' "$accels" | grep -Eq '^kvm +available' && [ ! -d /sys/module/kvm_pvm ]; then
    kvm_mode=direct
  else
    kvm_mode=sandbox
  fi
fi

failed=0
ran=()
skipped=()
for engine in $engines; do
  transcript=$out/transcript.$engine
  rm -f "$transcript"
  if [ "$engine" = kvm ] && [ "$kvm_mode" = sandbox ]; then
    echo "firmware.seabios: kvm runs in the nested KVM sandbox" >&2
    bash=$(command -v bash)
    inner='"$0" "$@" >/tmp/fw-seconds 2>/tmp/fw-stderr; status=$?; cat /tmp/fw-seconds >&2; cat /tmp/fw-stderr >&2; cat /tmp/fw-serial; exit $status'
    "$top/scripts/kvm-sandbox" --file "$tandem" --file "$until_line" --file "$firmware" --file "$bash" -- \
      sh -c "$inner" "$bash" "$until_line" "$text" 300 /tmp/fw-serial \
      "$tandem" run --accel kvm --serial file:/tmp/fw-serial --timeout 300 -d guest_errors >"$transcript" 2>"$out/stderr.$engine"
    status=$?
  elif ! printf '%s\n' "$accels" | grep -Eq "^$engine +available"; then
    echo "*** SKIPPED: firmware.seabios on $engine: engine unavailable here" >&2
    skipped+=("$engine")
    continue
  else
    "$until_line" "$text" 120 "$transcript" "$tandem" run --accel "$engine" --serial "file:$transcript" -d guest_errors \
      --timeout 120 >"$out/seconds.$engine" 2>"$out/stderr.$engine"
    status=$?
  fi
  ran+=("$engine")
  if [ $status -ne 0 ]; then
    echo "FAIL: $engine: \"$text\" never came (status $status)" >&2
    tail -n 20 "$out/stderr.$engine" | sed 's/^/  stderr: /' >&2
    [ -f "$transcript" ] && tail -n 5 "$transcript" | sed 's/^/  serial: /' >&2
    failed=1
    continue
  fi
  if ! grep -q "SeaBIOS (version" "$transcript"; then
    echo "FAIL: $engine: no SeaBIOS banner on the serial console" >&2
    failed=1
  fi
  if [ "$(tail -n 1 "$transcript" | tr -d '\r')" != "$text" ]; then
    echo "FAIL: $engine: the transcript does not end with \"$text\"" >&2
    failed=1
  fi
  if grep -q "fw_cfg" "$out/stderr.$engine"; then
    echo "FAIL: $engine: fw_cfg complained:" >&2
    grep "fw_cfg" "$out/stderr.$engine" | sed 's/^/  /' >&2
    failed=1
  fi
done

if [ ${#ran[@]} -ge 2 ]; then
  first=${ran[0]}
  for engine in "${ran[@]:1}"; do
    if [ -f "$out/transcript.$first" ] && [ -f "$out/transcript.$engine" ] &&
       ! cmp -s "$out/transcript.$first" "$out/transcript.$engine"; then
      echo "FAIL: the serial transcripts of $first and $engine differ:" >&2
      diff <(cat -A "$out/transcript.$first") <(cat -A "$out/transcript.$engine") | head -n 20 >&2
      failed=1
    fi
  done
fi

if [ $failed -ne 0 ]; then
  echo "firmware.seabios: FAILED (outputs in $out)" >&2
  exit 1
fi
if [ ${#skipped[@]} -ne 0 ]; then
  echo "*** firmware.seabios: passed on ${ran[*]:-no engine}; SKIPPED on ${skipped[*]}" >&2
  exit 77
fi
echo "firmware.seabios: SeaBIOS reached \"$text\" on ${ran[*]} with identical transcripts"
