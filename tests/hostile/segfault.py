"""Hostile: dereferences NULL, killing the interpreter with SIGSEGV."""

import ctypes


def composed_transforms(seed, x_batch, num_layers, features):
    return ctypes.string_at(0)
