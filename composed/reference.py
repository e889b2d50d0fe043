"""The reference: the problem's code, literally, eager, readable beside the problem text.

One addition to the text: ``nnx.Linear(..., dtype=x_batch.dtype)``. For float32 input (the problem's case) this is the
default and changes nothing, bit for bit; for float16/bfloat16/float64 input it makes the layer compute in the input's
dtype (params stay float32), where the literal code fails inside ``nnx.scan`` with a carry dtype mismatch.
Arguments go through :func:`composed.contract.validate` first.

It is slow on purpose (every call builds new decorated closures, so XLA recompiles): use
:func:`composed.composed_transforms` for speed. This module is the definition the fast one must match bit for bit.
"""

import jax
from flax import nnx

from composed.contract import validate


def composed_transforms(seed, x_batch, num_layers, features):
    seed, x_batch, N, F = validate(seed, x_batch, num_layers, features)
    dtype = x_batch.dtype

    # Stacked params: N independent nnx.Linear(F, F), one rng split each.
    @nnx.split_rngs(splits=N)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_block(rngs):
        return nnx.Linear(F, F, dtype=dtype, rngs=rngs)

    blocks = make_block(nnx.Rngs(seed))

    # Inner lift: scan over layers for ONE sample; the carry x rolls through, params sliced on axis 0.
    @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)
    def scan_layers(x, block):
        return jax.nn.relu(block(x))

    # Outer lift: vmap over the batch; the same blocks are shared by every sample.
    @nnx.vmap(in_axes=(0, None))
    def batched(x, blocks):
        return scan_layers(x, blocks)

    out = batched(x_batch, blocks)  # (B, F)
    return out.reshape(-1)
