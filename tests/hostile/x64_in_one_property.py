"""Hostile, selectively: correct (the bundled ``fast``), except that inside the property ``output_shape`` it turns on
``jax_enable_x64`` globally. The guard restores it, so properties run later in the same process keep their true
verdict (passed)."""

import sys

import jax

import composed


def _called_by(name: str) -> bool:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == name:
            return True
        frame = frame.f_back
    return False


def composed_transforms(seed, x_batch, num_layers, features):
    if _called_by("output_shape"):
        jax.config.update("jax_enable_x64", True)
    return composed.composed_transforms(seed, x_batch, num_layers, features)
