"""Mutants: rows mixed, reordered or computed with their own parameters; the output flattened in the wrong order."""

import jax.numpy as jnp

try:
    from mutants._base import run, validated
except ImportError:  # loaded by file path
    from _base import run, validated


def transposed_flatten(seed, x_batch, num_layers, features):
    """Flattens the (B, F) result column-major: ``out.T.reshape(-1)``."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, n, f).reshape(-1, f).T.reshape(-1)


def batch_mean_subtracted(seed, x_batch, num_layers, features):
    """Centres the input over the batch (subtracts the batch mean) before the layers."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    x = jnp.asarray(x)
    return run(seed, x - x.mean(axis=0, keepdims=True), n, f)


def rows_sorted(seed, x_batch, num_layers, features):
    """Returns the output rows sorted by their sum (order depends on the values, not the input order)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    out = run(seed, x, n, f).reshape(-1, f)
    return out[jnp.argsort(out.sum(axis=1), stable=True)].reshape(-1)


def rows_mixed(seed, x_batch, num_layers, features):
    """Adds 1% of the previous row's output to each row (``out + 0.01 * roll(out, 1, axis=0)``)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    out = run(seed, x, n, f).reshape(-1, f)
    return (out + 0.01 * jnp.roll(out, 1, axis=0)).reshape(-1)


def per_row_params(seed, x_batch, num_layers, features):
    """Gives every row its own parameters (key seed + i for row i) instead of sharing one set across the batch."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    if x.shape[0] == 0:
        return run(seed, x, n, f)
    return jnp.concatenate([run(seed + i, x[i : i + 1], n, f) for i in range(x.shape[0])])


def fresh_key_per_chunk(seed, x_batch, num_layers, features):
    """Processes the batch in chunks of 8 rows with a fresh key per chunk (seed + c): wrong only when B > 8."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    if x.shape[0] <= 8:
        return run(seed, x, n, f)
    return jnp.concatenate([run(seed + c, x[8 * c : 8 * c + 8], n, f) for c in range(-(-x.shape[0] // 8))])
