#!/usr/bin/env bash
# virtio under Linux: boots the scripts/linux-guest kernel and initramfs with
# a raw disk (--drive) and the default virtio-rng, with `tandem.disktest=1`
# so that /init reads /dev/vda, writes a marker to sector 2048 and reads it
# back. Checks: the guest's md5sum of the first MiB matches the image's, the
# marker reaches the host image (mode rw) or does not (mode snapshot, where
# the guest still reads its own write back), and the kernel uses virtio-rng
# as /dev/hwrng.
#
# Usage: virtio_test.sh TANDEM ENGINE TIMEOUT_SECONDS PROFILE MODE
#   ENGINE: jit, interp, kvm (where /dev/kvm works) or kvm-sandbox (tandem
#   --accel kvm inside scripts/kvm-sandbox, with its own copy of the
#   image, checked there); PROFILE: legacy
#   (noapic nolapic acpi=off pci=nomsi: INTx through the i8259), acpi (MSI-X)
#   or acpi-legacy-driver (MSI-X, Linux's legacy virtio-pci driver on BAR0);
#   MODE: rw or snapshot. Exit 0 pass, 1 fail, 77 skip.
set -u
tandem=${1:?usage: virtio_test.sh TANDEM ENGINE TIMEOUT PROFILE MODE}
engine=${2:?engine}
timeout_s=${3:-600}
profile=${4:-acpi}
mode=${5:-rw}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
name="virtio_test($engine, $profile, $mode)"

fail() { echo "$name: FAIL: $*" >&2; [ -n "${log:-}" ] && { echo "--- console (tail) ---"; tail -n 40 "$log"; } >&2; exit 1; }

case $profile in
  # pci=nomsi: without local APICs Linux has no MSI domain (it would warn,
  # then fall back to INTx anyway).
  legacy) append="console=ttyS0 noapic nolapic acpi=off pci=nomsi panic=-1 tandem.disktest=1" ;;
  acpi) append="console=ttyS0 panic=-1 tandem.disktest=1" ;;
  # The transitional devices' legacy I/O BAR, as a pre-1.0 driver uses it.
  acpi-legacy-driver) append="console=ttyS0 panic=-1 tandem.disktest=1 virtio_pci.force_legacy=1" ;;
  *) fail "unknown profile $profile" ;;
esac
case $mode in
  rw) drive_opts= ;;
  snapshot) drive_opts=,snapshot=on ;;
  *) fail "unknown mode $mode" ;;
esac
[ -x "$tandem" ] || fail "no tandem binary at $tandem"
tandem=$(realpath "$tandem")
accel=$engine
[ "$engine" = kvm-sandbox ] && accel=kvm
if [ "$engine" != kvm-sandbox ] && ! "$tandem" accels | grep -Eq "^$engine +available"; then
  echo "$name: SKIP: $("$tandem" accels | grep -E "^$engine " || echo "no engine $engine")"
  exit 77
fi
command -v python3 >/dev/null || { echo "$name: SKIP: no python3 to write the image"; exit 77; }
paths=$("$here/../../scripts/linux-guest" --print) || fail "scripts/linux-guest failed"
kernel=$(sed -n 's/^kernel=//p' <<<"$paths")
initrd=$(sed -n 's/^initrd=//p' <<<"$paths")

work=$(mktemp -d "${TMPDIR:-/tmp}/virtio_test.XXXXXX") || fail "mktemp failed"
trap 'rm -rf "$work"' EXIT
img=$work/disk.img
log=$work/console
# 4 MiB of a fixed pattern; the guest reads back the first MiB.
want_md5=$(python3 -c "
import hashlib, sys
data = bytes((i * 131 + 7) % 251 for i in range(4 << 20))
open(sys.argv[1], 'wb').write(data)
print(hashlib.md5(data[:1 << 20]).hexdigest())" "$img") || fail "cannot write $img"
before=$(md5sum <"$img" | cut -d' ' -f1)

# tandem, then what the image holds afterwards, printed where tandem ran
# (inside the sandbox for kvm-sandbox, which has its own copy of the image).
inner='tandem=$1; img=$2; shift 2; "$tandem" "$@" </dev/null; echo "TANDEM-HOST-STATUS $?"
echo "TANDEM-HOST-SECTOR $(dd if="$img" bs=512 skip=2048 count=1 2>/dev/null | head -c 30)"
echo "TANDEM-HOST-MD5 $(md5sum <"$img" | cut -d" " -f1)"'
wrap=()
if [ "$engine" = kvm-sandbox ]; then
  wrap=("$here/../../scripts/kvm-sandbox" --timeout $((timeout_s + 120)) --file "$tandem" --file "$kernel"
        --file "$initrd" --file "$img" --)
fi
${wrap[@]+"${wrap[@]}"} sh -c "$inner" sh "$tandem" "$img" run --accel "$accel" -m 512M --kernel "$kernel" \
  --initrd "$initrd" --append "$append" --no-reboot --timeout "$timeout_s" \
  --drive "file=$img,format=raw,if=virtio$drive_opts" </dev/null 2>&1 | tr -d '\r' >"$log"
status=$(sed -n 's/^TANDEM-HOST-STATUS //p' "$log")

grep -q '^TANDEM-LINUX-DONE' "$log" || fail "no TANDEM-LINUX-DONE (tandem exit status $status)"
grep -q '^TANDEM-VDA size=8192 ro=0' "$log" || fail "no /dev/vda of 8192 sectors: $(grep TANDEM-VDA "$log" || echo none)"
grep -q "^TANDEM-VDA-READ $want_md5\$" "$log" || fail "guest read differs: $(grep TANDEM-VDA-READ "$log")"
grep -q '^TANDEM-VDA-WRITE ok' "$log" || fail "guest write failed"
# The negotiated features as Linux shows them: one character per bit.
version1=$(sed -n 's/^TANDEM-VDA-FEATURES //p' "$log" | cut -c33)
want_version1=1
[ "$profile" = acpi-legacy-driver ] && want_version1=0
[ "$version1" = "$want_version1" ] || fail "VIRTIO_F_VERSION_1 is '$version1', want $want_version1 (modern or legacy driver)"
grep -q '^TANDEM-VDA-REREAD TANDEM-GUEST-WROTE-THIS-SECTOR' "$log" || fail "guest does not read its write back"
grep -q '^TANDEM-HWRNG virtio_rng.0 64' "$log" || fail "no virtio-rng as /dev/hwrng: $(grep TANDEM-HWRNG "$log" || echo none)"
if [ "$mode" = rw ]; then
  grep -q '^TANDEM-HOST-SECTOR TANDEM-GUEST-WROTE-THIS-SECTOR$' "$log" || fail "the guest's write is not in the image"
else
  grep -q "^TANDEM-HOST-MD5 $before\$" "$log" || fail "snapshot=on changed the image"
fi
[ "$status" = 0 ] || fail "tandem exit status ${status:-unknown} (want 0)"
echo "$name: PASS"
