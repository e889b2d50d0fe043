"""Hostile: raises SystemExit(3) (a BaseException, not an Exception)."""

import sys


def composed_transforms(seed, x_batch, num_layers, features):
    sys.exit(3)
