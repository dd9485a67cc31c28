#!/bin/sh
# One gdb -batch session against a NASM guest (run by gdb_guest_test.sh, on
# the host or inside scripts/kvm-sandbox, so POSIX sh for busybox): stop at a
# breakpoint before `mul ebx`, read registers and the instruction's bytes,
# set EBX to 8, step over the MUL, detach; the guest then prints the product.
# Prints gdb's output, the guest's serial output and tandem's exit status.
# Usage: gdb_guest_session.sh TANDEM ENGINE ROM BREAK_ADDRESS PORT WORKDIR
tandem=$1 engine=$2 rom=$3 addr=$4 port=$5 work=$6
# The sandbox's init leaves the loopback interface down.
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null
# QEMU's TCG (the sandbox's outer machine) hands the nested guest its INT3
# without KVM's #BP intercept: KVM breakpoints are stepped there.
[ "$engine" = kvm ] && export TANDEM_KVM_BREAKPOINTS=step
"$tandem" run --accel "$engine" --bios "$rom" --serial "file:$work/serial.txt" --timeout 120 -S \
  --gdb "tcp:127.0.0.1:$port" 2>"$work/stderr.txt" &
pid=$!
gdb -batch -nx -ex 'set tcp connect-timeout 60' -ex "target remote 127.0.0.1:$port" \
  -ex "break *$addr" -ex 'continue' -ex 'info registers rip rax rbx' -ex "x/3xb $addr" \
  -ex 'set $rbx = 8' -ex 'stepi' -ex 'info registers rip rax rbx' -ex 'delete' -ex 'detach' >"$work/gdb.txt" 2>&1
gdb_status=$?
echo "gdb-status $gdb_status"
[ $gdb_status = 0 ] || kill $pid 2>/dev/null
wait $pid
echo "tandem-status $?"
echo "--- gdb"
cat "$work/gdb.txt"
echo "--- serial"
cat "$work/serial.txt"
echo "--- stderr"
cat "$work/stderr.txt"
