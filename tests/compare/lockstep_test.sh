#!/usr/bin/env bash
# `tandem lockstep` over a planted divergence (TANDEM_PLANT_FAULT): it must
# stop at the instruction the fault is in (or the JIT block holding it), name
# the register, and, starting from a coarse granularity, find the same place
# again; bad input ends with one line and exit status 2.
# Usage: lockstep_test.sh TANDEM GUEST_ROM
set -u
tandem=$1 rom=$2
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# check_divergence OUTPUT MNEMONIC REGISTER XOR: the reported count is the
# last traced instruction; MNEMONIC is that one or, when the JIT ran a block
# as one slice, one of the slice's; REGISTER is the only one marked and its
# two values differ by XOR.
check_divergence() {
  python3 - "$@" <<'PY'
import re, sys
text, mnemonic, register, xor = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3], int(sys.argv[4], 16)
m = re.search(r"diverge at instruction (\d+)", text)
assert m, "no divergence reported"
count = int(m.group(1))
first = count
s = re.search(r"ran instructions (\d+)\.\.(\d+) as one slice", text)
if s:
    first = int(s.group(1))
    assert int(s.group(2)) == count, "the slice does not end at the divergence"
trace = [(int(n), mn) for n, mn in re.findall(r"^  #(\d+)\s+\S+\s+(\S+)", text, re.M)]
assert trace, "no instructions disassembled"
assert trace[-1][0] == count, f"the last instruction traced is #{trace[-1][0]}, the divergence is at {count}"
in_slice = [mn for n, mn in trace if first <= n <= count]
assert mnemonic in in_slice, f"{mnemonic} is not among the instructions #{first}..#{count}: {in_slice}"
marked = re.findall(r"^\* (\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)", text, re.M)
assert [r for r, _, _ in marked] == [register], f"marked registers {marked}, expected only {register}"
a, b = int(marked[0][1], 16), int(marked[0][2], 16)
assert a ^ b == xor, f"{register} values {a:x} and {b:x} differ by {a ^ b:x}, expected {xor:x}"
print(f"lockstep: found at instruction {count} (#{first}..#{count}: {in_slice}), {register} {a:x} vs {b:x}")
PY
}

# After every slice: CLD sets DF on the interpreter only. (An INC that
# inverts PF is no test at this granularity: inside a JIT block the next
# flag-setting instruction hides it before the comparison.)
TANDEM_PLANT_FAULT=interp:cld-df "$tandem" lockstep --accel interp,jit -- --bios "$rom" --no-reboot >"$tmp/fine" 2>&1
status=$?
[ $status -eq 1 ] || fail "interp:cld-df: exit status $status, expected 1"
check_divergence "$tmp/fine" cld rflags 400 || { fail "interp:cld-df report"; cat "$tmp/fine" >&2; }

# The same engine on both sides carries the fault on both: no divergence.
TANDEM_PLANT_FAULT=interp:cld-df "$tandem" lockstep --accel interp,interp -- --bios "$rom" --no-reboot >"$tmp/same" 2>&1
[ $? -eq 0 ] || { fail "interp,interp with the fault on both sides diverged"; cat "$tmp/same" >&2; }

# Coarse: compared every 1000 instructions, then again from the start
# comparing every slice, down to the CLD that sets DF (on the JIT side).
TANDEM_PLANT_FAULT=jit:cld-df "$tandem" lockstep --accel interp,jit --every 1000 -- --bios "$rom" --no-reboot \
  >"$tmp/cld" 2>&1
status=$?
[ $status -eq 1 ] || fail "cld-df: exit status $status, expected 1"
check_divergence "$tmp/cld" cld rflags 400 || { fail "cld-df report"; cat "$tmp/cld" >&2; }
grep -q "found again comparing after every slice" "$tmp/cld" || fail "cld-df: no second, finer run reported"

# Bad input: one line on stderr, exit status 2.
. "$(dirname "$0")/lib.sh"
expect_usage_error lockstep "unknown engine" --accel interp,nosuch -- --bios "$rom"
expect_usage_error lockstep "one engine" --accel interp -- --bios "$rom"
expect_usage_error lockstep "kvm" --accel interp,kvm -- --bios "$rom"
expect_usage_error lockstep "no run options" --accel interp,jit
expect_usage_error lockstep "missing image" --accel interp,jit -- --bios "$tmp/missing.rom"
# Two user-network stacks would clash (hostfwd ports, the TAP device).
expect_usage_error lockstep "nic user" --accel interp,jit -- --bios "$rom" --nic user
exit $failed
