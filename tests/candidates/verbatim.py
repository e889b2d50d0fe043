"""The problem's code, verbatim (the suite's core tier must accept it)."""
# ruff: noqa: F401  (verbatim: the problem text imports jax.numpy without using it)

import jax
import jax.numpy as jnp
from flax import nnx


def composed_transforms(seed, x_batch, num_layers, features):
    N = int(num_layers)
    F = int(features)

    @nnx.split_rngs(splits=N)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_block(rngs):
        return nnx.Linear(F, F, rngs=rngs)

    blocks = make_block(nnx.Rngs(int(seed)))

    @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)
    def scan_layers(x, block):
        return jax.nn.relu(block(x))

    @nnx.vmap(in_axes=(0, None))
    def batched(x, blocks):
        return scan_layers(x, blocks)

    out = batched(x_batch, blocks)
    return out.reshape(-1)
