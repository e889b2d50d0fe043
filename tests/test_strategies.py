"""Meta-tests of ``properties.harness.strategies``: the drawn cases reach the edges the suite promises, and rarely collapse.

Each test samples a strategy with a fixed, derandomized Hypothesis run (``phases=[generate]``, no database), so it is
deterministic whatever the profile, and asserts on what was drawn: seeds negative, zero, beyond 2**32, at +-2**63 and
fractional; B from 1 to 16, F from 1 to 16, N from 0 to 8 with fractional counts; the wide domain (B up to 1025+,
F up to 513+, N up to 129+, one axis at a time, edge sizes and arbitrary ones) at a small share of the general cases;
row magnitudes from 1e-3 to 1e3, and extreme output magnitudes from 1e-30 to the max safe scale (outputs above 65504,
inputs below 1e-20); deep draws that do not collapse; zero, repeated and all-negative rows; every dtype, violation and
B = 0 of the strict tier. The assertions are on classes of values (the edges reached, shares within bounds), not on
one derandomized stream's exact draws, so a change to a strategy does not break them by reshuffling the stream.

Non-collapse: with lecun-normal kernels and relu a narrow layer kills a row, so some drawn cases have an all-zero
oracle output; properties discard those with ``hypothesis.assume`` (see ``properties.harness.tolerance.assert_some_nonzero``).
The share is measured here per property (0.02-0.40 when this was written, 0.22 over ``cases()``) and must stay under
0.45 (Hypothesis then runs about 1.8x the examples it keeps).
"""

from __future__ import annotations

import inspect
import math
from functools import cache

import numpy as np
import pytest

import composed
from sampling import draw
from properties.harness import strategies as S
from properties.invariants import PROPERTIES

PROPS = PROPERTIES
SAMPLE = 400


def sample(strategy, n: int = SAMPLE) -> list:
    """``n`` values of ``strategy`` from a derandomized Hypothesis run (deterministic)."""
    drawn = draw(strategy, n)
    assert len(drawn) >= n // 2, f"only {len(drawn)} values drawn"
    return drawn


@cache
def _cases_and_kinds() -> tuple[list[dict], list[str]]:
    """400 general cases, and the kind of case each draw recorded with ``event`` (bucket, wide B/F/N, extreme)."""
    import hypothesis

    kinds: list[str] = []
    original = hypothesis.event

    def record(text, payload=""):
        if str(text).startswith("case kind: "):
            kinds.append(str(text).split(": ", 1)[1])

    hypothesis.event = record
    try:
        drawn = sample(S.cases())
    finally:
        hypothesis.event = original
    return drawn, kinds


def cases() -> list[dict]:
    return _cases_and_kinds()[0]


# --- seeds ---------------------------------------------------------------------------------------------------------


def test_seed_strategy_reaches_every_listed_edge():
    seeds = sample(S.seeds())
    ints = [s for s in seeds if isinstance(s, int)]
    missing = [e for e in S.SEED_EDGES if e not in ints]
    assert not missing, f"seed edges never drawn: {missing}"
    big = {s for s in ints if abs(s) > 2**32} - set(S.SEED_EDGES)
    assert big, "no seed beyond 2**32 apart from the edge list"


def test_seeds_in_cases_reach_the_edges():
    """Within whole cases (seeds drawn beside shapes and values) the edge classes are still reached."""
    seeds = [c["seed"] for c in cases()]
    ints = [s for s in seeds if isinstance(s, int)]
    fractional = [s for s in seeds if isinstance(s, float) and s != int(s)]
    assert 0 in ints
    assert any(s < 0 for s in ints)
    assert any(s >= 2**32 for s in ints) and any(s <= -(2**31) for s in ints)
    assert any(abs(s) >= 2**62 for s in ints), "a seed near +-2**63"
    assert all(-(2**63) <= int(s) < 2**63 for s in seeds)
    assert any(s > 0 for s in fractional) and any(s < 0 for s in fractional)
    assert any(-1 < s < 0 for s in fractional), "a seed in (-1, 0) truncates to 0"
    assert len(fractional) >= 0.1 * len(seeds), f"{len(fractional)} fractional seeds of {len(seeds)}"
    # Hypothesis re-uses values across a run: 59 distinct seeds in 400 cases when this was written.
    assert len(set(seeds)) >= 0.1 * len(seeds), f"only {len(set(seeds))} distinct seeds in {len(seeds)} cases"


# --- shapes and counts -----------------------------------------------------------------------------------------------


def _shape(c):
    return c["x_batch"].shape[0], c["x_batch"].shape[1], int(c["num_layers"])


def _is_wide(shape) -> bool:
    b, f, n = shape
    return b > 16 or f > 16 or n > 8


def test_shapes_are_buckets_or_one_large_axis():
    """Every general case is a bucket's shape, or a bucket with exactly one axis made large (never all at once)."""
    for c in cases():
        shape = _shape(c)
        if shape in S.SHAPE_BUCKETS:
            continue
        b, f, n = shape
        assert b <= S.MAX_B and f <= S.MAX_F and n <= S.MAX_N, shape
        if n > 8:  # a deep draw: F from DEEP_F (wide enough to survive, at most 33), B from a bucket
            assert f in S.DEEP_F and b <= 16, f"{shape}: a deep draw with a large B or a narrow F"
        else:
            assert (b > 16) + (f > 16) == 1, f"{shape}: not a bucket with one large axis"
        if f > S.WIDE_F_DEEP_LIMIT:
            assert n <= (2 if f > 2 * S.WIDE_F_DEEP_LIMIT else 4), f"{shape}: wide F with a deep N (the error model's cost)"


def test_shapes_cover_the_buckets():
    """Most buckets are drawn (Hypothesis's draws from 16 buckets are far from uniform: one got 7 of 400 draws, another
    0, when measured), and B, F, N span their bucket ranges."""
    shapes = {_shape(c) for c in cases()}
    buckets = shapes & set(S.SHAPE_BUCKETS)
    assert len(buckets) >= 0.75 * len(S.SHAPE_BUCKETS), f"buckets never drawn: {sorted(set(S.SHAPE_BUCKETS) - shapes)}"
    bs = {b for b, _, _ in buckets}
    fs = {f for _, f, _ in buckets}
    ns = {n for _, _, n in buckets}
    assert min(bs) == 1 and max(bs) >= 16
    assert min(fs) == 1 and max(fs) >= 16
    assert len(ns) >= 7 and 0 in ns and max(ns) == 8, f"depths drawn: {sorted(ns)}"


def test_wide_shapes_reach_the_large_sizes_one_axis_at_a_time():
    """The wide draws themselves: B beyond 1024, F beyond 512, N beyond 128, from the edge lists (2^k - 1, 2^k,
    2^k + 1) and arbitrary sizes in range, each axis about a third of the time."""
    drawn = sample(S.fresh_wide_shapes(), 300)
    by_axis = {axis: [s[:3] for s in drawn if s[3] == axis] for axis in "BFN"}
    assert all(len(v) >= 50 for v in by_axis.values()), {k: len(v) for k, v in by_axis.items()}
    bs = [b for b, _, _ in by_axis["B"]]
    fs = [f for _, f, _ in by_axis["F"]]
    ns = [n for _, _, n in by_axis["N"]]
    assert max(bs) >= 1025 and max(fs) >= 513 and max(ns) >= 129, (max(bs), max(fs), max(ns))
    for values, edges in ((bs, S.WIDE_B), (fs, S.WIDE_F), (ns, S.WIDE_N)):
        assert len(set(values) & set(edges)) >= 0.5 * len(edges), f"edges drawn: {sorted(set(values) & set(edges))}"
        assert set(values) - set(edges), "no arbitrary size besides the edges"
    assert any(b % 64 and b > 64 for b in bs) and any(f % 128 and f > 128 for f in fs) and any(n > 64 for n in ns)


def test_the_runs_wide_pool_spans_each_axis(monkeypatch):
    """Issue 17: a run draws its wide shapes from a pool of 12 (one per size class and axis, same rules as the fresh
    draws); the fixed pool of a derandomized run reaches the domain mutants' edges (B > 64 off a multiple of 64,
    F > 128 off a multiple of 128, N > 64), and pools of other runs differ and reach the largest sizes."""
    monkeypatch.setenv(S.POOL_ENV, "0")
    pool = [entry for _, entry in S.wide_pool()]
    assert len(pool) == 12 and {a for *_, a in pool} == set("BFN")
    assert set(sample(S.wide_shapes(), 20)) <= set(pool)
    bs = [b for b, _, _, a in pool if a == "B"]
    fs = [f for _, f, _, a in pool if a == "F"]
    ns = [n for _, _, n, a in pool if a == "N"]
    assert any(b % 64 and b > 64 for b in bs) and any(f % 128 and f > 128 for f in fs) and any(n > 64 for n in ns)
    pools = []
    for seed in range(1, 40):
        monkeypatch.setenv(S.POOL_ENV, str(seed))
        pools.append(S.wide_pool())
    assert len({tuple(p) for p in pools}) == len(pools)
    sizes = [e for p in pools for _, e in p]
    assert max(b for b, *_ in sizes) >= 1025 and max(f for _, f, *_ in sizes) >= 513
    assert max(n for _, _, n, _ in sizes) >= 129
    monkeypatch.setenv(S.POOL_ENV, "off")
    assert S.wide_pool() == []


def test_wide_and_extreme_draws_are_a_small_share():
    """About one general case in 20 has a large axis and one in 8 extreme magnitudes (each new shape is a compile of a
    jitted candidate, so the share is what keeps the default profile fast)."""
    _, kinds = _cases_and_kinds()
    assert len(kinds) >= 0.9 * len(cases()), f"{len(kinds)} kinds recorded for {len(cases())} cases"
    wide = np.mean([k.startswith("wide ") for k in kinds])
    extreme = np.mean([k == "extreme magnitudes" for k in kinds])
    # Hypothesis does not draw uniformly (it favours the simplest choice, False, in part of its draws): 1.7% and ~5%
    # were both seen for the same derandomized stream on two machines, so the floor only asserts the share is not nil
    assert 0.01 <= wide <= 0.15, f"{wide:.1%} of the general cases are wide"
    assert 0.04 <= extreme <= 0.25, f"{extreme:.1%} of the general cases have extreme magnitudes"
    assert np.mean([_is_wide(_shape(c)) for c in cases()]) <= wide + 0.01  # shapes agree with the recorded kinds


def _is_extreme(x) -> bool:
    """Rows far outside the buckets' 1e-3..1e3 (an extreme draw, or a bucket row of tiny entries)."""
    rows = np.max(np.abs(np.asarray(x, np.float64)), axis=1)
    rows = rows[rows > 0]
    return bool(rows.size and (rows.max() > 1e4 or rows.min() < 1e-12))


def test_counts_are_consistent_and_sometimes_fractional():
    for c in cases():
        assert int(c["features"]) == c["x_batch"].shape[1]
        assert c["x_batch"].dtype == np.float32 and c["x_batch"].ndim == 2
    layers = [c["num_layers"] for c in cases()]
    feats = [c["features"] for c in cases()]
    frac_layers = [v for v in layers if isinstance(v, float) and v != int(v)]
    frac_feats = [v for v in feats if isinstance(v, float) and v != int(v)]
    assert frac_layers and frac_feats
    zero_layers = [v for v in sample(S.as_count(0), 100) if isinstance(v, float) and v != 0]
    assert zero_layers and all(-1 < v < 0 for v in zero_layers), "a layer count in (-1, 0) means 0 layers"
    assert any(int(v) == 0 for v in layers), "cases with zero layers"
    assert any(v % 1 > 0.5 for v in frac_layers) and any(v % 1 > 0.5 for v in frac_feats), "fractions above .5"
    assert any(isinstance(v, float) and v == int(v) for v in layers), "integral floats (2.0)"
    assert any(isinstance(v, int) for v in layers)


# --- values ----------------------------------------------------------------------------------------------------------


def _rows():
    for c in cases():
        x = c["x_batch"].astype(np.float64)
        for i, row in enumerate(x):
            yield x, i, row


def test_row_magnitudes_span_the_range():
    """Bucket rows 1e-3..1e3 (every decade); extreme rows far beyond both ends, inputs below 1e-20 and above 1e20,
    and nothing non-finite."""
    mags = np.array([np.max(np.abs(row)) for _, _, row in _rows() if np.any(row)])
    assert np.all(np.isfinite(mags))
    decades = {math.floor(math.log10(m)) for m in mags}
    assert decades >= set(range(-3, 3)), f"row magnitudes by decade: {sorted(decades)}"
    assert mags.min() < 1e-20 and mags.max() > 1e20, (mags.min(), mags.max())
    assert len({d for d in decades if d < -10 or d > 10}) >= 6, f"extreme decades drawn: {sorted(decades)}"


def _outputs(c) -> np.ndarray:
    return composed.oracle(c["seed"], c["x_batch"], c["num_layers"], c["features"]).reshape(c["x_batch"].shape)


def test_extreme_outputs_reach_both_ends_without_overflow():
    """Extreme draws give outputs above float16's 65504 and near the max safe scale, and live outputs below 1e-20; the
    float64 oracle stays finite (every row under its max safe scale)."""
    from properties.harness.magnitudes import F32_MAX, max_safe_scale

    extreme = [c for c in cases() if _is_extreme(c["x_batch"])]
    assert len(extreme) >= 15, f"only {len(extreme)} extreme cases"
    top = small = 0.0
    small = np.inf
    for c in extreme:
        out = _outputs(c)
        assert np.all(np.isfinite(out))
        rows = np.max(out, axis=1)
        live = rows[rows > 0]
        if live.size:
            top, small = max(top, live.max()), min(small, live.min())
        safe = max_safe_scale(c["seed"], c["x_batch"], c["num_layers"], c["features"])
        assert np.all(safe >= 1.0), f"a row above its max safe scale: {safe.min():.3g}"
    assert top > 65504 and top > 1e-3 * F32_MAX / 2**10, f"largest output {top:.3g}"
    assert small < 1e-20, f"smallest live output {small:.3g}"


def test_deep_draws_do_not_collapse():
    """Deep wide draws (N > 8) scale each row up by its own decay: live rows keep outputs far above the normal floor
    (1e-30 at the least, the smallest target), and most of them are alive."""
    deep = [c for c in cases() if int(c["num_layers"]) > 8]
    deep += [c for c in _deep_sample() if int(c["num_layers"]) > 8]
    assert len(deep) >= 5, f"only {len(deep)} deep cases"
    alive = 0
    for c in deep:
        rows = np.max(_outputs(c), axis=1)
        assert np.all(rows[rows > 0] > 1e-31), f"a deep row collapsed to {rows[rows > 0].min():.3g}"
        alive += bool(np.any(rows > 0))
    assert alive >= 0.8 * len(deep), f"{alive} of {len(deep)} deep cases alive"


def _deep_sample():
    """Deep draws directly (scaled batches at N = 33 or 129, F = 16 or 33: four parameter sets to build), 20 of them."""
    from hypothesis import strategies as st

    @st.composite
    def deep(draw):
        n = draw(st.sampled_from((33, 129)))
        f = draw(st.sampled_from((16, 33)))
        b = draw(st.sampled_from((1, 3, 8)))
        seed = draw(S.int_seeds())
        x = draw(S.scaled_batches(seed, b, f, n, extreme=False))
        return dict(seed=seed, x_batch=x, num_layers=n, features=f)

    return sample(deep(), 20)


def test_events_record_the_kinds_of_cases(monkeypatch):
    """``--hypothesis-show-statistics`` shows how often each kind of case was drawn (bucket, wide B/F/N, extreme
    magnitudes) and what the extreme ones reached."""
    import hypothesis

    seen = []
    monkeypatch.setattr(hypothesis, "event", lambda text, payload="": seen.append(str(text)))
    sample(S.cases(), 200)
    kinds = {t.split(": ", 1)[1] for t in seen if t.startswith("case kind: ")}
    assert {"bucket", "extreme magnitudes"} <= kinds and any(k.startswith("wide ") for k in kinds), kinds
    assert any(t.startswith("extreme magnitudes: largest output > 65504") for t in seen)
    assert any(t.startswith("wide ") and " size: " in t for t in seen)


def test_rows_zero_repeated_and_all_negative():
    zero = repeated = negative = mixed = 0
    for x, i, row in _rows():
        if not np.any(row):
            zero += x.shape[0] > 1  # a zero row beside others
        elif any(np.array_equal(row, x[j]) for j in range(i)):
            repeated += 1
        if np.all(row < 0):
            negative += 1
        if np.any(row > 0) and np.any(row < 0):
            mixed += 1
    assert zero and repeated and negative and mixed, dict(zero=zero, repeated=repeated, negative=negative, mixed=mixed)


def test_whole_batches_of_one_sign_and_single_rows():
    assert any(c["x_batch"].shape[0] == 1 for c in cases())
    assert any(np.all(c["x_batch"] < 0) and c["x_batch"].size > 1 for c in cases()), "an all-negative batch"


# --- the strict tier's and the properties' own strategies -----------------------------------------------------------


def test_strict_strategies_reach_every_dtype_violation_and_empty_batch():
    from properties.invariants.contract import VIOLATIONS
    from properties.invariants.oracle import DTYPES

    names = {c["dtype_name"] for c in sample(PROPS["dtypes"].strategy, 200)}
    assert names == set(DTYPES), f"dtypes never drawn: {sorted(set(DTYPES) - names)}"
    # One violation per example: 21 of the 24 in 300 derandomized draws when this was written (Hypothesis's draws are
    # far from uniform), which is why properties.invariants.contract.rejects_every_violation tries all of them in every example.
    violations = {c["violation"] for c in sample(PROPS["rejects_invalid_arguments"].strategy, 300)}
    assert len(violations) >= 0.75 * len(VIOLATIONS), f"violations never drawn: {sorted(set(VIOLATIONS) - violations)}"
    assert "rejects_every_violation" in PROPS
    empty = sample(PROPS["empty_batch"].strategy, 50)
    assert all(c["x_batch"].shape[0] == 0 for c in empty)
    assert len({c["x_batch"].shape[1] for c in empty}) > 1


@pytest.mark.parametrize("name", sorted(PROPS))
def test_property_strategy_draws_valid_calls(name):
    """Every property's cases are valid calls under the contract (the violation properties break them later)."""
    checked = 0
    for case in sample(PROPS[name].strategy, 20):
        for call in (case, case.get("first"), case.get("second")):
            if call and {"seed", "x_batch", "num_layers", "features"} <= set(call):
                composed.contract.validate(call["seed"], call["x_batch"], call["num_layers"], call["features"])
                checked += 1
    if name not in ("jaxpr_constant_in_depth", "scan_body_is_batched_matmul"):  # these draw shapes, not calls
        assert checked >= 10


# --- non-collapse: how often the oracle output is all zero ----------------------------------------------------------


def _all_zero(case) -> bool:
    x = np.asarray(case["x_batch"])
    if x.dtype != np.float32:
        x = x.astype(np.float32)
    return not np.any(composed.oracle(case["seed"], x, case["num_layers"], case["features"]))


def test_all_zero_outputs_are_bounded_over_cases():
    zero = np.mean([_all_zero(c) for c in cases()])
    assert zero < 0.35, f"{zero:.0%} of drawn cases have an all-zero oracle output"


ASSUMING = sorted(name for name, p in PROPS.items() if "assert_some_nonzero" in inspect.getsource(p.check))


def test_the_properties_that_discard_are_the_expected_ones():
    assert {"matches_oracle", "positive_homogeneity", "seed_semantics", "batch_locality"} <= set(ASSUMING)


#: Checked by every run: the properties whose strategies discard the most (the rest under ``pytest --slow``).
DISCARD_EVERY_RUN = {"matches_oracle", "batch_locality", "positive_homogeneity", "seed_semantics"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=[] if n in DISCARD_EVERY_RUN else [pytest.mark.slow])
                                  for n in ASSUMING])
def test_discard_rate_about_40_percent_at_most(name):
    """The share of a property's cases that ``assume`` discards (all-zero oracle output) stays under 45%.

    Measured (120 derandomized draws): batch_locality 0.40, the others 0.02-0.25. The discards come from the F <= 2
    buckets: with F = 1 and N >= 2 the output is relu(k_N h) with h >= 0, zero whenever the last kernel k_N <= 0, so
    (5, 1, 2) is dead at least half the time; (8, 2, 4) and (2, 2, 2) about as often. Hypothesis counts only the
    examples it keeps towards max_examples, so discards cost time, not coverage.
    """
    drawn = sample(PROPS[name].strategy, 120)
    rate = np.mean([_all_zero(c) for c in drawn])
    assert rate < 0.45, f"{name}: {rate:.0%} of its cases would be discarded"
