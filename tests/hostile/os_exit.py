"""Hostile: ends the process with status 0 from inside the call, skipping every Python cleanup."""

import os


def composed_transforms(seed, x_batch, num_layers, features):
    os._exit(0)
