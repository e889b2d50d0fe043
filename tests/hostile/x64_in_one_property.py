"""Hostile, selectively: correct (the bundled ``fast``), except that its fifth call in a run turns on
``jax_enable_x64`` globally, once. That call fails naming the change; the guard restores it, so later calls in the
same process (other properties) keep their true verdict (passed)."""

import os
import sys

import jax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _once import first_time  # noqa: E402

import composed  # noqa: E402

_calls = 0


def composed_transforms(seed, x_batch, num_layers, features):
    global _calls
    _calls += 1
    if _calls == 5 and first_time("x64"):
        jax.config.update("jax_enable_x64", True)
    return composed.composed_transforms(seed, x_batch, num_layers, features)
