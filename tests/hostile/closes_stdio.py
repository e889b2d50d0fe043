"""Hostile: any values (zeros of the right shape: the misbehaviour fails the call whatever it returns), but every call
closes file descriptors 0, 1 and 2 of its process (stdin, stdout, stderr). The message must name what it did, not an
error of the suite's own."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _zeros import zeros  # noqa: E402


def composed_transforms(seed, x_batch, num_layers, features):
    out = zeros(x_batch, features)
    for fd in (0, 1, 2):
        os.close(fd)
    return out
