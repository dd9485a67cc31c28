#!/usr/bin/env bash
# tandem run -S --gdb unix:SOCK with a ROM counting in EAX: python3 speaks the
# GDB remote protocol (tests/cli/gdb_client.py): registers, steps, a
# breakpoint, Ctrl-C, memory, kill; tandem exits with status 0. With -S and
# --qmp, QMP reports "prelaunch" until cont. A bad --gdb is one line, status 2.
# Usage: gdbstub_test.sh TANDEM
set -u
tandem=${1:?usage: gdbstub_test.sh TANDEM}
here=$(cd "$(dirname "$0")" && pwd)
name=gdbstub_test
source "$here/monitor_lib.sh"
for engine in $engines; do
  sock=$work/gdb-$engine.sock
  "$tandem" run --accel "$engine" --bios "$rom" --serial none --timeout 120 -S --gdb "unix:$sock" \
    2>"$work/stderr-$engine" &
  pid=$!
  python3 "$here/gdb_client.py" "$sock" || fail "$engine: the gdb conversation failed; tandem said: $(cat "$work/stderr-$engine")"
  wait "$pid"
  status=$?
  pid=
  [ $status = 0 ] || fail "$engine: exit status $status after k, want 0: $(cat "$work/stderr-$engine")"
  echo "$name: $engine ok"
done

# gdb itself (batch mode), over TCP: it retries the connection while tandem starts.
if command -v gdb >/dev/null; then
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$tandem" run --accel interp --bios "$rom" --serial none --timeout 120 -S --gdb "tcp:127.0.0.1:$port" \
    2>"$work/stderr-gdb" &
  pid=$!
  gdb -batch -nx -ex 'set tcp connect-timeout 60' -ex "target remote 127.0.0.1:$port" \
    -ex 'info registers rip rax' -ex 'stepi' -ex 'info registers rip rax' -ex 'x/4xb 0xfffffff0' -ex 'kill' \
    >"$work/gdb.out" 2>&1 || fail "gdb -batch: $(cat "$work/gdb.out")"
  wait "$pid"
  status=$?
  pid=
  [ $status = 0 ] || fail "gdb kill: exit status $status, want 0: $(cat "$work/stderr-gdb")"
  tr -s ' \t' ' ' <"$work/gdb.out" >"$work/gdb.squeezed"
  for want in 'rip 0xfff0 0xfff0' 'rax 0x0 0' 'rip 0xfff2 0xfff2' 'rax 0x1 1' '0xfffffff0: 0x66 0x40 0xeb 0xfc'; do
    grep -q "^$want\$" "$work/gdb.squeezed" || fail "gdb -batch: no line '$want' in: $(cat "$work/gdb.out")"
  done
  echo "$name: gdb -batch ok"
else
  echo "$name: gdb not installed, gdb -batch part skipped"
fi

# -S with QMP: prelaunch until cont.
sock=$work/qmp.sock
"$tandem" run --accel interp --bios "$rom" --serial none --timeout 120 -S --qmp "unix:$sock,server=on,wait=off" \
  2>"$work/stderr-qmp" &
pid=$!
PYTHONPATH=$here python3 - "$sock" <<'PY' || fail "-S with QMP; tandem said: $(cat "$work/stderr-qmp")"
import json, sys
import monitor_lib
s = monitor_lib.connect_unix("gdbstub_test -S", sys.argv[1])
f = s.makefile("rb")
def ex(cmd):
    s.sendall(json.dumps({"execute": cmd}).encode())
    while True:
        m = json.loads(f.readline())
        if "event" not in m:
            return m
f.readline()
ex("qmp_capabilities")
st = ex("query-status")["return"]
assert st == {"status": "prelaunch", "singlestep": False, "running": False}, st
assert ex("cont") == {"return": {}}
assert ex("query-status")["return"]["status"] == "running"
assert ex("quit") == {"return": {}}
PY
wait "$pid"
status=$?
pid=
[ $status = 0 ] || fail "-S with QMP: exit status $status"

for bad in "tcp:1234" "udp::1234" "unix:"; do
  "$tandem" run --accel interp --bios "$rom" --serial none --timeout 5 --gdb "$bad" >"$work/out" 2>"$work/err"
  status=$?
  [ $status = 2 ] || fail "--gdb $bad: exit status $status, want 2"
  [ "$(wc -l <"$work/err")" = 1 ] && grep -q '^tandem: --gdb' "$work/err" ||
    fail "--gdb $bad: want one line starting 'tandem: --gdb', got: $(cat "$work/err")"
done
echo "$name: ok"
