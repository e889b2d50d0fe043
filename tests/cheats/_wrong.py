"""The wrong answer every cheat gives: the network with seed + 1 (plausible values, the wrong parameters)."""

import composed


def wrong(seed, x_batch, num_layers, features):
    shifted = (int(seed) + 1 + 2**63) % 2**64 - 2**63  # seed + 1, wrapped into the contract's range
    return composed.composed_transforms(shifted, x_batch, num_layers, features)
