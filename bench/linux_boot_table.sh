#!/usr/bin/env bash
# Boots the Linux guest of scripts/linux-guest (Debian's cloud kernel and a
# busybox initramfs, ACPI power-off at the end) with `tandem bench`: each
# engine available here and QEMU's TCG, then the KVM engine inside the nested
# KVM sandbox; seconds to the TANDEM-LINUX-UP marker ("mark" row) and to
# power-off, instructions and MIPS. Usage: bench/linux_boot_table.sh [BUILD_DIR] [RUNS]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "${1:-$top/build}")
runs=${2:-1}
tandem=$build/tandem
paths=$("$top/scripts/linux-guest" --print) || exit 1
kernel=$(sed -n 's/^kernel=//p' <<<"$paths")
initrd=$(sed -n 's/^initrd=//p' <<<"$paths")
guest=(-m 512M --kernel "$kernel" --initrd "$initrd" --append "console=ttyS0 panic=-1" --no-reboot --timeout 800)
bench=(bench --runs "$runs" --mark TANDEM-LINUX-UP)

"$tandem" "${bench[@]}" --vs-qemu -- "${guest[@]}"
if [ -d /sys/module/kvm_pvm ] || ! "$tandem" accels | grep -Eq '^kvm +available'; then
  echo "kvm in kvm-sandbox (nested under QEMU TCG):"
  "$top/scripts/kvm-sandbox" --file "$tandem" --file "$kernel" --file "$initrd" -- \
    "$tandem" "${bench[@]}" --accel kvm -- "${guest[@]}"
fi
