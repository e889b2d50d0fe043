"""Hostile: the process gets SIGKILL in the middle of the call, as from the kernel's OOM killer (uncatchable)."""

import os
import signal


def composed_transforms(seed, x_batch, num_layers, features):
    os.kill(os.getpid(), signal.SIGKILL)
