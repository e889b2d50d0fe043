"""Hostile: any values (zeros of the right shape: the misbehaviour fails the call whatever it returns), but every call
installs handlers that ignore SIGTERM and SIGINT (as if to survive being stopped). They must not keep it alive, and
the message must name them."""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _zeros import zeros  # noqa: E402


def composed_transforms(seed, x_batch, num_layers, features):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, lambda *a: None)
    return zeros(x_batch, features)
