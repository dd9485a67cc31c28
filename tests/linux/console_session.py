#!/usr/bin/env python3
# Drives tandem's `--serial stdio` console from a pseudo-terminal, as a user
# at a terminal would (termios(3), pty(7)): see interactive_console_test.sh.
"""Usage: console_session.py CASE TANDEM ACCEL KERNEL INITRD BOOT_TIMEOUT_S

CASE shell:  wait for the guest shell's prompt, type commands and check their
             output, then `exit`: tandem must end with status 0 (ACPI S5).
CASE escape: wait for the prompt, check that Ctrl-A Ctrl-A reaches the guest
             as one Ctrl-A, then type Ctrl-A x: tandem must end at once with
             status 0 while the guest is still running.
Both check that tandem put the terminal in raw mode while it ran and left the
terminal settings exactly as they were. Exit status 0 pass, 1 fail.
Environment: LINUX_CONSOLE_LOG keeps what the terminal showed there.
"""
import fcntl
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import termios
import time

BANNER = b"tandem: interactive shell; 'exit' powers off"
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][AB0-2]|\r|\x07")


class Failure(Exception):
    pass


class Console:
    """tandem on the slave side of a fresh pty, its controlling terminal."""

    def __init__(self, argv):
        self.master, self.slave = os.openpty()
        # The parent keeps the slave open, so the settings can be read after
        # tandem exits and reads of the master never see EIO meanwhile.
        self.before = termios.tcgetattr(self.slave)
        self.stderr = tempfile.TemporaryFile()
        self.raw = bytearray()
        self.started = time.monotonic()

        def become_session_leader():
            # tandem changes the terminal only as its foreground job.
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(argv, stdin=self.slave, stdout=self.slave, stderr=self.stderr,
                                     preexec_fn=become_session_leader)

    def text(self):
        """What the terminal shows, without CRs and escape sequences."""
        return ANSI.sub(b"", bytes(self.raw))

    def _pump(self, seconds):
        ready, _, _ = select.select([self.master], [], [], seconds)
        if ready:
            try:
                self.raw += os.read(self.master, 65536)
            except OSError:
                pass

    def expect(self, pattern, timeout_s, since=0, what=None):
        """Waits until pattern (bytes regex) matches the text from offset since."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        while True:
            m = rx.search(self.text(), since)
            if m:
                return m
            if self.proc.poll() is not None:
                self._pump(0.2)
                if rx.search(self.text(), since):
                    continue
                raise Failure(f"tandem exited (status {self.proc.returncode}) before {what or pattern!r} appeared")
            if time.monotonic() > deadline:
                raise Failure(f"no {what or pattern!r} within {timeout_s} s")
            self._pump(0.2)

    def type(self, data):
        """Sends keys; returns the text offset from which their effect shows."""
        # A few characters back: an escape sequence cut at the end of what
        # was read so far shrinks the text once its tail arrives.
        mark = max(0, len(self.text()) - 8)
        os.write(self.master, data)
        return mark

    def run(self, line, want, timeout_s, what):
        """Types a command line (Enter is CR, as from a real terminal) and waits for want."""
        mark = self.type(line.encode() + b"\r")
        return self.expect(want, timeout_s, mark, f"{what} (after typing {line!r})")

    def wait_exit(self, timeout_s):
        deadline = time.monotonic() + timeout_s
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise Failure(f"tandem still running {timeout_s} s later")
            self._pump(0.2)
        self._pump(0.2)
        return self.proc.returncode

    def check_raw_mode(self):
        iflag, _, _, lflag, _, _, cc = termios.tcgetattr(self.slave)
        problems = []
        if lflag & termios.ICANON:
            problems.append("ICANON still on (input would wait for Enter)")
        if lflag & termios.ECHO:
            problems.append("ECHO still on (the host would echo what the guest echoes)")
        if iflag & termios.ICRNL:
            problems.append("ICRNL still on (Enter would reach the guest as LF)")
        if not lflag & termios.ISIG:
            problems.append("ISIG off (Ctrl-C would no longer end tandem)")
        if problems:
            raise Failure("terminal not in raw mode while tandem runs: " + "; ".join(problems))

    def check_restored(self):
        after = termios.tcgetattr(self.slave)
        names = ["iflag", "oflag", "cflag", "lflag", "ispeed", "ospeed", "cc"]
        changed = [n for n, a, b in zip(names, self.before, after) if a != b]
        if changed:
            raise Failure("terminal settings not restored after tandem exited: " + ", ".join(
                f"{n} {b!r} -> {a!r}" for n, b, a in zip(names, self.before, after) if n in changed))

    def close(self):
        if self.proc.poll() is None:
            # tandem restores the terminal on SIGTERM; SIGKILL if it hangs.
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.seek(0)
        err = self.stderr.read().decode(errors="replace")
        os.close(self.master)
        os.close(self.slave)
        return err


def wait_for_prompt(con, boot_timeout_s):
    m = con.expect(re.escape(BANNER), boot_timeout_s, what="the shell banner of /init")
    # busybox sh prints "# " or "~ # " for root; kernel messages may follow.
    con.expect(rb"[#$] ", 60, m.end(), "the shell prompt")
    print(f"  prompt after {time.monotonic() - con.started:.1f} s", flush=True)


def case_shell(con, kernel, boot_timeout_s):
    wait_for_prompt(con, boot_timeout_s)
    con.check_raw_mode()
    # Keys reach the guest one by one: its echo shows before Enter.
    mark = con.type(b"echo typed-")
    con.expect(rb"echo typed-", 30, mark, "the guest's echo of keys typed without Enter")
    con.run("$((6*7))-ok", rb"\ntyped-42-ok\n", 60, "arithmetic output")
    m = con.run("uname -r", rb"\n(\d+\.\d+\.\d+\S*)\n", 60, "the kernel release")
    release = m.group(1).decode()
    pkg = re.search(r"linux-image-([^_/]+)_", kernel)
    if pkg and pkg.group(1) != release:
        raise Failure(f"uname -r says {release}, the kernel package is {pkg.group(1)}")
    con.run("echo hello tandem | tr a-z A-Z | rev", rb"\nMEDNAT OLLEH\n", 60, "a pipeline's output")
    # DEL erases in the guest's line editor: the host passes it through.
    con.run("echo del-oj\x7fk", rb"\ndel-ok\n", 60, "the line after a DEL")
    # Longer than the UART's 16-byte FIFO at once: tandem holds the rest.
    con.run("echo " + "x" * 300 + " | wc -c", rb"\n301\n", 60, "a 300-character line's length")
    con.type(b"exit\r")
    status = con.wait_exit(120)
    if status != 0:
        raise Failure(f"tandem exited with status {status} after the shell's exit, want 0 (ACPI power-off)")
    con.check_restored()


def case_escape(con, kernel, boot_timeout_s):
    wait_for_prompt(con, boot_timeout_s)
    con.check_raw_mode()
    # In the guest's line editor Ctrl-A moves to the start of the line.
    mark = con.type(b"cho ctrl-a-ok")
    con.expect(rb"cho ctrl-a-ok", 30, mark, "the guest's echo")
    con.run("\x01\x01e", rb"\nctrl-a-ok\n", 60, "the line fixed after Ctrl-A Ctrl-A")
    t0 = time.monotonic()
    con.type(b"\x01x")
    status = con.wait_exit(30)
    if status != 0:
        raise Failure(f"tandem exited with status {status} after Ctrl-A x, want 0")
    print(f"  Ctrl-A x ended tandem in {time.monotonic() - t0:.2f} s", flush=True)
    con.check_restored()


def main():
    if len(sys.argv) != 7 or sys.argv[1] not in ("shell", "escape"):
        sys.exit(__doc__)
    case, tandem, accel, kernel, initrd, boot_timeout = sys.argv[1:]
    boot_timeout_s = float(boot_timeout)
    argv = [tandem, "run", "--accel", accel, "-m", "512M", "--kernel", kernel, "--initrd", initrd,
            "--append", "console=ttyS0 panic=-1 tandem.shell=1", "--no-reboot", "--serial", "stdio",
            "--timeout", str(int(boot_timeout_s + 600))]
    con = Console(argv)
    error = None
    try:
        (case_shell if case == "shell" else case_escape)(con, kernel, boot_timeout_s)
    except Failure as e:
        error = str(e)
    err = con.close()
    log = os.environ.get("LINUX_CONSOLE_LOG")
    if log:
        with open(f"{log}.{case}", "wb") as f:
            f.write(bytes(con.raw))
    took = time.monotonic() - con.started
    if error:
        print(f"console_session({case}, {accel}): FAIL after {took:.1f} s: {error}", file=sys.stderr)
        print("--- terminal (tail, escapes removed) ---", file=sys.stderr)
        print(con.text()[-4000:].decode(errors="replace"), file=sys.stderr)
        print("--- tandem's stderr ---", file=sys.stderr)
        print(err[-2000:], file=sys.stderr)
        return 1
    print(f"console_session({case}, {accel}): PASS in {took:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
