"""Hostile, selectively: correct (the bundled ``fast``), except that its fifth call in a run segfaults, once. The
property that made that call fails with the crash; the candidate process is restarted and every other property must
keep its true verdict (passed)."""

import ctypes
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _once import first_time  # noqa: E402

import composed  # noqa: E402

_calls = 0


def composed_transforms(seed, x_batch, num_layers, features):
    global _calls
    _calls += 1
    if _calls == 5 and first_time("segfault"):
        ctypes.string_at(0)
    return composed.composed_transforms(seed, x_batch, num_layers, features)
