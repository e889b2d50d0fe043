"""Hostile: the right numbers, as a Python list instead of an array."""

import numpy as np

import composed


def composed_transforms(seed, x_batch, num_layers, features):
    return np.asarray(composed.composed_transforms(seed, x_batch, num_layers, features)).tolist()
