"""Not an implementation: it raises, naming the matmul precision JAX runs with in its process (for test_precision)."""

import jax


def composed_transforms(seed, x_batch, num_layers, features):
    raise RuntimeError(f"jax_default_matmul_precision={jax.config.jax_default_matmul_precision}")
