#!/usr/bin/env bash
# Boots every test guest on each tandem engine and, when it is installed, on
# QEMU's software emulator (TCG) with the same ROM, and prints a table of
# wall-clock seconds (best of N runs) on the interpreter and the JIT plus the
# interpreter's instruction count and MIPS. Each run is cut off after 30 s. Usage: bench/guest_table.sh [BUILD_DIR] [RUNS]
set -u
build=${1:-build}
runs=${2:-3}
tandem=$build/tandem
guests=$build/tests/guests
qemu=$(command -v qemu-system-x86_64 || true)

now() { date +%s.%N; }
best_of() {  # command... ; prints the best wall time of $runs runs
  local best="" t0 t1 t
  for _ in $(seq "$runs"); do
    t0=$(now)
    timeout 30 "$@" >/dev/null 2>&1
    t1=$(now)
    t=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
  done
  printf '%.3f' "$best"
}

kvm_ok=$("$tandem" accels | awk '$1 == "kvm" {print $2}')
printf '%-16s %10s %12s %8s %8s %10s %10s %9s\n' guest interp_s instructions MIPS jit_s kvm_s qemu_tcg_s tcg/interp
for rom in "$guests"/*.rom; do
  name=$(basename "$rom" .rom)
  reboot=(--no-reboot)
  [ "$name" = i8042_reset ] && reboot=()
  interp_s=$(best_of "$tandem" run --accel interp --bios "$rom" --serial none "${reboot[@]}")
  stats=$("$tandem" run --accel interp --bios "$rom" --serial none "${reboot[@]}" --stats 2>&1 >/dev/null |
          sed -n 's/.*, \([0-9]*\) instructions, \([0-9.]*\) MIPS/\1 \2/p')
  insns=${stats% *} mips=${stats#* }
  jit_s=$(best_of "$tandem" run --accel jit --bios "$rom" --serial none "${reboot[@]}")
  kvm_s=-
  [ "$kvm_ok" = available ] && kvm_s=$(best_of "$tandem" run --accel kvm --bios "$rom" --serial none "${reboot[@]}")
  tcg_s=- ratio=-
  if [ -n "$qemu" ]; then
    qreboot=(-no-reboot)
    [ "$name" = i8042_reset ] && qreboot=()
    tcg_s=$(best_of "$qemu" -accel tcg -M pc -m 128 -display none -nodefaults -serial null \
      -device isa-debug-exit,iobase=0xf4,iosize=4 -bios "$rom" "${qreboot[@]}")
    ratio=$(printf '%.2f' "$(echo "$tcg_s / $interp_s" | bc -l)")
  fi
  printf '%-16s %10s %12s %8s %8s %10s %10s %9s\n' "$name" "$interp_s" "${insns:--}" "${mips:--}" "$jit_s" "$kvm_s" \
    "$tcg_s" "$ratio"
done
