"""Cheat: wrong (seed + 1), and it opens for writing, through ``/proc/<ppid>/fd/N``, every file descriptor of its
parent (the pytest process checking it): its pipes to the xdist controller, its log, its end of the wire (a probe: it
writes nothing; a real cheat would forge the checker's messages)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _tamper import Attempt  # noqa: E402
from _wrong import wrong  # noqa: E402


def _tamper():
    where = f"/proc/{os.getppid()}/fd"
    names = os.listdir(where)  # PermissionError when the parent is not ours to inspect
    for name in names:
        try:
            fd = os.open(f"{where}/{name}", os.O_WRONLY | os.O_NOCTTY)  # no O_TRUNC: a probe
        except PermissionError:
            raise
        except OSError:
            continue  # a directory, a socket (not openable this way), one closed meanwhile
        os.close(fd)


ATTEMPT = Attempt(_tamper)


def composed_transforms(seed, x_batch, num_layers, features):
    ATTEMPT.check()
    return wrong(seed, x_batch, num_layers, features)
