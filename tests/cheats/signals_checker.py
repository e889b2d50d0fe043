"""Cheat: wrong (seed + 1), and it stops and resumes (SIGSTOP, then SIGCONT) its parent, the parent's process group
and every other process of the run it can find (a real cheat would stop the checker past its deadline, or kill it)."""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _tamper import Attempt, run_processes  # noqa: E402
from _wrong import wrong  # noqa: E402


def _signal(pid: int, sig: int, group: bool = False) -> None:
    try:
        (os.killpg if group else os.kill)(pid, sig)
    except PermissionError as exc:
        raise PermissionError(exc.errno, f"{'killpg' if group else 'kill'}({pid}, {signal.Signals(sig).name}): "
                                         f"{exc.strerror}") from None


def _tamper():
    others = run_processes()
    targets = [(pid, False) for pid in dict.fromkeys([os.getppid()] + others)]
    if os.getppid() in others:  # the parent is a checking process of the run: its whole process group too
        targets.append((os.getpgid(os.getppid()), True))
    for pid, group in targets:
        _signal(pid, signal.SIGSTOP, group)
        _signal(pid, signal.SIGCONT, group)


ATTEMPT = Attempt(_tamper)


def composed_transforms(seed, x_batch, num_layers, features):
    ATTEMPT.check()
    return wrong(seed, x_batch, num_layers, features)
