"""Magnitudes across float32's range: the largest safe scale of a row, and rows scaled to a target output magnitude.

Used by the boundary set (:mod:`properties.invariants.boundary`) and the wide draws of the strategies
(:mod:`properties.harness.strategies`); both build their inputs from rows of magnitude about 1 and scale them here.

**The max safe scale** of a row ``x`` (no correct float32 evaluation can overflow on ``s * x``): with ``h_0 = x`` and
``h_n = relu(h_{n-1} @ K_n)`` the unscaled float64 activations,

    T(x) = max( max_j |x_j|,  max over layers n of max_j (|h_{n-1}| @ |K_n|)_j ),       s * T(x) <= float32_max / 2.

Every product ``h_k K_kj``, every partial sum of a dot product in any order or blocking, and every result of the
network on ``s * x`` is bounded by ``s * T(x)`` up to a relative ``F * eps`` (the network is positively homogeneous:
zero biases at initialisation, relu), so the factor 2 is a margin, not a guess. The bound is tight within a factor 2
for some summation order: summing the positive terms first reaches ``P_j = sum of the positive terms``, and
``max(P_j, N_j) >= T_j / 2``; measured (the tolerance study, ``/work/scratch/tolerance/overflow.py``): at 1x and 2x
no correct implementation overflowed, at 4x the positives-first order did. ``T`` comes from the spec's parameters,
so the bound is computed per row, per case; it is about ``float32_max / (2 * max|out|)`` times a factor
``T / max|out|`` of 1 to ~10 for shallow rows (and the input's own magnitude for deep ones).

**Target magnitudes.** A row is scaled by an exact power of two (positive homogeneity: the scaled row's float32
computation is the unit row's times that power, barring underflow) chosen so that the row's float64 oracle output has
``max|out|`` within a factor sqrt(2) of the target. Depth is handled by the same rule: activations shrink by about
``2**-0.5`` a layer with lecun-normal kernels and relu, so a deep row's input is scaled *up* by its own measured decay
and its output lands at the target, well inside the normal range, instead of collapsing toward zero.
"""

from __future__ import annotations

import numpy as np

F32_MAX = float(np.finfo(np.float32).max)
F32_TINY = float(np.finfo(np.float32).tiny)
#: s * T(x) <= float32_max / SAFE_MARGIN (module docstring).
SAFE_MARGIN = 2.0
#: Expected shrink of the activations per layer (lecun-normal kernels, relu): the RMS halves every two layers.
DECAY_PER_LAYER = 2.0**-0.5


def _kernels(seed, num_layers, features):
    import composed

    kernel, _ = composed.params(seed, num_layers, features)
    return [k.astype(np.float64) for k in kernel]


def forward64(seed, x, num_layers, features) -> tuple[np.ndarray, np.ndarray]:
    """``(out, T)``: the float64 output (B, F) of the network on ``x`` and, per row, ``T(x)`` (module docstring)."""
    h = np.asarray(x, dtype=np.float64)
    peak = np.max(np.abs(h), axis=1, initial=0.0)
    if int(num_layers) == 0:
        return h.copy(), peak
    for k in _kernels(seed, num_layers, features):
        peak = np.maximum(peak, np.max(np.abs(h) @ np.abs(k), axis=1, initial=0.0))
        h = np.maximum(h @ k, 0.0)  # the biases are zero at initialisation
    return h, peak


def max_safe_scale(seed, x, num_layers, features, margin: float = SAFE_MARGIN) -> np.ndarray:
    """Per row, the largest factor ``s`` with ``s * T(x) <= float32_max / margin``: ``s * x`` cannot overflow in a
    correct float32 evaluation, in any summation order. ``inf`` for an all-zero row."""
    _, peak = forward64(seed, x, num_layers, features)
    with np.errstate(divide="ignore"):
        return np.where(peak > 0, F32_MAX / (margin * np.where(peak > 0, peak, 1.0)), np.inf)


def scale_rows(seed, unit, num_layers, features, targets, *, headroom_log2: int = 0):
    """Scale each row of ``unit`` (float32-representable, magnitude about 1) by a power of two so that its float64
    output's ``max|out|`` is within sqrt(2) of ``targets[i]`` (a float, or ``inf`` for the row's max safe scale).

    A row whose output is zero (dead in the first layers) is scaled by its input's magnitude instead. The factor never
    exceeds the row's max safe scale divided by ``2**headroom_log2`` (room for a property that scales the input
    further, e.g. positive homogeneity). Returns ``(x float32, log2 factors (B,) int, max|out| per row (B,))``.
    """
    unit = np.asarray(unit, dtype=np.float32)
    rows = unit.shape[0]
    targets = np.broadcast_to(np.asarray(targets, dtype=np.float64), (rows,))
    out, peak = forward64(seed, unit, num_layers, features)
    out_scale = np.max(np.abs(out), axis=1, initial=0.0)
    in_scale = np.max(np.abs(unit.astype(np.float64)), axis=1, initial=0.0)
    ref = np.where(out_scale > 0, out_scale, in_scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        safe_log2 = np.floor(np.log2(F32_MAX / (SAFE_MARGIN * np.where(peak > 0, peak, 1.0)))) - headroom_log2
        want = np.where(np.isfinite(targets), np.round(np.log2(targets / np.where(ref > 0, ref, 1.0))), np.inf)
    k = np.minimum(want, safe_log2)
    k = np.where(ref > 0, k, 0).astype(np.int64)
    with np.errstate(over="ignore", under="ignore"):
        x = (unit.astype(np.float64) * np.exp2(k.astype(np.float64))[:, None]).astype(np.float32)
        mags = out_scale * np.exp2(k.astype(np.float64))
    return x, k, mags


def decay_log2(num_layers: int) -> int:
    """log2 of the expected shrink over ``num_layers`` layers (rounded): a deep row's input is scaled up by about
    ``2**decay_log2(N)`` to keep its output at the input's magnitude."""
    return int(round(-int(num_layers) * np.log2(DECAY_PER_LAYER)))


__all__ = ["F32_MAX", "F32_TINY", "SAFE_MARGIN", "DECAY_PER_LAYER", "forward64", "max_safe_scale", "scale_rows",
           "decay_log2"]
