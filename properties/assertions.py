"""Assertion helpers with self-explaining messages, and the tolerance policy.

Tolerance policy (documented contract of the suite)
---------------------------------------------------
Results are compared with the float64 oracle *row by row, normwise*: for row i,

    max_j |out[i, j] - oracle[i, j]|  <=  tol(dtype, N, F) * scale_i

where ``scale_i`` is ``max_j |z_N[i, j]|``, the magnitude of that row's last pre-activation in the oracle (the scale at
which the last matmul was computed; it is >= the row's largest output). When that is exactly 0 (the row died in an
earlier layer) the largest pre-activation magnitude of any layer of the row is used; for N = 0 the row's input
magnitude. A row whose scale is 0 must match exactly. Row-wise, because rows are independent computations with
magnitudes from 1e-3 to 1e3: a batch-wide norm would hide errors in the small rows. Elementwise relative error is the
wrong tool: it explodes on tiny entries that are pure cancellation.

    tol(dtype, N, F) = 16 * eps(dtype) * sqrt(F) * max(N, 1)

with ``eps`` the machine epsilon of the dtype the computation runs in (float32: 1.19e-7, so 3.1e-5 at F=16, N=8 — a
1e-3 relative error is rejected by a factor of 30 at the loosest bucket). Calibrated in ``tests/test_tolerance.py``:
float32 on CPU stays far below it.

Matmul precision: the suite pins ``jax_default_matmul_precision`` to ``"highest"`` while it runs (see the plugin's
``--matmul-precision``) so on GPU/TPU the float32 comparison is not against TF32/bf16 passes; the policy above is for
true float32 arithmetic.
"""

from __future__ import annotations

import math

import numpy as np

import composed
from composed.oracle import preactivations
from properties.candidate import as_output


def eps(dtype) -> float:
    import jax.numpy as jnp

    return float(jnp.finfo(dtype).eps)


def tolerance(dtype, num_layers: int, features: int) -> float:
    """The normwise row tolerance relative to the row's scale (see the module docstring)."""
    return 16.0 * eps(dtype) * math.sqrt(features) * max(num_layers, 1)


def _event(text: str) -> None:
    try:
        from hypothesis import event

        event(text)
    except Exception:  # noqa: BLE001 - outside a Hypothesis test there is nothing to record
        pass


def row_scales(x64: np.ndarray, zs: list[np.ndarray]) -> np.ndarray:
    if not zs:
        return np.max(np.abs(x64), axis=1, initial=0.0)
    last = np.max(np.abs(zs[-1]), axis=1, initial=0.0)
    every = np.max([np.max(np.abs(z), axis=1, initial=0.0) for z in zs], axis=0)
    return np.where(last > 0, last, every)


def output_matrix(out, rows: int, features: int) -> np.ndarray:
    """The output as a (B, F) float64 array, after checking it is a 1-D array of length B*F."""
    arr = as_output(out)
    assert arr.ndim == 1 and arr.shape == (rows * features,), (
        f"output shape {arr.shape}, expected ({rows * features},) = (B*F,) for B={rows}, F={features}"
    )
    return np.asarray(arr, dtype=np.float64).reshape(rows, features)


def assert_matches_oracle(out, seed, x_batch, num_layers, features, *, dtype=None, label="output") -> np.ndarray:
    """Assert ``out`` equals the float64 oracle within the row-wise normwise tolerance. Returns the oracle (B, F)."""
    n, f = int(num_layers), int(features)
    x = np.asarray(x_batch)
    rows = x.shape[0]
    ref = composed.oracle(seed, x, num_layers, features).reshape(rows, f)
    zs = preactivations(seed, x, num_layers, features) if n else []
    got = output_matrix(out, rows, f)
    if dtype is None:
        dtype = np.asarray(as_output(out)).dtype
    tol = tolerance(dtype, n, f)
    _event(f"oracle output all zero: {bool(rows and not np.any(ref))}")
    scales = row_scales(np.asarray(x, dtype=np.float64), zs)
    same_nan = np.isnan(ref) == np.isnan(got)
    finite = np.isfinite(ref)
    assert same_nan.all(), f"{label}: NaN where the oracle has none (or the reverse) at rows {np.where(~same_nan.all(1))[0].tolist()}"
    inf_ok = np.where(np.isinf(ref), ref == got, True)
    assert inf_ok.all(), f"{label}: infinities differ from the oracle at rows {np.where(~inf_ok.all(1))[0].tolist()}"
    diff = np.where(finite, np.abs(got - np.where(finite, ref, 0.0)), 0.0)
    diff = np.where(np.isnan(diff), np.inf, diff)
    err = np.max(diff, axis=1, initial=0.0)
    bad = err > tol * scales
    if bad.any():
        i = int(np.argmax(np.where(bad, err / np.maximum(scales, 1e-300), -1)))
        j = int(np.argmax(diff[i]))
        rel = err[i] / scales[i] if scales[i] else math.inf
        raise AssertionError(
            f"{label} differs from the float64 oracle (explicit loop over layers) in {int(bad.sum())} of {rows} rows.\n"
            f"  worst row {i}: max|out - oracle| = {err[i]:.3g} = {rel:.3g} x row scale {scales[i]:.3g}, "
            f"tolerance {tol:.3g} x scale (dtype {np.dtype(dtype).name}, N={n}, F={f})\n"
            f"  at [{i}, {j}]: got {got[i, j]!r}, oracle {ref[i, j]!r}\n"
            f"  row {i} got    {np.array2string(got[i], precision=6, max_line_width=200)}\n"
            f"  row {i} oracle {np.array2string(ref[i], precision=6, max_line_width=200)}"
        )
    return ref


def assert_rows_close(a, b, *, dtype, num_layers, features, label: str) -> None:
    """Two (B, F) results of the implementation agree row by row within the tolerance (relative to each row's max)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"{label}: shapes {a.shape} and {b.shape} differ"
    tol = tolerance(dtype, int(num_layers), int(features))
    scale = np.maximum(np.max(np.abs(a), axis=1, initial=0.0), np.max(np.abs(b), axis=1, initial=0.0))
    err = np.max(np.abs(a - b), axis=1, initial=0.0)
    bad = ~(err <= tol * scale)
    if bad.any():
        i = int(np.argmax(bad))
        raise AssertionError(
            f"{label}: row {i} differs by {err[i]:.3g} (row max {scale[i]:.3g}, tolerance {tol:.3g} x max)\n"
            f"  first  {np.array2string(a[i], precision=6, max_line_width=200)}\n"
            f"  second {np.array2string(b[i], precision=6, max_line_width=200)}"
        )


def assert_identical(a, b, *, label: str) -> None:
    """Bitwise equality (NaNs equal), same shape and dtype."""
    a, b = as_output(a), as_output(b)
    assert a.shape == b.shape and a.dtype == b.dtype, f"{label}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
    same = (a == b) | (np.isnan(a.astype(np.float64)) & np.isnan(b.astype(np.float64)))
    if not same.all():
        k = int(np.argmin(same))
        raise AssertionError(
            f"{label}: {int((~same).sum())} of {a.size} entries differ; first at flat index {k}: {a[k]!r} vs {b[k]!r}"
        )


def assert_some_nonzero(ref: np.ndarray, why: str) -> None:
    """Guard against vacuous passes: the oracle output must not be all zero (caller uses hypothesis.assume)."""
    from hypothesis import assume

    alive = bool(np.any(ref))
    _event(f"non-vacuous ({why}): {alive}")
    assume(alive)
