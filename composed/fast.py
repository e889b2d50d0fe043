"""The default implementation: the reference's body under ``jax.jit``.

``N``, ``F`` are static; the seed is traced (passed as ``np.int64``, which JAX canonicalises exactly as
``jax.random.key(int)`` does: wrapped to 32 bits unless x64 is enabled), so a program is compiled once per
(N, F, B, dtype) and reused for every seed. The key is built inside the trace, so the parameters are the reference's
bit for bit.
"""

from functools import partial

import jax
import numpy as np
from flax import nnx

from composed.contract import validate


@partial(jax.jit, static_argnames=("num_layers", "features"))
def _forward(seed, x_batch, num_layers, features):
    @nnx.split_rngs(splits=num_layers)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_block(rngs):
        return nnx.Linear(features, features, dtype=x_batch.dtype, rngs=rngs)

    blocks = make_block(nnx.Rngs(jax.random.key(seed)))

    @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)
    def scan_layers(x, block):
        return jax.nn.relu(block(x))

    @nnx.vmap(in_axes=(0, None))
    def batched(x, blocks):
        return scan_layers(x, blocks)

    return batched(x_batch, blocks).reshape(-1)


def composed_transforms(seed, x_batch, num_layers, features):
    """``composed_transforms`` compiled once per (N, F, B, dtype); see :mod:`composed.contract` for the arguments."""
    seed, x_batch, n, f = validate(seed, x_batch, num_layers, features)
    return _forward(np.int64(seed), x_batch, num_layers=n, features=f)
