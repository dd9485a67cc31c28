#!/usr/bin/env bash
# tandem run --qmp with a real guest (a ROM counting in EAX at the reset
# vector) on each software engine: python3 (standard library) negotiates,
# stops, reads registers, continues, presses the power button, resets and
# quits over QMP (tests/cli/qmp_client.py); tandem must exit with status 0.
# A malformed --qmp is one line and exit status 2.
# Usage: qmp_test.sh TANDEM
set -u
tandem=${1:?usage: qmp_test.sh TANDEM}
here=$(cd "$(dirname "$0")" && pwd)
name=qmp_test
source "$here/monitor_lib.sh"
for engine in $engines; do
  sock=$work/qmp-$engine.sock
  # wait=on: the guest starts only once the client is connected.
  "$tandem" run --accel "$engine" --bios "$rom" --serial none --timeout 120 \
    --qmp "unix:$sock,server=on,wait=on" 2>"$work/stderr-$engine" &
  pid=$!
  python3 "$here/qmp_client.py" "$sock" || fail "$engine: the QMP conversation failed; tandem said: $(cat "$work/stderr-$engine")"
  wait "$pid"
  status=$?
  pid=
  [ $status = 0 ] || fail "$engine: exit status $status after quit, want 0: $(cat "$work/stderr-$engine")"
  [ -e "$sock" ] && fail "$engine: the socket $sock was left behind"
  echo "$name: $engine ok"
done

# Over TCP, with -S: the guest (debug exit 0 at the reset vector) runs at
# cont, and its exit is a SHUTDOWN event with "guest": true; status 1.
exit_rom=$work/exit.bin
head -c $((0x10000 - 16)) /dev/zero | tr '\0' '\364' >"$exit_rom"
printf '\xb0\x00\xe6\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4' >>"$exit_rom"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$tandem" run --accel interp --bios "$exit_rom" --serial none --timeout 120 -S \
  --qmp "tcp:127.0.0.1:$port,server=on,wait=off" 2>"$work/stderr-tcp" &
pid=$!
python3 - "$port" <<'PY' || fail "QMP over TCP; tandem said: $(cat "$work/stderr-tcp")"
import json, socket, sys, time
for _ in range(3000):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); break
    except OSError:
        time.sleep(0.01)
s.settimeout(60)
f = s.makefile("rb")
assert "QMP" in json.loads(f.readline())
s.sendall(b'{"execute": "qmp_capabilities"}')
assert json.loads(f.readline()) == {"return": {}}
s.sendall(b'{"execute": "cont", "id": 1}')
seen = []
while True:
    line = f.readline()
    assert line, "connection closed before SHUTDOWN; saw %r" % seen
    m = json.loads(line)
    seen.append(m)
    if m.get("event") == "SHUTDOWN":
        assert m["data"] == {"guest": True, "reason": "guest-shutdown"}, m
        break
assert {"return": {}, "id": 1} in seen and any(m.get("event") == "RESUME" for m in seen), seen
PY
wait "$pid"
status=$?
pid=
[ $status = 1 ] || fail "QMP over TCP: exit status $status, want 1 (debug exit 0)"
echo "$name: tcp and guest SHUTDOWN ok"

for bad in "unix:$work/x.sock" "unix:$work/x.sock,server=on,wait=perhaps" "tcp:nowhere,server=on" "pipe:foo"; do
  "$tandem" run --accel interp --bios "$rom" --serial none --timeout 5 --qmp "$bad" >"$work/out" 2>"$work/err"
  status=$?
  [ $status = 2 ] || fail "--qmp $bad: exit status $status, want 2"
  [ "$(wc -l <"$work/err")" = 1 ] && grep -q '^tandem: --qmp' "$work/err" ||
    fail "--qmp $bad: want one line starting 'tandem: --qmp', got: $(cat "$work/err")"
done
echo "$name: ok"
