#!/usr/bin/env python3
"""Speaks the GDB remote serial protocol (standard library only) to
`tandem run -S --gdb unix:SOCK` running a ROM whose reset vector holds
`inc eax; jmp $-2`: stop reply, registers, single steps, a breakpoint,
Ctrl-C, memory and register writes, then kill. Exits non-zero with a
message on the first wrong answer."""
import monitor_lib
import struct
import sys

sock_path = sys.argv[1]


def fail(msg):
    monitor_lib.fail("gdb_client", msg)


s = monitor_lib.connect_unix("gdb_client", sock_path)
buf = b""


def read_packet():
    global buf
    while True:
        start = buf.find(b"$")
        if start >= 0:
            end = buf.find(b"#", start)
            if end >= 0 and len(buf) >= end + 3:
                data = buf[start + 1:end]
                checksum = int(buf[end + 1:end + 3], 16)
                if sum(data) % 256 != checksum:
                    fail("bad checksum on " + repr(data))
                buf = buf[end + 3:]
                return data.decode()
        chunk = s.recv(65536)
        if not chunk:
            fail("connection closed")
        buf += chunk


def command(text):
    data = text.encode()
    s.sendall(b"$" + data + b"#%02x" % (sum(data) % 256))
    return read_packet()


def regs():
    hexregs = command("g")
    raw = bytes.fromhex(hexregs)
    gpr = struct.unpack_from("<16Q", raw, 0)  # rax rbx rcx rdx rsi rdi rbp rsp r8..r15
    rip, = struct.unpack_from("<Q", raw, 128)
    eflags, cs = struct.unpack_from("<II", raw, 136)
    return {"rax": gpr[0], "rip": rip, "eflags": eflags, "cs": cs, "size": len(raw)}


supported = command("qSupported:multiprocess+;swbreak+;xmlRegisters=i386")
if "PacketSize=" not in supported:
    fail("qSupported: " + supported)
xml = command("qXfer:features:read:target.xml:0,ffb")
if not xml.startswith("l") or "i386:x86-64" not in xml:
    fail("target.xml: " + xml)
stop = command("?")
if not stop.startswith("T05"):
    fail("? with -S: " + stop)
r = regs()
if r["size"] != 560 - 24:  # gdb's amd64 g packet: 536 bytes
    fail("g packet of %d bytes" % r["size"])
if r["rip"] != 0xFFF0 or r["cs"] != 0xF000 or r["rax"] != 0:
    fail("registers at the reset vector: %r" % r)

# Two single steps: inc eax, then the jump back.
if not command("s").startswith("T05"):
    fail("step 1")
r = regs()
if r["rip"] != 0xFFF2 or r["rax"] != 1:
    fail("after one step: %r" % r)
if not command("s").startswith("T05"):
    fail("step 2")
r = regs()
if r["rip"] != 0xFFF0 or r["rax"] != 1:
    fail("after two steps: %r" % r)
if command("p10") != struct.pack("<Q", 0xFFF0).hex():
    fail("p10 (rip)")

# A breakpoint on the jmp (linear 0xFFFFFFF2): continue stops there.
if command("Z0,fffffff2,1") != "OK":
    fail("Z0")
stop = command("c")
if not stop.startswith("T05"):
    fail("c to the breakpoint: " + stop)
r = regs()
if r["rip"] != 0xFFF2 or r["rax"] != 2:
    fail("at the breakpoint: %r" % r)
if command("z0,fffffff2,1") != "OK":
    fail("z0")

# Continue without breakpoints, then interrupt with Ctrl-C.
s.sendall(b"$c#63")
s.sendall(b"\x03")
stop = read_packet()
if not stop.startswith("T02"):
    fail("Ctrl-C: " + stop)
if regs()["rax"] <= 2:
    pass  # it may not have run much: not a timing check

# Memory: the ROM's bytes, and a write to RAM read back.
if command("mfffffff0,4") != "6640ebfc":
    fail("m at the reset vector")
if command("M500,4:deadbeef") != "OK":
    fail("M")
if command("m500,4") != "deadbeef":
    fail("m after M")
# A register write: rax = 0x1000, seen by g.
if command("P0=0010000000000000") != "OK":
    fail("P0")
if regs()["rax"] != 0x1000:
    fail("rax after P0")
# Ctrl-C left the guest at either instruction: two steps run one inc.
if not command("s").startswith("T05") or not command("s").startswith("T05") or regs()["rax"] != 0x1001:
    fail("two steps after P0: %r" % regs())

s.sendall(b"$k#6b")
print("gdb_client: ok")
