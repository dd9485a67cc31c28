#!/usr/bin/env bash
# The guest harness's sandbox exemption (run_guest.sh --sandbox-known-diff)
# with stand-ins for tandem and the sandbox: only a KVM run that shows the
# known difference passes; a sandbox that could not run, a timeout or another
# difference fails.
# Usage: run_guest_selftest.sh   (exit 0 pass, 1 fail)
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/run_guest_selftest.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=0

# tandem: interp and kvm "available"; `run` writes $work/out.<accel> as the
# transcript and exits with the status in $work/status.<accel>.
cat >"$work/tandem" <<'FAKE'
#!/usr/bin/env bash
dir=$(dirname "$0")
if [ "$1" = accels ]; then
  printf 'kvm      unavailable  stand-in\ninterp   available    stand-in\n'
  exit 0
fi
accel= serial= state=
while [ $# -gt 0 ]; do
  case $1 in
    --accel) accel=$2; shift ;;
    --serial) serial=${2#file:}; shift ;;
    --dump-state) state=$2; shift ;;
  esac
  shift
done
cp "$dir/out.$accel" "$serial"
printf 'rax=1\nrip=10\n' >"$state"
exit "$(cat "$dir/status.$accel")"
FAKE
# The sandbox: runs the command here, or fails as kvm-sandbox does (125).
cat >"$work/sandbox" <<'FAKE'
#!/usr/bin/env bash
[ -f "$(dirname "$0")/sandbox-broken" ] && { echo "kvm-sandbox: QEMU failed" >&2; exit 125; }
while [ "$1" != -- ]; do shift; done
shift
rm -rf /tmp/guest-run
"$@"
status=$?
rm -rf /tmp/guest-run
exit $status
FAKE
chmod +x "$work/tandem" "$work/sandbox"
printf 'guest: start\nfirst check: ok\nguest: PASS\n' >"$work/expected.txt"
: >"$work/image.rom"

# case NAME WANT_STATUS KVM_TRANSCRIPT KVM_STATUS [broken]
run_case() {
  local name=$1 want=$2 kvm_out=$3 kvm_status=$4 broken=${5:-}
  cp "$work/expected.txt" "$work/out.interp"
  echo 1 >"$work/status.interp"
  printf '%b' "$kvm_out" >"$work/out.kvm"
  echo "$kvm_status" >"$work/status.kvm"
  rm -f "$work/sandbox-broken"
  [ -n "$broken" ] && touch "$work/sandbox-broken"
  TANDEM_GUEST_ENGINES="interp kvm" TANDEM_KVM_MODE=sandbox TANDEM_KVM_SANDBOX="$work/sandbox" \
    TANDEM_GUEST_OUT="$work/out-$name" \
    bash "$here/run_guest.sh" "$work/tandem" "$work/image.rom" "$work/expected.txt" \
    --sandbox-known-diff '^first check: FAIL \(known\)$' "stand-in limitation" >"$work/log" 2>&1
  local got=$?
  if [ $got -ne "$want" ]; then
    echo "run_guest_selftest: FAIL: $name: run_guest.sh exit $got, want $want" >&2
    sed 's/^/    /' "$work/log" >&2
    failed=1
  else
    echo "run_guest_selftest: ok: $name (exit $got)"
  fi
}

run_case identical 0 'guest: start\nfirst check: ok\nguest: PASS\n' 1
run_case known-difference 0 'guest: start\nfirst check: FAIL (known)\n' 3
run_case sandbox-could-not-run 1 '' 1 broken
run_case other-difference 1 'guest: start\nfirst check: FAIL (other)\n' 3
run_case known-line-but-timeout 1 'guest: start\nfirst check: FAIL (known)\n' 124
run_case known-line-but-engine-error 1 'guest: start\nfirst check: FAIL (known)\n' 4
[ $failed -eq 0 ] && echo "run_guest_selftest: PASS"
exit $failed
