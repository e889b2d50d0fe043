"""Mutants: hidden state between calls, caches keyed on the wrong thing, randomness not derived from the seed."""

import numpy as np

try:
    from mutants._base import run, validated
except ImportError:  # loaded by file path
    from _base import run, validated

_calls = {"parity": 0, "first": 0}


def call_parity(seed, x_batch, num_layers, features):
    """Keeps a call counter and scales the output by 1 + 2**-20 on every second call."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    _calls["parity"] += 1
    out = run(seed, x, n, f)
    return out * np.float32(1 + 2**-20) if _calls["parity"] % 2 == 0 else out


def after_first_call(seed, x_batch, num_layers, features):
    """Right on its first call only: every later call scales the output by 1 + 1e-3 (state drifting after warm-up)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    _calls["first"] += 1
    out = run(seed, x, n, f)
    return out if _calls["first"] == 1 else out * np.float32(1 + 1e-3)


_by_input: dict = {}
_by_shape: dict = {}


def cache_ignores_seed(seed, x_batch, num_layers, features):
    """Caches results keyed on (x bytes, shape, dtype, N, F), forgetting the seed."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    xa = np.asarray(x)
    key = (xa.tobytes(), xa.shape, str(xa.dtype), n, f)
    if key not in _by_input:
        if len(_by_input) > 512:
            _by_input.clear()
        _by_input[key] = run(seed, x, n, f)
    return _by_input[key]


def cache_ignores_values(seed, x_batch, num_layers, features):
    """Caches results keyed on (seed, shape, dtype, N, F), forgetting the values of x_batch."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    key = (seed, tuple(x.shape), str(x.dtype), n, f)
    if key not in _by_shape:
        if len(_by_shape) > 512:
            _by_shape.clear()
        _by_shape[key] = run(seed, x, n, f)
    return _by_shape[key]


def np_random_noise(seed, x_batch, num_layers, features):
    """Multiplies the output by 1 + 1e-6 z with z fresh from ``np.random`` on every call (nondeterministic)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    out = np.asarray(run(seed, x, n, f))
    return (out * (1 + 1e-6 * np.random.standard_normal(out.shape))).astype(out.dtype)
