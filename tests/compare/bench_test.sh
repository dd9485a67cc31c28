#!/usr/bin/env bash
# `tandem bench` on a NASM guest: the JSON parses, every engine `tandem
# accels` calls available has a column (the others are listed with the
# reason), the transcripts agree and each run ended as the guest asked; a
# planted fault on one engine is a result in the table, not a failure of
# the command; bad input ends with one line and exit status 2.
# Usage: bench_test.sh TANDEM GUEST_ROM
set -u
tandem=$1 rom=$2
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$tandem" accels >"$tmp/accels" || fail "tandem accels failed"
"$tandem" bench --runs 2 --json -- --bios "$rom" --no-reboot >"$tmp/bench.json" 2>"$tmp/bench.err"
status=$?
[ $status -eq 0 ] || { fail "bench exit status $status"; cat "$tmp/bench.err" >&2; }
python3 - "$tmp/bench.json" "$tmp/accels" <<'PY' || failed=1
import json, sys
data = json.load(open(sys.argv[1]))
accels = [l.split() for l in open(sys.argv[2]) if l.strip()]
available = [a[0] for a in accels if a[1] == "available"]
unavailable = [a[0] for a in accels if a[1] == "unavailable"]
engines = {e["engine"]: e for e in data["engines"]}
ok = True
def check(cond, msg):
    global ok
    if not cond:
        print("FAIL:", msg, file=sys.stderr)
        ok = False
for name in available:
    check(name in engines, f"available engine {name} has no column")
for name in unavailable:
    why = [u for u in data["unavailable"] if u["engine"] == name]
    check(why and why[0]["reason"], f"unavailable engine {name} is not listed with its reason")
    print(f"bench: {name} unavailable: {why[0]['reason'] if why else '?'}")
check(data["transcripts_agree"], "transcripts differ between engines")
for name, e in engines.items():
    check(len(e["wall_s"]) == 2, f"{name}: {len(e['wall_s'])} runs, expected 2")
    check(e["exit_statuses"] == [1, 1], f"{name}: exit statuses {e['exit_statuses']}, expected [1, 1]")
    check(e["min_s"] <= e["median_s"] <= e["max_s"], f"{name}: min/median/max out of order")
    check(e["peak_rss_kib"] > 0, f"{name}: no peak memory")
    if name in ("interp", "jit"):
        check(e["instructions"] and e["instructions"] > 0, f"{name}: no instruction count")
        check(e["mips"] and e["mips"] > 0, f"{name}: no MIPS")
    print(f"bench: {name}: median {e['median_s']} s, {e['instructions']} instructions, exit {e['exit_statuses']}")
sys.exit(0 if ok else 1)
PY

# A guest that goes wrong on one engine only (CLD sets DF on the JIT: the
# strings print backwards) is a row of the table, and the command succeeds.
TANDEM_PLANT_FAULT=jit:cld-df "$tandem" bench --runs 1 --json --accel interp,jit -- --bios "$rom" --no-reboot \
  >"$tmp/fault.json" 2>/dev/null
status=$?
[ $status -eq 0 ] || fail "bench with a failing engine: exit status $status, expected 0"
python3 - "$tmp/fault.json" <<'PY' || failed=1
import json, sys
data = json.load(open(sys.argv[1]))
jit = [e for e in data["engines"] if e["engine"] == "jit"][0]
if data["transcripts_agree"] or jit["transcript_agrees"]:
    print("FAIL: the planted fault on jit did not show as differing transcripts", file=sys.stderr)
    sys.exit(1)
print(f"bench: planted fault on jit: transcript differs from line {jit.get('first_different_line')}")
PY

# --mark: the first line of the guest's banner, timed.
"$tandem" bench --runs 1 --json --accel interp --mark 'hello' -- --bios "$rom" --no-reboot >"$tmp/mark.json" \
  2>/dev/null || fail "bench --mark failed"
python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))["engines"][0]
m = e["marks"]
assert m and len(m[0]["s"]) == 1 and 0 <= m[0]["s"][0] <= e["wall_s"][0], m
print("bench: mark", m[0]["line"], m[0]["s"])' "$tmp/mark.json" || fail "--mark recorded no time"

# Bad input: one line on stderr, exit status 2.
. "$(dirname "$0")/lib.sh"
expect_usage_error bench "unknown engine" --accel interp,nosuch -- --bios "$rom"
expect_usage_error bench "no run options" --accel interp
expect_usage_error bench "missing image" --accel interp -- --bios "$tmp/missing.rom"
expect_usage_error bench "bad --mark" --accel interp --mark '(' -- --bios "$rom"
expect_usage_error bench "own --serial" --accel interp -- --bios "$rom" --serial none
for name in $(awk '$2 == "unavailable" {print $1}' "$tmp/accels"); do
  expect_usage_error bench "unavailable engine $name" --accel "$name" -- --bios "$rom"
  grep -q "$name" "$tmp/err" || fail "the message for $name does not name it"
done

exit $failed
