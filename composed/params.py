"""The spec's parameters as NumPy arrays: ``params(seed, num_layers, features) -> (kernel (N, F, F), bias (N, F))``.

What the spec's ``make_block`` (``nnx.split_rngs(splits=N)`` + ``nnx.vmap`` over ``nnx.Linear(F, F)``) draws from
``nnx.Rngs(seed)``, derived with ``jax.random`` alone, so the oracle shares no code with the implementations (and
traces in ~0.1 s instead of ~0.25 s): the stream's first key ``fold_in(key(seed), 0)`` is split into N layer keys;
layer i's kernel is ``lecun_normal()`` (truncated normal, fan-in) drawn with ``fold_in(key_i, 0)`` (the layer's first
``rngs.params()``), its bias is zero (``zeros_init``). Jitted once per (N, F) with the seed as data, so a new seed
costs no compile. ``tests/test_implementations.py`` checks it bit for bit against the eager ``make_block`` of
:mod:`composed.reference` (seeds at their edges, several shapes).
"""

from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np

from composed.contract import ContractError, validate


@partial(jax.jit, static_argnames=("num_layers", "features"))
def _make(seed, num_layers, features):
    keys = jax.random.split(jax.random.fold_in(jax.random.key(seed), 0), num_layers)
    init = jax.nn.initializers.lecun_normal()
    kernel = jax.vmap(lambda k: init(jax.random.fold_in(k, 0), (features, features), jnp.float32))(keys)
    return kernel, jnp.zeros((num_layers, features), jnp.float32)


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
