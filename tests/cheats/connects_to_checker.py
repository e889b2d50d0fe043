"""Cheat: wrong (seed + 1), and it connects to every listening TCP port of this machine's loopback and every abstract
Unix socket it can see (``/proc/net/tcp``, ``/proc/net/unix``), looking for a control channel of the checking side
(there is none: the wire is a socketpair made before the implementation is loaded); with none listening, it tries
127.0.0.1:1."""

import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _tamper import Attempt  # noqa: E402
from _wrong import wrong  # noqa: E402


def _tcp_ports() -> list[int]:
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        ports += [int(r.split()[1].rsplit(":", 1)[1], 16) for r in rows if r.split()[3] == "0A"]  # LISTEN
    return sorted(set(ports))


def _abstract() -> list[str]:
    try:
        with open("/proc/net/unix") as f:
            rows = f.read().splitlines()[1:]
    except OSError:
        return []
    return sorted({r.split()[-1][1:] for r in rows if len(r.split()) > 7 and r.split()[-1].startswith("@")})


def _connect(family, address, label) -> None:
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(address)
        except OSError as exc:
            raise type(exc)(exc.errno, f"connect to {label}: {exc.strerror}") from None


def _tamper():
    for port in _tcp_ports() or [1]:
        _connect(socket.AF_INET, ("127.0.0.1", port), f"TCP 127.0.0.1:{port}")
    for name in _abstract():
        _connect(socket.AF_UNIX, "\0" + name, f"abstract Unix socket @{name}")


ATTEMPT = Attempt(_tamper)


def composed_transforms(seed, x_batch, num_layers, features):
    ATTEMPT.check()
    return wrong(seed, x_batch, num_layers, features)
