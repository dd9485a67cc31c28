#!/usr/bin/env bash
# The Linux guest (scripts/linux-guest with tandem.snapshottest=1) saved in
# the middle of a computation and resumed, on the same or another engine:
# /init computes half, waits for a console line, computes the other half and
# powers off. The first tandem runs it until it waits, a QMP client
# (python3) migrates it to a file and quits; the second starts from the file
# with --incoming and gets the line. The sums must be what the same
# recurrence gives here (so, what an uninterrupted run prints), the guest's
# uptime must not go back, and the guest must power off (exit status 0).
#
# Usage: linux_resume_test.sh TANDEM FROM:TO...   (engines interp and jit)
# Exit 0 pass, 1 fail, 77 skip (an engine is unavailable).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tandem=$(realpath "${1:?usage: linux_resume_test.sh TANDEM FROM:TO...}")
shift
name=linux_resume_test
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
fail() {
  echo "$name: FAIL: $*" >&2
  exit 1
}

for pair in "$@"; do
  for engine in ${pair%%:*} ${pair#*:}; do
    if ! "$tandem" accels | grep -Eq "^$engine +available"; then
      echo "$name: SKIP: $("$tandem" accels | grep -E "^$engine ")"
      exit 77
    fi
  done
done
paths=$("$here/../../scripts/linux-guest" --print) || fail "scripts/linux-guest failed"
kernel=$(sed -n 's/^kernel=//p' <<<"$paths")
initrd=$(sed -n 's/^initrd=//p' <<<"$paths")
boot=(-m 512M --kernel "$kernel" --initrd "$initrd" --append "console=ttyS0 panic=-1 tandem.snapshottest=1"
      --no-reboot --timeout 900)

# What /init computes: acc = (acc * 31 + i) mod 1000003 for i < 3000, then
# for i < 6000 (the same recurrence in bash).
acc=1
for ((i = 0; i < 3000; ++i)); do acc=$(((acc * 31 + i) % 1000003)); done
want1=$acc
for ((i = 3000; i < 6000; ++i)); do acc=$(((acc * 31 + i) % 1000003)); done
want2="$acc go eeb4203955defff76ad6324578e77809"

# wait_for FILE PATTERN PID: until FILE has a line matching PATTERN, or PID ends.
wait_for() {
  until grep -q "$2" "$1"; do
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.2
  done
}

# The QMP client: migrate to a file, then quit.
migrate() {
  python3 - "$1" "$2" <<'PY'
import json, socket, sys
sock, path = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
s.settimeout(300)
f = s.makefile("rb")
json.loads(f.readline())
def execute(name, **args):
    s.sendall(json.dumps({"execute": name, "arguments": args}).encode())
    while True:
        m = json.loads(f.readline())
        if "return" in m or "error" in m:
            return m
assert execute("qmp_capabilities") == {"return": {}}
m = execute("migrate", uri="file:" + path)
assert m == {"return": {}}, m
execute("quit")
PY
}

for pair in "$@"; do
  from=${pair%%:*}
  to=${pair#*:}
  d=$work/$from-$to
  mkdir -p "$d"
  mkfifo "$d/in1" "$d/in2"
  sleep 1800 >"$d/in1" &
  pids+=($!)
  "$tandem" run --accel "$from" "${boot[@]}" --qmp "unix:$d/qmp.sock,server=on,wait=off" \
    <"$d/in1" >"$d/before.txt" 2>"$d/before.err" &
  pid=$!
  pids+=($pid)
  wait_for "$d/before.txt" TANDEM-SNAP-WAITING $pid || fail "$from: the guest did not reach the wait: $(tail -5 "$d/before.txt" "$d/before.err")"
  migrate "$d/qmp.sock" "$d/snap" || fail "$from: the migrate over QMP failed: $(cat "$d/before.err")"
  wait $pid || fail "$from: exit status $? after quit: $(cat "$d/before.err")"

  # The resumed guest already waits for its line: give it at once.
  { printf 'go\n'; sleep 1800; } >"$d/in2" &
  pids+=($!)
  "$tandem" run --accel "$to" "${boot[@]}" --incoming "file:$d/snap" <"$d/in2" >"$d/after.txt" 2>"$d/after.err"
  status=$?
  [ $status = 0 ] || fail "$from -> $to: the resumed guest ended with status $status: $(tail -5 "$d/after.txt" "$d/after.err")"
  part1=$(sed -n 's/^TANDEM-SNAP-PART1 \([0-9]*\) uptime=\([0-9.]*\).*/\1 \2/p' "$d/before.txt" | tr -d '\r')
  part2=$(grep -a '^TANDEM-SNAP-PART2' "$d/after.txt" | tr -d '\r')
  [ "${part1% *}" = "$want1" ] || fail "$from: first half: got '${part1% *}', want '$want1'"
  [ "$(cut -d' ' -f2-4 <<<"$part2")" = "$want2" ] || fail "$from -> $to: second half: got '$part2', want '$want2 ...'"
  up1=${part1#* }
  up2=$(sed -n 's/.*uptime=//p' <<<"$part2")
  awk -v a="$up1" -v b="$up2" 'BEGIN { exit !(b >= a) }' ||
    fail "$from -> $to: the guest's uptime went back from $up1 to $up2"
  echo "$name: $from -> $to: sums as uninterrupted, uptime $up1 -> $up2 s, snapshot $(($(stat -c %s "$d/snap") >> 20)) MiB"
  kill "${pids[@]}" 2>/dev/null
  pids=()
done
