#!/usr/bin/env bash
# Boots Debian's SeaBIOS with nothing to boot on each engine available here,
# in the nested KVM sandbox, and on QEMU's software emulator (TCG, -M pc),
# and prints the seconds from start to SeaBIOS's "No bootable device" line
# on the serial console (scripts/lib/run-until-line.sh polls for it; each
# figure is the best of RUNS). QEMU gets etc/sercon-port through -fw_cfg,
# as tandem's board provides it, so that SeaBIOS prints to the serial port.
# Usage: bench/firmware_boot_table.sh [BUILD_DIR] [RUNS]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "${1:-$top/build}")
runs=${2:-3}
tandem=$build/tandem
until_line=$top/scripts/lib/run-until-line.sh
text="No bootable device"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

best() {  # command...: the best of $runs figures
  local b=- t
  for ((i = 0; i < runs; i++)); do
    t=$("$@" 2>/dev/null | tail -n1)
    [ "$t" = - ] && continue
    if [ "$b" = - ] || awk -v t="$t" -v b="$b" 'BEGIN { exit !(t < b) }'; then b=$t; fi
  done
  echo "$b"
}

row() { printf '%-28s %12s\n' "$1" "$2"; }
row engine seconds
for engine in interp jit; do
  row "tandem $engine" "$(best "$until_line" "$text" 120 "$tmp/serial" \
    "$tandem" run --accel "$engine" --serial "file:$tmp/serial" --timeout 120)"
done
if [ -d /sys/module/kvm_pvm ] || ! "$tandem" accels | grep -Eq '^kvm +available'; then
  row "tandem kvm" "n/a (no hardware KVM here)"
else
  row "tandem kvm" "$(best "$until_line" "$text" 120 "$tmp/serial" \
    "$tandem" run --accel kvm --serial "file:$tmp/serial" --timeout 120)"
fi
# In the sandbox the figure is measured inside the guest, from tandem's start.
row "tandem kvm in kvm-sandbox" "$(best "$top/scripts/kvm-sandbox" --file "$tandem" --file "$until_line" \
  --file /usr/share/seabios/bios-256k.bin --file "$(command -v bash)" -- \
  "$(command -v bash)" "$until_line" "$text" 300 /tmp/serial "$tandem" run --accel kvm \
  --serial file:/tmp/serial --timeout 300)"
if command -v qemu-system-x86_64 >/dev/null; then
  printf '\xf8\x03' >"$tmp/sercon"
  row "qemu-system-x86_64 tcg" "$(best "$until_line" "$text" 120 "$tmp/serial" \
    qemu-system-x86_64 -accel tcg -M pc -nodefaults -display none -serial "file:$tmp/serial" \
    -fw_cfg "name=etc/sercon-port,file=$tmp/sercon")"
fi
