#!/usr/bin/env bash
# The serial console both ways, as a user at a terminal sees it: boots the
# scripts/linux-guest kernel with tandem.shell=1 under a pseudo-terminal
# (console_session.py), types commands into the guest's shell and checks
# their output, `exit` (ACPI power-off, status 0), and Ctrl-A x (QEMU's quit
# escape, status 0); the terminal must be in raw mode while tandem runs and
# exactly as before once it has exited.
#
# Usage: interactive_console_test.sh TANDEM [ACCEL [BOOT_TIMEOUT_SECONDS]]
#   ACCEL: jit (default); when unavailable, falls back to interp (slower).
# Exit 0 pass, 1 fail, 77 skip (no python3).
# Environment: LINUX_CONSOLE_LOG=PREFIX keeps each case's terminal output in
# PREFIX.shell and PREFIX.escape.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tandem=${1:?usage: interactive_console_test.sh TANDEM [ACCEL [BOOT_TIMEOUT]]}
accel=${2:-jit}
boot_timeout=${3:-600}
name="interactive_console_test($accel)"

fail() { echo "$name: FAIL: $*" >&2; exit 1; }

command -v python3 >/dev/null 2>&1 || { echo "$name: SKIP: python3 not found"; exit 77; }
[ -x "$tandem" ] || fail "no tandem binary at $tandem"
tandem=$(realpath "$tandem")
if ! "$tandem" accels | grep -Eq "^$accel +available"; then
  echo "$name: $("$tandem" accels | grep -E "^$accel " || echo "no engine $accel"); falling back to interp"
  accel=interp
  name="interactive_console_test($accel)"
fi
paths=$("$here/../../scripts/linux-guest" --print) || fail "scripts/linux-guest failed"
kernel=$(sed -n 's/^kernel=//p' <<<"$paths")
initrd=$(sed -n 's/^initrd=//p' <<<"$paths")
[ -f "$kernel" ] && [ -f "$initrd" ] || fail "scripts/linux-guest printed no kernel/initrd: $paths"

start=$SECONDS
status=0
for case in shell escape; do
  python3 "$here/console_session.py" "$case" "$tandem" "$accel" "$kernel" "$initrd" "$boot_timeout" || status=1
done
[ $status -eq 0 ] || fail "see above"
echo "$name: PASS ($((SECONDS - start)) s)"
