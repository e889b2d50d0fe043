"""Pure JAX: ``jax.lax.scan`` over layers inside ``jax.vmap`` over the batch, on the parameter arrays.

No nnx transform in the forward: the parameters come from :func:`composed.params`, the forward is plain JAX, jitted
once per (N, F, B, dtype).
"""

import jax
import jax.numpy as jnp

from composed.contract import validate
from composed.params import params


@jax.jit
def _forward(kernel, bias, x_batch):
    kernel = kernel.astype(x_batch.dtype)
    bias = bias.astype(x_batch.dtype)

    def one_sample(x):
        def layer(h, kb):
            k, b = kb
            return jax.nn.relu(h @ k + b), None

        h, _ = jax.lax.scan(layer, x, (kernel, bias))
        return h

    return jax.vmap(one_sample)(x_batch).reshape(-1)


def composed_transforms(seed, x_batch, num_layers, features):
    seed, x_batch, n, f = validate(seed, x_batch, num_layers, features)
    kernel, bias = params(seed, n, f)
    return _forward(jnp.asarray(kernel), jnp.asarray(bias), x_batch)
