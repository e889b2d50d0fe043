"""Mutants: right on the plain C-contiguous float32 arrays every other property passes, wrong for the same values in
another input form (memory layout, container, scalar type of a count). Killed by ``input_forms`` (core: forms the
problem's own code accepts) or ``array_like_inputs`` (strict: lists and tuples)."""

import jax
import numpy as np

try:
    from mutants._base import run, validated
except ImportError:  # loaded by file path
    from _base import run, validated


def _positive_strides(a: np.ndarray) -> np.ndarray:
    """``a`` with every negatively strided axis flipped: a view starting at the lowest address of its memory."""
    return a[tuple(slice(None, None, -1) if s < 0 else slice(None) for s in a.strides)]


def c_contiguous_only(seed, x_batch, num_layers, features):
    """Reads x_batch's memory row-major from its lowest address, ignoring strides (right only for C-ordered input)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    if isinstance(x, np.ndarray) and x.size and not x.flags.c_contiguous:
        # a raw-pointer kernel: B*F items in a row from the start of the memory the array spans (never beyond it:
        # the span of a view holds at least its B*F distinct items)
        start = _positive_strides(x)
        x = np.lib.stride_tricks.as_strided(start, shape=x.shape, strides=(x.shape[1] * x.itemsize, x.itemsize),
                                            writeable=False).copy()
    return run(seed, x, n, f)


def misreads_negative_strides(seed, x_batch, num_layers, features):
    """Takes |stride| for a negatively strided axis: a reversed view is read in memory order (positive strides ok)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    if isinstance(x, np.ndarray):
        x = np.ascontiguousarray(_positive_strides(x))
    return run(seed, x, n, f)


def fortran_transposed(seed, x_batch, num_layers, features):
    """Flattens x_batch in memory order (ravel order='K') and reshapes: a Fortran-ordered batch is read transposed."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    if isinstance(x, np.ndarray):
        x = np.ravel(x, order="K").reshape(x.shape)
    return run(seed, x, n, f)


def rejects_numpy_counts(seed, x_batch, num_layers, features):
    """Raises TypeError unless num_layers and features are Python int/float (np.float32(3.0), np.int64 rejected)."""
    for name, value in (("num_layers", num_layers), ("features", features)):
        if not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be an int or float, got {type(value).__name__}")
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, n, f)


def rejects_array_likes(seed, x_batch, num_layers, features):
    """Raises TypeError unless x_batch is a NumPy or JAX array (nested lists and tuples rejected)."""
    if not isinstance(x_batch, (np.ndarray, jax.Array)):
        raise TypeError(f"x_batch must be a numpy or jax array, got {type(x_batch).__name__}")
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, n, f)


def misreads_byte_order(seed, x_batch, num_layers, features):
    """Reads a big-endian x_batch's bytes as native floats (``x.view('<f4')``) instead of reading its values."""
    if isinstance(x_batch, np.ndarray) and not x_batch.dtype.isnative:
        x_batch = x_batch.view(x_batch.dtype.newbyteorder("="))
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, n, f)
