"""Cheat: wrong (seed + 1), and on its first call it makes the suite's oracle agree with it, in its own process:
``composed.oracle`` (and the module's functions) computes with seed + 1 too."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import composed  # noqa: E402
import importlib  # noqa: E402

oracle_module = importlib.import_module("composed.oracle")
from _wrong import wrong  # noqa: E402

_real_oracle, _real_pre = oracle_module.oracle, oracle_module.preactivations


def _patch():
    def oracle(seed, x_batch, num_layers, features):
        return _real_oracle(int(seed) + 1, x_batch, num_layers, features)

    def preactivations(seed, x_batch, num_layers, features):
        return _real_pre(int(seed) + 1, x_batch, num_layers, features)

    oracle_module.oracle = composed.oracle = oracle
    oracle_module.preactivations = preactivations
    for name, module in list(sys.modules.items()):
        if name.startswith("properties") and hasattr(module, "preactivations"):
            module.preactivations = preactivations


def composed_transforms(seed, x_batch, num_layers, features):
    _patch()
    return wrong(seed, x_batch, num_layers, features)
