"""Mutants: the seed and the counts cast or wrapped the wrong way (some wrong only for fractional or large values)."""

import math

import numpy as np

try:
    from mutants._base import run, validated
except ImportError:  # loaded by file path
    from _base import run, validated


def seed_rounded(seed, x_batch, num_layers, features):
    """Casts the seed with ``round()`` instead of ``int()`` (3.7 -> 4)."""
    _, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(round(seed), x, n, f)


def seed_floored(seed, x_batch, num_layers, features):
    """Casts the seed with ``math.floor`` (wrong for negative fractional seeds: -0.5 -> -1)."""
    _, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(math.floor(seed), x, n, f)


def float_seed_bits(seed, x_batch, num_layers, features):
    """Turns a float seed into an int by its IEEE-754 bits instead of truncating it (int seeds are right)."""
    _, x, n, f = validated(seed, x_batch, num_layers, features)
    s = int(np.float64(seed).view(np.int64)) if isinstance(seed, float) else int(seed)
    return run(s, x, n, f)


def layers_rounded(seed, x_batch, num_layers, features):
    """Casts num_layers with ``round()`` instead of ``int()`` (2.7 layers -> 3)."""
    seed, x, _, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, max(round(num_layers), 0), f)


def layers_ceil(seed, x_batch, num_layers, features):
    """Casts num_layers with ``math.ceil`` (2.1 layers -> 3)."""
    seed, x, _, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, max(math.ceil(num_layers), 0), f)


def features_rounded(seed, x_batch, num_layers, features):
    """Casts features with ``round()`` instead of ``int()``, then checks x_batch against it (4.6 -> 5: rejects valid input)."""
    return run(*validated(seed, x_batch, num_layers, round(features)))


def seed_mod_2_31(seed, x_batch, num_layers, features):
    """Reduces the seed modulo 2**31 (JAX wraps modulo 2**32, as a signed 32-bit value)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed % 2**31, x, n, f)


def seed_abs(seed, x_batch, num_layers, features):
    """Uses ``abs(seed)`` (negative seeds collide with positive ones)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(abs(seed), x, n, f)


def seed_ignored(seed, x_batch, num_layers, features):
    """Ignores the seed: a constant key 0."""
    _, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(0, x, n, f)


def seed_plus_one(seed, x_batch, num_layers, features):
    """Uses seed + 1 (an off-by-one in the key)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed + 1, x, n, f)


def seed_clipped_int32(seed, x_batch, num_layers, features):
    """Clips the seed to the int32 range instead of wrapping it (wrong only for |seed| >= 2**31)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(int(np.clip(seed, -(2**31), 2**31 - 1)), x, n, f)


def seed_via_float(seed, x_batch, num_layers, features):
    """Casts the seed as ``int(float(seed))`` (loses the low bits of seeds beyond 2**53)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(int(float(seed)), x, n, f)


def rejects_large_seed(seed, x_batch, num_layers, features):
    """Raises ValueError for |seed| >= 2**32, which the spec accepts (JAX wraps it)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    if not -(2**32) < seed < 2**32:
        raise ValueError(f"seed {seed} out of the 32-bit range")
    return run(seed, x, n, f)
