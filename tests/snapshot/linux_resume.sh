#!/bin/sh
# The Linux guest (scripts/linux-guest with tandem.snapshottest=1) saved in
# the middle of a computation and resumed: /init computes half, waits for a
# console line, computes the other half and powers off. One tandem runs it
# until it waits, a QMP client (busybox nc over TCP) migrates it to a file
# and quits; another starts from the file with --incoming and gets the line.
# The sums must be what the same recurrence gives here (so, what an
# uninterrupted run prints), the guest's uptime must not go back, and the
# guest must power off (exit status 0).
#
# POSIX sh with busybox tools, so that scripts/kvm-sandbox can run it for the
# KVM engine (linux_resume_test.sh runs it on the host or in the sandbox).
# Usage: linux_resume.sh TANDEM KERNEL INITRD STEP...
#   FROM:TO         boot on FROM, save, resume on TO
#   FROM:save:PATH  boot on FROM, save to PATH (resumed elsewhere)
#   load:PATH:TO    resume the snapshot at PATH on TO
set -u
tandem=$1 kernel=$2 initrd=$3
shift 3
work=$(mktemp -d)
trap 'kill $holders 2>/dev/null; rm -rf "$work"' EXIT
holders=
if command -v busybox >/dev/null 2>&1; then nc="busybox nc"; else nc=nc; fi
ip link set lo up 2>/dev/null  # inside the sandbox nothing has brought it up
port=${SNAPSHOT_QMP_PORT:-$((20000 + $$ % 30000))}
append="console=ttyS0 panic=-1 tandem.snapshottest=1"
fail() {
  echo "linux_resume: FAIL: $*" >&2
  exit 1
}

# What /init computes: acc = (acc * 31 + i) mod 1000003 for i < 3000, then
# for i < 6000.
acc=1
i=0
while [ $i -lt 3000 ]; do acc=$(((acc * 31 + i) % 1000003)); i=$((i + 1)); done
want1=$acc
while [ $i -lt 6000 ]; do acc=$(((acc * 31 + i) % 1000003)); i=$((i + 1)); done
want2="$acc go eeb4203955defff76ad6324578e77809"

# save ENGINE DIR SNAPSHOT: boots until /init waits, then migrates and quits.
save() {
  mkfifo "$2/in1"
  sleep 3600 >"$2/in1" &
  holders="$holders $!"
  "$tandem" run --accel "$1" -m 512M --kernel "$kernel" --initrd "$initrd" --append "$append" --no-reboot \
    --timeout 1800 --qmp "tcp:127.0.0.1:$port,server=on,wait=off" <"$2/in1" >"$2/before.txt" 2>"$2/before.err" &
  pid=$!
  until grep -q TANDEM-SNAP-WAITING "$2/before.txt" 2>/dev/null; do
    kill -0 $pid 2>/dev/null || fail "$1: the guest ended before it waited: $(tail -5 "$2/before.txt" "$2/before.err")"
    sleep 0.2
  done
  { printf '{"execute": "qmp_capabilities"}\n'
    printf '{"execute": "migrate", "arguments": {"uri": "file:%s"}}\n' "$3"
    printf '{"execute": "quit"}\n'
    sleep 5; } | $nc 127.0.0.1 "$port" >"$2/qmp.log" 2>&1
  wait $pid || fail "$1: exit status $? after quit: $(cat "$2/before.err")"
  [ -s "$3" ] || fail "$1: no snapshot; QMP said: $(cat "$2/qmp.log")"
  part1=$(sed -n 's/^TANDEM-SNAP-PART1 \([0-9]*\) uptime=\([0-9.]*\).*/\1 \2/p' "$2/before.txt" | tr -d '\r')
  [ "${part1% *}" = "$want1" ] || fail "$1: first half: got '${part1% *}', want '$want1'"
  echo "${part1#* }" >"$3.uptime"
}

# resume ENGINE DIR SNAPSHOT WHAT: the guest gets its line at once.
resume() {
  mkfifo "$2/in2"
  { printf 'go\n'; sleep 3600; } >"$2/in2" &
  holders="$holders $!"
  "$tandem" run --accel "$1" -m 512M --kernel "$kernel" --initrd "$initrd" --append "$append" --no-reboot \
    --timeout 1800 --incoming "file:$3" <"$2/in2" >"$2/after.txt" 2>"$2/after.err"
  status=$?
  [ $status = 0 ] || fail "$4: the resumed guest ended with status $status: $(tail -5 "$2/after.txt" "$2/after.err")"
  part2=$(grep -a '^TANDEM-SNAP-PART2' "$2/after.txt" | tr -d '\r')
  [ "$(echo "$part2" | cut -d' ' -f2-4)" = "$want2" ] || fail "$4: second half: got '$part2', want '$want2 ...'"
  up1=$(cat "$3.uptime" 2>/dev/null || echo 0)
  up2=${part2##*uptime=}
  awk -v a="$up1" -v b="$up2" 'BEGIN { exit !(b >= a) }' || fail "$4: the guest's uptime went back from $up1 to $up2"
  echo "linux_resume: $4: sums as uninterrupted, uptime $up1 -> $up2 s"
}

n=0
for step in "$@"; do
  n=$((n + 1))
  d=$work/$n
  mkdir -p "$d"
  case $step in
    load:*)
      rest=${step#load:}
      resume "${rest##*:}" "$d" "${rest%:*}" "snapshot ${rest%:*} -> ${rest##*:}" ;;
    *:save:*)
      save "${step%%:*}" "$d" "${step#*:save:}"
      echo "linux_resume: ${step%%:*}: saved $(($(wc -c <"${step#*:save:}") >> 20)) MiB while /init waited" ;;
    *:*)
      save "${step%%:*}" "$d" "$d/snap"
      resume "${step#*:}" "$d" "$d/snap" "${step%%:*} -> ${step#*:}" ;;
  esac
done
