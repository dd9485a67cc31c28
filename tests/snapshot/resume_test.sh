#!/bin/sh
# A guest snapshotted midway and resumed, on the same or another engine,
# must print what an uninterrupted run prints and end in the same CPU state.
# The guest (tests/guests/snapshot_resume.asm) computes in phases and, after
# phase 8, waits for one byte on COM1: the first tandem runs it with no
# input, a QMP client (busybox nc over TCP) sends `migrate` to a file while
# it waits, then `quit`; the second tandem starts from the file with
# --incoming and gets the byte. The two transcripts put together must equal
# the reference run's, and the final states (--dump-state) must be equal.
#
# POSIX sh with busybox tools, so that scripts/kvm-sandbox can run it for
# the KVM engine (tests/snapshot/resume_in_sandbox.sh).
# Usage: resume_test.sh TANDEM ROM FROM:TO...   (e.g. interp:jit jit:interp)
set -u
tandem=${1:?usage: resume_test.sh TANDEM ROM FROM:TO...}
rom=${2:?usage: resume_test.sh TANDEM ROM FROM:TO...}
shift 2
work=$(mktemp -d)
trap 'kill $holder $pid 2>/dev/null; rm -rf "$work"' EXIT
holder=
pid=
if command -v busybox >/dev/null 2>&1; then nc="busybox nc"; else nc=nc; fi
ip link set lo up 2>/dev/null  # inside the sandbox nothing has brought it up
port=${SNAPSHOT_QMP_PORT:-$((20000 + $$ % 30000))}
failed=0

fail() {
  echo "resume_test: FAIL: $*" >&2
  failed=1
}

# The reference: the whole run, with the byte waiting from the start.
first=${1%%:*}
printf x | "$tandem" run --accel "$first" --bios "$rom" --no-reboot --timeout 300 \
  --dump-state "$work/ref.state" >"$work/ref.txt" 2>"$work/ref.err"
status=$?
if [ $status != 1 ] || ! grep -q "snapshot_resume: PASS" "$work/ref.txt"; then
  echo "resume_test: FAIL: the reference run on $first (status $status): $(cat "$work/ref.err")" >&2
  exit 1
fi

for pair in "$@"; do
  from=${pair%%:*}
  to=${pair#*:}
  d=$work/$from-$to
  mkdir -p "$d"
  # A FIFO held open by a sleeper: the guest sees no input and keeps waiting.
  mkfifo "$d/in"
  sleep 600 >"$d/in" &
  holder=$!
  "$tandem" run --accel "$from" --bios "$rom" --no-reboot --timeout 300 \
    --qmp "tcp:127.0.0.1:$port,server=on,wait=off" <"$d/in" >"$d/before.txt" 2>"$d/before.err" &
  pid=$!
  i=0
  while ! grep -q "waiting for a byte" "$d/before.txt" 2>/dev/null && [ $i -lt 3000 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  # The client keeps the connection open until tandem has quit and closed it.
  { printf '{"execute": "qmp_capabilities"}\n'
    printf '{"execute": "migrate", "arguments": {"uri": "file:%s"}}\n' "$d/snap"
    printf '{"execute": "quit"}\n'
    sleep 3; } | $nc 127.0.0.1 "$port" >"$d/qmp.log" 2>&1
  wait $pid
  status=$?
  pid=
  kill $holder 2>/dev/null
  wait $holder 2>/dev/null
  holder=
  if [ $status != 0 ] || [ ! -s "$d/snap" ]; then
    fail "$from -> $to: no snapshot (status $status after quit); QMP said: $(cat "$d/qmp.log"); tandem said: $(cat "$d/before.err")"
    continue
  fi
  printf x | "$tandem" run --accel "$to" --bios "$rom" --no-reboot --timeout 300 --incoming "file:$d/snap" \
    --dump-state "$d/after.state" >"$d/after.txt" 2>"$d/after.err"
  status=$?
  cat "$d/before.txt" "$d/after.txt" >"$d/joined.txt"
  if [ $status != 1 ]; then
    fail "$from -> $to: the resumed run ended with status $status: $(cat "$d/after.err")"
  elif ! cmp -s "$d/joined.txt" "$work/ref.txt"; then
    fail "$from -> $to: the transcripts differ from the uninterrupted run:"
    diff "$work/ref.txt" "$d/joined.txt" >&2
  elif ! cmp -s "$d/after.state" "$work/ref.state"; then
    fail "$from -> $to: the final CPU state differs from the uninterrupted run:"
    diff "$work/ref.state" "$d/after.state" >&2
  else
    echo "resume_test: $from -> $to: same transcript and final state ($(wc -c <"$d/snap") byte snapshot)"
  fi
done
exit $failed
