"""Helper of the hostile implementations whose output does not matter (their misbehaviour fails the call whatever it
returns): zeros of the right shape, without importing JAX, so their candidate process starts in a fraction of a
second."""

import numpy as np


def zeros(x_batch, features):
    return np.zeros(np.shape(x_batch)[0] * int(features), np.float32)
