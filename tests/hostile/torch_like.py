"""Hostile: a tensor-like object with ``.shape`` and ``.dtype`` that NumPy cannot turn into a numeric array."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _zeros import zeros  # noqa: E402


class FakeTensor:
    """Looks like a tensor (shape, dtype, len, indexing) but ``np.asarray`` of it is a 0-d object array or fails."""

    def __init__(self, data):
        self._data = np.asarray(data)
        self.shape = self._data.shape
        self.dtype = "torch.float32"  # a string, as an unconverted framework dtype would print

    def __len__(self):
        return len(self._data)

    def __repr__(self):
        return f"tensor(shape={self.shape})"

    def __array__(self, dtype=None, copy=None):
        raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor first.")


def composed_transforms(seed, x_batch, num_layers, features):
    return FakeTensor(zeros(x_batch, features))
