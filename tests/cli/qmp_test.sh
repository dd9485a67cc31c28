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

for bad in "unix:$work/x.sock" "unix:$work/x.sock,server=on,wait=perhaps" "tcp:nowhere,server=on" "pipe:foo"; do
  "$tandem" run --accel interp --bios "$rom" --serial none --timeout 5 --qmp "$bad" >"$work/out" 2>"$work/err"
  status=$?
  [ $status = 2 ] || fail "--qmp $bad: exit status $status, want 2"
  [ "$(wc -l <"$work/err")" = 1 ] && grep -q '^tandem: --qmp' "$work/err" ||
    fail "--qmp $bad: want one line starting 'tandem: --qmp', got: $(cat "$work/err")"
done
echo "$name: ok"
