"""Cheat: wrong (seed + 1), and it replaces NumPy's comparison functions so that everything compares equal
(``array_equal``, ``allclose``, ``isclose``, ``testing.assert_allclose``, ``max`` of differences...)."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _wrong import wrong  # noqa: E402


def composed_transforms(seed, x_batch, num_layers, features):
    np.array_equal = lambda *a, **k: True
    np.allclose = lambda *a, **k: True
    np.isclose = lambda a, b, *r, **k: np.ones(np.broadcast(a, b).shape, bool)
    np.testing.assert_allclose = lambda *a, **k: None
    np.testing.assert_array_equal = lambda *a, **k: None
    return wrong(seed, x_batch, num_layers, features)
