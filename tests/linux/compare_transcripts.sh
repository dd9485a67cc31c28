#!/usr/bin/env bash
# Engine parity for the Linux boot: compares two console transcripts of the
# same kernel and initramfs (e.g. the interpreter's and KVM's) after removing
# what legitimately differs between engines. The user-space part (from
# TANDEM-LINUX-UP to TANDEM-LINUX-DONE) must match line for line in order;
# the kernel's boot messages must match as a set, because lines printed by
# concurrent kernel threads (initrd freeing, keyboard probe) come in an order
# that depends on timing.
# Usage: compare_transcripts.sh TRANSCRIPT_A TRANSCRIPT_B
# Environment: TRANSCRIPT_UP and TRANSCRIPT_DONE name other markers for the
# user-space part (the disk-image guest's: TANDEM-DISK-UP, TANDEM-DISK-DONE).
set -u
up_mark=${TRANSCRIPT_UP:-TANDEM-LINUX-UP} done_mark=${TRANSCRIPT_DONE:-TANDEM-LINUX-DONE}
a=${1:?usage: compare_transcripts.sh A B} b=${2:?usage: compare_transcripts.sh A B}
for f in "$a" "$b"; do
  [ -s "$f" ] || { echo "compare_transcripts: FAIL: no transcript $f (did the boot tests run?)" >&2; exit 1; }
done

# What differs between engines and why:
#   tsc:, clocksource:, Calibrating delay loop, BogoMIPS/bogomips, cpu MHz,
#   sched_clock:, the "Unstable clock" notice and its 3 advice lines, "TSC
#       found unstable after boot" (the clocksource watchdog on a loaded host):
#       clock calibration measures the host's speed, which the engines do not share;
#   deferred pages initialised in N ms, audit(TIME), rtc_cmos setting system
#       clock, uptime= values: durations and wall-clock time;
#   Memory: N/M available: printed while deferred page initialisation runs
#       in parallel, so the figure depends on timing;
#   inputN device numbers: the order in which concurrent probes register;
#   "pci ...: quirk_X+0x0/0x.. took N usecs": printed only when a PCI quirk
#       takes over 10 ms of guest time, which a slow engine (the nested
#       sandbox) may;
#   microcode: KVM reports the host's microcode patch level (MSR 0x8B), the
#       interpreter's CPU model has none;
#   /proc/interrupts counts: how many timer ticks fit in a run depends on speed;
#   random: crng init done: printed once the entropy pool has filled, which
#       takes guest time; a fast run (the JIT's) can power off before it;
#   IPv6: ADDRCONF(NETDEV_CHANGE) ... link becomes ready: the link watch
#       runs on a timer, so a run may power off before it says so;
#   "vme" in /proc/cpuinfo's flags: the nested sandbox's TCG-emulated CPU has
#       no VME, so KVM there hides it (hardware KVM and the interpreter give it);
#   lines starting with "interp:", "jit:", "kvm:" or "tandem:": tandem's own log on
#       stderr, not guest output;
#   "net eth0: Unexpected TXQ (0) queue failure: -5": the guests power off
#       with "poweroff -f", so the network stack is still up when the kernel
#       shuts devices down; virtio's shutdown marks every queue broken, and a
#       packet sent after that (a TCP or IPv6 timer, whose timing depends on
#       the engine's speed) fails with -EIO;
#   terminal control sequences (ESC c, ESC [ ... letter): GRUB's serial
#       terminal (the disk-image guest) sometimes repositions the cursor in
#       the middle of a line, depending on timing; the text is compared.
# Kernel messages keep a "K " mark in place of their timestamp: the kernel
# prints some (e.g. "random: crng init done") whenever it gets there, which
# may fall inside the user-space part on one engine and before it on another,
# so they are compared as one set wherever they appear.
normalize() {
  sed -E 's/\x1bc//g; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/^\[ *[0-9]+\.[0-9]+\] /K /; s/uptime=[0-9.]+/uptime=T/; s/input[0-9]+/inputN/g; s/^( *[0-9A-Z]+:) +[0-9]+ +/\1 N /; s/^(flags[[:space:]]*:.*) vme( |$)/\1\2/' "$1" |
    grep -Ev '^(K )?(tsc: |clocksource: |sched_clock: |Calibrating delay loop|smpboot: Total of|Unstable clock detected|TSC found unstable after boot|If you want to keep using the local clock|  "trace_clock=local"|on the kernel command line$|microcode[[:space:]]*:|cpu MHz|bogomips|audit: type=2000|rtc_cmos .*setting system clock|interp: |jit: |kvm: |tandem: )' |
    grep -Ev 'deferred pages initialised in|^(K )?Memory: [0-9]+K/[0-9]+K available|^(K )?random: crng init done$' |
    grep -Ev '^(K )?net [a-z0-9]+: Unexpected TXQ \([0-9]+\) queue failure: -5$' |
    grep -Ev '^(K )?IPv6: ADDRCONF\(NETDEV_CHANGE\): [a-z0-9]+: link becomes ready$' |
    grep -Ev '^(K )?pci [0-9a-f:.]+: quirk_[a-z0-9_]+\+0x[0-9a-f]+/0x[0-9a-f]+ took [0-9]+ usecs$'
}
user_part() { sed -n "/^$up_mark/,/^$done_mark/p" | grep -v '^K '; }
# The kernel's part starts at its banner: what firmware and a boot loader
# print before it is not compared here (GRUB redraws its screen with cursor
# moves whose interleaving with later text depends on timing; the firmware
# tests compare SeaBIOS's output).
kernel_part() {
  awk -v up="^$up_mark" '/Linux version/ { kernel = 1 } $0 ~ up { user = 1 } kernel && (!user || /^K /) { sub(/^K /, ""); print }' |
    sort
}

status=0
if ! diff -u <(normalize "$a" | user_part) <(normalize "$b" | user_part) >/tmp/compare_user.$$; then
  echo "compare_transcripts: FAIL: user-space output differs between $a and $b:" >&2
  head -n 40 /tmp/compare_user.$$ >&2
  status=1
fi
if ! diff -u <(normalize "$a" | kernel_part) <(normalize "$b" | kernel_part) >/tmp/compare_kernel.$$; then
  echo "compare_transcripts: FAIL: kernel messages differ between $a and $b (sorted):" >&2
  head -n 40 /tmp/compare_kernel.$$ >&2
  status=1
fi
rm -f /tmp/compare_user.$$ /tmp/compare_kernel.$$
[ $status -eq 0 ] && echo "compare_transcripts: PASS: $(normalize "$a" | wc -l) lines agree after filtering"
exit $status
