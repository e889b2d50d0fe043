"""Cheat: wrong (seed + 1), and on its first call it kills the checking side: SIGTERM, then SIGKILL, to every process
of the run it can find (the pytest controller and workers, the ``composed-check`` CLI) and to its parent's process
group, hoping that no verdict beats a failing one."""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _tamper import Attempt, run_processes  # noqa: E402
from _wrong import wrong  # noqa: E402


def _tamper():
    targets = [(pid, False) for pid in run_processes()] + [(os.getpgid(os.getppid()), True)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid, group in targets:
            try:
                (os.killpg if group else os.kill)(pid, sig)
            except ProcessLookupError:
                continue
            except PermissionError as exc:
                raise PermissionError(exc.errno, f"{'killpg' if group else 'kill'}({pid}, {sig.name}): "
                                                 f"{exc.strerror}") from None


ATTEMPT = Attempt(_tamper)


def composed_transforms(seed, x_batch, num_layers, features):
    ATTEMPT.check()
    return wrong(seed, x_batch, num_layers, features)
