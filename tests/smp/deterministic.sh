#!/usr/bin/env bash
# Deterministic mode (--deterministic): the smp guest's four CPUs on one host
# thread, guest time counted in instructions. Two runs on the same engine
# retire exactly the same number of instructions and end in the same state;
# interp and jit give the same transcript and state; --deterministic with
# KVM is refused with exit status 2.
# Usage: deterministic.sh TANDEM SMP_ROM EXPECTED_TRANSCRIPT
set -u
tandem=$1 rom=$2 expected=$3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail=0

run() {  # name engine
  "$tandem" run --accel "$2" --deterministic --smp 4 --bios "$rom" --no-reboot --timeout 240 \
    --serial "file:$out/$1.txt" --dump-state "$out/$1.state" --stats 2>"$out/$1.err"
  local rc=$?
  if [ $rc -ne 1 ]; then
    echo "FAIL: $1: exit status $rc (want 1, the guest's own pass)" >&2
    cat "$out/$1.err" >&2
    fail=1
  fi
  # "tandem: interp: 1.234 s, 123456 instructions, ..." -> the count
  sed -n 's/.* \([0-9][0-9]*\) instructions.*/\1/p' "$out/$1.err" | head -1 >"$out/$1.count"
}

run interp1 interp
run interp2 interp
run jit1 jit
for r in interp1 interp2 jit1; do
  if ! cmp -s "$expected" "$out/$r.txt"; then
    echo "FAIL: $r: transcript differs from $expected:" >&2
    diff "$expected" "$out/$r.txt" >&2
    fail=1
  fi
done
if ! cmp -s "$out/interp1.state" "$out/interp2.state" || ! cmp -s "$out/interp1.state" "$out/jit1.state"; then
  echo "FAIL: the final states differ between runs:" >&2
  diff "$out/interp1.state" "$out/interp2.state" >&2
  diff "$out/interp1.state" "$out/jit1.state" >&2
  fail=1
fi
c1=$(cat "$out/interp1.count") c2=$(cat "$out/interp2.count")
if [ -z "$c1" ] || [ "$c1" != "$c2" ]; then
  echo "FAIL: two interp runs retired '$c1' and '$c2' instructions" >&2
  fail=1
else
  echo "two interp runs retired $c1 instructions each"
fi

"$tandem" run --accel kvm --deterministic --bios "$rom" --timeout 5 --serial none 2>"$out/kvm.err"
rc=$?
if [ $rc -ne 2 ] || ! grep -q -- "--deterministic needs" "$out/kvm.err"; then
  echo "FAIL: --accel kvm --deterministic: exit status $rc (want 2 and the reason)" >&2
  cat "$out/kvm.err" >&2
  fail=1
fi
exit $fail
