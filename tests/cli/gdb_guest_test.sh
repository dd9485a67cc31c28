#!/usr/bin/env bash
# Debian's gdb in batch mode against the hello NASM guest on one engine:
# a breakpoint before its `mul ebx` (found in the ROM), registers and memory
# read there, EBX written, one step over the MUL, detach; the guest's output
# must show the product of the changed register. kvm-sandbox runs the session
# (tests/cli/gdb_guest_session.sh) inside scripts/kvm-sandbox with --accel kvm.
# Usage: gdb_guest_test.sh TANDEM ROM ENGINE   (ENGINE: interp, jit, kvm-sandbox)
set -u
tandem=${1:?usage} rom=${2:?usage} engine=${3:?usage}
here=$(cd "$(dirname "$0")" && pwd)
name=gdb_guest.$engine
fail() { echo "$name: FAIL: $*" >&2; exit 1; }
command -v gdb >/dev/null || { echo "$name: SKIP: gdb not installed (scripts/install-deps)"; exit 77; }
command -v python3 >/dev/null || { echo "$name: SKIP: python3 not installed"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/gdb_guest.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The ROM's last 64 KiB sit below 1 MiB at F0000 (real mode, CS base F0000).
offset=$(python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
i = d.find(bytes([0x66, 0xF7, 0xE3]))  # mul ebx
assert i >= 0 and d.count(bytes([0x66, 0xF7, 0xE3])) == 1
print(i - (len(d) - 0x10000))' "$rom") || fail "no single 'mul ebx' in $rom"
addr=$(printf '0x%x' $((0xF0000 + offset)))

case $engine in
  interp|jit)
    "$tandem" accels | grep -q "^$engine  *available" || { echo "$name: SKIP: $engine unavailable"; exit 77; }
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    sh "$here/gdb_guest_session.sh" "$tandem" "$engine" "$rom" "$addr" "$port" "$work" >"$work/out" 2>&1 ;;
  kvm-sandbox)
    # gdb embeds Python: it needs the standard library it was built with
    # (asked of gdb itself, not of whatever python3 is first on PATH).
    py=$(gdb -nx -batch -ex 'python import os; print(os.path.dirname(os.__file__))' 2>/dev/null)
    pyfile=()
    [ -d "$py" ] && pyfile=(--file "$py")
    "$here/../../scripts/kvm-sandbox" --timeout 600 --file "$tandem" --file "$(command -v gdb)" ${pyfile[@]+"${pyfile[@]}"} \
      --file /usr/share/gdb --file "$rom" --file "$here/gdb_guest_session.sh" --file "$work" -- \
      sh "$here/gdb_guest_session.sh" "$tandem" kvm "$rom" "$addr" 1234 "$work" >"$work/out" 2>"$work/sandbox.err"
    status=$?
    [ $status = 0 ] || fail "kvm-sandbox exit status $status: $(tail -20 "$work/sandbox.err")" ;;
  *) fail "unknown engine $engine" ;;
esac

cat "$work/out"
tr -s ' \t' ' ' <"$work/out" >"$work/squeezed"
rip=$(printf '0x%x' "$offset")
next=$(printf '0x%x' $((offset + 3)))
for want in "gdb-status 0" "rip $rip $rip" "rax 0x6 6" "rbx 0x7 7" "$addr: 0x66 0xf7 0xe3" \
            "rip $next $next" "rax 0x30 48" "rbx 0x8 8"; do
  grep -q "^$want\$" "$work/squeezed" || fail "no line '$want'"
done
grep -q "6 \* 7 = 48" "$work/out" || fail "the guest did not print the product of the written EBX (6 * 7 = 48)"
echo "$name: ok"
