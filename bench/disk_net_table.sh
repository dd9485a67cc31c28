#!/usr/bin/env bash
# Disk and network figures of the disk-image guest (scripts/disk-image) on
# each tandem engine and on QEMU TCG, with the same image and devices
# (virtio-blk disks, virtio-net with user networking): a benchmark, not a test.
# In the guest (its `bench=PORT` order): busybox dd writes 256 MiB of zeros
# to a scratch disk (/dev/vdc) with conv=fsync, drops the page cache and
# reads them back, then fetches a 64 MiB file over HTTP from the host
# (10.0.2.2, a python3 web server on 127.0.0.1); each rate is the guest's
# own clock (/proc/uptime) around the command. Boot time is host seconds
# from starting the emulator to the guest's TANDEM-DISK-UP line, which its
# init prints where it would start the shell.
# Usage: bench/disk_net_table.sh [TANDEM] [ENGINE...]   (default: jit interp kvm qemu)
#   ENGINE: a tandem engine, or qemu (qemu-system-x86_64 -M pc -accel tcg).
#   An engine that is unavailable gets a row saying so.
# Environment: BENCH_TIMEOUT (seconds per run, default 3600); BENCH_RUNS (boots
#   per engine, default 1): with more, the engines take turns and each column
#   shows the best run (a shared, busy host makes single runs wander by 2-4x).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
tandem=${1:-$repo/build/tandem}
shift $(( $# > 0 ? 1 : 0 ))
engines=("$@")
[ ${#engines[@]} -gt 0 ] || engines=(jit interp kvm qemu)
timeout_s=${BENCH_TIMEOUT:-3600}
runs=${BENCH_RUNS:-1}
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "disk_net_table: BENCH_RUNS must be a positive number" >&2; exit 1; }
die() { echo "disk_net_table: $*" >&2; exit 1; }

[ -x "$tandem" ] || die "no tandem at $tandem (build it first)"
pristine=$("$repo/scripts/disk-image" | sed -n 's/^image=//p') || die "scripts/disk-image failed"
[ -f "$pristine" ] || die "scripts/disk-image printed no image"
work=$(mktemp -d "${TMPDIR:-/tmp}/disk_net_table.XXXXXX") || die "mktemp failed"
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT
mkdir "$work/www" && head -c 64M /dev/urandom >"$work/www/big.bin" || die "cannot write the 64 MiB file"
python3 -u -c '
import functools, http.server, sys
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=sys.argv[1]))
print(server.server_address[1], flush=True)
server.serve_forever()' "$work/www" >"$work/port" &
server=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(head -n1 "$work/port")
[ -n "$port" ] || die "the web server did not start"
printf 'net bench=%s\n' "$port" >"$work/orders" && truncate -s 4096 "$work/orders"

# run ENGINE: one boot; prints "boot_s write read net" or a reason.
run() {
  local engine=$1 cmd log=$work/console.$1 t0 up= pid
  cp --sparse=always "$pristine" "$work/disk.img" && truncate -s 0 "$work/scratch.img" && truncate -s 300M "$work/scratch.img"
  local disks=(file="$work/disk.img",format=raw,if=virtio file="$work/orders",format=raw,if=virtio,readonly=on
               file="$work/scratch.img",format=raw,if=virtio)
  if [ "$engine" = qemu ]; then
    command -v qemu-system-x86_64 >/dev/null || { echo "no qemu-system-x86_64"; return; }
    cmd=(qemu-system-x86_64 -M pc -accel tcg -m 512M -display none -serial stdio -monitor none -no-reboot
         -drive "${disks[0]}" -drive "${disks[1]}" -drive "${disks[2]}" -nic user,model=virtio-net-pci)
  else
    "$tandem" accels | grep -Eq "^$engine +available" || { "$tandem" accels | grep -E "^$engine " || echo "no engine"; return; }
    cmd=("$tandem" run --accel "$engine" -m 512M --drive "${disks[0]}" --drive "${disks[1]}" --drive "${disks[2]}"
         --nic user --no-reboot --timeout "$timeout_s")
  fi
  t0=$EPOCHREALTIME
  "${cmd[@]}" </dev/null >"$log" 2>&1 &
  pid=$!
  # QEMU keeps running after the guest halts: stop it at the guest's last line.
  while kill -0 $pid 2>/dev/null; do
    [ -z "$up" ] && grep -q '^TANDEM-DISK-UP' "$log" && up=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    grep -q '^TANDEM-DISK-DONE' "$log" && { sleep 1; kill $pid 2>/dev/null; break; }
    (( ${EPOCHREALTIME%.*} - ${t0%.*} > timeout_s )) && { kill $pid; echo "timed out"; return; }
    sleep 0.1
  done
  wait $pid 2>/dev/null
  local w r n
  w=$(tr -d '\r' <"$log" | sed -n 's/^TANDEM-BENCH-WRITE \([0-9.]*\) MiB\/s.*/\1/p')
  r=$(tr -d '\r' <"$log" | sed -n 's/^TANDEM-BENCH-READ \([0-9.]*\) MiB\/s.*/\1/p')
  n=$(tr -d '\r' <"$log" | sed -n 's/^TANDEM-BENCH-NET \([0-9.]*\) MiB\/s.*bytes=\(67108864\)$/\1/p')
  if [ -z "$w" ] || [ -z "$r" ] || [ -z "$n" ]; then
    echo "incomplete: $(tr -d '\r' <"$log" | grep -a -E 'TANDEM-BENCH|TANDEM-NET|rror' | tr '\n' ';' | head -c 300)"
    return
  fi
  echo "$up $w $r $n"
}

# better OLD NEW LOWER: the better of two figures ("" when none yet).
better() {
  if [ -z "$1" ]; then echo "$2"; return; fi
  awk -v a="$1" -v b="$2" -v low="$3" 'BEGIN { print ((low ? b < a : b > a) ? b : a) }'
}
declare -A best note
for ((i = 1; i <= runs; i++)); do
  for e in "${engines[@]}"; do
    res=$(run "$e")
    set -- $res
    if [ $# -eq 4 ] && [[ $1 =~ ^[0-9.]+$ ]]; then
      best[$e.boot]=$(better "${best[$e.boot]:-}" "$1" 1)
      best[$e.write]=$(better "${best[$e.write]:-}" "$2" 0)
      best[$e.read]=$(better "${best[$e.read]:-}" "$3" 0)
      best[$e.net]=$(better "${best[$e.net]:-}" "$4" 0)
    else
      note[$e]=$res
    fi
  done
done
[ "$runs" -gt 1 ] && echo "best of $runs runs per engine"
printf '%-8s %10s %14s %14s %14s\n' engine boot_s write_MiB/s read_MiB/s http_MiB/s
for e in "${engines[@]}"; do
  if [ -n "${best[$e.boot]:-}" ]; then
    printf '%-8s %10s %14s %14s %14s\n' "$e" "${best[$e.boot]}" "${best[$e.write]}" "${best[$e.read]}" "${best[$e.net]}"
  else
    printf '%-8s %s\n' "$e" "${note[$e]:-}"
  fi
done
