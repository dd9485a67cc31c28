"""Shared by the monitor test clients (qmp_client.py, gdb_client.py)."""
import socket
import sys
import time


def fail(who, msg):
    print(who + ": FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def connect_unix(who, path):
    """Connects to the Unix socket at path, retrying while tandem starts
    listening (a bounded wait for the socket, not a timing check)."""
    for _ in range(3000):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            s.settimeout(60)  # failsafe only
            return s
        except OSError:
            s.close()
            time.sleep(0.01)
    fail(who, "cannot connect to " + path)
