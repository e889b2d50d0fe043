"""A wrong implementation for the CLI tests: the last layer skips its relu (so outputs can be negative).

Everything else is the spec: the same parameters (``composed.params``), float32 arithmetic, flattened output.
"""

import numpy as np

from composed.params import params


def composed_transforms(seed, x_batch, num_layers, features):
    n, f = int(num_layers), int(features)
    kernel, bias = params(int(seed), n, f)
    h = np.asarray(x_batch, dtype=np.float32)
    for layer in range(n):
        h = h @ kernel[layer] + bias[layer]
        if layer < n - 1:
            h = np.maximum(h, 0)
    return h.reshape(-1).astype(np.float32)
