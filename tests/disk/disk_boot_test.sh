#!/usr/bin/env bash
# The disk-image guest (scripts/disk-image) booted the way a user boots it:
# SeaBIOS -> GRUB on the disk -> the kernel -> ext4 root on /dev/vda1.
# One boot (disk_run.sh) does several checks: the guest increments a counter
# file on its root and syncs, prints the md5sum of a file of the image
# (which must equal the host's reading of it with debugfs), gets 10.0.2.15 by
# DHCP, fetches a file from a web server on the host's 127.0.0.1 (as
# 10.0.2.2) and prints its md5sum, and serves a CGI that the host fetches
# through a hostfwd port. The transcript is kept for the engine parity tests.
# MODE full adds two boots on the same image:
#   kill: the guest increments the counter (so it must read 1), writes a
#     file, syncs and says so; tandem is then killed with SIGKILL. A copy of
#     the root partition, its journal replayed (as the next mount would),
#     must pass `e2fsck -fn`, and debugfs must find the file with the md5sum
#     the guest printed;
#   check: the next boot reads counter 2 and the same file.
#
# Usage: disk_boot_test.sh TANDEM ENGINE TIMEOUT_SECONDS MODE
#   ENGINE: jit, interp, kvm or kvm-sandbox (tandem --accel kvm inside
#   scripts/kvm-sandbox, where the web server runs too, on the sandbox's
#   loopback, which starts down); MODE: once or full
#   (not with kvm-sandbox). Environment: DISK_BOOT_LOG keeps the first
#   boot's transcript there. Exit 0 pass, 1 fail, 77 skip.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
tandem=${1:?usage: disk_boot_test.sh TANDEM ENGINE TIMEOUT MODE}
engine=${2:?engine}
timeout_s=${3:-600}
mode=${4:-once}
name="disk_boot_test($engine, $mode)"

fail() {
  echo "$name: FAIL: $*" >&2
  [ -n "${cur:-}" ] && [ -f "$cur" ] && { echo "--- console (tail) ---"; tail -n 30 "$cur"; } >&2
  exit 1
}
skip() { echo "$name: SKIP: $*"; exit 77; }

[ -x "$tandem" ] || fail "no tandem binary at $tandem"
tandem=$(realpath "$tandem")
accel=$engine
case $engine in
  kvm-sandbox) accel=kvm; [ "$mode" = once ] || fail "kvm-sandbox runs MODE once only" ;;
  kvm) [ -d /sys/module/kvm_pvm ] && skip "/dev/kvm is kvm_pvm, which emulates non-PVM guests (too slow); disk.boot.kvm-sandbox runs this boot in the nested KVM sandbox" ;;
esac
if [ "$engine" != kvm-sandbox ] && ! "$tandem" accels | grep -Eq "^$accel +available"; then
  skip "$("$tandem" accels | grep -E "^$accel " || echo "no engine $accel")"
fi
bb=
for b in /bin/busybox /usr/bin/busybox; do
  [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1 && { bb=$b; break; }
done
[ -n "$bb" ] || skip "no static busybox (Debian package busybox-static) for the web server"
for t in debugfs e2fsck; do command -v $t >/dev/null || skip "no $t (Debian package e2fsprogs)"; done
firmware=/usr/share/seabios/bios-256k.bin
[ -f "$firmware" ] || skip "no SeaBIOS (Debian package seabios)"
if ! out=$("$repo/scripts/disk-image" 2>&1); then
  [ -f /usr/lib/grub/i386-pc/boot.img ] || skip "scripts/disk-image needs grub-pc-bin and could not install it: $out"
  fail "scripts/disk-image failed: $out"
fi
pristine=$(sed -n 's/^image=//p' <<<"$out")
[ -f "$pristine" ] || fail "scripts/disk-image printed no image"

work=$(mktemp -d "${TMPDIR:-/tmp}/disk_boot.XXXXXX") || fail "mktemp failed"
trap 'rm -rf "$work"' EXIT
img=$work/disk.img
cp --sparse=always "$pristine" "$img" || fail "cannot copy $pristine"
want_md5=$(debugfs -R 'cat /srv/tandem/data.txt' "$pristine?offset=1048576" 2>/dev/null | md5sum | cut -d' ' -f1)
mkdir "$work/www" || fail "mkdir failed"
awk 'BEGIN { for (i = 0; i < 65536; i++) printf "tandem http line %08d\n", i * 7919 % 100000 }' >"$work/www/data.bin"
get_md5=$(md5sum <"$work/www/data.bin" | cut -d' ' -f1)

# boot ORDERS LOG: one boot, its console in LOG (carriage returns removed).
boot() {
  cur=$2
  if [ "$engine" = kvm-sandbox ]; then
    "$repo/scripts/kvm-sandbox" --timeout $((timeout_s + 180)) --file "$tandem" --file "$img" --file "$firmware" \
      --file "$here/disk_run.sh" --file "$work/www" -- \
      sh -c 'ifconfig lo up && exec sh "$0" "$@"' "$here/disk_run.sh" "$tandem" kvm "$img" "$1" "$timeout_s" "$work/www"
  else
    BUSYBOX=$bb sh "$here/disk_run.sh" "$tandem" "$accel" "$img" "$1" "$timeout_s" "$work/www"
  fi 2>&1 | tr -d '\r' >"$cur"
}
line() { sed -n "s/^$1 //p" "$cur" | head -n1; }
expect() { # expect MARKER VALUE WHAT
  local got
  got=$(line "$1")
  [ "$got" = "$2" ] || fail "$3: $1 is '${got:-missing}', want '$2'"
}

log1=${DISK_BOOT_LOG:-$work/boot1}
boot "counter md5 net get=@PORT@ serve" "$log1"
grep -q 'TANDEM-GRUB loading the kernel' "$cur" || fail "GRUB did not run grub.cfg from the disk"
grep -q '^TANDEM-DISK-UP root=vda1 ext4 rw' "$cur" || fail "the guest's root is not /dev/vda1 (ext4, rw)"
expect TANDEM-DISK-COUNTER 0 "first boot"
expect TANDEM-DISK-COUNTER-NOW 1 "first boot"
expect TANDEM-DISK-MD5 "$want_md5" "the guest's md5sum of /srv/tandem/data.txt"
expect TANDEM-NET-ADDR 10.0.2.15 "DHCP"
expect TANDEM-NET-GET "$get_md5" "the file fetched from the host"
grep -q '^TANDEM-DISK-SERVED$' "$cur" || fail "the guest's web server was not reached through hostfwd"
expect TANDEM-HOST-FETCHED TANDEM-DISK-GUEST-SERVED "the host's fetch through hostfwd"
grep -q '^TANDEM-DISK-DONE$' "$cur" || fail "the guest did not finish"
expect TANDEM-HOST-STATUS 0 "tandem's exit status"
[ "$mode" = full ] || { echo "$name: PASS (one boot: counter, md5sum, DHCP, HTTP get, hostfwd)"; exit 0; }

token=tandem-kill-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
boot "counter killwrite=$token" "$work/boot2"
expect TANDEM-DISK-COUNTER 1 "second boot (the first boot's increment)"
synced=$(line TANDEM-DISK-SYNCED)
[ -n "$synced" ] || fail "the guest did not say TANDEM-DISK-SYNCED"
grep -q '^TANDEM-HOST-KILLED$' "$cur" || fail "tandem was not killed after the sync"
expect TANDEM-HOST-STATUS 137 "tandem's exit status after SIGKILL"
# The root partition as it is now, journal replayed as the kernel's next
# mount would: clean, and the synced file there.
part=$work/part.img
dd if="$img" of="$part" bs=1M skip=1 conv=sparse status=none || fail "cannot extract the partition"
e2fsck -E journal_only -y "$part" >"$work/replay.log" 2>&1 || fail "journal replay failed: $(cat "$work/replay.log")"
e2fsck -fn "$part" >"$work/fsck.log" 2>&1 || fail "e2fsck -fn after SIGKILL: $(tail -n 15 "$work/fsck.log")"
got=$(debugfs -R 'cat /var/lib/tandem/kill.txt' "$part" 2>/dev/null | md5sum | cut -d' ' -f1)
[ "$got" = "$synced" ] || fail "after SIGKILL the image holds kill.txt with md5sum $got, the guest synced $synced"
got=$(debugfs -R 'cat /var/lib/tandem/kill.txt' "$part" 2>/dev/null | head -n1)
[ "$got" = "$token" ] || fail "kill.txt starts with '$got', want $token"

boot "counter check" "$work/boot3"
expect TANDEM-DISK-COUNTER 2 "third boot (after the SIGKILL)"
expect TANDEM-DISK-CHECK "$token $synced" "the third boot's reading of kill.txt"
expect TANDEM-HOST-STATUS 0 "tandem's exit status"
echo "$name: PASS (three boots: counter 0, 1, 2; e2fsck clean and the synced file intact after SIGKILL)"
