"""Hostile: sleeps for eleven days (the per-call SIGALRM timeout interrupts it)."""

import time


def composed_transforms(seed, x_batch, num_layers, features):
    time.sleep(10**6)
