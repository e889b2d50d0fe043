"""Cheat: wrong (seed + 1), and it poisons JAX's persistent compilation cache for later runs: every entry in the cache
directory it was given is overwritten with garbage, and junk entries are added."""

import os
import sys

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _tamper import Attempt  # noqa: E402
from _wrong import wrong  # noqa: E402


def _tamper():
    directory = os.environ.get("JAX_COMPILATION_CACHE_DIR") or jax.config.jax_compilation_cache_dir
    if not directory:
        raise FileNotFoundError(2, "no JAX compilation cache directory to poison")
    jax.jit(lambda v: v * 3 + 1)(jnp.ones(3)).block_until_ready()  # at least one entry of its own
    for root, _, files in os.walk(directory):
        for name in files:
            with open(os.path.join(root, name), "r+b") as f:
                f.write(b"\xde\xad\xbe\xef" * 64)
    with open(os.path.join(directory, "jit_cheat-" + "0" * 64), "wb") as f:
        f.write(b"\x00garbage" * 128)


ATTEMPT = Attempt(_tamper)


def composed_transforms(seed, x_batch, num_layers, features):
    ATTEMPT.check()
    return wrong(seed, x_batch, num_layers, features)
