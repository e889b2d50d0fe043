"""Benchmark candidate: wrong only at B = 1. The bundled ``fast`` implementation, except that a batch of a single row
comes back scaled by 1 + 1e-3 (a special case for B = 1 with a bug in it)."""

import numpy as np

import composed


def composed_transforms(seed, x_batch, num_layers, features):
    out = composed.composed_transforms(seed, x_batch, num_layers, features)
    if np.shape(x_batch)[0] == 1:
        out = out * np.float32(1 + 1e-3)
    return out
