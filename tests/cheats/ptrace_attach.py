"""Cheat: wrong (seed + 1), and it attaches to its parent (the pytest process checking it) with ``ptrace``
(``PTRACE_SEIZE``, which does not stop it: a real cheat would then rewrite its registers and memory)."""

import ctypes
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _tamper import Attempt, run_processes  # noqa: E402
from _wrong import wrong  # noqa: E402

PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_EVENT_STOP = 17, 0x4206, 0x4207, 128
WALL = 0x40000000


def _tamper():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    for pid in dict.fromkeys([os.getppid()] + run_processes()):
        if libc.ptrace(PTRACE_SEIZE, pid, None, None) != 0:
            err = ctypes.get_errno()
            raise PermissionError(err, f"ptrace(PTRACE_SEIZE, {pid}): {os.strerror(err)}")
        # attached: let go at once (stop it, then detach, passing on a signal it was stopped for)
        libc.ptrace(PTRACE_INTERRUPT, pid, None, None)
        _, status = os.waitpid(pid, WALL)
        signal = 0 if (status >> 16) == PTRACE_EVENT_STOP else os.WSTOPSIG(status)
        libc.ptrace(PTRACE_DETACH, pid, None, ctypes.c_void_p(signal))


ATTEMPT = Attempt(_tamper)


def composed_transforms(seed, x_batch, num_layers, features):
    ATTEMPT.check()
    return wrong(seed, x_batch, num_layers, features)
