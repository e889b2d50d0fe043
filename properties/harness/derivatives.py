"""The derivative tolerance policy of the ``transforms`` tier, and its assertion helpers.

The derivatives of ``composed_transforms`` with respect to ``x_batch`` are compared with the float64 oracle
(:func:`composed.oracle.vjp` / :func:`composed.oracle.jvp`: explicit backward / forward-mode passes on the spec's
parameters, relu's mask taken from the oracle's pre-activations) row by row, against a rounding scale propagated like
the forward one (:mod:`properties.harness.tolerance`).

Model (first-order rounding, as the forward ``error_scale``)
-------------------------------------------------------------
The network is piecewise linear and row-local: row i's Jacobian is a product of the kernels and the relu masks
``m_n = 1[z_n > 0]`` of that row; the activations' *values* never enter it (nor do the biases, except through the
masks). A float32 derivative therefore differs from the float64 oracle for two reasons only:

1. Rounding in the derivative's own matmuls. Each step ``y = u @ A`` (``A = K_n`` forward, ``K_n^T`` backward) adds
   independent noise per unit ``d = u_eps * (|u| @ |A|) + tiny * (F + sum|u|)``, ``u_eps = eps * max(1, sqrt(F /
   32))`` (any summation order, as the forward policy), and carries the earlier error ``e -> e @ A``; masking zeroes
   both at the inactive units. The error's covariance ``S`` (F x F per row) is carried in full (``S -> A^T M S M A +
   diag(d**2)`` backward, ``M (K^T S K + diag(d**2)) M`` forward): carrying only its diagonal (the policy of issue 11)
   is exact for N <= 2, where it is still used, but drifts with depth -- measured on the derivative boundary set, it
   was up to 18x too loose at N = 63..129 (a 1e-4 relative error passed 13 of its 51 cases at the old C_GRAD = 32).
   Backward (VJP, cotangent w exact in float32): ``g_N = w``, ``g_{n-1} = (m_n g_n) @ K_n^T``; forward (JVP, tangent t
   exact): ``t_n = m_n (t_{n-1} @ K_n)``. The row's scale is ``sigma = sqrt(max_j S[i, j, j])``; a row passes when
   ``max_j |got - oracle| <= C_GRAD * sigma``. ``jax.grad`` of ``loss = sum(out * w)`` has the exact cotangent ``w``,
   so it has the VJP's scale. Two float32 derivatives of the implementation (grad vs VJP, jit vs not, vmap vs not)
   are compared within ``2 C_GRAD sigma``.

2. The forward pass's rounding, which feeds the masks. A float32 pre-activation ``z`` differs from the oracle's by
   about ``sigma_z`` (the forward model's rounding scale before that layer's relu); if ``|z| <= KINK_K * sigma_z``
   the float32 mask may differ from the oracle's, and at ``z == 0`` exactly the derivative is a convention (JAX's relu
   gives 0, ``jnp.maximum(z, 0)`` gives 1/2). Such a unit is *near a kink* when its mask matters: the row is alive
   (some unit active or near its kink) in every layer before it (else ``dz/dx = 0``) and in every layer after it
   (else ``d out/d h = 0``). **A row with a unit near a kink is excluded from the comparison, not the case**: the
   Jacobian is block-diagonal over rows, so the other rows still count. Zero rows are near a kink by construction
   (every ``z_1 == 0``); rows dead from an earlier layer have ``z == 0`` exactly downstream, but their masks do not
   matter and they are compared (their derivative is exactly 0). How many rows a case excludes is recorded with
   ``event()``; a case whose rows are all excluded, or whose compared rows all have a zero Jacobian in the oracle
   (vacuous: 0 == 0), is discarded with ``assume`` inside a Hypothesis test.

Constants. ``C_GRAD = 8``, as the forward policy's C, calibrated over the derivative boundary set (51 cases: B, F up
to 257, N up to 129, derivatives 1e-30 .. 1e30; ``tests/test_derivative_tolerance.py``): correct float32 derivatives
reached at most 0.72 sigma (fast, pure_jax, a hand-written custom_vjp), and NumPy float32 passes summed in other orders
1.00 (BLAS), 1.07 (reversed), 0.63 (pairwise), 2.10 (largest term first, the adversarial order): a margin of 3.8x or
more; a relative error of 1e-4 in the derivative exceeded the tolerance by at least 3.1x in every case. (Before, with
the diagonal model and ``C_GRAD = 32``, on 308 random cases with B up to 64, F up to 128, N up to 32: 1.43 sigma at
most, and a 1e-3 error rejected in 5008 of 5010 rows.) ``KINK_K = 8``: over 2.0M float32 pre-activations
``|z_f32 - z_f64| / sigma_z`` was at most 1.84 (99.99th percentile 1.11), a margin of 4x; with no exclusion correct
implementations reached 3e4 sigma (mask flips). Excluded rows beyond the zero rows: ~1% of the others, up to 4% at
(B, F, N) = (64, 128, 32); excluding whole cases instead would have dropped 63% of them. ``tests/test_transforms.py``
re-checks the exclusion (the wide and deep shapes under ``pytest --slow``).

The forward tolerance of the jit/vmap comparisons is :mod:`properties.harness.tolerance`'s (its ``C``, read at call
time, so a recalibration there applies here).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

import composed
from composed.oracle import jvp as oracle_jvp
from composed.oracle import preactivations
from composed.oracle import vjp as oracle_vjp

#: Safety factor over the derivative's propagated rounding scale (calibrated like the forward pass's C; see above).
C_GRAD = 8.0
#: A unit is near its kink when |z| <= KINK_K * sigma_z (sigma_z the forward rounding scale of that pre-activation).
KINK_K = 8.0
#: Units within this many sigma of the kink count as active when propagating the forward scale (tolerance.KINK).
_PROPAGATE_KINK = 4.0


def _event(text: str) -> None:
    try:
        from hypothesis import event

        event(text)
    except Exception:  # noqa: BLE001 - outside a Hypothesis test there is nothing to record
        pass


def eps(dtype) -> float:
    import jax.numpy as jnp

    return float(jnp.finfo(dtype).eps)


def absolute_floor(dtype) -> float:
    """Absolute rounding near zero, as the forward policy: float16's smallest subnormal, else the smallest normal
    number (XLA on CPU flushes subnormals)."""
    import jax.numpy as jnp

    info = jnp.finfo(dtype)
    return float(info.smallest_subnormal if np.dtype(dtype) == np.float16 else info.tiny)


class _Net:
    """One case's oracle quantities, computed once: the validated arguments, float64 kernels and pre-activations."""

    def __init__(self, seed, x_batch, num_layers, features):
        self.seed, self.x, self.n, self.f = composed.validate(seed, x_batch, num_layers, features)
        self.rows = np.shape(self.x)[0]
        kernel, _ = composed.params(self.seed, self.n, self.f)
        self.kernels = [kernel[i].astype(np.float64) for i in range(self.n)]
        self.zs = preactivations(self.seed, self.x, self.n, self.f) if self.n else []
        self.masks = [z > 0 for z in self.zs]

    def direction(self, name, value) -> np.ndarray:
        arr = np.asarray(value, dtype=np.float64)
        if arr.shape not in ((self.rows * self.f,), (self.rows, self.f)):
            raise ValueError(f"{name} must have shape ({self.rows * self.f},) or ({self.rows}, {self.f}): "
                             f"got {arr.shape}")
        return arr.reshape(self.rows, self.f)


def _matmul_noise(u, a, e, tiny):
    """Rounding noise of ``u @ a`` (rows): relative on the terms' magnitudes plus the absolute floor."""
    return e * (np.abs(u) @ np.abs(a)) + tiny * (a.shape[0] + np.sum(np.abs(u), axis=1, keepdims=True))


def _net(seed, x_batch, num_layers, features) -> _Net:
    return seed if isinstance(seed, _Net) else _Net(seed, x_batch, num_layers, features)


def forward_preactivation_scales(seed, x_batch=None, num_layers=None, features=None, dtype=np.float32):
    """``(zs, sigma_zs)``: the float64 pre-activations and their forward rounding scales, two lists of N (B, F).

    ``sigma_z`` is the standard deviation of the ``dtype`` ``z_n`` around the oracle's under the model of
    :func:`properties.harness.tolerance.error_scale` (before that layer's relu; the relu keeps the variance of units
    above ``-4 sigma``).
    """
    net = _net(seed, x_batch, num_layers, features)
    e, tiny = eps(dtype), absolute_floor(dtype)
    h = np.asarray(net.x, dtype=np.float64)
    v = np.zeros_like(h)
    sigmas = []
    with np.errstate(invalid="ignore", over="ignore"):
        for k, z in zip(net.kernels, net.zs):
            vz = v @ (k * k) + _matmul_noise(h, k, e, tiny) ** 2
            sigmas.append(np.sqrt(vz))
            v = np.where(z > -_PROPAGATE_KINK * np.sqrt(vz), vz, 0.0)
            h = np.maximum(z, 0.0)
    return net.zs, sigmas


def near_kink_rows(seed, x_batch=None, num_layers=None, features=None, dtype=np.float32, k=KINK_K) -> np.ndarray:
    """Boolean (B,): rows with a unit whose pre-activation is within ``k * sigma_z`` of 0 and whose mask matters (it
    lies on a path from the input to the output through units that are active or near their kink)."""
    net = _net(seed, x_batch, num_layers, features)
    zs, sigmas = forward_preactivation_scales(net, dtype=dtype)
    if not zs:
        return np.zeros(net.rows, bool)
    with np.errstate(invalid="ignore"):
        near = [np.abs(z) <= k * s for z, s in zip(zs, sigmas)]
    possible = [np.any((z > 0) | nk, axis=1) for z, nk in zip(zs, near)]  # (B,) per layer: some unit may be live
    n = len(zs)
    flagged = np.zeros(net.rows, bool)
    for layer in range(n):
        up = np.all(possible[:layer], axis=0) if layer else np.ones(net.rows, bool)
        down = np.all(possible[layer + 1:], axis=0) if layer + 1 < n else np.ones(net.rows, bool)
        flagged |= np.any(near[layer], axis=1) & up & down
    return flagged


def vacuous_rows(seed, x_batch=None, num_layers=None, features=None) -> np.ndarray:
    """Boolean (B,): rows whose Jacobian is exactly zero in the oracle (some layer has no active unit; N >= 1)."""
    net = _net(seed, x_batch, num_layers, features)
    if not net.zs:
        return np.zeros(net.rows, bool)
    return ~np.all([np.any(m, axis=1) for m in net.masks], axis=0)


def _order_eps(dtype, features) -> float:
    """The relative rounding of a dot product of ``features`` terms in any summation order: ``eps * max(1,
    sqrt(F / 32))``, as the forward policy (:data:`properties.harness.tolerance.ORDER_F`)."""
    from properties.harness.tolerance import ORDER_F

    return eps(dtype) * max(1.0, float(np.sqrt(features / ORDER_F)))


def _propagate(steps, rows: int, features: int, var0=None) -> np.ndarray:
    """``max_j sigma`` (B,) of a linear pass through ``steps``, each ``(mask_in, a, noise, mask_out)``: the error ``e``
    becomes ``((e * mask_in) @ a + rounding) * mask_out`` with rounding of standard deviation ``noise`` (B, F),
    independent per unit. The error covariance (B, F, F) is carried in full from the third step on (the off-diagonal
    terms first reach the diagonal there; before, the diagonal is exact and cheaper), in blocks of rows."""
    from properties.harness.tolerance import COV_ENTRIES

    var0 = np.zeros((rows, features)) if var0 is None else var0
    if len(steps) <= 2:
        v = var0
        for mask_in, a, noise, mask_out in steps:
            v = np.where(mask_out, np.where(mask_in, v, 0.0) @ (a * a) + noise**2, 0.0)
        return np.sqrt(np.max(v, axis=1, initial=0.0))
    out = np.zeros(rows)
    block = max(1, COV_ENTRIES // (features * features))
    diag = np.arange(features)
    for start in range(0, rows, block):
        r = slice(start, start + block)
        b = len(range(rows)[r])
        cov = np.zeros((b, features, features))
        cov[:, diag, diag] = var0[r]
        for mask_in, a, noise, mask_out in steps:
            keep = mask_in[r]
            cov *= keep[:, :, None] & keep[:, None, :]
            sa = (cov.reshape(b * features, features) @ a).reshape(b, features, features)  # S a
            cov = (sa.transpose(0, 2, 1).reshape(b * features, features) @ a).reshape(b, features, features)  # a^T S a
            cov[:, diag, diag] += noise[r] ** 2
            keep = mask_out[r]
            cov *= keep[:, :, None] & keep[:, None, :]
        out[r] = np.sqrt(np.max(cov[:, diag, diag], axis=1, initial=0.0))
    return out


def vjp_error_scale(seed, x_batch=None, num_layers=None, features=None, cotangent=None, dtype=np.float32,
                    cotangent_var=None) -> np.ndarray:
    """Per-row rounding scale (B,) of a ``dtype`` backward pass ``d<out, w>/dx`` (module docstring, item 1).

    ``cotangent_var``: the variance of the cotangent's own rounding ((B*F,) or (B, F)), default 0 (w exact).
    N = 0 gives 0 (the VJP of the identity is w, exactly).
    """
    net = _net(seed, x_batch, num_layers, features)
    g = net.direction("cotangent", cotangent)
    v = np.zeros_like(g) if cotangent_var is None else net.direction("cotangent_var", cotangent_var)
    if net.n == 0 or net.rows == 0:
        return np.sqrt(np.max(v, axis=1, initial=0.0))
    u, tiny = _order_eps(dtype, net.f), absolute_floor(dtype)
    everything = np.ones_like(g, dtype=bool)
    steps = []
    with np.errstate(invalid="ignore", over="ignore"):
        for layer in reversed(range(net.n)):
            kt = net.kernels[layer].T
            m = net.masks[layer]
            g = np.where(m, g, 0.0)
            steps.append((m, kt, _matmul_noise(g, kt, u, tiny), everything))
            g = g @ kt
        scale = _propagate(steps, net.rows, net.f, v)
    return np.where(np.isfinite(scale), scale, np.inf)


def jvp_error_scale(seed, x_batch=None, num_layers=None, features=None, tangent=None, dtype=np.float32) -> np.ndarray:
    """Per-row rounding scale (B,) of a ``dtype`` forward-mode derivative along ``tangent`` (exact in ``dtype``)."""
    net = _net(seed, x_batch, num_layers, features)
    t = net.direction("tangent", tangent)
    if net.n == 0 or net.rows == 0:
        return np.zeros(net.rows)
    u, tiny = _order_eps(dtype, net.f), absolute_floor(dtype)
    everything = np.ones_like(t, dtype=bool)
    steps = []
    with np.errstate(invalid="ignore", over="ignore"):
        for k, m in zip(net.kernels, net.masks):
            steps.append((everything, k, _matmul_noise(t, k, u, tiny), m))
            t = np.where(m, t @ k, 0.0)
        scale = _propagate(steps, net.rows, net.f)
    return np.where(np.isfinite(scale), scale, np.inf)


class Comparison(NamedTuple):
    """A derivative compared with its oracle (or with another derivative of the implementation), row by row."""

    got: np.ndarray  # (B, F) float64
    ref: np.ndarray  # (B, F) float64: the oracle, or the other derivative
    err: np.ndarray  # (B,) max_j |got - ref|
    sigma: np.ndarray  # (B,) rounding scale
    tolerance: np.ndarray  # (B,) c * sigma
    near_kink: np.ndarray  # (B,) bool: excluded
    vacuous: np.ndarray  # (B,) bool: the oracle's Jacobian row is exactly 0
    ok: np.ndarray  # (B,) bool: passes, or excluded

    @property
    def passed(self) -> bool:
        return bool(np.all(self.ok))

    @property
    def discarded(self) -> bool:
        """Every row near a kink: nothing was compared."""
        return bool(np.all(self.near_kink))

    @property
    def informative(self) -> bool:
        """Some compared row has a non-zero oracle Jacobian (a pass is not 0 == 0 only)."""
        return bool(np.any(~self.near_kink & ~self.vacuous))

    @property
    def near_kink_fraction(self) -> float:
        return float(np.mean(self.near_kink)) if self.near_kink.size else 0.0

    def worst_ratio(self) -> float:
        """max err/sigma over compared rows with sigma > 0 (inf if a sigma-0 row differs at all)."""
        live = ~self.near_kink
        if np.any(live & (self.sigma == 0) & (self.err > 0)):
            return float("inf")
        sel = live & (self.sigma > 0)
        return float(np.max(self.err[sel] / self.sigma[sel], initial=0.0))


def _compare(got, ref, sigma, near, vac, c) -> Comparison:
    ref = np.asarray(ref, np.float64)
    got = np.asarray(got, np.float64).reshape(ref.shape)
    with np.errstate(invalid="ignore"):
        diff = np.abs(got - ref)
    diff = np.where(np.isnan(diff) & ~np.isnan(ref), np.inf, np.where(np.isnan(diff), 0.0, diff))
    err = np.max(diff, axis=1, initial=0.0)
    tol = c * sigma
    ok = near | (err <= tol)
    return Comparison(got, ref, err, sigma, tol, near, vac, ok)


def _checked_shape(got, rows, features, what) -> np.ndarray:
    arr = np.asarray(got)
    assert arr.size == rows * features and arr.shape in ((rows, features), (rows * features,)), (
        f"{what} has shape {arr.shape}, expected ({rows}, {features}) or ({rows * features},)"
    )
    return arr.reshape(rows, features)


def compare_vjp(got, seed, x_batch, num_layers, features, cotangent, dtype=np.float32, c=C_GRAD) -> Comparison:
    """``got`` (a (B, F) VJP with respect to x_batch) against :func:`composed.oracle.vjp`, per row."""
    net = _Net(seed, x_batch, num_layers, features)
    ref = oracle_vjp(net.seed, net.x, net.n, net.f, cotangent)
    sigma = vjp_error_scale(net, cotangent=cotangent, dtype=dtype)
    got = _checked_shape(got, net.rows, net.f, "the VJP")
    return _compare(got, ref, sigma, near_kink_rows(net, dtype=dtype), vacuous_rows(net), c)


def compare_jvp(got, seed, x_batch, num_layers, features, tangent, dtype=np.float32, c=C_GRAD) -> Comparison:
    """``got`` (the JVP, (B*F,) or (B, F)) against :func:`composed.oracle.jvp`, per row."""
    net = _Net(seed, x_batch, num_layers, features)
    ref = oracle_jvp(net.seed, net.x, net.n, net.f, tangent).reshape(net.rows, net.f)
    sigma = jvp_error_scale(net, tangent=tangent, dtype=dtype)
    got = _checked_shape(got, net.rows, net.f, "the JVP")
    return _compare(got, ref, sigma, near_kink_rows(net, dtype=dtype), vacuous_rows(net), c)


def compare_vjp_pair(a, b, seed, x_batch, num_layers, features, cotangent, dtype=np.float32,
                     c=2 * C_GRAD) -> Comparison:
    """Two VJPs of the implementation along the same cotangent (``got`` = a, ``ref`` = b) within ``2 C_GRAD sigma``
    per row (two evaluations' rounding), near-kink rows excluded (their masks may differ between two programs)."""
    net = _Net(seed, x_batch, num_layers, features)
    sigma = vjp_error_scale(net, cotangent=cotangent, dtype=dtype)
    a = _checked_shape(a, net.rows, net.f, "the first derivative")
    b = _checked_shape(b, net.rows, net.f, "the second derivative")
    return _compare(a, b, sigma, near_kink_rows(net, dtype=dtype), vacuous_rows(net), c)


# -- what a property does with a comparison ----------------------------------------------------------------------------


def _kink_bucket(cmp: Comparison) -> str:
    frac = cmp.near_kink_fraction
    if frac == 0:
        return "none"
    if frac >= 1:
        return "all"
    return "<10%" if frac < 0.1 else ">=10%"


def assert_derivative(cmp: Comparison, *, label: str, what: str, context: str = "") -> None:
    """Raise an AssertionError describing the worst row when ``cmp`` failed; record the near-kink exclusions."""
    _event(f"derivative rows near a relu kink (excluded): {_kink_bucket(cmp)}")
    if cmp.passed:
        return
    bad = ~cmp.ok
    ratio = np.where(bad, cmp.err / np.maximum(cmp.tolerance, 1e-300), -1.0)
    i = int(np.argmax(ratio))
    j = int(np.argmax(np.abs(cmp.got[i] - cmp.ref[i])))
    rows = len(cmp.ok)
    excluded = int(cmp.near_kink.sum())
    raise AssertionError(
        f"{label} differs from {what} in {int(bad.sum())} of {rows - excluded} compared rows"
        f"{f' ({excluded} near a relu kink excluded)' if excluded else ''}{context}.\n"
        f"  worst row {i}: max|got - expected| = {cmp.err[i]:.3g}, tolerance {cmp.tolerance[i]:.3g} "
        f"(= {cmp.tolerance[i] / cmp.sigma[i] if cmp.sigma[i] else float('nan'):g} x rounding scale "
        f"{cmp.sigma[i]:.3g}); row max |expected| = {np.max(np.abs(cmp.ref[i]), initial=0.0):.3g}\n"
        f"  at [{i}, {j}]: got {cmp.got[i, j]!r}, expected {cmp.ref[i, j]!r}\n"
        f"  row {i} got      {np.array2string(cmp.got[i], precision=8, max_line_width=200)}\n"
        f"  row {i} expected {np.array2string(cmp.ref[i], precision=8, max_line_width=200)}"
    )


def require_informative(cmp: Comparison, why: str) -> None:
    """Inside a Hypothesis test: discard (``assume``) a case in which nothing informative was compared -- every row
    near a kink, or every compared row's oracle Jacobian exactly zero -- and record how often with ``event``. Outside
    one (``check_case``, a reproduction) the case was chosen by hand and stands."""
    from hypothesis import assume
    from hypothesis.control import currently_in_test_context

    if not currently_in_test_context():
        return
    _event(f"non-vacuous derivative ({why}): {cmp.informative}")
    assume(cmp.informative)
