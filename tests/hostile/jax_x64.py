"""Hostile: correct result, but turns on float64 globally for the rest of the process."""

import jax

import composed


def composed_transforms(seed, x_batch, num_layers, features):
    jax.config.update("jax_enable_x64", True)
    return composed.composed_transforms(seed, x_batch, num_layers, features)
