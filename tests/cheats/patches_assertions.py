"""Cheat: wrong (seed + 1), and it imports the suite's assertion helpers and properties and makes every check pass:
the tolerance helpers become no-ops and every property's check returns at once."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _wrong import wrong  # noqa: E402


def _patch():
    try:
        import properties.harness.tolerance as tolerance
        from properties.invariants import PROPERTIES
    except Exception:  # noqa: BLE001
        return
    for name in dir(tolerance):
        if name.startswith("assert_"):
            setattr(tolerance, name, lambda *a, **k: None)
    for prop in PROPERTIES.values():
        object.__setattr__(prop, "check", lambda *a, **k: None)


def composed_transforms(seed, x_batch, num_layers, features):
    _patch()
    return wrong(seed, x_batch, num_layers, features)
