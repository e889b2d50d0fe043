"""Hostile: computes nothing and returns None."""


def composed_transforms(seed, x_batch, num_layers, features):
    return None
