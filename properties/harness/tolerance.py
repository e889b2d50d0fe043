"""Assertion helpers with self-explaining messages, and the tolerance policy.

Tolerance policy (documented contract of the suite)
---------------------------------------------------
The implementation's output is compared with the float64 oracle row by row, against an *error scale* computed by the
oracle alongside the values: a first-order model of float rounding propagated through the network.

    layer n adds rounding noise   d_n = eps * (|h_{n-1}| @ |K_n|)        (the magnitude of the terms of the matmul)
                                      + tiny * (F + sum|h_{n-1}|)         (absolute rounding near zero)
    and carries the earlier noise  v_n = mask_n * (v_{n-1} @ K_n**2 + d_n**2),  sigma = sqrt(v_N)

where ``tiny`` is the absolute rounding near zero: float16's smallest subnormal (6e-8: a float16 NumPy loop at
magnitude 1e-3 otherwise measured 724 sigma), the smallest normal number for float32/bfloat16/float64 (XLA on CPU
flushes subnormals to zero: 1.2e-38 for float32, far below any magnitude the strategies draw on purpose), ``mask_n`` keeps the units that are active in the oracle (or within 4 sigma of the relu kink) and ``eps`` is the
machine epsilon of the dtype the computation runs in. Row i passes when

    max_j |out[i, j] - oracle[i, j]|  <=  C * max_j sigma[i, j],    C = 32.

Why this and not a norm of the output: at depth a row's output can be a small difference of large terms (cancellation
in a dot product); a tolerance relative to the output then rejects correct float32 implementations (measured: up to
44x eps*sqrt(F)*N of the row's scale), while a tolerance relative to the input is vacuous at depth (1000x looser than
the output at the 90th percentile). Measured on the strategies' buckets plus F up to 256 and N up to 16, ~2,700
cases per implementation: ``err / sigma`` never exceeded 1.46 for fast, pure_jax and numpy_loop (so C = 32 leaves a
margin of 20x), and ``sigma`` is a median 4.8 eps (99th percentile 69 eps) of the row's largest output, so a relative
error of 1e-3 in float32 exceeds ``C * sigma`` in almost every row (``tests/test_tolerance.py``). Rows whose sigma is 0
(N = 0, zero rows, rows dead from the first layer) must match exactly.

Comparisons of the implementation with itself (permutation, locality, homogeneity) use the same scale: two float32
evaluations of one row differ by rounding alone.

Matmul precision: the suite pins ``jax_default_matmul_precision`` to ``"highest"`` while it runs (see the plugin's
``--matmul-precision``) so on GPU/TPU the float32 comparison is not against TF32/bf16 passes; the policy above is for
true arithmetic of the dtype.
"""

from __future__ import annotations

import numpy as np

import composed
from composed.oracle import preactivations
from properties.harness.proxy import as_output

#: Safety factor over the propagated rounding scale (see the module docstring).
C = 32.0
#: Units within this many sigma of the relu kink count as active when propagating the error scale.
KINK = 4.0


def eps(dtype) -> float:
    import jax.numpy as jnp

    return float(jnp.finfo(dtype).eps)


def _absolute_floor(dtype) -> float:
    """The absolute rounding of results near zero: float16 keeps subnormals (spacing 6e-8; XLA computes it in float32
    and rounds back); float32/bfloat16/float64 may be flushed to zero below the smallest normal number (XLA on CPU
    flushes subnormals: measured, `fast` failed on inputs of ~1e-41), so their floor is that number."""
    import jax.numpy as jnp

    info = jnp.finfo(dtype)
    return float(info.smallest_subnormal if np.dtype(dtype) == np.float16 else info.tiny)


def _event(text: str) -> None:
    try:
        from hypothesis import event

        event(text)
    except Exception:  # noqa: BLE001 - outside a Hypothesis test there is nothing to record
        pass


def computation_dtype(x_batch) -> np.dtype:
    """The dtype the contract computes in for this input: its canonical float dtype, float32 for int/bool.

    Tolerances use it rather than the output's dtype, so an implementation that computes in float32 but returns
    float64 is judged at float32 (and one that returns float16 for float32 input is judged at float32 too).
    """
    import jax
    import jax.numpy as jnp

    dtype = np.asarray(x_batch).dtype
    if jnp.issubdtype(dtype, jnp.floating):
        return np.dtype(jax.dtypes.canonicalize_dtype(dtype))
    return np.dtype(np.float32)


def error_scale(seed, x_batch, num_layers, features, dtype) -> np.ndarray:
    """Per-row rounding scale ``max_j sigma[i, j]`` (B,) of the computation in ``dtype`` (module docstring)."""
    x = np.asarray(x_batch)
    n = int(num_layers)
    if n == 0 or x.shape[0] == 0:
        return np.zeros(x.shape[0])
    zs = preactivations(seed, x, num_layers, features)
    kernel, _ = composed.params(seed, num_layers, features)
    u = eps(dtype)
    tiny = _absolute_floor(dtype)
    h = np.asarray(x, dtype=np.float64)
    v = np.zeros_like(h)
    with np.errstate(invalid="ignore", over="ignore"):
        for layer, z in enumerate(zs):
            k = kernel[layer].astype(np.float64)
            # relative rounding of the matmul's terms, plus the absolute rounding of subnormal results and of kernel
            # entries that are subnormal in the dtype (float16: below 6.1e-5, spacing 6e-8).
            noise = u * (np.abs(h) @ np.abs(k)) + tiny * (k.shape[0] + np.sum(np.abs(h), axis=1, keepdims=True))
            v = v @ (k * k) + noise**2
            v = np.where(z > -KINK * np.sqrt(v), v, 0.0)
            h = np.maximum(z, 0.0)
        scale = np.sqrt(np.max(v, axis=1, initial=0.0))
    return np.where(np.isfinite(scale), scale, np.inf)


def output_matrix(out, rows: int, features: int) -> np.ndarray:
    """The output as a (B, F) float64 array, after checking it is a 1-D array of length B*F."""
    arr = as_output(out)
    assert arr.ndim == 1 and arr.shape == (rows * features,), (
        f"output shape {arr.shape}, expected ({rows * features},) = (B*F,) for B={rows}, F={features}"
    )
    return np.asarray(arr, dtype=np.float64).reshape(rows, features)


def assert_matches_oracle(out, seed, x_batch, num_layers, features, *, dtype=None, label="output") -> np.ndarray:
    """Assert ``out`` equals the float64 oracle within ``C * sigma`` per row. Returns the oracle as (B, F)."""
    n, f = int(num_layers), int(features)
    x = np.asarray(x_batch)
    rows = x.shape[0]
    ref = composed.oracle(seed, x, num_layers, features).reshape(rows, f)
    got = output_matrix(out, rows, f)
    if dtype is None:
        dtype = computation_dtype(x)
    _event(f"oracle output all zero: {bool(rows and not np.any(ref))}")
    same_nan = np.isnan(ref) == np.isnan(got)
    assert same_nan.all(), (
        f"{label}: NaN where the oracle has none (or the reverse) in rows {np.where(~same_nan.all(1))[0].tolist()}"
    )
    inf_ok = np.where(np.isinf(ref), ref == got, True)
    assert inf_ok.all(), f"{label}: infinities differ from the oracle in rows {np.where(~inf_ok.all(1))[0].tolist()}"
    finite = np.isfinite(ref)
    with np.errstate(invalid="ignore"):
        diff = np.where(finite, np.abs(got - np.where(finite, ref, 0.0)), 0.0)
    diff = np.where(np.isnan(diff), np.inf, diff)
    err = np.max(diff, axis=1, initial=0.0)
    scale = error_scale(seed, x, num_layers, features, dtype)
    bad = ~(err <= C * scale)
    if bad.any():
        i = int(np.argmax(np.where(bad, err / np.maximum(scale, 1e-300), -1)))
        j = int(np.argmax(diff[i]))
        raise AssertionError(
            f"{label} differs from the float64 oracle (explicit loop over layers) in {int(bad.sum())} of {rows} rows.\n"
            f"  worst row {i}: max|out - oracle| = {err[i]:.3g}, tolerance {C:g} x rounding scale {scale[i]:.3g} "
            f"= {C * scale[i]:.3g} (dtype {np.dtype(dtype).name}, N={n}, F={f}); row max |oracle| = "
            f"{np.max(np.abs(ref[i]), initial=0.0):.3g}\n"
            f"  at [{i}, {j}]: got {got[i, j]!r}, oracle {ref[i, j]!r}\n"
            f"  row {i} got    {np.array2string(got[i], precision=8, max_line_width=200)}\n"
            f"  row {i} oracle {np.array2string(ref[i], precision=8, max_line_width=200)}"
        )
    return ref


def assert_rows_close(a, b, *, scale, label: str) -> None:
    """Two (B, F) results of the implementation agree row by row within ``C * scale`` (two evaluations' rounding)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"{label}: shapes {a.shape} and {b.shape} differ"
    err = np.max(np.abs(a - b), axis=1, initial=0.0)
    bad = ~(err <= 2 * C * np.asarray(scale))
    if bad.any():
        i = int(np.argmax(bad))
        raise AssertionError(
            f"{label}: row {i} differs by {err[i]:.3g}, tolerance {2 * C:g} x rounding scale {scale[i]:.3g}\n"
            f"  first  {np.array2string(a[i], precision=8, max_line_width=200)}\n"
            f"  second {np.array2string(b[i], precision=8, max_line_width=200)}"
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
    """Guard against vacuous passes: inside a Hypothesis test, discard (``assume``) a case whose oracle output is all
    zero, and record how often with ``event``. Outside one (``check_case``, a repro snippet) the case was chosen by
    hand and is simply checked."""
    from hypothesis import assume
    from hypothesis.control import currently_in_test_context

    if not currently_in_test_context():
        return
    alive = bool(np.any(ref))
    _event(f"non-vacuous ({why}): {alive}")
    assume(alive)
