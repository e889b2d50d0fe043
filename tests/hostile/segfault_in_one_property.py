"""Hostile, selectively: correct (the bundled ``fast``), except that it segfaults when called by the property
``matches_oracle``. The other properties must keep their true verdict (passed) although the worker that ran
``matches_oracle`` died."""

import ctypes
import sys

import composed


def _called_by(name: str) -> bool:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == name:
            return True
        frame = frame.f_back
    return False


def composed_transforms(seed, x_batch, num_layers, features):
    if _called_by("matches_oracle"):
        ctypes.string_at(0)
    return composed.composed_transforms(seed, x_batch, num_layers, features)
