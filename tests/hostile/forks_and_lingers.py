"""Hostile, contained: correct (the bundled ``fast``), but every call forks a child that sleeps for a day, and a
grandchild that leaves the session (double fork + ``setsid``). Nothing may outlive the run; every property must still
get its (passing) verdict."""

import os
import time

import composed


def _linger():
    try:
        time.sleep(86400)
    finally:
        os._exit(0)


def composed_transforms(seed, x_batch, num_layers, features):
    if os.fork() == 0:
        _linger()
    if os.fork() == 0:  # double fork: the grandchild is orphaned and in a session of its own
        os.setsid()
        if os.fork() == 0:
            _linger()
        os._exit(0)
    return composed.composed_transforms(seed, x_batch, num_layers, features)
