"""Hostile: any values (zeros of the right shape), but turns on float64 globally for the rest of the process."""

import os
import sys

import jax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _zeros import zeros  # noqa: E402


def composed_transforms(seed, x_batch, num_layers, features):
    jax.config.update("jax_enable_x64", True)
    return zeros(x_batch, features)
