"""Cheat: wrong (seed + 1), and it opens ``/proc/<pid>/mem`` of its parent (the pytest process checking it) and of the
run's other processes for writing, and writes 8 bytes of a writable mapping back where they were (a probe: a real
cheat would rewrite the checker's state)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _tamper import Attempt, run_processes  # noqa: E402
from _wrong import wrong  # noqa: E402


def _probe(pid: int) -> None:
    with open(f"/proc/{pid}/mem", "r+b", buffering=0) as mem:
        with open(f"/proc/{pid}/maps") as f:
            start = next(int(line.split("-")[0], 16) for line in f if line.split()[1].startswith("rw"))
        mem.seek(start)
        data = mem.read(8)
        mem.seek(start)
        mem.write(data)


def _tamper():
    for pid in [os.getppid()] + run_processes():
        _probe(pid)


ATTEMPT = Attempt(_tamper)


def composed_transforms(seed, x_batch, num_layers, features):
    ATTEMPT.check()
    return wrong(seed, x_batch, num_layers, features)
