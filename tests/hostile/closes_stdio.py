"""Hostile: correct values, but every call closes file descriptors 0, 1 and 2 of its process (stdin, stdout, stderr).
The message must name what it did, not an error of the suite's own."""

import os

import composed


def composed_transforms(seed, x_batch, num_layers, features):
    out = composed.composed_transforms(seed, x_batch, num_layers, features)
    for fd in (0, 1, 2):
        os.close(fd)
    return out
