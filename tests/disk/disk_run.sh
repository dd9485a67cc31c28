#!/bin/sh
# One boot of the scripts/disk-image guest through SeaBIOS, in POSIX sh with
# busybox tools only, so that it runs the same on the host and inside
# scripts/kvm-sandbox (whose userland is busybox). The guest's orders go on a
# second, read-only disk (see scripts/disk-image); a web server on
# 127.0.0.1 (busybox httpd: python is not in the sandbox) serves WWW_DIR to
# the guest as http://10.0.2.2:PORT/.
# While tandem runs: when the guest says TANDEM-DISK-SERVING, fetch its CGI
# through the hostfwd port; when it says TANDEM-DISK-SYNCED <md5>, kill
# tandem with SIGKILL.
# Usage: disk_run.sh TANDEM ACCEL IMAGE ORDERS TIMEOUT [WWW_DIR]
#   ORDERS: the guest's words; @PORT@ becomes the web server's port. With
#   `net` in ORDERS, tandem gets --nic user with a hostfwd to guest port 8080.
# Prints the console, then TANDEM-HOST-* lines: the fetch's result, KILLED,
# and tandem's exit status. Environment: BUSYBOX (default: busybox in PATH).
set -u
tandem=$1 accel=$2 img=$3 orders=$4 timeout_s=$5 www=${6:-}
bb=${BUSYBOX:-busybox}
work=$(mktemp -d "${TMPDIR:-/tmp}/disk_run.XXXXXX") || exit 1
httpd_pid=
cleanup() { [ -n "$httpd_pid" ] && kill "$httpd_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# A port nobody listens on: try to listen there ourselves (busybox httpd
# exits at once when the bind fails).
free_port() { # free_port KEEP DIR: prints the port; with KEEP=1 the server stays up
  n=0
  while [ $n -lt 20 ]; do
    p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000 ))
    "$bb" httpd -f -p "127.0.0.1:$p" -h "$2" >/dev/null 2>&1 &
    pid=$!
    sleep 0.3
    if kill -0 $pid 2>/dev/null; then
      if [ "$1" = 1 ]; then echo "$p $pid"; else kill $pid; wait $pid 2>/dev/null; echo "$p"; fi
      return 0
    fi
    n=$((n + 1))
  done
  return 1
}

nic=
case " $orders " in
  *" net "*)
    mkdir -p "$work/empty"
    [ -n "$www" ] || www=$work/empty
    server=$(free_port 1 "$www") || { echo "TANDEM-HOST-ERROR no free port for the web server"; exit 1; }
    port=${server% *} httpd_pid=${server#* }
    fwd=$(free_port 0 "$work/empty") || { echo "TANDEM-HOST-ERROR no free port for hostfwd"; exit 1; }
    orders=$(echo "$orders" | sed "s/@PORT@/$port/g")
    nic="--nic user,hostfwd=tcp:127.0.0.1:$fwd-:8080" ;;
esac
printf '%s\n' "$orders" >"$work/orders" && "$bb" truncate -s 4096 "$work/orders" || exit 1

# shellcheck disable=SC2086
"$tandem" run --accel "$accel" -m 512M --drive "file=$img,format=raw,if=virtio" \
  --drive "file=$work/orders,format=raw,if=virtio,readonly=on" $nic --no-reboot --timeout "$timeout_s" \
  </dev/null >"$work/console" 2>&1 &
pid=$!
fetched=0 killed=0
while kill -0 $pid 2>/dev/null; do
  if [ $fetched = 0 ] && grep -q '^TANDEM-DISK-SERVING' "$work/console"; then
    fetched=1
    echo "TANDEM-HOST-FETCHED $(timeout 60 "$bb" wget -q -O - "http://127.0.0.1:$fwd/cgi-bin/hello" 2>&1 | head -c 100)" \
      >>"$work/host"
  fi
  if [ $killed = 0 ] && grep -q '^TANDEM-DISK-SYNCED [0-9a-f]\{32\}' "$work/console"; then
    killed=1
    kill -9 $pid
    echo "TANDEM-HOST-KILLED" >>"$work/host"
  fi
  sleep 0.2
done
wait $pid
status=$?
cat "$work/console"
[ -f "$work/host" ] && cat "$work/host"
echo "TANDEM-HOST-STATUS $status"
