#!/usr/bin/env bash
# Boots the Linux guest of scripts/linux-guest (Debian's cloud kernel and a
# busybox initramfs, ACPI power-off at the end) on each engine available
# here, in the nested KVM sandbox, and on QEMU's software emulator (TCG) when
# installed, and prints seconds to the TANDEM-LINUX-UP marker and to
# power-off, plus the interpreter's instruction count and MIPS.
# Usage: bench/linux_boot_table.sh [BUILD_DIR]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "${1:-$top/build}")
tandem=$build/tandem
paths=$("$top/scripts/linux-guest" --print) || exit 1
kernel=$(sed -n 's/^kernel=//p' <<<"$paths")
initrd=$(sed -n 's/^initrd=//p' <<<"$paths")
append="console=ttyS0 panic=-1"

# Runs a command, printing "marker_s end_s stats" from its console.
measure() {
  local t0=$EPOCHREALTIME up=- stats=-
  while IFS= read -r line; do
    line=${line%$'\r'}
    [ "$up" = - ] && [[ $line == *TANDEM-LINUX-UP* ]] && up=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')
    [[ $line == *instructions,*MIPS* ]] && stats=$(sed -n 's/.*, \([0-9]*\) instructions, \([0-9.]*\) MIPS/\1 \2/p' <<<"$line")
  done < <(timeout 900 "$@" 2>&1)
  printf '%s %s %s\n' "$up" "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')" "$stats"
}

row() {  # name marker end [instructions mips]
  printf '%-26s %10s %10s %14s %8s\n' "$1" "$2" "$3" "${4:--}" "${5:--}"
}
row engine marker_s poweroff_s instructions MIPS
run=(run -m 512M --kernel "$kernel" --initrd "$initrd" --append "$append" --no-reboot --timeout 800 --stats)
row "tandem interp" $(measure "$tandem" "${run[@]}" --accel interp)
row "tandem jit" $(measure "$tandem" "${run[@]}" --accel jit)
if [ -d /sys/module/kvm_pvm ] || ! "$tandem" accels | grep -Eq '^kvm +available'; then
  row "tandem kvm" "n/a" "n/a (no hardware KVM here)"
else
  row "tandem kvm" $(measure "$tandem" "${run[@]}" --accel kvm)
fi
row "tandem kvm in kvm-sandbox" $(measure "$top/scripts/kvm-sandbox" --file "$tandem" --file "$kernel" \
  --file "$initrd" -- "$tandem" "${run[@]}" --accel kvm)
if command -v qemu-system-x86_64 >/dev/null; then
  row "qemu-system-x86_64 tcg" $(measure qemu-system-x86_64 -accel tcg -M pc -m 512 -display none -nodefaults \
    -serial stdio -no-reboot -kernel "$kernel" -initrd "$initrd" -append "$append")
fi
