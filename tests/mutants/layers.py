"""Mutants: the layers in the wrong order or number, shared, or traced the wrong way."""


import jax
import jax.numpy as jnp
import numpy as np

try:
    from mutants._base import forward, run, spec_params, validated
except ImportError:  # loaded by file path
    from _base import forward, run, spec_params, validated


def reversed_layers(seed, x_batch, num_layers, features):
    """Runs the layers last to first (``scan(reverse=True)``)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, n, f, reverse=True)


def one_layer_too_many(seed, x_batch, num_layers, features):
    """Builds and applies N + 1 layers (an off-by-one in the count)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, n + 1, f)


def one_layer_too_few(seed, x_batch, num_layers, features):
    """Builds N layers but applies only the first N - 1 (``range(1, N)``-style off-by-one)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    kernel, bias = spec_params(seed, n, f)
    return forward(x, kernel[:-1], bias[:-1])


def shared_first_layer(seed, x_batch, num_layers, features):
    """Applies the first layer N times (one shared Linear instead of N stacked ones)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    kernel, bias = spec_params(seed, n, f)
    return forward(x, np.repeat(kernel[:1], n, axis=0), np.repeat(bias[:1], n, axis=0))


def wrong_from_depth_6(seed, x_batch, num_layers, features):
    """Only correct for N < 6: a parameter table of 6 entries, so layers 6.. reuse layer 5's parameters."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    kernel, bias = spec_params(seed, n, f)
    idx = np.minimum(np.arange(n), 5)
    return forward(x, kernel[idx], bias[idx])


@jax.jit
def _unrolled(x, kernel, bias):
    h = x
    for k, b in zip(kernel, bias):  # a Python loop: the traced program grows with N
        h = jax.nn.relu(h @ k.astype(x.dtype) + b.astype(x.dtype))
    return h.reshape(-1)


def unrolled_layers(seed, x_batch, num_layers, features):
    """Numerically right, but unrolls the layers in a Python loop (no scan: the program grows with N)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    with jax.ensure_compile_time_eval():
        kernel, bias = spec_params(seed, n, f)
    return _unrolled(x, kernel, bias)


@jax.jit
def _per_row(x, kernel, bias):
    def one(row):
        def layer(h, kb):
            k, b = kb
            return jax.nn.relu(h @ k.astype(x.dtype) + b.astype(x.dtype)), None

        return jax.lax.scan(layer, row, (kernel, bias))[0]

    return jnp.stack([one(x[i]) for i in range(x.shape[0])]).reshape(-1)  # one scan per row, unbatched


def rows_looped(seed, x_batch, num_layers, features):
    """Numerically right, but loops over the rows in Python: B separate scans whose body is a (F,) x (F, F) product."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    with jax.ensure_compile_time_eval():
        kernel, bias = spec_params(seed, n, f)
    if x.shape[0] == 0:
        return jnp.zeros((0,), x.dtype)
    return _per_row(x, kernel, bias)
