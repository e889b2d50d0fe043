"""A wrong implementation for the sharding property: correct on a host array, but on a batch sharded over several
devices it computes only the first device's block and repeats it (a host round trip that keeps one shard)."""

import jax
import jax.numpy as jnp

import composed


def composed_transforms(seed, x_batch, num_layers, features):
    if isinstance(x_batch, jax.Array) and len(x_batch.sharding.device_set) > 1:
        first = x_batch.addressable_shards[0].data
        reps = x_batch.shape[0] // first.shape[0]
        x_batch = jnp.tile(first, (reps, 1))
    return composed.composed_transforms(seed, x_batch, num_layers, features)
