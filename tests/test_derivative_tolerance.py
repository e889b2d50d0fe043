"""Calibration of the derivative tolerance (``properties.harness.derivatives``) over the derivative boundary set
(``properties.invariants.transforms_boundary``: B, F up to 257, N up to 129, derivatives 1e-30 .. 1e30).

* correct float32 derivatives -- the bundled JAX implementations, ``tests/candidates/custom_vjp.py``, and NumPy
  float32 backward / forward-mode passes that sum each contraction in another order (BLAS, sequential reversed,
  pairwise, largest term first) -- stay well inside ``C_GRAD sigma`` (``r = err / sigma <= C_GRAD / 3``);
* a relative error of 1e-4 in a VJP or JVP is rejected at every case, with a margin of 2 (the error exceeds twice
  the tolerance in some row).

By default the every-run cases (a few seconds); under ``pytest --slow`` every case of the set.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import composed
from composed.oracle import jvp as oracle_jvp
from composed.oracle import relu_masks
from composed.oracle import vjp as oracle_vjp
from properties.harness import derivatives as D
from properties.invariants import transforms_boundary as TB
from properties.sandbox import transform_ops as T
from properties.sandbox.loader import load

HERE = Path(__file__).resolve().parent
CUSTOM_VJP = load(str(HERE / "candidates" / "custom_vjp.py"))
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

SETS = [pytest.param(TB.EVERY_RUN, id="every-run"), pytest.param(TB.CASES, id="all", marks=pytest.mark.slow)]
ORDERS = ("blas", "reversed", "pairwise", "largest_first")


# --- correct float32 derivatives in other summation orders (test helpers) ---------------------------------------------


def dot32(a, b, order: str) -> np.ndarray:
    """``a @ b`` in float32, each dot product summed in ``order``: ``blas`` (NumPy's matmul), ``reversed`` (last term
    first, sequentially), ``pairwise`` (halves summed recursively), ``largest_first`` (terms by decreasing value,
    sequentially: partial sums stay large, the worst order for rounding)."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if order == "blas":
        return a @ b
    terms = a[:, :, None] * b[None, :, :]  # (B, K, F) float32 products
    if order == "reversed":
        return np.cumsum(terms[:, ::-1], axis=1, dtype=np.float32)[:, -1]
    if order == "largest_first":
        return np.cumsum(-np.sort(-terms, axis=1), axis=1, dtype=np.float32)[:, -1]
    while terms.shape[1] > 1:  # pairwise
        half = terms.shape[1] // 2
        rest = terms[:, 2 * half:]
        terms = np.concatenate([(terms[:, :half] + terms[:, half:2 * half]).astype(np.float32), rest], axis=1)
    return terms[:, 0]


def numpy_vjp(seed, x, n, f, w, order: str) -> np.ndarray:
    """A correct float32 backward pass: ``g = (g * m_n) @ K_n^T``, last layer first, masks of the oracle."""
    kernel, _ = composed.params(seed, n, f)
    masks = relu_masks(seed, x, n, f)
    g = np.asarray(w, np.float32).reshape(x.shape)
    for layer in reversed(range(n)):
        g = dot32(np.where(masks[layer], g, np.float32(0)), kernel[layer].T, order)
    return g


def numpy_jvp(seed, x, n, f, t, order: str) -> np.ndarray:
    """A correct float32 forward-mode pass: ``t = m_n * (t @ K_n)``."""
    kernel, _ = composed.params(seed, n, f)
    masks = relu_masks(seed, x, n, f)
    t = np.asarray(t, np.float32).reshape(x.shape)
    for layer in range(n):
        t = np.where(masks[layer], dot32(t, kernel[layer], order), np.float32(0))
    return t


def _calls(cases):
    """(case, seed, x, N, F, direction, is_jvp) of each case (a stack's first batch)."""
    for case in cases:
        call = TB.build(case.name)
        x, d = call["x_batch"], call["direction"]
        if case.transform == "vmap_grad":
            x, d = x[0], d[0]
        yield case, call["seed"], x, call["num_layers"], call["features"], d, case.transform == "jvp"


def _compare(got, seed, x, n, f, d, is_jvp):
    return (D.compare_jvp if is_jvp else D.compare_vjp)(got, seed, x, n, f, d)


def test_numpy_helpers_are_correct_in_float64_terms():
    """The helpers compute the oracle's derivatives (to float32 rounding) in every order."""
    case, seed, x, n, f, d, _ = next(_calls([TB.CASE_BY_NAME["jit_grad-B5-F33-N65-mag1"]]))
    ref = oracle_vjp(seed, x, n, f, d)
    for order in ORDERS:
        got = numpy_vjp(seed, x, n, f, d, order)
        assert np.allclose(got, ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max()), order
    assert dot32(np.ones((1, 5)), np.ones((5, 2)), "pairwise").tolist() == [[5.0, 5.0]]


@pytest.mark.parametrize("cases", SETS)
def test_correct_derivatives_in_any_order_stay_well_inside(cases):
    """err / sigma of correct float32 derivatives stays below C_GRAD / 3 on every case (measured over the whole set:
    0.72 for the JAX implementations, 1.0 BLAS, 1.07 reversed, 0.63 pairwise, 2.10 largest term first)."""
    worst = {}
    impls = {"fast": composed.composed_transforms, "pure_jax": composed.IMPLEMENTATIONS["pure_jax"],
             "custom_vjp": CUSTOM_VJP}
    for case, seed, x, n, f, d, is_jvp in _calls(cases):
        results = {}
        for name, impl in impls.items():
            results[name] = (T.jvp(impl, seed, x, n, f, tangent=d)["jvp"] if is_jvp
                             else T.vjp(impl, seed, x, n, f, cotangent=d.reshape(-1))["vjp"])
        for order in ORDERS:
            results[f"numpy-{order}"] = (numpy_jvp if is_jvp else numpy_vjp)(seed, x, n, f, d, order)
        for name, got in results.items():
            cmp = _compare(got, seed, x, n, f, d, is_jvp)
            assert cmp.passed and not cmp.near_kink.any(), (case.name, name)
            worst[name] = max(worst.get(name, 0.0), cmp.worst_ratio())
    assert 0 < max(worst.values()) <= D.C_GRAD / 3, worst


@pytest.mark.parametrize("cases", SETS)
def test_relative_error_1e4_is_rejected_at_every_case(cases):
    """The oracle's derivative times (1 + 1e-4) fails every case, by at least twice the tolerance in some row."""
    for case, seed, x, n, f, d, is_jvp in _calls(cases):
        ref = (oracle_jvp(seed, x, n, f, d).reshape(x.shape) if is_jvp else oracle_vjp(seed, x, n, f, d))
        cmp = _compare(ref * (1 + 1e-4), seed, x, n, f, d, is_jvp)
        q = np.max(cmp.err / cmp.tolerance)
        assert not cmp.passed and q >= 2, f"{case.name}: a 1e-4 relative error reaches only {q:.3g} x the tolerance"
