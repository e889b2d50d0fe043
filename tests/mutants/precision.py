"""Mutants: precision lost or results perturbed by about 1e-3, and the wrong output dtype."""

import jax
import jax.numpy as jnp
import numpy as np

try:
    from mutants._base import run, validated
except ImportError:  # loaded by file path
    from _base import run, validated


def bfloat16_compute(seed, x_batch, num_layers, features):
    """Computes in bfloat16 (8-bit mantissa) and returns float32."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, n, f, compute="bfloat16")


def float16_compute(seed, x_batch, num_layers, features):
    """Computes in float16 (11-bit mantissa) and returns float32."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, n, f, compute="float16")


@jax.jit
def _noisy(out, seed):
    u = jax.random.uniform(jax.random.key(seed), out.shape, out.dtype, -1.0, 1.0)
    return out * (1 + 1e-3 * u)


def relative_noise_1e3(seed, x_batch, num_layers, features):
    """Multiplies each entry by 1 + 1e-3 u, u uniform in [-1, 1] from a key derived from the seed (deterministic)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return _noisy(run(seed, x, n, f), np.int64(seed))


def scale_error_1e3(seed, x_batch, num_layers, features):
    """Scales the whole output by 1 + 1e-3 (a 1e-3 relative error, e.g. a mis-set constant)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    out = run(seed, x, n, f)
    return out * jnp.asarray(1 + 1e-3, out.dtype)


def returns_float64(seed, x_batch, num_layers, features):
    """Computes in float32 but returns the result as a float64 NumPy array."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return np.asarray(run(seed, x, n, f), dtype=np.float64)
