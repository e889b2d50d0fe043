"""Hostile: any values (zeros of the right shape: the misbehaviour fails the call whatever it returns), but every call
changes NumPy's global error state (``np.seterr``) and leaves it so."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _zeros import zeros  # noqa: E402


def composed_transforms(seed, x_batch, num_layers, features):
    np.seterr(all="raise")
    return zeros(x_batch, features)
