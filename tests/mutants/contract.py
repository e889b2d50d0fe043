"""Mutants: the result in the wrong form, and violations of ``composed``'s argument contract (strict tier)."""

import jax
import jax.numpy as jnp
import numpy as np

try:
    from mutants._base import run, spec_params, validated
except ImportError:  # loaded by file path
    from _base import run, spec_params, validated


def unflattened(seed, x_batch, num_layers, features):
    """Returns the (B, F) matrix instead of flattening it."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, n, f).reshape(-1, f)


def returns_list(seed, x_batch, num_layers, features):
    """Returns a Python list of floats instead of an array."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return np.asarray(run(seed, x, n, f)).tolist()


def accepts_3d_input(seed, x_batch, num_layers, features):
    """Silently accepts a 3-D x_batch by merging its leading axes (the contract requires exactly 2-D)."""
    if np.ndim(x_batch) == 3:
        x_batch = np.reshape(x_batch, (-1, np.shape(x_batch)[-1]))
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, n, f)


def negative_layers_identity(seed, x_batch, num_layers, features):
    """Treats a negative num_layers as 0 and returns x_batch instead of rejecting it."""
    if isinstance(num_layers, (int, float)) and num_layers < 0:
        num_layers = 0
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, n, f)


def no_validation(seed, x_batch, num_layers, features):
    """No argument checks: ``int()`` casts and runs, like the problem's code (bools, strings, 3-D input go through)."""
    s, n, f = int(seed), int(num_layers), int(features)
    x = jnp.asarray(x_batch)
    kernel, bias = spec_params(s, max(n, 0), f)
    h = x
    for k, b in zip(kernel, bias):
        h = jax.nn.relu(h @ k + b)
    return h.reshape(-1)


def mutates_input(seed, x_batch, num_layers, features):
    """Right result, but then applies relu in place to the caller's array (``np.maximum(x, 0, out=x)``)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    out = np.asarray(run(seed, x, n, f)).copy()
    if isinstance(x_batch, np.ndarray):
        np.maximum(x_batch, 0, out=x_batch)
    return out


def empty_batch_error(seed, x_batch, num_layers, features):
    """Raises ValueError for an empty batch (B = 0), which the contract accepts."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    if x.shape[0] == 0:
        raise ValueError("empty batch")
    return run(seed, x, n, f)


def nan_zeroed(seed, x_batch, num_layers, features):
    """Replaces NaN and inf in the input by finite numbers (``nan_to_num``) instead of propagating them."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, jnp.nan_to_num(jnp.asarray(x)), n, f)


def always_float32(seed, x_batch, num_layers, features):
    """Computes and returns float32 whatever the input dtype (float16/bfloat16 input gives float32 output)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, jnp.asarray(x, jnp.float32), n, f)


def first_shard_only(seed, x_batch, num_layers, features):
    """Computes only the first addressable shard of a sharded jax.Array batch (rows on the other devices are dropped)."""
    if isinstance(x_batch, jax.Array) and len(x_batch.addressable_shards) > 1:
        x_batch = x_batch.addressable_shards[0].data
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, n, f)


def accepts_bool_counts(seed, x_batch, num_layers, features):
    """Accepts ``True``/``False`` and ``np.bool_`` as num_layers and features (as 1, 0): the contract refuses them."""
    num_layers = int(num_layers) if isinstance(num_layers, (bool, np.bool_)) else num_layers
    features = int(features) if isinstance(features, (bool, np.bool_)) else features
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, n, f)


def scratch_in_strided_input(seed, x_batch, num_layers, features):
    """Right result, then reuses a writable non-contiguous x_batch as scratch (zeroes it); contiguous input is kept."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    out = np.asarray(run(seed, x, n, f)).copy()
    if isinstance(x_batch, np.ndarray) and x_batch.flags.writeable and not (
            x_batch.flags.c_contiguous or x_batch.flags.f_contiguous):
        x_batch[...] = 0
    return out


def scratch_in_view_padding(seed, x_batch, num_layers, features):
    """Right result, then writes into the memory a view of a larger array spans outside its own items (the padding)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    out = np.asarray(run(seed, x, n, f)).copy()
    if isinstance(x_batch, np.ndarray) and x_batch.size and x_batch.flags.writeable and x_batch.base is not None:
        keep = x_batch.copy()
        low = x_batch[tuple(slice(None, None, -1) if s < 0 else slice(None) for s in x_batch.strides)]
        span = sum(abs(s) * (n - 1) for s, n in zip(x_batch.strides, x_batch.shape)) // x_batch.itemsize + 1
        # every item from the view's lowest address to its highest: the view's items and the padding between them
        np.lib.stride_tricks.as_strided(low, shape=(span,), strides=(x_batch.itemsize,))[...] = 0
        x_batch[...] = keep
    return out


def squeezed(seed, x_batch, num_layers, features):
    """Squeezes its flat result (``jnp.squeeze``): a 0-d array when B = F = 1, the right (B*F,) shape elsewhere."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return jnp.squeeze(run(seed, x, n, f))
