"""Hostile: loops inside one C call that never checks for signals, so SIGALRM cannot interrupt it.

``sum`` over a ``range`` of small ints runs entirely in C; only the hard per-call deadline (the worker is ended and
xdist replaces it) or pytest-timeout stops it.
"""


def composed_transforms(seed, x_batch, num_layers, features):
    return sum(range(10**15))
