#!/usr/bin/env bash
# How vCPUs scale on a CPU-bound guest: tests/guests/smp_compute.asm (every
# CPU runs ROUNDS xorshift32 rounds on its own, no sharing) with --smp 1 and
# --smp 2 on each engine, and on QEMU's multi-threaded TCG with -smp where
# qemu-system-x86_64 is installed. Work per CPU is fixed, so the speed-up is
# (2 CPUs' work / time) over (1 CPU's work / time): 2.0 is perfect on 2 cores.
# The interpreter runs a tenth of the rounds. Timings are best of RUNS.
# Usage: bench/smp_scaling.sh [BUILD_DIR] [ROUNDS] [RUNS]
set -u
build=${1:-build}
rounds=${2:-200000000}
runs=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
tandem=$build/tandem
qemu=$(command -v qemu-system-x86_64 || true)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. "$here/rom_timing.sh"
speedup() { { echo "$1$2" | grep -q exit; } && { echo -; return; }; printf '%.2f' "$(echo "2 * $1 / $2" | bc -l)"; }

for n in "$rounds" "$((rounds / 10))"; do
  nasm -f bin -I "$here/../tests/guests/lib/" -DITER=$n -o "$tmp/compute-$n.rom" \
    "$here/../tests/guests/smp_compute.asm" || exit 2
done

printf '%-10s %10s %10s %10s %10s\n' engine rounds smp1_s smp2_s speedup
for engine in jit interp kvm; do
  "$tandem" accels | grep -Eq "^$engine +available" || { printf '%-10s unavailable\n' "$engine"; continue; }
  n=$rounds
  [ "$engine" = interp ] && n=$((rounds / 10))
  t1=$(best_of "$tandem" run --accel "$engine" --smp 1 --bios "$tmp/compute-$n.rom" --serial none --no-reboot)
  t2=$(best_of "$tandem" run --accel "$engine" --smp 2 --bios "$tmp/compute-$n.rom" --serial none --no-reboot)
  printf '%-10s %10s %10s %10s %10s\n' "$engine" "$n" "$t1" "$t2" "$(speedup "$t1" "$t2")"
done
if [ -n "$qemu" ]; then
  q=("$qemu" -accel tcg,thread=multi -M pc -m 128 -display none -nodefaults -serial null -no-reboot
     -device isa-debug-exit,iobase=0xf4,iosize=4 -bios "$tmp/compute-$rounds.rom")
  t1=$(best_of "${q[@]}" -smp 1)
  t2=$(best_of "${q[@]}" -smp 2)
  printf '%-10s %10s %10s %10s %10s\n' qemu-tcg "$rounds" "$t1" "$t2" "$(speedup "$t1" "$t2")"
fi
