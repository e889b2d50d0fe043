"""Hostile: asks for 80 TB at once; NumPy raises MemoryError at once (no memory is touched)."""

import numpy as np


def composed_transforms(seed, x_batch, num_layers, features):
    return np.ones(10**13)
