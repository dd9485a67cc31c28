#!/usr/bin/env bash
# The tight integer loop (bench/loops/mode_loop.asm) in each CPU mode, run
# from the same ROM on tandem's interpreter, its JIT and QEMU's software
# emulator (TCG) in one go: wall seconds, guest MIPS (loop instructions over
# wall time, start-up included) and the ratios jit/interp and jit/TCG (wall
# time on the same instruction count; below 1.0 the JIT is faster). The
# interpreter runs a tenth of the iterations. Timings are best of RUNS.
# Usage: bench/loop_table.sh [BUILD_DIR] [ITERATIONS] [RUNS]
set -u
build=${1:-build}
iters=${2:-300000000}
runs=${3:-1}
here=$(cd "$(dirname "$0")" && pwd)
tandem=$build/tandem
qemu=$(command -v qemu-system-x86_64 || true)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. "$here/rom_timing.sh"
mips() { echo "$1" | grep -q exit && { echo -; return; }; printf '%.0f' "$(echo "$2 * 6 / $1 / 1000000" | bc -l)"; }
ratio() { { echo "$1$2" | grep -q exit; } && { echo -; return; }; printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }

names=(real pm32 pm32-paging long64 compat32)
printf '%-12s %10s %9s %8s %8s %10s %9s %10s %10s\n' mode iterations interp_MIPS jit_s jit_MIPS qemu_tcg_s tcg_MIPS jit/tcg jit/interp
for mode in 0 1 2 3 4; do
  small=$((iters / 10))
  for n in "$iters" "$small"; do
    nasm -f bin -I "$here/../tests/guests/lib/" -DMODE=$mode -DITERS=$n -o "$tmp/loop$mode-$n.rom" \
      "$here/loops/mode_loop.asm" || exit 2
  done
  rom=$tmp/loop$mode-$iters.rom
  interp_s=$(best_of "$tandem" run --accel interp --bios "$tmp/loop$mode-$small.rom" --serial none --no-reboot)
  jit_s=$(best_of "$tandem" run --accel jit --bios "$rom" --serial none --no-reboot)
  tcg_s=- tcg_mips=- jit_tcg=-
  if [ -n "$qemu" ]; then
    tcg_s=$(best_of "$qemu" -accel tcg -M pc -m 128 -display none -nodefaults -serial null -no-reboot \
      -device isa-debug-exit,iobase=0xf4,iosize=4 -bios "$rom")
    tcg_mips=$(mips "$tcg_s" "$iters")
    jit_tcg=$(ratio "$jit_s" "$tcg_s")
  fi
  interp_mips=$(mips "$interp_s" "$small")
  jit_mips=$(mips "$jit_s" "$iters")
  speedup=-
  [ "$interp_mips" != - ] && [ "$jit_mips" != - ] && speedup=$(printf '%.1fx' "$(echo "$jit_mips / $interp_mips" | bc -l)")
  printf '%-12s %10s %9s %8s %8s %10s %9s %10s %10s\n' "${names[$mode]}" "$iters" "$interp_mips" "$jit_s" \
    "$jit_mips" "$tcg_s" "$tcg_mips" "$jit_tcg" "$speedup"
done
