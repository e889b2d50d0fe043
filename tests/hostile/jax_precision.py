"""Hostile: correct result, but lowers the default matmul precision globally (bfloat16 passes on accelerators)."""

import jax

import composed


def composed_transforms(seed, x_batch, num_layers, features):
    out = composed.composed_transforms(seed, x_batch, num_layers, features)
    jax.config.update("jax_default_matmul_precision", "bfloat16")
    return out
