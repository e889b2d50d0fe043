"""The float64 oracle: the explicit Python loop over layers, in NumPy, on :func:`composed.params`.

This is what "equality to an explicit Python loop" compares to. It shares nothing with the implementations but the
parameters (and those are checked against the eager reference separately).
"""

import numpy as np

from composed.contract import validate
from composed.params import params


def preactivations(seed, x_batch, num_layers, features):
    """The float64 pre-activations ``z_n = h_{n-1} @ K_n + b_n`` of every layer, a list of N arrays (B, F).

    ``h_0`` is the input and ``h_n = relu(z_n)``. Used to scale tolerances (see ``properties.assertions``).
    """
    seed, x, n, f = validate(seed, x_batch, num_layers, features)
    kernel, bias = params(seed, n, f)
    h = np.asarray(x, dtype=np.float64)
    zs = []
    for layer in range(n):
        z = h @ kernel[layer].astype(np.float64) + bias[layer].astype(np.float64)
        zs.append(z)
        h = np.maximum(z, 0.0)
    return zs


def oracle(seed, x_batch, num_layers, features):
    """``composed_transforms`` in float64: a 1-D array of length B*F (the identity on the input when N = 0)."""
    zs = preactivations(seed, x_batch, num_layers, features)
    _, x, _, _ = validate(seed, x_batch, num_layers, features)
    out = np.maximum(zs[-1], 0.0) if zs else np.asarray(x, dtype=np.float64)
    return out.reshape(-1)
