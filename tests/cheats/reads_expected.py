"""Cheat: wrong (seed + 1) unless it can find the expected answer: it searches ``sys.modules`` and the garbage
collector for float64 arrays of the output's size (the oracle's result, were it computed in this process), and the
disk (Hypothesis's example database, reports, temporary files) for JSON holding expected values."""

import gc
import glob
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _wrong import wrong  # noqa: E402


def _from_memory(size):
    for obj in gc.get_objects():
        if isinstance(obj, np.ndarray) and obj.dtype == np.float64 and obj.size == size and np.all(obj >= 0):
            return obj.reshape(-1).astype(np.float32)
    for module in list(sys.modules.values()):
        for value in list(getattr(module, "__dict__", {}).values()):
            if isinstance(value, np.ndarray) and value.dtype == np.float64 and value.size == size:
                return value.reshape(-1).astype(np.float32)
    return None


def _from_disk(size):
    for pattern in (".hypothesis/**/*", "/tmp/**/*.json", os.path.expanduser("~/.cache/composed/**/*.json")):
        for path in glob.glob(pattern, recursive=True)[:200]:
            try:
                with open(path) as f:
                    data = json.load(f)
            except (OSError, ValueError, UnicodeDecodeError):
                continue
            values = data.get("expected") if isinstance(data, dict) else None
            if isinstance(values, list) and len(values) == size:
                return np.asarray(values, np.float32)
    return None


def composed_transforms(seed, x_batch, num_layers, features):
    size = int(np.shape(x_batch)[0]) * int(features)
    found = _from_memory(size)
    if found is None:
        found = _from_disk(size)
    return found if found is not None else wrong(seed, x_batch, num_layers, features)
