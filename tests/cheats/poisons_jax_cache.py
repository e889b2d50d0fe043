"""Cheat: wrong (seed + 1), and it poisons JAX's persistent compilation cache for later runs: every entry of the whole
cache (above the per-implementation directory it may be given) is overwritten with garbage, and a junk entry added."""

import os
import sys

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _tamper import Attempt  # noqa: E402
from _wrong import wrong  # noqa: E402


def _top(directory: str) -> str:
    """The whole cache: above a per-implementation directory (``.../candidates/KEY``) if that is what it was given."""
    parent = os.path.dirname(directory)
    return os.path.dirname(parent) if os.path.basename(parent) == "candidates" else directory


def _tamper():
    directory = os.environ.get("JAX_COMPILATION_CACHE_DIR") or jax.config.jax_compilation_cache_dir
    if not directory:
        raise FileNotFoundError(2, "no JAX compilation cache directory to poison")
    jax.jit(lambda v: v * 3 + 1)(jnp.ones(3)).block_until_ready()  # at least one entry of its own
    top = _top(directory)
    for root, _, files in os.walk(top):
        for name in files:
            with open(os.path.join(root, name), "r+b") as f:
                f.write(b"\xde\xad\xbe\xef" * 64)
    with open(os.path.join(top, "jit_cheat-" + "0" * 64), "wb") as f:
        f.write(b"\x00garbage" * 128)


ATTEMPT = Attempt(_tamper)


def composed_transforms(seed, x_batch, num_layers, features):
    ATTEMPT.check()
    return wrong(seed, x_batch, num_layers, features)
