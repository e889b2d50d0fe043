"""Mutants: right inside the small corner (B, F <= 16, N <= 8, |x| <= 1e3) the suite used to stay in, wrong at the
edges of the domain -- a batch chunked with a bad tail, a tiled contraction with a bad last tile, a depth cap,
saturation at large magnitudes, tiny values flushed. Killed by the boundary set (``boundary``, every run's cases) and,
where the random search reaches the edge reliably under the ``ci`` profile, by ``matches_oracle`` too.

They are NumPy loops over the layers on the spec's parameters (like the bundled ``numpy_loop``), in the input's
canonical dtype: no compile per shape, so the meta-tests can afford the boundary set's large cases.
"""

import numpy as np

try:
    from mutants._base import validated
except ImportError:  # loaded by file path
    from _base import validated

from composed.params import params as spec_params

CHUNK = 64  # rows per batch chunk
TILE = 128  # features per tile of the contraction
MAX_LAYERS = 64  # the depth cap
F16_MAX = 65504.0


def _forward(x, seed, n, f, *, matmul=np.matmul, post=None, layers=None):
    """relu(h @ K_n + b_n) over the layers (the first ``layers`` of them if given), in x's dtype; ``post(h)`` after
    every layer; returns the flattened (B*F,) result."""
    kernel, bias = spec_params(seed, n, f)
    dtype = x.dtype
    h = np.array(x)
    for k, b in list(zip(kernel, bias))[:layers]:
        h = np.maximum(matmul(h, k.astype(dtype)) + b.astype(dtype), 0).astype(dtype)
        if post is not None:
            h = post(h).astype(dtype)
    return h.reshape(-1)


def _chunks(x, rows=CHUNK):
    return [(start, x[start : start + rows]) for start in range(0, x.shape[0], rows)]


def batch_tail_lost(seed, x_batch, num_layers, features):
    """Processes the batch in chunks of 64 rows and returns zeros for a last partial chunk (B > 64, B % 64 != 0)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    out = np.zeros(x.shape, x.dtype)
    for start, chunk in _chunks(x):
        if len(chunk) == CHUNK or x.shape[0] <= CHUNK:
            out[start : start + len(chunk)] = _forward(chunk, seed, n, f).reshape(chunk.shape)
    return out.reshape(-1)


def batch_tail_misread(seed, x_batch, num_layers, features):
    """Chunks of 64 rows; a last partial chunk of r rows is read from the start of the batch (x[:r], not x[-r:])."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    if x.shape[0] <= CHUNK:
        return _forward(x, seed, n, f)
    parts = []
    for start, chunk in _chunks(x):
        rows = x[: len(chunk)] if len(chunk) < CHUNK else chunk
        parts.append(_forward(rows, seed, n, f).reshape(chunk.shape))
    return np.concatenate(parts).reshape(-1)


def contraction_tail_dropped(seed, x_batch, num_layers, features):
    """Tiles the contraction over 128 features and drops the last partial tile (F > 128, F % 128 != 0)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)

    def tiled(h, k):
        if f <= TILE:
            return h @ k
        full = (f // TILE) * TILE  # the bug: the remainder tile, features full..F-1, is never added
        acc = np.zeros((h.shape[0], f), h.dtype)
        for start in range(0, full, TILE):
            acc += h[:, start : start + TILE] @ k[start : start + TILE]
        return acc

    return _forward(x, seed, n, f, matmul=tiled)


def depth_capped_at_64(seed, x_batch, num_layers, features):
    """Applies at most 64 layers (an unroll limit): wrong for N > 64."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return _forward(x, seed, n, f, layers=MAX_LAYERS)


def clips_at_float16_max(seed, x_batch, num_layers, features):
    """Clips every activation to [-65504, 65504], float16's range (saturation at large magnitudes)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return _forward(x, seed, n, f, post=lambda h: np.clip(h, -F16_MAX, F16_MAX))


def float16_when_large(seed, x_batch, num_layers, features):
    """Computes in float16 when max|x| > 1e4 (a reduced-precision path for large inputs), returns x's dtype."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    if x.size and np.issubdtype(x.dtype, np.floating) and float(np.max(np.abs(x.astype(np.float64)))) > 1e4:
        with np.errstate(over="ignore", invalid="ignore"):
            return _forward(x.astype(np.float16), seed, n, f).astype(x.dtype)
    return _forward(x, seed, n, f)


def flushes_tiny_inputs(seed, x_batch, num_layers, features):
    """Zeroes the input entries below 1e-20 in magnitude before the first layer."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    x = np.where(np.abs(x) < 1e-20, np.zeros((), x.dtype), x).astype(x.dtype)
    return _forward(x, seed, n, f)


def flushes_tiny_activations(seed, x_batch, num_layers, features):
    """Flushes activations below 1e-30 to zero after every layer."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return _forward(x, seed, n, f, post=lambda h: np.where(h < 1e-30, np.zeros((), h.dtype), h))
