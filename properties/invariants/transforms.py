"""The ``transforms`` tier: the implementation under ``jax.jit``, ``jax.vmap`` and differentiation, checked against
the oracle.

The transforms are applied in the candidate process (:mod:`properties.sandbox.transform_ops`); only arrays come back.
The tier applies to JAX implementations -- those that return a ``jax.Array`` when given a ``jax.Array`` ``x_batch``;
for any other implementation (NumPy, PyTorch) every property here is skipped, saying so. A JAX implementation that
raises under a transform fails the property.

Tolerances: jit/vmap of the forward pass are compared with the eager calls within the forward policy for two
evaluations (``2 C sigma``, :mod:`properties.harness.tolerance`); derivatives are compared with the float64 oracle's
explicit backward / forward-mode passes within ``C_GRAD sigma``, and with each other within ``2 C_GRAD sigma``, rows
near a relu kink excluded (:mod:`properties.harness.derivatives`).

Shapes: every property draws (B, F, N) from :data:`TRANSFORM_BUCKETS`, a subset of the suite's buckets, because each
new shape compiles a new program per transform (3-5 s each for ``fast`` on a busy 2-core CPU without the persistent
cache); about one case in 20 has a large shape instead, one of the derivative boundary set's
(:mod:`.transforms_boundary`: its every-run shapes B = 257, F = 129 and N = 65 by default, all of its shapes under
``exhaustive``), whose programs its cases compile anyway (``strategies.transform_shapes``). Under ``jax.jit`` the seed
is a compile-time constant, so each (seed, shape) is a new program: the jit-composed properties use one seed per
bucket (:data:`JIT_SEEDS`; the seed's meaning is the core tier's business), and the boundary set's seed on its shapes.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from properties.harness import profiles
from properties.harness import strategies as S
from properties.harness.derivatives import (
    assert_derivative,
    compare_jvp,
    compare_vjp,
    compare_vjp_pair,
    require_informative,
)
from properties.harness.proxy import Returned
from properties.harness.tolerance import (
    assert_matches_oracle,
    assert_rows_close,
    assert_some_nonzero,
    output_matrix,
    self_scale,
)
from properties.invariants.base import TRANSFORMS, prop

#: (B, F, N) of the tier: from ``strategies.SHAPE_BUCKETS``, every B >= 2 (vmap and row-mixing bugs need two rows),
#: F >= 3 (an untransposed kernel needs F >= 2), N from 3 to 7.
TRANSFORM_BUCKETS: tuple[tuple[int, int, int], ...] = ((3, 3, 3), (8, 16, 4), (5, 7, 6), (2, 8, 7))
#: The jit-composed properties pair each bucket with one seed: under jax.jit the seed is a compile-time constant of the
#: implementation's trace, so every (seed, shape) is a new program to trace, lower and compile (~3 s cold, ~0.7 s from
#: the persistent cache, for ``fast``). The seeds span the contract's range; their meaning is the core tier's business.
JIT_SEEDS = dict(zip(TRANSFORM_BUCKETS, (0, 2**32 + 7, -1, 2**62 + 12345)))


def _wide_shapes() -> tuple[tuple[int, int, int], ...]:
    """The large shapes of the tier's random search: the derivative boundary set's (its every-run shapes, all of them
    under ``exhaustive``), whose programs the boundary cases compile anyway; with their seeds (:data:`WIDE_SEEDS`)."""
    from properties.invariants import transforms_boundary as TB

    return tuple(dict.fromkeys(c.shape for c in TB.cases(full=profiles.full_boundary())))


WIDE_SHAPES = _wide_shapes()


def _wide_seeds() -> dict:
    from properties.invariants import transforms_boundary as TB

    return dict(TB.SEEDS)


#: The seed of the jit-composed properties on a wide shape: the boundary set's seed of that shape.
WIDE_SEEDS = _wide_seeds()
#: Batches stacked under jax.vmap.
STACK = 3

assert set(TRANSFORM_BUCKETS) <= set(S.SHAPE_BUCKETS)


def _op(impl, name: str, **kwargs) -> dict:
    """Run transform operation ``name`` on the implementation; skip the property when it is not a JAX one."""
    import pytest

    reply = impl.run(name, **kwargs)
    if "skip" in reply:
        pytest.skip(f"transforms tier: {reply['skip']}")
    return reply


# -- strategies --------------------------------------------------------------------------------------------------------


@st.composite
def directions(draw, rows: int, features: int) -> np.ndarray:
    """A cotangent or tangent (rows, features), float32: entries in [-1, 1] (none zero) times a per-row 10**k, k in
    -3..3, so rows of very different magnitudes meet in one case (the tolerance is per row)."""
    magnitude = st.floats(0.0625, 1.0, width=32)
    entry = st.tuples(magnitude, st.booleans()).map(lambda t: -t[0] if t[1] else t[0])
    base = draw(hnp.arrays(np.float32, (rows, features), elements=entry, fill=st.nothing()))
    scales = np.array([10.0 ** draw(st.integers(-3, 3)) for _ in range(rows)]).reshape(rows, 1)
    return (base * scales).astype(np.float32)


@st.composite
def _wide_directions(draw, rows: int, features: int) -> np.ndarray:
    """:func:`directions` for large arrays: entries from a NumPy generator seeded by a draw (a Hypothesis draw per
    entry of a 257 x 129 array is slow), per-row 10**k for k in -3..3 drawn per block of rows."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    base = rng.uniform(0.0625, 1.0, (rows, features)) * rng.choice((-1.0, 1.0), (rows, features))
    blocks = min(rows, 16)
    scales = np.array([10.0 ** draw(st.integers(-3, 3)) for _ in range(blocks)])[np.arange(rows) * blocks // rows]
    return (base * scales[:, None]).astype(np.float32)


def _directions(rows: int, features: int):
    return directions(rows, features) if rows * features <= 256 else _wide_directions(rows, features)


@st.composite
def batches(draw, rows: int, features: int) -> np.ndarray:
    """Like ``strategies.batches`` (per-row magnitude 10**-3..10**3; rows plain, repeated or all-negative) but with no
    zero entries and no zero rows: a zero row sits exactly on every relu kink of the first layer, where the derivative
    is a convention, so it would only ever be excluded (and Hypothesis's simplest batch is all zeros)."""
    x = draw(_directions(rows, features)).astype(np.float64)
    if rows > 16:  # a wide batch: row kinds per block of rows would add little; every 7th row repeats, every 5th < 0
        x[4::5] = -np.abs(x[4::5])
        x[6::7] = x[0]
        return x.astype(np.float32)
    for i in range(rows):
        kind = draw(st.sampled_from(("plain",) * 4 + ("repeat", "negative")))
        if kind == "repeat" and i > 0:
            x[i] = x[draw(st.integers(0, i - 1))]
        elif kind == "negative":
            x[i] = -np.abs(x[i])
    return x.astype(np.float32)


@st.composite
def forward_cases(draw, seeds=None) -> dict:
    """``dict(seed, x_batch, num_layers, features)``: (B, F, N) from :data:`TRANSFORM_BUCKETS` or, about one time in
    20, a large shape of :data:`WIDE_SHAPES` (``strategies.transform_shapes``), integer counts; the batch from
    :func:`batches`, the seed from ``strategies.int_seeds``, or ``seeds[(B, F, N)]`` when given (:data:`WIDE_SEEDS`
    for a large shape)."""
    b, f, n = draw(S.transform_shapes(TRANSFORM_BUCKETS, WIDE_SHAPES))
    seed = draw(S.int_seeds()) if seeds is None else {**WIDE_SEEDS, **seeds}[(b, f, n)]
    return dict(seed=seed, x_batch=draw(batches(b, f)), num_layers=n, features=f)


@st.composite
def derivative_cases(draw, seeds=None) -> dict:
    """:func:`forward_cases` plus ``direction``, a cotangent or tangent (B, F) float32 (:func:`directions`)."""
    case = draw(forward_cases(seeds))
    b, f = np.shape(case["x_batch"])
    case["direction"] = draw(_directions(b, f))
    return case


@st.composite
def stacked_cases(draw, with_cotangents: bool = False) -> dict:
    """``dict(seed, x_batch, num_layers, features, more_batches[, cotangents])``: a valid call plus K - 1 more batches
    of its shape (``more_batches``, (K - 1, B, F)), K = :data:`STACK`, stacked under vmap as ``[x_batch, *more]``;
    ``cotangents`` (K, B*F), one per batch."""
    b, f, n = draw(S.transform_shapes(TRANSFORM_BUCKETS, WIDE_SHAPES))
    case = dict(seed=draw(S.int_seeds()), x_batch=draw(batches(b, f)), num_layers=n, features=f,
                more_batches=np.stack([draw(batches(b, f)) for _ in range(STACK - 1)]))
    if with_cotangents:
        case["cotangents"] = np.stack([_flat(draw(_directions(b, f))) for _ in range(STACK)])
    return case


def _flat(direction) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(direction, np.float32).reshape(-1))


def _stack(x_batch, more_batches) -> np.ndarray:
    return np.ascontiguousarray(np.concatenate([np.asarray(x_batch)[None], more_batches]))


# -- jit and vmap of the forward pass ----------------------------------------------------------------------------------


@prop(TRANSFORMS, forward_cases(seeds=JIT_SEEDS), weight=0.4)
def jit_matches_eager(impl, seed, x_batch, num_layers, features):
    """``jax.jit(lambda x: f(seed, x, N, F))(x)`` equals the eager call ``f(seed, x, N, F)`` (x a ``jax.Array``):
    same shape and dtype, every row within the forward tolerance for two evaluations (``2 C sigma``).

    Catches: Python control flow on values (``if float(x.max()) ...``), NumPy conversions of the input (tracers
    cannot be converted), code that takes another path when staged out (a different precision under jit).
    """
    b, f = np.shape(x_batch)
    reply = _op(impl, "jit", seed=seed, x_batch=x_batch, num_layers=num_layers, features=features)
    eager = output_matrix(Returned(reply["eager"]), b, f)
    jitted = output_matrix(Returned(reply["jit"]), b, f)
    e_dtype, j_dtype = Returned(reply["eager"]).dtype, Returned(reply["jit"]).dtype
    assert e_dtype == j_dtype, f"jax.jit changes the output dtype: {j_dtype} under jit, {e_dtype} eager"
    assert_some_nonzero(eager, "jit_matches_eager")
    scale = self_scale(seed, x_batch, num_layers, features, np.float32, eager)
    assert_rows_close(jitted, eager, scale=scale, label="jax.jit(f)(x) vs f(x)")


@prop(TRANSFORMS, stacked_cases(), weight=0.4)
def vmap_matches_stacked_calls(impl, seed, x_batch, num_layers, features, more_batches):
    """``jax.vmap(lambda x: f(seed, x, N, F))`` over a stack of K = 3 batches (K, B, F) returns (K, B*F) whose k-th
    row equals the eager call on batch k, within the forward tolerance for two evaluations (``2 C sigma``).

    Catches: implementations that cannot be batched (a host callback without a vmap rule, Python control flow on
    values, NumPy conversions), custom batching rules that mix up the stacked batches or their rows.
    """
    x_stack = _stack(x_batch, more_batches)
    k, b, f = np.shape(x_stack)
    reply = _op(impl, "vmap", seed=seed, x_stack=x_stack, num_layers=num_layers, features=features)
    stacked = np.stack([output_matrix(Returned(out), b, f) for out in reply["stacked"]])
    mapped = Returned(reply["vmapped"])
    arr = np.asarray(mapped)
    assert arr.shape == (k, b * f), f"jax.vmap over {k} batches returned shape {arr.shape}, expected ({k}, {b * f})"
    mapped = arr.astype(np.float64).reshape(k, b, f)
    assert_some_nonzero(stacked, "vmap_matches_stacked_calls")
    for i in range(k):
        scale = self_scale(seed, x_stack[i], num_layers, features, np.float32, stacked[i])
        assert_rows_close(mapped[i], stacked[i], scale=scale, label=f"jax.vmap(f)(xs)[{i}] vs f(xs[{i}])")


# -- derivatives against the oracle ------------------------------------------------------------------------------------


@prop(TRANSFORMS, derivative_cases(), weight=0.8)
def vjp_matches_oracle(impl, seed, x_batch, num_layers, features, direction):
    """Reverse mode: for a cotangent w, the pullback of ``jax.vjp(lambda x: f(seed, x, N, F), x)`` at w, i.e.
    ``d<f(x), w>/dx``, equals the oracle's explicit float64 backward pass (``composed.oracle.vjp``: relu masks from
    the oracle's pre-activations, transposed kernels, last layer first), row by row within ``C_GRAD`` times the
    propagated rounding scale; rows with a pre-activation within rounding of a relu kink are excluded. The primal
    output of ``jax.vjp`` matches the forward oracle too.

    Catches: a hand-written backward pass (``jax.custom_vjp``) that forgets the relu mask, scales the gradient, uses
    the untransposed kernel; ``stop_gradient`` on the input; a ``custom_jvp`` rule that is wrong.
    """
    b, f = np.shape(x_batch)
    w = _flat(direction)
    reply = _op(impl, "vjp", seed=seed, x_batch=x_batch, num_layers=num_layers, features=features, cotangent=w)
    assert_matches_oracle(Returned(reply["out"]), seed, x_batch, num_layers, features, label="output of jax.vjp")
    cmp = compare_vjp(reply["vjp"], seed, x_batch, num_layers, features, w)
    assert_derivative(cmp, label="the VJP d<f(x), w>/dx", what="the oracle's float64 backward pass")
    require_informative(cmp, "vjp_matches_oracle")


@prop(TRANSFORMS, derivative_cases(), weight=0.8)
def jvp_matches_oracle(impl, seed, x_batch, num_layers, features, direction):
    """Forward mode: ``jax.jvp(lambda x: f(seed, x, N, F), (x,), (t,))`` along a tangent t equals the oracle's
    explicit float64 forward-mode pass (``composed.oracle.jvp``: ``t_n = m_n * (t_{n-1} @ K_n)``), row by row within
    ``C_GRAD`` times the propagated rounding scale, rows near a relu kink excluded. The primal output matches the
    forward oracle too.

    A ``jax.custom_vjp`` implementation cannot be differentiated in forward mode (``jax.jvp`` raises by JAX's design,
    correct or not): its J t is computed as the transpose of its own VJP (``jax.linear_transpose``), recorded with
    ``event``, so its reverse mode is checked along a second direction.

    Catches: a wrong ``jax.custom_jvp`` rule, ``stop_gradient`` on the input, a wrong custom VJP (via the transpose).
    """
    b, f = np.shape(x_batch)
    t = np.ascontiguousarray(direction)
    reply = _op(impl, "jvp", seed=seed, x_batch=x_batch, num_layers=num_layers, features=features, tangent=t)
    _note(f"jvp computed by: {reply['via']}")
    assert_matches_oracle(Returned(reply["out"]), seed, x_batch, num_layers, features, label="output of jax.jvp")
    cmp = compare_jvp(reply["jvp"], seed, x_batch, num_layers, features, t)
    how = "" if reply["via"] == "jax.jvp" else f" (computed as the {reply['via']})"
    assert_derivative(cmp, label="the JVP J t", what="the oracle's float64 forward-mode pass", context=how)
    require_informative(cmp, "jvp_matches_oracle")


@prop(TRANSFORMS, derivative_cases(), weight=0.4)
def grad_matches_vjp(impl, seed, x_batch, num_layers, features, direction):
    """``jax.grad`` of the scalar loss ``sum(f(seed, x, N, F) * w)`` equals the VJP at w (both of the
    implementation), row by row within ``2 C_GRAD sigma``, rows near a relu kink excluded.

    Catches: gradients that break or change when the output is reduced to a scalar (a custom rule that only works for
    some cotangents, a rule that cannot be transposed).
    """
    w = _flat(direction)
    kwargs = dict(seed=seed, x_batch=x_batch, num_layers=num_layers, features=features, cotangent=w)
    vjp = _op(impl, "vjp", **kwargs)["vjp"]
    assert vjp is not None, "jax.vjp's output does not have the shape (B*F,) of the cotangent"
    grad = _op(impl, "grad", **kwargs)["grad"]
    cmp = compare_vjp_pair(grad, vjp, seed, x_batch, num_layers, features, w)
    assert_derivative(cmp, label="jax.grad(sum(f(x) * w))", what="the VJP at w")
    require_informative(cmp, "grad_matches_vjp")


# -- compositions ------------------------------------------------------------------------------------------------------


@prop(TRANSFORMS, derivative_cases(seeds=JIT_SEEDS), weight=0.4)
def jit_grad_matches_grad(impl, seed, x_batch, num_layers, features, direction):
    """``jax.jit(jax.grad(loss))`` equals ``jax.grad(loss)`` for ``loss(x) = sum(f(seed, x, N, F) * w)``, row by row
    within ``2 C_GRAD sigma``, rows near a relu kink excluded: staging the derivative out does not change it.

    Catches: a backward pass that takes another path when jitted (another precision, Python control flow on values).
    """
    w = _flat(direction)
    reply = _op(impl, "jit_grad", seed=seed, x_batch=x_batch, num_layers=num_layers, features=features, cotangent=w)
    cmp = compare_vjp_pair(reply["jit_grad"], reply["grad"], seed, x_batch, num_layers, features, w)
    assert_derivative(cmp, label="jax.jit(jax.grad(loss))(x)", what="jax.grad(loss)(x)")
    require_informative(cmp, "jit_grad_matches_grad")


@prop(TRANSFORMS, stacked_cases(with_cotangents=True), weight=0.4)
def vmap_grad_matches_grad(impl, seed, x_batch, num_layers, features, more_batches, cotangents):
    """``jax.vmap(jax.grad(loss))`` over K = 3 stacked (x, w) equals the K gradients taken one by one, for
    ``loss(x, w) = sum(f(seed, x, N, F) * w)``: row by row within ``2 C_GRAD sigma``, rows near a relu kink excluded.

    Catches: a backward pass that cannot be batched or whose batching rule mixes up the stacked batches.
    """
    x_stack = _stack(x_batch, more_batches)
    k, b, f = np.shape(x_stack)
    ws = np.ascontiguousarray(cotangents)
    reply = _op(impl, "vmap_grad", seed=seed, x_stack=x_stack, num_layers=num_layers, features=features,
                cotangents=ws)
    mapped = np.asarray(reply["vmap_grad"])
    assert mapped.shape == (k, b, f), f"jax.vmap(jax.grad(loss)) returned shape {mapped.shape}, expected {(k, b, f)}"
    informative = False
    for i in range(k):
        cmp = compare_vjp_pair(mapped[i], reply["grads"][i], seed, x_stack[i], num_layers, features, ws[i])
        assert_derivative(cmp, label=f"jax.vmap(jax.grad(loss))(xs, ws)[{i}]",
                          what=f"jax.grad(loss)(xs[{i}], ws[{i}])")
        informative = informative or cmp.informative
    _require(informative, "vmap_grad_matches_grad")


def _note(text: str) -> None:
    try:
        from hypothesis import event

        event(text)
    except Exception:  # noqa: BLE001 - outside a Hypothesis test
        pass


def _require(ok: bool, why: str) -> None:
    from hypothesis import assume
    from hypothesis.control import currently_in_test_context

    if currently_in_test_context():
        _note(f"non-vacuous derivative ({why}): {ok}")
        assume(ok)
