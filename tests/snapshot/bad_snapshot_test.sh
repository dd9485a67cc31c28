#!/usr/bin/env bash
# Snapshots a user gets wrong: --incoming with a missing, foreign, truncated
# or corrupted file, or with options that describe another board, is one
# line on stderr and exit status 2, never a crash; QMP `migrate` to an
# unsupported URI or an unwritable path is a QMP error and the guest runs on.
# Usage: bad_snapshot_test.sh TANDEM ROM
set -u
tandem=${1:?usage: bad_snapshot_test.sh TANDEM ROM}
rom=${2:?usage: bad_snapshot_test.sh TANDEM ROM}
work=$(mktemp -d)
pid=
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
failed=0
fail() {
  echo "bad_snapshot_test: FAIL: $*" >&2
  failed=1
}

# A snapshot of the guest stopped at its first instruction (-S), taken over
# QMP (python3, standard library); the failing migrates come first.
sock=$work/qmp.sock
"$tandem" run --accel interp --bios "$rom" --no-reboot --serial none -S --timeout 120 \
  --qmp "unix:$sock,server=on,wait=off" 2>"$work/qmp.err" &
pid=$!
python3 - "$sock" "$work" <<'PY' || fail "the QMP conversation: $(cat "$work/qmp.err")"
import json, socket, sys, time
sock, work = sys.argv[1], sys.argv[2]
for _ in range(3000):
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        break
    except OSError:
        time.sleep(0.01)
s.settimeout(60)
f = s.makefile("rb")
json.loads(f.readline())

def execute(name, **args):
    s.sendall(json.dumps({"execute": name, "arguments": args} if args else {"execute": name}).encode())
    while True:
        m = json.loads(f.readline())
        if "return" in m or "error" in m:
            return m

execute("qmp_capabilities")
for uri in ("tcp:127.0.0.1:4444", "file:", "exec:cat"):
    m = execute("migrate", uri=uri)
    assert m.get("error", {}).get("class") == "GenericError", (uri, m)
m = execute("migrate", uri="file:" + work + "/no/such/dir/snap")
assert m.get("error", {}).get("class") == "GenericError", m
assert "no/such/dir" in m["error"]["desc"], m
m = execute("migrate", uri="file:" + work + "/snap")
assert m == {"return": {}}, m
assert execute("query-migrate") == {"return": {"status": "completed"}}
assert execute("query-status")["return"]["status"] in ("paused", "prelaunch")  # -S: never ran
execute("quit")
PY
wait $pid
pid=
[ -s "$work/snap" ] || { echo "bad_snapshot_test: FAIL: no snapshot was written" >&2; exit 1; }

# expect_usage_error WHAT PATTERN ARGS...: exit status 2 and one line matching PATTERN.
expect_usage_error() {
  local what=$1 pattern=$2
  shift 2
  "$tandem" run --accel interp --bios "$rom" --no-reboot --serial none --timeout 30 "$@" \
    >"$work/out" 2>"$work/err" </dev/null
  local status=$?
  if [ $status != 2 ]; then
    fail "$what: exit status $status, want 2 (stderr: $(head -c 300 "$work/err"))"
  elif [ "$(wc -l <"$work/err")" != 1 ] || ! grep -q -- "$pattern" "$work/err"; then
    fail "$what: want one line matching '$pattern', got: $(cat "$work/err")"
  else
    echo "bad_snapshot_test: $what: $(cat "$work/err")"
  fi
}

# The good one loads, and the guest (stopped before its first instruction)
# runs to its PASS on another engine.
"$tandem" run --accel jit --bios "$rom" --no-reboot --serial "file:$work/good.txt" --timeout 60 \
  --incoming "file:$work/snap" >/dev/null 2>"$work/err" </dev/null
status=$?
if [ $status != 1 ] || ! grep -q "PASS" "$work/good.txt"; then
  fail "resuming the good snapshot: status $status, want 1 and a PASS: $(cat "$work/err" "$work/good.txt")"
fi

expect_usage_error "not file:" "--incoming must be file:PATH" --incoming "tcp:0:4444"
expect_usage_error "missing file" "cannot open" --incoming "file:$work/none"
expect_usage_error "not a snapshot" "not a tandem snapshot" --incoming "file:$rom"
head -c 18 "$work/snap" >"$work/short"
expect_usage_error "truncated" "truncated" --incoming "file:$work/short"
head -c 20000 "$work/snap" >"$work/cut"
expect_usage_error "cut short" "truncated or corrupted" --incoming "file:$work/cut"
cp "$work/snap" "$work/flipped"
printf '\x5a' | dd of="$work/flipped" bs=1 seek=5000 conv=notrunc status=none
expect_usage_error "a flipped byte" "corrupted" --incoming "file:$work/flipped"
expect_usage_error "other memory size" "taken with 128 MiB of RAM, this board has 256 MiB" \
  -m 256M --incoming "file:$work/snap"
expect_usage_error "other CPU count" "taken with 1 CPU, this board has 2 CPUs" --smp 2 --incoming "file:$work/snap"
expect_usage_error "a drive more" "taken with 0 drives, this board has 1 drive" \
  --drive "file=$rom,format=raw,readonly=on" --incoming "file:$work/snap"
exit $failed
