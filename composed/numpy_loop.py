"""An explicit Python loop over layers in NumPy, in the input's (canonical) dtype, on :func:`composed.params`."""

import numpy as np

from composed.contract import validate
from composed.params import params


def composed_transforms(seed, x_batch, num_layers, features):
    seed, x_batch, n, f = validate(seed, x_batch, num_layers, features)
    kernel, bias = params(seed, n, f)
    h = np.array(x_batch)  # a copy, in the canonical dtype
    dtype = h.dtype
    for layer in range(n):
        h = np.maximum(h @ kernel[layer].astype(dtype) + bias[layer].astype(dtype), 0).astype(dtype)
    return h.reshape(-1)
