"""Assertion helpers with self-explaining messages, and the tolerance policy.

Tolerance policy (documented contract of the suite)
---------------------------------------------------
The implementation's output is compared with the float64 oracle row by row, against an *error scale* computed by the
oracle alongside the values: a first-order model of float rounding propagated through the network.

    layer n adds rounding noise   d_n = eps * (|h_{n-1}| @ |K_n|) * max(1, sqrt(F / 32))      (the matmul's terms)
                                      + tiny * (1 + m_n + sum|h_{n-1}|)                       (rounding near zero)
    and carries the earlier noise  S_n = M_n (K_n^T S_{n-1} K_n + diag(d_n**2)) M_n,   sigma = sqrt(diag S_N)

``S_n`` is the covariance of the error of the row's layer-n output (an F x F matrix per row). Each layer's rounding
errors are independent, but propagation through K correlates them, so the covariance is carried in full: carrying
only its diagonal (``v_n = M_n (v_{n-1} @ K_n**2 + d_n**2)``, the policy before the issue-8 domain; exact for
N <= 2, where it is still used because it is cheaper) drifts exponentially with depth, both ways -- measured at
N = 17..129: err/sigma of a correct loop 3.2 where the covariance gives 0.75, and elsewhere sigma 1e8x the
covariance's and 6e3x the output itself (any output passed: a 1e-4 error was accepted in 26 of 155 boundary cases at
the old C = 32). ``max(1, sqrt(F / 32))`` makes the term cover any summation order (a dot product's rounding error
grows like sqrt(F) * eps * sum|terms| when the partial sums stay large, e.g. positive terms first; the natural,
reversed, pairwise and blocked orders stay near eps * sum|terms|). ``tiny`` is the absolute rounding near zero:
float16's smallest subnormal (6e-8: a float16 NumPy loop at magnitude 1e-3 otherwise measured 724 sigma), the smallest
normal number for float32/bfloat16/float64 (XLA on CPU flushes subnormals to zero). ``m_n`` counts, per unit, the
nonzero products ``|h_k K_kj|`` below twice the dtype's smallest normal number (those that can be flushed, or are
subnormal), and the 1 is the result itself (the old constant F in place of ``1 + m_n`` made rows of magnitude 1e-30
up to 10x looser than their rounding). ``M_n`` keeps the units that are active in the oracle (or within 4 sigma of
the relu kink) and ``eps`` is the machine epsilon of the dtype the computation runs in. Rows with a NaN/inf input or
pre-activation keep the diagonal model with the old floor (their scale is 0 or inf, so the NaN/inf checks and the
exact match of their finite entries are unchanged). Row i passes when

    max_j |out[i, j] - oracle[i, j]|  <=  C * max_j sigma[i, j],    C = 8.

Why this and not a norm of the output: at depth a row's output can be a small difference of large terms (cancellation
in a dot product); a tolerance relative to the output then rejects correct float32 implementations, while a tolerance
relative to the input is vacuous at depth (1000x looser than the output at the 90th percentile).

Calibration (the tolerance study, ``tests/test_tolerance.py`` replays it; F up to 513, N up to 129, B up to 1025, row
output magnitudes 1e-30 up to the max safe scale, 801 cases: the boundary set, 300 random cases over the domain, a
scan of N = 63..129): ``r = err / sigma`` of correct float32 implementations -- fast, pure_jax, vmap_in_scan,
numpy_loop (OpenBLAS), naive sequential dot products in either order, pairwise sums -- never exceeded **1.52**
(margin C / r = **5.3x**), 99th percentile 1.23; a positives-first summation order (correct, adversarial) reached
2.22 (3.6x). float16/bfloat16 reached 0.67/0.70 (12x). A relative error of 1e-4 gives ``err / sigma >= 16.3`` on every
certified boundary case (``q / C >= 2``), so it is rejected there. What no tolerance can do: resolve 1e-4 at outputs
below about 1e-32 (XLA flushes subnormal partial results: a correct ``fast`` loses up to ``tiny`` per flushed
operation, and returns all zeros at 2e-38), so the boundary set's ``floor`` cases are checked for acceptance only;
and in about 10-20% of random draws with N >= 64 float32's own rounding reaches 1e-5..1e-4 of the output, so 1e-4
is not resolvable there (the boundary set's seeds are certified: ``C * sigma / max|oracle row| <= 5e-5`` in some
row). Rows whose sigma is 0 (N = 0, rows whose last pre-activations are all clearly negative) must match exactly.

Comparisons of the implementation with itself (permutation, locality, homogeneity, sharding, jit, vmap, input forms)
take their scale from what they compare, not from the oracle's relu masks (``self_scale``): the same propagation
without the last layer's mask (the rounding of the last pre-activations, whichever units the implementation keeps),
and at least ``eps`` times the largest entry of the compared rows. An implementation that is wrong but consistent
(e.g. one that forgets the last relu) then passes them, and the oracle comparison names its bug: with the oracle's
mask, a unit the correct network zeroes got tolerance 0, and a 1-ulp difference between two of its evaluations was
reported as batch mixing.

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
C = 8.0
#: Above this many features the matmul term grows like sqrt(F): it covers any summation order (module docstring).
ORDER_F = 32
#: Rows per block of the error propagation: bounds its memory to about this many float64 (32 MiB).
COV_ENTRIES = 1 << 22
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


def error_scale(seed, x_batch, num_layers, features, dtype, *, final_mask: bool = True) -> np.ndarray:
    """Per-row rounding scale ``max_j sigma[i, j]`` (B,) of the computation in ``dtype`` (module docstring).

    ``final_mask=False``: the last layer's relu mask is not applied (the scale of the last pre-activations)."""
    import jax.numpy as jnp

    x = np.asarray(x_batch)
    n = int(num_layers)
    if n == 0 or x.shape[0] == 0:
        return np.zeros(x.shape[0])
    zs = preactivations(seed, x, num_layers, features)
    kernel, _ = composed.params(seed, num_layers, features)
    kernels = [k.astype(np.float64) for k in kernel]
    h = np.asarray(x, dtype=np.float64)
    b, f = h.shape
    tiny = _absolute_floor(dtype)
    # Rows with a NaN/inf input or pre-activation keep the diagonal model with the old floor, whose scale there is 0 or
    # inf: the NaN/inf checks of assert_matches_oracle and the exact match of their finite entries stay as they were.
    finite = np.isfinite(h).all(axis=1)
    for z in zs:
        finite &= np.isfinite(z).all(axis=1)
    scale = np.zeros(b)
    if not finite.all():
        bad = ~finite
        scale[bad] = _diagonal_scale(h[bad], [z[bad] for z in zs], kernels, eps(dtype), tiny, final_mask)
    rows = np.flatnonzero(finite)
    u = eps(dtype) * max(1.0, np.sqrt(f / ORDER_F))
    normal = float(jnp.finfo(dtype).tiny)
    block = max(1, COV_ENTRIES // (f * f))
    for start in range(0, rows.size, block):
        r = rows[start : start + block]
        scale[r] = _max_sigma(h[r], [z[r] for z in zs], kernels, u, tiny, normal, final_mask)
    return np.where(np.isfinite(scale), scale, np.inf)


def self_scale(seed, x_batch, num_layers, features, dtype, *outputs) -> np.ndarray:
    """Per-row scale (B,) for comparing two evaluations of the implementation (module docstring): the rounding scale
    without the last relu mask, and at least ``eps(dtype)`` times the largest entry of each row of ``outputs``
    ((B, F) arrays, the results compared)."""
    scale = error_scale(seed, x_batch, num_layers, features, dtype, final_mask=False)
    e = eps(dtype)
    for out in outputs:
        with np.errstate(invalid="ignore"):
            row = np.max(np.abs(np.nan_to_num(np.asarray(out, np.float64), posinf=0.0, neginf=0.0)), axis=1,
                         initial=0.0)
        scale = np.maximum(scale, e * row)
    return scale


def _diagonal_scale(h, zs, kernels, u, tiny, final_mask=True) -> np.ndarray:
    """The diagonal model with the old floor ``tiny * (F + sum|h|)``, kept for rows that are not finite."""
    v = np.zeros_like(h)
    with np.errstate(invalid="ignore", over="ignore"):
        for layer, (z, k) in enumerate(zip(zs, kernels)):
            noise = u * (np.abs(h) @ np.abs(k)) + tiny * (k.shape[0] + np.sum(np.abs(h), axis=1, keepdims=True))
            v = v @ (k * k) + noise**2
            if final_mask or layer < len(kernels) - 1:
                v = np.where(z > -KINK * np.sqrt(v), v, 0.0)
            h = np.maximum(z, 0.0)
        return np.sqrt(np.max(v, axis=1, initial=0.0))


def _max_sigma(h, zs, kernels, u, tiny, normal, final_mask=True) -> np.ndarray:
    """``max_j sigma`` for a block of rows: the error covariance S (b, F, F) carried through the layers (only its
    diagonal for N <= 2, where the two are the same: the off-diagonal terms first reach the diagonal at layer 3)."""
    b, f = h.shape
    diag = np.arange(f)
    full = len(kernels) > 2
    cov = np.zeros((b, f, f)) if full else None
    var = np.zeros((b, f))
    with np.errstate(invalid="ignore", over="ignore"):
        for layer, (z, k) in enumerate(zip(zs, kernels)):
            ah, ak = np.abs(h), np.abs(k)
            # products that can be flushed to zero (or are subnormal) each lose up to `tiny`
            kmin = np.min(np.where(ak > 0, ak, np.inf), axis=1)  # smallest nonzero |K_kj| per input unit k
            flushable = 0
            if np.any((ah > 0) & (ah * kmin < 2 * normal)):
                flushable = np.sum((ah[:, :, None] > 0) & (ah[:, :, None] * ak < 2 * normal), axis=1)
            noise = u * (ah @ ak) + tiny * (1 + flushable + np.sum(ah, axis=1, keepdims=True))
            if full:
                if layer:  # K^T S K as two (b*F, F) @ (F, F) products (S is symmetric)
                    sk = (cov.reshape(b * f, f) @ k).reshape(b, f, f)
                    cov = (sk.transpose(0, 2, 1).reshape(b * f, f) @ k).reshape(b, f, f)
                cov[:, diag, diag] += noise**2
                if final_mask or layer < len(kernels) - 1:
                    keep = z > -KINK * np.sqrt(cov[:, diag, diag])
                    cov *= keep[:, :, None] & keep[:, None, :]
            else:
                var = var @ (k * k) + noise**2
                if final_mask or layer < len(kernels) - 1:
                    var = np.where(z > -KINK * np.sqrt(var), var, 0.0)
            h = np.maximum(z, 0.0)
        if full:
            var = cov[:, diag, diag]
        return np.sqrt(np.max(var, axis=1, initial=0.0))


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


#: The arguments of one plain call in a property's case.
CALL_KEYS = ("seed", "x_batch", "num_layers", "features")


def oracle_mismatch(impl, case: dict) -> bool | None:
    """Whether the implementation's plain call on ``case``'s arguments differs from the oracle (out of tolerance, or
    it raises): True, False, or None when the case holds no such call (or the oracle cannot judge it).

    The report uses it to group failures by cause: a property that fails on inputs where the output is already wrong
    is explained by the oracle comparison. ``case["first"]`` is used for cases made of two calls (``deterministic``).
    """
    from properties.harness.proxy import CallTimeout

    if not all(k in case for k in CALL_KEYS):
        first = case.get("first")
        return oracle_mismatch(impl, first) if isinstance(first, dict) else None
    x = np.asarray(case["x_batch"])
    if x.ndim != 2 or x.dtype.kind not in "fiub":
        return None
    try:
        out = impl(*(case[k] for k in CALL_KEYS))
    except CallTimeout:
        return None
    except Exception:  # noqa: BLE001 - it raises on valid arguments (ImplementationError from a candidate process)
        return True
    try:
        assert_matches_oracle(out, *(case[k] for k in CALL_KEYS))
    except AssertionError:
        return True
    except Exception:  # noqa: BLE001 - the oracle cannot judge this case (e.g. arguments outside the contract)
        return None
    return False
