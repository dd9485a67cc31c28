#!/usr/bin/env bash
# SeaBIOS boots from a virtio-blk disk: the boot sector (virtio_boot.asm)
# prints a line, reads LBA 1 through INT 13h and prints what it holds, and
# exits through the debug-exit port (status 33). Also checks that
# snapshot=on and readonly=on disks boot.
#
# Usage: virtio_boot_test.sh TANDEM NASM ENGINE
# Exit status: 0 pass, 1 failure, 77 skip (engine or SeaBIOS unavailable).
set -u
tandem=$1
nasm=$2
engine=$3
here=$(cd "$(dirname "$0")" && pwd)
name="virtio_boot_test($engine)"
firmware=/usr/share/seabios/bios-256k.bin
[ -f "$firmware" ] || { echo "$name: SKIP: $firmware is missing (Debian package seabios)"; exit 77; }
if ! "$tandem" accels | grep -Eq "^$engine +available"; then
  echo "$name: SKIP: engine $engine unavailable here"
  exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/virtio_boot.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
fail() { echo "$name: FAIL: $*" >&2; [ -f "$work/serial" ] && tail -n 5 "$work/serial" | sed 's/^/  serial: /' >&2; exit 1; }

"$nasm" -f bin -o "$work/boot.bin" "$here/virtio_boot.asm" || fail "nasm failed"
img=$work/disk.img
cp "$work/boot.bin" "$img"
printf 'TANDEM-SECTOR-1 read through SeaBIOS virtio-blk\r\n\0' | dd of="$img" bs=512 seek=1 conv=notrunc 2>/dev/null
truncate -s 1M "$img"

for opts in "" ",snapshot=on" ",readonly=on"; do
  rm -f "$work/serial"
  "$tandem" run --accel "$engine" --drive "file=$img,format=raw,if=virtio$opts" --serial "file:$work/serial" \
    --timeout 120 2>"$work/stderr"
  status=$?
  [ "$status" -eq 33 ] || fail "drive$opts: exit status $status (want 33: the boot sector's debug exit); $(tail -n 2 "$work/stderr")"
  grep -q "TANDEM-VIRTIO-BOOT from the virtio-blk disk" "$work/serial" || fail "drive$opts: no boot sector line"
  grep -q "^TANDEM-SECTOR-1 read through SeaBIOS virtio-blk" "$work/serial" || fail "drive$opts: LBA 1 not read"
done
echo "$name: PASS"
