# Shared by the compare tests (sourced): expect_usage_error and
# check_divergence. Needs $tandem, $tmp and fail() from the sourcing script.

# Expects `tandem SUBCOMMAND args...` to refuse bad input with exit status 2
# and exactly one line on stderr.
expect_usage_error() {  # subcommand description args...
  local sub=$1 what=$2
  shift 2
  "$tandem" "$sub" "$@" >"$tmp/out" 2>"$tmp/err"
  local status=$? lines
  lines=$(wc -l <"$tmp/err")
  if [ $status -ne 2 ] || [ "$lines" -ne 1 ]; then
    fail "$what: exit status $status and $lines stderr lines, expected 2 and 1"
    cat "$tmp/err" >&2
  else
    echo "$sub: $what: $(cat "$tmp/err")"
  fi
}

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
