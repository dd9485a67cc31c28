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
. "$(dirname "$0")/lib.sh"


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
expect_usage_error lockstep "unknown engine" --accel interp,nosuch -- --bios "$rom"
expect_usage_error lockstep "one engine" --accel interp -- --bios "$rom"
expect_usage_error lockstep "kvm against jit" --accel kvm,jit -- --bios "$rom"
expect_usage_error lockstep "kvm against kvm" --accel kvm,kvm -- --bios "$rom"
expect_usage_error lockstep "no run options" --accel interp,jit
expect_usage_error lockstep "missing image" --accel interp,jit -- --bios "$tmp/missing.rom"
# Two user-network stacks would clash (hostfwd ports, the TAP device).
expect_usage_error lockstep "nic user" --accel interp,jit -- --bios "$rom" --nic user
exit $failed
