#!/usr/bin/env bash
# The interpreter alone on the loop of loop_table.sh (bench/loops/mode_loop.asm)
# in each CPU mode, for one or more tandem binaries side by side (an A/B of an
# interpreter change): the best CPU seconds (user + system) of RUNS runs taken
# in turn, guest MIPS from them, and with IPI=1 the host instructions per guest
# instruction (valgrind's cachegrind, the difference of two iteration counts,
# so start-up drops out). CPU time rather than wall time: on a shared machine
# it moves less with the load.
# Usage: bench/interp_loop_table.sh [ITERATIONS] [RUNS] TANDEM...
set -u
iters=${1:-10000000}
runs=${2:-5}
shift 2 || { echo "usage: $0 [ITERATIONS] [RUNS] TANDEM..." >&2; exit 2; }
[ $# -gt 0 ] || set -- build/tandem
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
names=(real pm32 pm32-paging long64 compat32)

rom() {  # rom MODE ITERS: the path of the assembled loop
  local out=$tmp/loop$1-$2.rom
  [ -f "$out" ] || nasm -f bin -I "$here/../tests/guests/lib/" -DMODE=$1 -DITERS=$2 -o "$out" \
    "$here/loops/mode_loop.asm" || exit 2
  echo "$out"
}
cpu_s() {  # cpu_s TANDEM ROM: user + system seconds of one run, or "exit N"
  "/usr/bin/time" -o "$tmp/time" -f "%U %S" "$1" run --accel interp --bios "$2" --serial none --no-reboot \
    >/dev/null 2>&1
  local rc=$?
  [ "$rc" = 1 ] || { echo "exit $rc"; return; }
  tail -1 "$tmp/time" | awk '{print $1 + $2}'  # after time's note of the exit status
}
irefs() {  # irefs TANDEM ROM: host instructions of one run under cachegrind
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$1" run --accel interp --bios "$2" \
    --serial none --no-reboot 2>&1 | awk '/I *refs/ {gsub(",", "", $NF); print $NF}'
}

printf '%-12s' mode
for t in "$@"; do printf ' %28s' "$t"; done
echo
for mode in 0 1 2 3 4; do
  r=$(rom $mode "$iters")
  declare -A best=()
  for _ in $(seq "$runs"); do
    for t in "$@"; do
      s=$(cpu_s "$t" "$r")
      case $s in exit*) best[$t]=$s ;; *)
        if [ -z "${best[$t]:-}" ] || [ "$(echo "$s < ${best[$t]}" | bc -l)" = 1 ]; then best[$t]=$s; fi ;;
      esac
    done
  done
  printf '%-12s' "${names[$mode]}"
  for t in "$@"; do
    s=${best[$t]}
    case $s in
      exit*) cell=$s ;;
      *) cell=$(printf '%.2fs %.0f MIPS' "$s" "$(echo "$iters * 6 / $s / 1000000" | bc -l)") ;;
    esac
    if [ "${IPI:-0}" = 1 ]; then
      a=$(irefs "$t" "$(rom $mode 500000)")
      b=$(irefs "$t" "$(rom $mode 1000000)")
      cell="$cell $(printf '%.1f' "$(echo "($b - $a) / 3000000" | bc -l)") i/i"
    fi
    printf ' %28s' "$cell"
  done
  echo
  unset best
done
