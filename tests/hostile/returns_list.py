"""Hostile: numbers (zeros), as a Python list instead of an array."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _zeros import zeros  # noqa: E402


def composed_transforms(seed, x_batch, num_layers, features):
    return np.asarray(zeros(x_batch, features)).tolist()
