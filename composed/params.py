"""The spec's parameters as NumPy arrays: ``params(seed, num_layers, features) -> (kernel (N, F, F), bias (N, F))``.

Built with the spec's own ``make_block`` (``nnx.split_rngs`` + ``nnx.vmap`` over ``nnx.Linear(F, F)``), traced once per
(N, F) under ``jax.jit`` with the seed as data, so a new seed costs no compile. The tests check it bit for bit against
the eager ``make_block`` of :mod:`composed.reference`.
"""

from functools import lru_cache, partial

import jax
import numpy as np
from flax import nnx

from composed.contract import ContractError, validate


@partial(jax.jit, static_argnames=("num_layers", "features"))
def _make(seed, num_layers, features):
    @nnx.split_rngs(splits=num_layers)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_block(rngs):
        return nnx.Linear(features, features, rngs=rngs)

    blocks = make_block(nnx.Rngs(jax.random.key(seed)))
    return blocks.kernel[...], blocks.bias[...]


@lru_cache(maxsize=512)
def _cached(seed: int, num_layers: int, features: int, x64: bool):
    # Concrete even when called while a caller is being traced (jax.make_jaxpr of pure_jax/numpy_loop): the
    # parameters depend on Python ints only.
    with jax.ensure_compile_time_eval():
        made = _make(np.int64(seed), num_layers=num_layers, features=features)
    kernel, bias = (np.asarray(a) for a in made)
    kernel.flags.writeable = False
    bias.flags.writeable = False
    return kernel, bias


def params(seed, num_layers, features):
    """Return ``(kernel, bias)``, float32 NumPy arrays of shapes (N, F, F) and (N, F), read-only."""
    seed, _, n, f = validate(seed, np.zeros((0, _features(features)), np.float32), num_layers, features)
    return _cached(seed, n, f, bool(jax.config.jax_enable_x64))


def _features(features):
    try:
        return max(int(features), 1)
    except (TypeError, ValueError, OverflowError):
        return 1  # validate() reports the real problem


__all__ = ["params", "ContractError"]
