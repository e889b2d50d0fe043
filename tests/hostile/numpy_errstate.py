"""Hostile: correct values, but every call changes NumPy's global error state (``np.seterr``) and leaves it so."""

import numpy as np

import composed


def composed_transforms(seed, x_batch, num_layers, features):
    np.seterr(all="raise")
    return composed.composed_transforms(seed, x_batch, num_layers, features)
