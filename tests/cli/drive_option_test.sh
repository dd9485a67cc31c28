#!/usr/bin/env bash
# tandem run --drive (QEMU's -drive spelling): bad values are one line and
# exit status 2 before the guest starts; an image another process holds a
# write lock on is refused with a clear message (the lock here is a POSIX
# lock from python3, which conflicts with tandem's OFD lock as another
# tandem's would); a read-only drive may share an image with a reader;
# --no-rng is accepted.
# Usage: drive_option_test.sh TANDEM
set -u
tandem=${1:?usage: drive_option_test.sh TANDEM}
name=drive_option_test
work=$(mktemp -d "${TMPDIR:-/tmp}/drive_option.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "$name: FAIL: $*" >&2; exit 1; }
img=$work/disk.img
truncate -s 1M "$img"
# A 64 KiB ROM that exits at once (debug exit 0: status 1).
rom=$work/rom.bin
head -c $((0x10000 - 16)) /dev/zero | tr '\0' '\364' >"$rom"
printf '\xb0\x00\xe6\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4' >>"$rom"

expect_error() {  # expect_error PATTERN DRIVE-SPEC
  local out status
  out=$("$tandem" run --accel interp --bios "$rom" --serial none --timeout 10 --drive "$2" 2>&1)
  status=$?
  [ $status = 2 ] || fail "--drive $2: exit status $status, want 2 ($out)"
  [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "--drive $2: more than one line: $out"
  [[ $out == "tandem: "*$1* ]] || fail "--drive $2: message '$out' lacks '$1'"
}
expect_error "only raw images" "file=$img,format=qcow2"
expect_error "only virtio disks" "file=$img,if=ide"
expect_error "want on or off" "file=$img,readonly=maybe"
expect_error "want writeback or none" "file=$img,cache=unsafe"
expect_error "unknown key 'serial'" "file=$img,serial=x"
expect_error "no file=PATH" "readonly=on"
expect_error "cannot open drive image" "file=$work/missing.img"
: >"$work/empty.img"
expect_error "is empty" "file=$work/empty.img"
mkdir "$work/dir.img"
expect_error "Is a directory" "file=$work/dir.img"

"$tandem" run --accel interp --bios "$rom" --serial none --timeout 10 --no-rng --drive "file=$img" \
  --drive "file=$work/second.img,snapshot=on" 2>"$work/stderr" && true
status=$?
# second.img does not exist: the second drive fails, naming it.
[ $status = 2 ] && grep -q "second.img" "$work/stderr" || fail "a missing second drive: status $status, $(cat "$work/stderr")"
truncate -s 1M "$work/second.img"
"$tandem" run --accel interp --bios "$rom" --serial none --timeout 10 --no-rng --drive "file=$img" \
  --drive "file=$work/second.img,snapshot=on,cache=writeback" 2>"$work/stderr"
status=$?
[ $status = 1 ] || fail "two drives: exit status $status, want 1 (the ROM's debug exit): $(cat "$work/stderr")"

command -v python3 >/dev/null || { echo "$name: PASS (lock checks skipped: no python3)"; exit 0; }
# Another process writes the image: tandem refuses it, readers included.
python3 - "$img" "$tandem" "$rom" <<'PY' || fail "lock check failed"
import fcntl, subprocess, sys
img, tandem, rom = sys.argv[1:4]
with open(img, "r+b") as f:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    for spec in (f"file={img}", f"file={img},readonly=on"):
        r = subprocess.run([tandem, "run", "--accel", "interp", "--bios", rom, "--serial", "none", "--timeout", "10",
                            "--drive", spec], capture_output=True, text=True)
        if r.returncode != 2 or "is locked" not in r.stderr:
            sys.exit(f"{spec} with the image locked: status {r.returncode}, stderr {r.stderr!r}")
# A reader: tandem may read too, not write.
with open(img, "rb") as f:
    fcntl.lockf(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
    r = subprocess.run([tandem, "run", "--accel", "interp", "--bios", rom, "--serial", "none", "--timeout", "10",
                        "--drive", f"file={img},readonly=on"], capture_output=True, text=True)
    if r.returncode != 1:
        sys.exit(f"read-only drive beside a reader: status {r.returncode}, stderr {r.stderr!r}")
    r = subprocess.run([tandem, "run", "--accel", "interp", "--bios", rom, "--serial", "none", "--timeout", "10",
                        "--drive", f"file={img}"], capture_output=True, text=True)
    if r.returncode != 2 or "is locked" not in r.stderr:
        sys.exit(f"writable drive beside a reader: status {r.returncode}, stderr {r.stderr!r}")
PY
echo "$name: PASS"
