#!/usr/bin/env bash
# tandem run --nic (QEMU's -nic spelling): bad values are one line and exit
# status 2 before the guest starts; a hostfwd port that is taken is refused
# with a clear message; --nic none, --nic user with forwards and a MAC start
# the guest (a ROM that exits at once: status 1).
# Usage: nic_option_test.sh TANDEM
set -u
tandem=${1:?usage: nic_option_test.sh TANDEM}
name=nic_option_test
work=$(mktemp -d "${TMPDIR:-/tmp}/nic_option.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "$name: FAIL: $*" >&2; exit 1; }
# A 64 KiB ROM that exits at once (debug exit 0: status 1).
rom=$work/rom.bin
head -c $((0x10000 - 16)) /dev/zero | tr '\0' '\364' >"$rom"
printf '\xb0\x00\xe6\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4' >>"$rom"
run() { "$tandem" run --accel interp --bios "$rom" --serial none --timeout 10 "$@"; }

expect_error() {  # expect_error PATTERN NIC-ARGS...
  local pattern=$1 out status
  shift
  out=$(run "$@" 2>&1)
  status=$?
  [ $status = 2 ] || fail "$*: exit status $status, want 2 ($out)"
  [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "$*: more than one line: $out"
  [[ $out == "tandem: "*"$pattern"* ]] || fail "$*: message '$out' lacks '$pattern'"
}
expect_error "want none, user or tap" --nic bridge
expect_error "want [tcp|udp]" --nic user,hostfwd=tcp::99999-:22
expect_error "want [tcp|udp]" --nic user,hostfwd=sctp::2222-:22
expect_error "want [tcp|udp]" --nic user,hostfwd=tcp:1.2.3:2222-:22
expect_error "want a unicast" --nic user,mac=01:00:5e:00:00:01
expect_error "want a unicast" --nic user,mac=52:54:00:12:34
expect_error "unknown key 'ifname'" --nic user,ifname=tap0
expect_error "only virtio-net-pci" --nic user,model=e1000
expect_error "needs ifname=NAME" --nic tap
expect_error "takes no options" --nic none,mac=52:54:00:12:34:56
expect_error "give --nic once" --nic user --nic user
expect_error "interface name of 1-15 bytes" --nic tap,ifname=tandem-name-too-long-for-linux

run --nic none; status=$?
[ $status = 1 ] || fail "--nic none: exit status $status, want 1"

command -v python3 >/dev/null || { echo "$name: PASS (hostfwd checks skipped: no python3)"; exit 0; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
run --nic "user,hostfwd=tcp:127.0.0.1:$(free_port)-:22,hostfwd=udp::$(free_port)-10.0.2.15:53,mac=52:54:00:ab:cd:ef"
status=$?
[ $status = 1 ] || fail "--nic user with forwards: exit status $status, want 1"
# A host port another process listens on: refused, naming it.
python3 - "$tandem" "$rom" <<'PY' || fail "busy hostfwd port check failed"
import socket, subprocess, sys
tandem, rom = sys.argv[1:3]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
port = s.getsockname()[1]
r = subprocess.run([tandem, "run", "--accel", "interp", "--bios", rom, "--serial", "none", "--timeout", "10",
                    "--nic", f"user,hostfwd=tcp:127.0.0.1:{port}-:22"], capture_output=True, text=True)
if r.returncode != 2 or f"127.0.0.1:{port}" not in r.stderr or r.stderr.count("\n") != 1:
    sys.exit(f"busy port {port}: status {r.returncode}, stderr {r.stderr!r}")
PY
echo "$name: PASS"
