"""Hostile: correct values, but every call installs handlers that ignore SIGTERM and SIGINT (as if to survive being
stopped). They must not keep it alive, and the message must name them."""

import signal

import composed


def composed_transforms(seed, x_batch, num_layers, features):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, lambda *a: None)
    return composed.composed_transforms(seed, x_batch, num_layers, features)
