"""Mutants: parameters initialised differently from Flax's ``nnx.Linear`` defaults (lecun_normal kernel, zero bias)."""

from functools import lru_cache, partial

import jax
import numpy as np
from flax import nnx

try:
    from mutants._base import forward, spec_params, validated
except ImportError:  # loaded by file path
    from _base import forward, spec_params, validated


@partial(jax.jit, static_argnames=("num_layers", "features", "init"))
def _make(seed, num_layers, features, init):
    kernel_init = {
        "normal": nnx.initializers.variance_scaling(1.0, "fan_in", "normal"),
        "glorot": nnx.initializers.glorot_uniform(),
    }[init]

    @nnx.split_rngs(splits=num_layers)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_block(rngs):
        return nnx.Linear(features, features, kernel_init=kernel_init, rngs=rngs)

    blocks = make_block(nnx.Rngs(jax.random.key(seed)))
    return blocks.kernel[...], blocks.bias[...]


@lru_cache(maxsize=256)
def _params(seed, n, f, init):
    return tuple(np.asarray(a) for a in _make(np.int64(seed), num_layers=n, features=f, init=init))


def nonzero_bias(seed, x_batch, num_layers, features):
    """Initialises every bias to 0.01 instead of 0."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    kernel, bias = spec_params(seed, n, f)
    return forward(x, kernel, np.full_like(bias, 0.01))


def normal_kernel_init(seed, x_batch, num_layers, features):
    """Draws kernels from an untruncated normal (variance_scaling fan_in 'normal') instead of lecun_normal's truncated one."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return forward(x, *_params(seed, n, f, "normal"))


def glorot_kernel_init(seed, x_batch, num_layers, features):
    """Draws kernels with glorot_uniform instead of lecun_normal."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return forward(x, *_params(seed, n, f, "glorot"))


def kernel_transposed(seed, x_batch, num_layers, features):
    """Multiplies by the transposed kernel: x @ K.T instead of x @ K."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    kernel, bias = spec_params(seed, n, f)
    return forward(x, np.swapaxes(kernel, 1, 2), bias)
