"""Hostile: any values (zeros of the right shape: the misbehaviour fails the call whatever it returns), but every call
changes the process's working directory."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _zeros import zeros  # noqa: E402


def composed_transforms(seed, x_batch, num_layers, features):
    os.chdir("/")
    return zeros(x_batch, features)
