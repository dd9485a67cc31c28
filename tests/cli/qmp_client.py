#!/usr/bin/env python3
"""Drives a running `tandem run --qmp unix:SOCK,...` guest over QMP (standard
library only): greeting, negotiation, stop / query-status / info registers /
system_reset while stopped / cont, system_powerdown and system_reset on a guest that counts in EAX, then
quit. Exits non-zero with a message on the first wrong answer."""
import json
import monitor_lib
import sys

sock_path = sys.argv[1]


def fail(msg):
    monitor_lib.fail("qmp_client", msg)


s = monitor_lib.connect_unix("qmp_client", sock_path)
f = s.makefile("rb")
events = []


def read():
    line = f.readline()
    if not line:
        fail("connection closed")
    return json.loads(line)


def execute(cmd, args=None, id=None):
    req = {"execute": cmd}
    if args is not None:
        req["arguments"] = args
    if id is not None:
        req["id"] = id
    s.sendall(json.dumps(req).encode())
    while True:
        msg = read()
        if "event" in msg:
            events.append(msg)
            continue
        return msg


def expect_return(cmd, args=None):
    reply = execute(cmd, args)
    if "return" not in reply:
        fail(cmd + ": " + json.dumps(reply))
    return reply["return"]


def next_event():
    return events.pop(0) if events else read()


def eax():
    regs = expect_return("human-monitor-command", {"command-line": "info registers"})
    for word in regs.split():
        if word.startswith("RAX="):
            return int(word[4:], 16) & 0xFFFFFFFF
    fail("no RAX in info registers: " + regs)


def system_reset(status):
    """system_reset, its RESET event, and the run state it leaves."""
    expect_return("system_reset")
    ev = next_event()
    if ev["event"] != "RESET" or ev["data"] != {"guest": False, "reason": "host-qmp-system-reset"}:
        fail("RESET event: " + json.dumps(ev))
    if expect_return("query-status")["status"] != status:
        fail("not %s after system_reset" % status)


greeting = read()
if "QMP" not in greeting or "qemu" not in greeting["QMP"]["version"]:
    fail("greeting: " + json.dumps(greeting))
if not greeting["QMP"]["version"]["package"].startswith("tandem"):
    fail("greeting package: " + json.dumps(greeting))
reply = execute("query-status", id="early")
if reply.get("error", {}).get("class") != "CommandNotFound" or reply.get("id") != "early":
    fail("a command before qmp_capabilities: " + json.dumps(reply))
if execute("qmp_capabilities") != {"return": {}}:
    fail("qmp_capabilities")

status = expect_return("query-status")
if status["status"] != "running" or status["running"] is not True:
    fail("query-status at start: " + json.dumps(status))

expect_return("stop")
if next_event()["event"] != "STOP":
    fail("no STOP event")
status = expect_return("query-status")
if status != {"status": "paused", "singlestep": False, "running": False}:
    fail("query-status after stop: " + json.dumps(status))
regs = expect_return("human-monitor-command", {"command-line": "info registers"})
if "RIP=000000000000fff" not in regs or "CS =f000 00000000ffff0000" not in regs:
    fail("info registers: the guest is not in its loop at the reset vector:\n" + regs)
stopped = eax()
if eax() != stopped:
    fail("EAX changed while stopped")
cpus = expect_return("query-cpus-fast")
if len(cpus) != 1 or cpus[0]["cpu-index"] != 0 or cpus[0]["target"] != "x86_64" or cpus[0]["thread-id"] <= 0:
    fail("query-cpus-fast: " + json.dumps(cpus))
info_cpus = expect_return("human-monitor-command", {"command-line": "info cpus"})
if "* CPU #0: thread_id=%d" % cpus[0]["thread-id"] not in info_cpus:
    fail("info cpus: " + info_cpus)

# Stopped, a reset happens at once and the machine stays stopped (as QEMU's):
# what a client reads before cont is the reset state.
system_reset("paused")
regs = expect_return("human-monitor-command", {"command-line": "info registers"})
if "RIP=000000000000fff0" not in regs or eax() != 0:
    fail("system_reset while stopped: not at the reset vector with EAX 0:\n" + regs)

expect_return("cont")
if next_event()["event"] != "RESUME":
    fail("no RESUME event")
if expect_return("query-status")["status"] != "running":
    fail("query-status after cont")
# The guest counts again: wait (a bounded number of looks) until EAX moved.
for _ in range(10000):
    if eax() != stopped:
        break
else:
    fail("EAX did not move after cont")

engine = expect_return("x-tandem-query-engine")
if engine["engine"] not in ("interp", "jit", "kvm") or engine["seconds"] <= 0:
    fail("x-tandem-query-engine: " + json.dumps(engine))
kvm = expect_return("query-kvm")
if kvm["enabled"] != (engine["engine"] == "kvm"):
    fail("query-kvm: " + json.dumps(kvm))

# No ACPI in this guest: the power button press is an event, and it runs on.
expect_return("system_powerdown")
if next_event()["event"] != "POWERDOWN":
    fail("no POWERDOWN event")
system_reset("running")

expect_return("quit")
ev = next_event()
if ev["event"] != "SHUTDOWN" or ev["data"] != {"guest": False, "reason": "host-qmp-quit"}:
    fail("SHUTDOWN event: " + json.dumps(ev))
if f.readline() not in (b"",):
    pass  # anything after SHUTDOWN is fine as long as the connection ends
print("qmp_client: ok")
