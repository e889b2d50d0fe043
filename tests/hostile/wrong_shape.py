"""Hostile: a (B, F) matrix (of zeros), not flattened."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _zeros import zeros  # noqa: E402


def composed_transforms(seed, x_batch, num_layers, features):
    out = zeros(x_batch, features)
    return out.reshape(np.shape(x_batch)[0], -1)
