#!/usr/bin/env bash
# `tandem lockstep` over a planted divergence (TANDEM_PLANT_FAULT): it must
# stop at the instruction the fault is in, name the register, and, starting
# from a coarse granularity, find the same instruction again; bad input ends
# with one line and exit status 2.
# Usage: lockstep_test.sh TANDEM GUEST_ROM
set -u
tandem=$1 rom=$2
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# check_divergence OUTPUT MNEMONIC REGISTER XOR: the reported count is the
# last traced instruction, which is MNEMONIC; REGISTER is the one marked and
# the two values differ by XOR.
check_divergence() {
  python3 - "$@" <<'PY'
import re, sys
text, mnemonic, register, xor = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3], int(sys.argv[4], 16)
m = re.search(r"diverge at instruction (\d+)", text)
assert m, "no divergence reported"
count = int(m.group(1))
trace = re.findall(r"^  #(\d+)\s+\S+\s+(\S+)", text, re.M)
assert trace, "no instructions disassembled"
last_n, last_mnemonic = int(trace[-1][0]), trace[-1][1]
assert last_n == count, f"the last instruction traced is #{last_n}, the divergence is at {count}"
assert last_mnemonic == mnemonic, f"the last instruction is {last_mnemonic}, expected {mnemonic}"
marked = re.findall(r"^\* (\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)", text, re.M)
assert [r for r, _, _ in marked] == [register], f"marked registers {marked}, expected only {register}"
a, b = int(marked[0][1], 16), int(marked[0][2], 16)
assert a ^ b == xor, f"{register} values {a:x} and {b:x} differ by {a ^ b:x}, expected {xor:x}"
print(f"lockstep: found at instruction {count} ({last_mnemonic}), {register} {a:x} vs {b:x}")
PY
}

# Every instruction: INC computes PF inverted on the interpreter only.
TANDEM_PLANT_FAULT=interp:inc-pf "$tandem" lockstep --accel interp,jit -- --bios "$rom" --no-reboot >"$tmp/inc" 2>&1
status=$?
[ $status -eq 1 ] || fail "inc-pf: exit status $status, expected 1"
check_divergence "$tmp/inc" inc rflags 4 || { fail "inc-pf report"; cat "$tmp/inc" >&2; }

# The same engine on both sides carries the fault on both: no divergence.
TANDEM_PLANT_FAULT=interp:inc-pf "$tandem" lockstep --accel interp,interp -- --bios "$rom" --no-reboot >"$tmp/same" 2>&1
[ $? -eq 0 ] || { fail "interp,interp with the fault on both sides diverged"; cat "$tmp/same" >&2; }

# Coarse: compared every 1000 instructions, then again from the start
# comparing every slice, down to the CLD that sets DF (on the JIT side).
TANDEM_PLANT_FAULT=jit:cld-df "$tandem" lockstep --accel interp,jit --every 1000 -- --bios "$rom" --no-reboot \
  >"$tmp/cld" 2>&1
status=$?
[ $status -eq 1 ] || fail "cld-df: exit status $status, expected 1"
check_divergence "$tmp/cld" cld rflags 400 || { fail "cld-df report"; cat "$tmp/cld" >&2; }
grep -q "found again comparing after every slice" "$tmp/cld" || fail "cld-df: no second, finer run reported"

expect_usage_error() {  # description args...
  local what=$1
  shift
  "$tandem" lockstep "$@" >"$tmp/out" 2>"$tmp/err"
  local status=$? lines
  lines=$(wc -l <"$tmp/err")
  if [ $status -ne 2 ] || [ "$lines" -ne 1 ]; then
    fail "$what: exit status $status and $lines stderr lines, expected 2 and 1"
    cat "$tmp/err" >&2
  else
    echo "lockstep: $what: $(cat "$tmp/err")"
  fi
}
expect_usage_error "unknown engine" --accel interp,nosuch -- --bios "$rom"
expect_usage_error "one engine" --accel interp -- --bios "$rom"
expect_usage_error "kvm" --accel interp,kvm -- --bios "$rom"
expect_usage_error "no run options" --accel interp,jit
expect_usage_error "missing image" --accel interp,jit -- --bios "$tmp/missing.rom"
exit $failed
