#!/usr/bin/env bash
# tandem run -d/-D (QEMU's names): a guest probing a port nobody decodes
# (COM2's 0x2F9, as Linux does) stays off stderr by default, lands in the
# -D file with -d guest_errors; -d help lists the categories; an unknown
# category is one line and exit status 2.
# Usage: guest_log_test.sh TANDEM
set -u
tandem=${1:?usage: guest_log_test.sh TANDEM}
name=guest_log_test
work=$(mktemp -d "${TMPDIR:-/tmp}/guest_log.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "$name: FAIL: $*" >&2; exit 1; }

# A 64 KiB ROM; at the reset vector: mov dx, 0x2f9; in al, dx; mov al, 0;
# out 0xf4, al (debug exit, status 1); hlt.
rom=$work/rom.bin
head -c $((0x10000 - 16)) /dev/zero | tr '\0' '\364' >"$rom"
printf '\xba\xf9\x02\xec\xb0\x00\xe6\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4' >>"$rom"
[ "$(stat -c %s "$rom")" = 65536 ] || fail "ROM is not 64 KiB"

"$tandem" run --accel interp --bios "$rom" --serial none --timeout 10 2>"$work/stderr"
status=$?
[ $status = 1 ] || fail "default run: exit status $status, want 1 (debug exit 0): $(cat "$work/stderr")"
grep -q 'hits no device' "$work/stderr" && fail "default run printed a guest probe on stderr: $(cat "$work/stderr")"

"$tandem" run --accel interp --bios "$rom" --serial none --timeout 10 -d guest_errors -D "$work/log" 2>"$work/stderr"
status=$?
[ $status = 1 ] || fail "-d guest_errors run: exit status $status, want 1"
grep -q 'hits no device' "$work/stderr" && fail "-D FILE given, but the line went to stderr"
grep -q '^tandem: port I/O read of 1 bytes at 0x2f9 hits no device$' "$work/log" ||
  fail "-d guest_errors -D FILE: no probe line in the file: $(cat "$work/log")"

"$tandem" run -d help >"$work/help" 2>&1 || fail "-d help: exit status $?"
grep -q '^unimp ' "$work/help" && grep -q '^guest_errors ' "$work/help" || fail "-d help: $(cat "$work/help")"

"$tandem" run -d bogus --bios "$rom" >"$work/out" 2>"$work/err"
status=$?
[ $status = 2 ] || fail "-d bogus: exit status $status, want 2"
[ "$(wc -l <"$work/err")" = 1 ] && grep -q "unknown log category 'bogus'" "$work/err" ||
  fail "-d bogus: want one line naming the category, got: $(cat "$work/err")"
echo "$name: PASS"
