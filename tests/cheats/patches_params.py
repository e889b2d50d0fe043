"""Cheat: wrong (seed + 1), and on every call it replaces ``composed.params`` (what the oracle is built on) by the
parameters of seed + 1, everywhere it can find it."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import composed  # noqa: E402
import importlib  # noqa: E402

params_module = importlib.import_module("composed.params")
from _wrong import wrong  # noqa: E402

_real = params_module.params


def _shifted(seed, num_layers, features):
    return _real(int(seed) + 1, num_layers, features)


def composed_transforms(seed, x_batch, num_layers, features):
    composed.params = params_module.params = _shifted
    for module in list(sys.modules.values()):
        if getattr(module, "params", None) is _real:
            module.params = _shifted
    return wrong(seed, x_batch, num_layers, features)
