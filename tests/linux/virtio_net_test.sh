#!/usr/bin/env bash
# virtio-net under Linux with user networking: boots the scripts/linux-guest
# kernel and initramfs with `--nic user` and `tandem.nettest=1`, so that /init
# gets an address by DHCP and fetches a file from a web server this script
# runs on the host's loopback, as http://10.0.2.2:PORT/ (slirp's host alias).
# With hostfwd=tcp:127.0.0.1:FWD-:8080 the guest also runs busybox httpd on
# port 8080 and fetches from 10.0.2.2:FWD, i.e. through the host port slirp
# listens on and back into itself.
# Checks: the DHCP address is 10.0.2.15, the NIC is a virtio-net function
# (1af4:1000, class 0x020000), the guest printed the file's random token, and
# the forwarded fetch returned the guest's own file.
# With BACKEND tap the script makes a TAP interface of its own (root and
# /dev/net/tun needed; it skips without them) with an address on a /24 of
# 10.77.N.0, serves the file there, and boots with `--nic tap,ifname=...,mac=...`:
# the guest takes the .2 address statically, must show the MAC it was given
# and fetch the token over the TAP link.
#
# Usage: virtio_net_test.sh TANDEM ENGINE TIMEOUT_SECONDS [PROFILE [BACKEND]]
#   PROFILE as virtio_test.sh: acpi (MSI-X, the default), legacy (INTx
#   through the i8259) or acpi-legacy-driver (Linux's legacy virtio-pci
#   driver on BAR0, so the 10-byte virtio_net_hdr). BACKEND: user (default)
#   or tap. Exit 0 pass, 1 fail, 77 skip.
set -u
tandem=${1:?usage: virtio_net_test.sh TANDEM ENGINE TIMEOUT}
engine=${2:?engine}
timeout_s=${3:-600}
profile=${4:-acpi}
backend=${5:-user}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
name="virtio_net_test($engine, $profile, $backend)"

fail() { echo "$name: FAIL: $*" >&2; [ -n "${log:-}" ] && [ -f "$log" ] && { echo "--- console (tail) ---"; tail -n 40 "$log"; } >&2; exit 1; }

case $profile in
  acpi) append="console=ttyS0 panic=-1" ;;
  legacy) append="console=ttyS0 noapic nolapic acpi=off pci=nomsi panic=-1" ;;
  acpi-legacy-driver) append="console=ttyS0 panic=-1 virtio_pci.force_legacy=1" ;;
  *) fail "unknown profile $profile" ;;
esac
[ -x "$tandem" ] || fail "no tandem binary at $tandem"
if ! "$tandem" accels | grep -Eq "^$engine +available"; then
  echo "$name: SKIP: $("$tandem" accels | grep -E "^$engine " || echo "no engine $engine")"
  exit 77
fi
command -v python3 >/dev/null || { echo "$name: SKIP: no python3 for the host web server"; exit 77; }
host_addr=127.0.0.1
if [ "$backend" = tap ]; then
  [ -c /dev/net/tun ] || { echo "$name: SKIP: no /dev/net/tun on this host"; exit 77; }
  command -v ip >/dev/null || { echo "$name: SKIP: no ip command (iproute2) to make a TAP interface"; exit 77; }
  tap=tdtap$$
  subnet=10.77.$(($$ % 250))
  host_addr=$subnet.1
  mac=52:54:00:7a:70:$(printf %02x $(($$ % 256)))
  if ! err=$(ip tuntap add dev "$tap" mode tap 2>&1); then
    echo "$name: SKIP: cannot make a TAP interface (root with CAP_NET_ADMIN is needed): $err"
    exit 77
  fi
  ip addr add "$host_addr/24" dev "$tap" && ip link set "$tap" up ||
    { ip tuntap del dev "$tap" mode tap; echo "$name: FAIL: cannot configure $tap" >&2; exit 1; }
fi
paths=$("$here/../../scripts/linux-guest" --print) || fail "scripts/linux-guest failed"
kernel=$(sed -n 's/^kernel=//p' <<<"$paths")
initrd=$(sed -n 's/^initrd=//p' <<<"$paths")

work=$(mktemp -d "${TMPDIR:-/tmp}/virtio_net_test.XXXXXX") || fail "mktemp failed"
server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; [ -n "${tap:-}" ] && ip tuntap del dev "$tap" mode tap' EXIT
log=$work/console
token="TANDEM-NET-TOKEN-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
mkdir "$work/www" && echo "$token" >"$work/www/tandem-net.txt" || fail "cannot write the served file"
# The server picks a free port itself and says which.
python3 -u -c '
import http.server, functools, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
server = http.server.HTTPServer((sys.argv[2], 0), handler)
print(server.server_address[1], flush=True)
server.serve_forever()' "$work/www" "$host_addr" >"$work/port" 2>"$work/http.log" &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(head -n1 "$work/port")
[ -n "$port" ] || fail "the host web server did not start: $(cat "$work/http.log")"
# Boots the guest with kernel arguments $1 and --nic $2 to the end of /init.
boot_guest() {
  "$tandem" run --accel "$engine" -m 512M --kernel "$kernel" --initrd "$initrd" --append "$append $1" \
    --no-reboot --timeout "$timeout_s" --nic "$2" </dev/null 2>&1 | tr -d '\r' >"$log"
  local status=${PIPESTATUS[0]}
  [ "$status" = 0 ] || fail "tandem exited with status $status"
  grep -q '^TANDEM-LINUX-DONE' "$log" || fail "the guest did not finish /init"
}

if [ "$backend" = tap ]; then
  boot_guest "tandem.taptest=1 tandem.tapaddr=$subnet.2 tandem.tappeer=$host_addr:$port" "tap,ifname=$tap,mac=$mac"
  got=$(sed -n 's/^TANDEM-TAP-MAC //p' "$log")
  [ "$got" = "$mac" ] || fail "the guest's NIC has MAC '$got', want $mac"
  got=$(sed -n 's/^TANDEM-TAP-GET //p' "$log")
  [ "$got" = "$token" ] || fail "the guest fetched '$got' over $tap, want '$token'"
  echo "$name: PASS (MAC $mac, fetched the token from $host_addr:$port over $tap)"
  exit 0
fi

# A free port for hostfwd (free now; a race with another process is unlikely).
fwd=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

boot_guest "tandem.nettest=1 tandem.netport=$port tandem.netfwdport=$fwd" "user,hostfwd=tcp:127.0.0.1:$fwd-:8080"
grep -q '^TANDEM-PCI .* 0x1af4:0x1000 class=0x020000' "$log" || fail "no virtio-net PCI function in the guest"
addr=$(sed -n 's/^TANDEM-NET-ADDR //p' "$log")
[ "$addr" = 10.0.2.15 ] || fail "DHCP gave '$addr', want 10.0.2.15"
got=$(sed -n 's/^TANDEM-NET-GET //p' "$log")
[ "$got" = "$token" ] || fail "the guest fetched '$got', want '$token'"
got=$(sed -n 's/^TANDEM-NET-FWD //p' "$log")
[ "$got" = TANDEM-NET-GUEST-SERVED ] || fail "the fetch through hostfwd gave '$got'"
echo "$name: PASS (DHCP $addr, fetched the token from 10.0.2.2:$port, and through hostfwd 127.0.0.1:$fwd)"
