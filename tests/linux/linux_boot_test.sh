#!/usr/bin/env bash
# Boots Debian's cloud kernel with the busybox initramfs of
# scripts/linux-guest on one engine and checks the console transcript: the
# TANDEM-LINUX-UP marker, the md5sum of the file /init writes, the fork/exec
# count, TANDEM-LINUX-DONE, and that tandem ends by itself with status 0
# (the guest's `poweroff -f` halts with interrupts off).
#
# Usage: linux_boot_test.sh TANDEM ENGINE [TIMEOUT_SECONDS [PROFILE]]
#   PROFILE: legacy (default: noapic nolapic acpi=off pci=nomsi, so the i8259 PIC and
#   i8254 PIT, ending in HLT with interrupts off) or acpi (the board's local
#   APIC, I/O APIC and ACPI tables; power-off through ACPI S5).
#   ENGINE: kvm, interp, or kvm-sandbox (tandem --accel kvm inside
#   scripts/kvm-sandbox, a QEMU TCG guest with nested SVM: for hosts without
#   a usable /dev/kvm). Exit 0 pass, 1 fail, 77 skip (engine unavailable).
#   The native kvm case is skipped where /dev/kvm is kvm_pvm, which runs a
#   guest that is not PVM-aware through KVM's instruction emulator (about
#   2 MIPS): Linux would take most of an hour to boot.
# Environment: LINUX_BOOT_APPEND adds kernel arguments, LINUX_BOOT_CMDLINE
# replaces the base command line, LINUX_BOOT_LOG keeps the transcript there,
# LINUX_BOOT_SMP (default 1) is the --smp count: the guest must see that
# many CPUs and its parallel checksum jobs must all get the right sum.
# The first run downloads the kernel package (apt-get; see scripts/linux-guest).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tandem=${1:?usage: linux_boot_test.sh TANDEM ENGINE [TIMEOUT]}
engine=${2:?usage: linux_boot_test.sh TANDEM ENGINE [TIMEOUT]}
timeout_s=${3:-120}
profile=${4:-legacy}
name="linux_boot_test($engine, $profile)"

# /init writes 4096 lines "tandem line I I*I%9973" and prints their md5sum.
readonly want_md5=eeb4203955defff76ad6324578e77809
# legacy: Linux ignores the APICs and ACPI and runs on the i8259 PIC and the
# i8254 PIT; pci=nomsi because without local APICs there is no MSI (else the
# kernel warns as virtio-rng asks for MSI-X, with a stack trace that differs
# between engines). panic=-1 turns a panic into a reset, which ends the run at once
# (--no-reboot) instead of at the timeout; the markers tell it apart.
# LINUX_BOOT_CMDLINE replaces this base.
case $profile in
  legacy) base="console=ttyS0 noapic nolapic acpi=off pci=nomsi panic=-1" ;;
  acpi) base="console=ttyS0 panic=-1" ;;
  *) echo "$name: unknown profile $profile (legacy or acpi)" >&2; exit 1 ;;
esac
append="${LINUX_BOOT_CMDLINE:-$base} ${LINUX_BOOT_APPEND:-}"

fail() { echo "$name: FAIL: $*" >&2; [ -n "${log:-}" ] && { echo "--- console (tail) ---"; tail -n 40 "$log"; } >&2; exit 1; }

[ -x "$tandem" ] || fail "no tandem binary at $tandem"
tandem=$(realpath "$tandem")
accel=$engine
wrap=()
case $engine in
  kvm-sandbox) accel=kvm ;;
  kvm)
    if [ -d /sys/module/kvm_pvm ]; then
      echo "$name: SKIP: /dev/kvm is kvm_pvm, which emulates non-PVM guests (too slow); linux.boot.kvm-sandbox.$profile runs this boot in the nested KVM sandbox"
      exit 77
    fi ;;
esac
if [ "$engine" != kvm-sandbox ] && ! "$tandem" accels | grep -Eq "^$accel +available"; then
  twin=
  [ "$engine" = kvm ] && twin="; linux.boot.kvm-sandbox.$profile runs this boot in the nested KVM sandbox"
  echo "$name: SKIP: $("$tandem" accels | grep -E "^$accel " || echo "no engine $accel")$twin"
  exit 77
fi
paths=$("$here/../../scripts/linux-guest" --print) || fail "scripts/linux-guest failed"
kernel=$(sed -n 's/^kernel=//p' <<<"$paths")
initrd=$(sed -n 's/^initrd=//p' <<<"$paths")
[ -f "$kernel" ] && [ -f "$initrd" ] || fail "scripts/linux-guest printed no kernel/initrd"
if [ "$engine" = kvm-sandbox ]; then
  # The sandbox gets tandem (with its libraries), the kernel and the initrd
  # at the same paths; its own timeout leaves tandem's time to end.
  wrap=("$here/../../scripts/kvm-sandbox" --timeout $((timeout_s + 120))
        --file "$tandem" --file "$kernel" --file "$initrd" --)
fi

log=${LINUX_BOOT_LOG:-$(mktemp "${TMPDIR:-/tmp}/linux_boot.XXXXXX")}
[ -n "${LINUX_BOOT_LOG:-}" ] || trap 'rm -f "$log"' EXIT
t0=$EPOCHREALTIME
# The console goes through this loop line by line to time the marker.
${wrap[@]+"${wrap[@]}"} "$tandem" run --accel "$accel" -m 512M --kernel "$kernel" --initrd "$initrd" \
    --append "$append" --smp "${LINUX_BOOT_SMP:-1}" --no-reboot --timeout "$timeout_s" </dev/null 2>&1 |
  { up=; while IFS= read -r line; do
      printf '%s\n' "$line"
      if [ -z "$up" ] && [[ $line == *TANDEM-LINUX-UP* ]]; then
        up=$EPOCHREALTIME
        awk -v a="$t0" -v b="$up" 'BEGIN{printf "%.2f\n", b-a}' >"$log.up"
      fi
    done; } | tr -d '\r' >"$log"
status=${PIPESTATUS[0]}
t1=$EPOCHREALTIME
up_s=$(cat "$log.up" 2>/dev/null); rm -f "$log.up"
[ -n "$up_s" ] && echo "$name: TANDEM-LINUX-UP after ${up_s}s (host clock from the start$([ ${#wrap[@]} -gt 0 ] && echo ", sandbox boot included"))"

grep -q '^TANDEM-LINUX-UP' "$log" || fail "no TANDEM-LINUX-UP marker (tandem exit status $status)"
grep -q "^$want_md5  /tmp/tandem.txt\$" "$log" ||
  fail "md5sum line missing or wrong (want $want_md5): $(grep 'tandem.txt' "$log")"
grep -q '^TANDEM-FORK-EXEC 200 ' "$log" ||
  fail "fork/exec count wrong: $(grep TANDEM-FORK-EXEC "$log" || echo none)"
cpus=${LINUX_BOOT_SMP:-1}
grep -q "^TANDEM-CPUS $cpus " "$log" || fail "want $cpus CPUs: $(grep TANDEM-CPUS "$log" || echo 'no TANDEM-CPUS line')"
grep -q "^TANDEM-SMP-SUMS $cpus jobs: $want_md5 \$" "$log" ||
  fail "parallel checksums wrong (want $cpus jobs, all $want_md5): $(grep TANDEM-SMP-SUMS "$log" || echo none)"
grep -q '^TANDEM-LINUX-DONE' "$log" || fail "no TANDEM-LINUX-DONE marker"
# A guest probing absent hardware is normal; tandem keeps it behind -d.
grep -q 'hits no device' "$log" && fail "the console shows tandem's guest diagnostics: $(grep -m1 'hits no device' "$log")"
# PCI bus 0 as /sys/bus/pci/devices lists it: the i440FX, the PIIX3 and its
# PM function, and the default virtio-rng. Without ACPI the kernel probes with configuration mechanism #1;
# with ACPI it scans only what the DSDT's PCI root bridge describes.
want_pci="TANDEM-PCI 0000:00:00.0 0x8086:0x1237 class=0x060000
TANDEM-PCI 0000:00:01.0 0x8086:0x7000 class=0x060100
TANDEM-PCI 0000:00:01.3 0x8086:0x7113 class=0x068000
TANDEM-PCI 0000:00:03.0 0x1af4:0x1005 class=0xff0000"
got_pci=$(grep '^TANDEM-PCI ' "$log")
if [ "$profile" = legacy ] || grep -q 'PCI Root Bridge' "$log"; then
  [ "$got_pci" = "$want_pci" ] || fail "PCI devices differ: want
$want_pci
got
${got_pci:-(none)}"
fi
[ "$status" -eq 0 ] || fail "tandem exit status $status after the guest powered off (want 0)"
awk -v a="$t0" -v b="$t1" -v u="$up_s" -v e="$engine" -v n="$name" \
  'BEGIN{printf "%s: PASS (whole run %.2fs)\n", n, b-a}'
