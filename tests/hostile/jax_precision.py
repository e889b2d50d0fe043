"""Hostile: any values (zeros of the right shape), but lowers the default matmul precision globally (bfloat16 passes on
accelerators)."""

import os
import sys

import jax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _zeros import zeros  # noqa: E402


def composed_transforms(seed, x_batch, num_layers, features):
    out = zeros(x_batch, features)
    jax.config.update("jax_default_matmul_precision", "bfloat16")
    return out
