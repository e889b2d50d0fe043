"""The transforms tier (issue 11): its derivative oracle, its derivative tolerance, its operations and its skip rule.

* the oracle's explicit backward / forward-mode passes (``composed.oracle.vjp`` / ``jvp``) equal float64 JAX autodiff
  of the same network and satisfy the adjoint identity;
* calibration of ``properties.harness.derivatives``: correct float32 derivatives stay well inside ``C_GRAD sigma``, a
  relative error of 1e-3 is rejected, the near-kink exclusion is measured and stays rare (rows, not cases);
* the operations of ``properties.sandbox.transform_ops`` (the skip rule, failures under a transform, the custom_vjp
  fallback of forward mode, the cache of jitted functions) and the tier's wiring.

By default the calibration uses the tier's own shapes (``TRANSFORM_BUCKETS``, whose programs the tier compiles anyway)
and a few cases each (the file takes ~25 s warm on a busy 2-core machine). Its ``full`` variants, marked ``slow`` (run
by ``pytest --slow`` or ``COMPOSED_SLOW=1``), add wider and deeper shapes (F up to 128, N up to 32, B up to 64) and
more cases per shape (a few minutes).
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import composed
from composed.oracle import jvp as oracle_jvp
from composed.oracle import relu_masks
from composed.oracle import vjp as oracle_vjp
from properties.api import FAILED, PASSED, SKIPPED, run_property
from properties.harness import derivatives as D
from properties.invariants import PROPERTIES, TIERS, TRANSFORMS
from properties.invariants.transforms import JIT_SEEDS, TRANSFORM_BUCKETS
from properties.sandbox import transform_ops as T
from properties.sandbox.loader import load

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
from sampling import draw  # noqa: E402 (tests/ on sys.path first)

#: Shapes of the calibration: the tier's own; the ``full`` (slow) variants add wider and deeper ones.
SHAPES = list(TRANSFORM_BUCKETS)
WIDE = [(8, 2, 4), (16, 4, 5), (1, 16, 32), (16, 32, 12), (8, 64, 16), (32, 64, 8), (16, 128, 24), (64, 128, 32)]
#: (shapes, cases per shape) of the calibration tests.
SCALES = [pytest.param((SHAPES, 3), id="tier-shapes"),
          pytest.param((SHAPES + WIDE, 12), id="full", marks=pytest.mark.slow)]
CUSTOM_VJP = load(str(HERE / "candidates" / "custom_vjp.py"))
TIER_PROPS = [name for name, p in PROPERTIES.items() if p.tier == TRANSFORMS]


def _cases(per_shape, seed, shapes=None):
    """(seed, x, N, F, w, t): rows and directions with per-row magnitudes 1e-3..1e3, some rows zero or repeated."""
    rng = np.random.default_rng(seed)
    for b, f, n in shapes or SHAPES:
        for _ in range(per_shape):
            x = rng.uniform(-1, 1, (b, f)) * 10.0 ** rng.integers(-3, 4, (b, 1))
            if b > 2:
                x[rng.integers(b)] = 0.0  # a zero row: exactly at every kink of the first layer (excluded)
                x[rng.integers(b)] = x[0]
            w = rng.normal(size=(b, f)) * 10.0 ** rng.integers(-3, 4, (b, 1))
            t = rng.normal(size=(b, f)) * 10.0 ** rng.integers(-3, 4, (b, 1))
            yield (int(rng.integers(-(2**40), 2**40)), x.astype(np.float32), n, f, w.astype(np.float32),
                   t.astype(np.float32))


def _vjp(impl, seed, x, n, f, w):
    reply = T.vjp(impl, seed, x, n, f, cotangent=w.reshape(-1))
    return reply["vjp"]


def _jvp(impl, seed, x, n, f, t):
    return T.jvp(impl, seed, x, n, f, tangent=t)["jvp"]


# --- the oracle ------------------------------------------------------------------------------------------------------


def test_oracle_derivatives_match_float64_autodiff():
    """composed.oracle.vjp / jvp equal jax.vjp / jax.jvp of the same network in float64 (x64), to ~1e-12."""
    with jax.enable_x64(True):
        for seed, x, n, f, w, t in _cases(1, seed=3, shapes=SHAPES + [(4, 7, 0), (2, 5, 1)]):
            kernel, bias = composed.params(seed, n, f)
            x64 = x.astype(np.float64)

            def net(h):
                for k, b in zip(kernel, bias):
                    h = jax.nn.relu(h @ jnp.asarray(k, jnp.float64) + jnp.asarray(b, jnp.float64))
                return h.reshape(-1)

            g = np.asarray(jax.vjp(net, x64)[1](w.reshape(-1).astype(np.float64))[0])
            jt = np.asarray(jax.jvp(net, (x64,), (t.astype(np.float64),))[1])
            assert g.dtype == np.float64
            got_g, got_jt = oracle_vjp(seed, x, n, f, w), oracle_jvp(seed, x, n, f, t)
            assert np.max(np.abs(g - got_g), initial=0) <= 1e-12 * np.max(np.abs(g), initial=1e-300)
            assert np.max(np.abs(jt - got_jt), initial=0) <= 1e-12 * np.max(np.abs(jt), initial=1e-300)


def test_oracle_adjoint_identity_and_conventions():
    """<w, J t> = <J^T w, t> row by row; N = 0 is the identity; the mask is 0 at z == 0 (JAX's relu)."""
    for seed, x, n, f, w, t in _cases(2, seed=4):
        jt = oracle_jvp(seed, x, n, f, t).reshape(x.shape)
        g = oracle_vjp(seed, x, n, f, w.reshape(-1))
        lhs = np.sum(w.astype(np.float64) * jt, axis=1)
        rhs = np.sum(g * t.astype(np.float64), axis=1)
        assert np.allclose(lhs, rhs, rtol=1e-10, atol=1e-300)
    x = np.ones((2, 3), np.float32)
    assert np.array_equal(oracle_vjp(0, x, 0, 3, np.arange(6.0)), np.arange(6.0).reshape(2, 3))
    assert np.array_equal(oracle_jvp(0, x, 0, 3, np.arange(6.0).reshape(2, 3)), np.arange(6.0))
    zero = np.zeros((1, 3), np.float32)
    assert not any(m.any() for m in relu_masks(0, zero, 2, 3))  # z == 0 exactly (zero biases): mask 0
    assert not oracle_vjp(0, zero, 2, 3, np.ones(3)).any()


# --- calibration of the derivative tolerance --------------------------------------------------------------------------


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", ["fast", "pure_jax", "custom_vjp"])
def test_correct_float32_derivatives_stay_well_inside(name, scale):
    """Correct float32 VJPs and JVPs reach at most C_GRAD / 4 (custom_vjp's JVP is its transposed VJP; the calibration
    over the derivative boundary set is tests/test_derivative_tolerance.py)."""
    impl = CUSTOM_VJP if name == "custom_vjp" else composed.IMPLEMENTATIONS[name]
    worst = 0.0
    shapes, per_shape = scale
    for seed, x, n, f, w, t in _cases(per_shape, seed=sum(map(ord, name)), shapes=shapes):
        for cmp in (D.compare_vjp(_vjp(impl, seed, x, n, f, w), seed, x, n, f, w),
                    D.compare_jvp(_jvp(impl, seed, x, n, f, t), seed, x, n, f, t)):
            assert cmp.passed
            worst = max(worst, cmp.worst_ratio())
    assert 0 < worst < D.C_GRAD / 4, f"{name}: err/sigma reached {worst:.3g} (C_GRAD = {D.C_GRAD})"


@pytest.mark.parametrize("scale", SCALES)
def test_relative_error_1e3_in_the_derivatives_is_rejected(scale):
    """A derivative off by a relative 1e-3 fails in >= 98% of the compared rows with a non-zero Jacobian."""
    impl = composed.composed_transforms
    rows = rejected = 0
    shapes, per_shape = scale
    for seed, x, n, f, w, t in _cases(per_shape, seed=1, shapes=shapes):
        pairs = ((_vjp(impl, seed, x, n, f, w), D.compare_vjp, w), (_jvp(impl, seed, x, n, f, t), D.compare_jvp, t))
        for got, compare, direction in pairs:
            good = compare(got, seed, x, n, f, direction)
            assert good.passed
            live = ~good.near_kink & ~good.vacuous
            bad = compare(np.asarray(got, np.float64) * (1 + 1e-3), seed, x, n, f, direction)
            rows += int(live.sum())
            rejected += int((live & ~bad.ok).sum())
    assert rows >= 40
    assert rejected / rows >= 0.98, f"1e-3 rejected in only {rejected}/{rows} rows"


@pytest.mark.parametrize("scale", SCALES)
def test_near_kink_exclusion_is_measured_and_rare(scale):
    """Rows near a relu kink (beyond zero rows, which are always excluded) are a small fraction, and excluding rows
    instead of cases keeps almost every case."""
    shapes, per_shape = scale
    shapes = shapes + [s for s in [(16, 32, 12), (8, 64, 16)] if s not in shapes]  # oracle only: cheap
    near = total = cases = emptied = 0
    for seed, x, n, f, _, _ in _cases(per_shape, seed=2, shapes=shapes):
        flagged = D.near_kink_rows(seed, x, n, f)
        nonzero = np.any(x != 0, axis=1)
        assert flagged[~nonzero].all(), "a zero row is exactly at the kink: it must be excluded"
        near += int((flagged & nonzero).sum())
        total += int(nonzero.sum())
        cases += 1
        emptied += bool(flagged.all())
    assert near / total < 0.05, f"{near}/{total} non-zero rows near a kink"
    assert emptied / cases < 0.1, f"{emptied}/{cases} cases with every row excluded"


# --- the operations and the skip rule --------------------------------------------------------------------------------


def test_numpy_loop_skips_every_transforms_property_with_the_reason():
    impl = composed.IMPLEMENTATIONS["numpy_loop"]
    for name in TIER_PROPS:
        outcome = run_property(impl, name, max_examples=1)
        assert outcome.kind == SKIPPED, (name, outcome.kind, outcome.message)
        assert "not a JAX implementation" in outcome.message and "numpy.ndarray" in outcome.message, outcome.message


def _torch_like(seed, x_batch, num_layers, features):
    """Raises on a jax.Array (as a PyTorch implementation might), returns NumPy on NumPy input."""
    if isinstance(x_batch, jax.Array):
        raise TypeError("expected a numpy array or a tensor")
    return composed.IMPLEMENTATIONS["numpy_loop"](seed, x_batch, num_layers, features)


def _jax_but_not_on_jax_arrays(seed, x_batch, num_layers, features):
    """A JAX implementation (returns a jax.Array) that refuses jax.Array input: a failure, not a skip."""
    if isinstance(x_batch, jax.Array):
        raise TypeError("x_batch must be a NumPy array")
    return composed.composed_transforms(seed, x_batch, num_layers, features)


def _branches_on_values(seed, x_batch, num_layers, features):
    """Python control flow on the input's values: fine eagerly, raises under every transform."""
    if float(jnp.abs(jnp.asarray(x_batch)).max()) > 1e30:
        raise ValueError("too large")
    return composed.composed_transforms(seed, x_batch, num_layers, features)


def test_what_counts_as_a_jax_implementation():
    x = np.ones((2, 3), np.float32)
    assert T.is_jax(composed.composed_transforms, 0, x, 2, 3) == {"is_jax": True, "reason": None}
    assert not T.is_jax(composed.IMPLEMENTATIONS["numpy_loop"], 0, x, 2, 3)["is_jax"]
    reply = T.is_jax(_torch_like, 0, x, 2, 3)
    assert not reply["is_jax"] and "raised TypeError" in reply["reason"] and "numpy.ndarray" in reply["reason"]
    assert T.is_jax(_jax_but_not_on_jax_arrays, 0, x, 2, 3)["is_jax"]
    assert "skip" in T.vjp(_torch_like, 0, x, 2, 3, cotangent=np.ones(6, np.float32))
    with pytest.raises(TypeError, match="must be a NumPy array"):
        T.jit(_jax_but_not_on_jax_arrays, 0, x, 2, 3)


@pytest.mark.parametrize("prop", ["jit_matches_eager", "vjp_matches_oracle"])
def test_a_jax_implementation_failing_under_a_transform_fails(prop):
    outcome = run_property(_branches_on_values, prop, max_examples=2, shrink=False)
    assert outcome.kind == FAILED, outcome
    assert "ConcretizationTypeError" in outcome.message or "TracerBoolConversionError" in outcome.message, \
        outcome.message


def test_forward_mode_of_a_custom_vjp_goes_through_its_transposed_vjp():
    seed, x, n, f, w, t = next(_cases(1, seed=5, shapes=[(3, 3, 3)]))
    with pytest.raises(TypeError, match="custom_vjp"):
        jax.jvp(lambda xx: CUSTOM_VJP(seed, xx, n, f), (jnp.asarray(x),), (jnp.asarray(t),))
    reply = T.jvp(CUSTOM_VJP, seed, x, n, f, tangent=t)
    assert reply["via"] == T.VIA_TRANSPOSED_VJP
    assert D.compare_jvp(reply["jvp"], seed, x, n, f, t).passed
    assert T.jvp(composed.composed_transforms, seed, x, n, f, tangent=t)["via"] == "jax.jvp"


def test_jitted_functions_are_built_once_per_seed_and_shape():
    calls = []

    def counted(seed, x_batch, num_layers, features):
        calls.append(type(x_batch).__name__)
        return composed.IMPLEMENTATIONS["pure_jax"](seed, x_batch, num_layers, features)

    x = np.ones((2, 3), np.float32)
    for value in (1.0, 2.0, 3.0):
        reply = T.jit(counted, 7, x * value, 2, 3)
        assert np.allclose(reply["eager"]["array"], reply["jit"]["array"], rtol=1e-6)
    traced = [c for c in calls if "Tracer" in c]
    assert len(traced) == 1, calls  # one trace, three eager calls
    T.jit(counted, 8, x, 2, 3)
    assert len([c for c in calls if "Tracer" in c]) == 2  # another seed: another program


def test_custom_vjp_candidate_passes_the_tier():
    for name in TIER_PROPS:
        outcome = run_property(CUSTOM_VJP, name, max_examples=1)
        assert outcome.kind == PASSED, (name, outcome.message[:2000])


# --- wiring ----------------------------------------------------------------------------------------------------------


def test_tier_wiring():
    from properties.runner.cli import build_parser

    assert TRANSFORMS == "transforms" and TRANSFORMS in TIERS
    assert set(TIER_PROPS) == {"jit_matches_eager", "vmap_matches_stacked_calls", "vjp_matches_oracle",
                               "jvp_matches_oracle", "grad_matches_vjp", "jit_grad_matches_grad",
                               "vmap_grad_matches_grad"}
    assert build_parser().parse_args(["--tier", "transforms"]).tier == "transforms"
    assert set(JIT_SEEDS) == set(TRANSFORM_BUCKETS)
    import properties.test_properties as tp

    for name in TIER_PROPS:
        marks = {m.name for m in getattr(getattr(tp, f"test_{name}"), "pytestmark", [])}
        assert TRANSFORMS in marks and not marks & {"core", "strict"}, (name, marks)


# --- the tier's wide draws and the derivative boundary set (issue 15) ------------------------------------------------


def test_tier_strategies_reach_large_shapes_in_a_small_share():
    """About one case in 20 has a large shape of the derivative boundary set (by default its every-run shapes: B = 257,
    F = 129, N = 65), recorded with ``event``; the rest are the tier's buckets (each new shape is a compile per
    transform: the share keeps the default run fast)."""
    import hypothesis

    from properties.invariants.transforms import derivative_cases

    kinds = []
    original = hypothesis.event
    hypothesis.event = lambda text, payload="": kinds.append(str(text))
    try:
        drawn = draw(derivative_cases(), 300)
    finally:
        hypothesis.event = original
    kind = [k.split(": ", 1)[1] for k in kinds if k.startswith("transforms case kind: ")]
    share = np.mean([k != "bucket" for k in kind])
    assert len(kind) >= len(drawn) and 0.01 <= share <= 0.15, f"{share:.1%} of {len(kind)} draws wide"
    big = [c for c in drawn if (c["x_batch"].shape + (c["num_layers"],)) not in TRANSFORM_BUCKETS]
    assert big, "no wide derivative case drawn"
    for c in big:
        b, f = c["x_batch"].shape
        assert c["direction"].shape == (b, f) and np.all(c["x_batch"] != 0) and np.all(np.isfinite(c["direction"]))
    from properties.invariants.transforms import WIDE_SHAPES

    from properties.harness import strategies as S

    assert {c["x_batch"].shape + (c["num_layers"],) for c in big} <= set(WIDE_SHAPES)
    reached = {s for s in draw(S.transform_shapes(TRANSFORM_BUCKETS, WIDE_SHAPES), 200)} - set(TRANSFORM_BUCKETS)
    assert reached == set(WIDE_SHAPES), (reached, WIDE_SHAPES)
    assert max(s[0] for s in reached) >= 257 and max(s[1] for s in reached) >= 129 and max(s[2] for s in reached) >= 65


def test_derivative_boundary_set_is_well_formed():
    """Names are the cases; every-run covers each transform at a wide batch past a chunk, a wide layer past a tile and
    a depth past 64, on shared shapes (one seed a shape: one compile a shape per transform); the whole set reaches B,
    F >= 257, N >= 129, stacks of 17 and derivatives 1e-30 .. 1e30."""
    from properties.invariants import transforms_boundary as TB

    every = TB.EVERY_RUN
    assert {c.transform for c in every} == set(TB.TRANSFORM_NAMES)
    assert any(c.rows > 64 and c.rows % 64 and c.features > 128 and c.features % 128 for c in every
               if c.transform == "vjp")
    assert any(c.layers > 64 for c in every if c.transform == "vjp")
    assert any(c.features > 128 for c in every if c.transform == "jvp")
    assert any(c.stack > 8 for c in every if c.transform == "vmap_grad")
    assert len({c.shape for c in every}) <= 2
    assert max(c.rows for c in TB.CASES) >= 257 and max(c.features for c in TB.CASES) >= 257
    assert max(c.layers for c in TB.CASES) >= 129 and max(c.stack for c in TB.CASES) >= 17
    assert {"1e-30", "1e30", "mix"} <= {c.magnitude for c in TB.CASES}
    for c in every:
        call = TB.build(c.name)
        assert call["x_batch"].shape == call["direction"].shape == ((c.stack,) if c.stack > 1 else ()) + (c.rows,
                                                                                                          c.features)
        assert c.name.startswith(f"{c.transform}-B{c.rows}-F{c.features}-N{c.layers}")


#: Each derivative-edge mutant, the every-run case that rejects it, and a case it passes (it is wrong only past the
#: edge): the boundary set rejects it at that edge, not elsewhere.
EDGE_KILLS = [
    ("vjp_drops_partial_tile", "vjp-B257-F129-N2-mag1", "vjp-B5-F33-N65-mag1e10"),
    ("vjp_mask_stops_past_64", "vjp-B5-F33-N65-mag1e10", "vjp-B257-F129-N2-mag1"),
    ("vjp_row_chunk_tail_lost", "vjp-B257-F129-N2-mag1", "vjp-B5-F33-N65-mag1e10"),
    ("jvp_wide_layer_tile_dropped", "jvp-B257-F129-N2-mix", "jvp-B5-F33-N65-mag1e-10"),
    ("vmap_grad_wrong_past_8_stacked", "vmap_grad-B5-F33-N65-K9-mag1", "vjp-B257-F129-N2-mag1"),
]


@pytest.mark.parametrize("mutant,kills,passes", EDGE_KILLS, ids=[m for m, _, _ in EDGE_KILLS])
def test_derivative_edge_mutants_die_at_their_edge(mutant, kills, passes):
    from mutants import derivative_edges
    from properties.invariants import TRANSFORMS_BOUNDARY

    from properties.harness.proxy import open_candidate

    impl = open_candidate(getattr(derivative_edges, mutant))
    TRANSFORMS_BOUNDARY.check(impl, name=passes)
    with pytest.raises(AssertionError, match="differs from the oracle"):
        TRANSFORMS_BOUNDARY.check(impl, name=kills)
