"""Hostile: any values (zeros of the right shape), but writes 8 MB to stdout and 8 MB to stderr (Python and C level) on
every call."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _zeros import zeros  # noqa: E402


CHUNK = "debug " * (1 << 20)  # 6 MiB


def composed_transforms(seed, x_batch, num_layers, features):
    print(CHUNK)
    sys.stderr.write(CHUNK[: 1 << 20])
    os.write(1, b"x" * (1 << 20))  # straight to the file descriptor, past sys.stdout
    return zeros(x_batch, features)
