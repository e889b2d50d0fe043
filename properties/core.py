"""Core tier: what the problem itself demands. A verbatim copy of the problem's code passes all of these.

Each property is ``check(impl, **case)``; the docstring's first paragraph is the invariant, the line "Catches:" names
the wrong implementations it exists to reject (see the mutant catalogue in ``tests/mutants``).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from properties import strategies as S
from properties.assertions import (
    assert_identical,
    assert_matches_oracle,
    assert_rows_close,
    assert_some_nonzero,
    error_scale,
    output_matrix,
)
from properties.candidate import as_output
from properties.registry import CORE, prop


@prop(CORE, S.cases())
def output_shape(impl, seed, x_batch, num_layers, features):
    """The output is a 1-D array of length B*F.

    Catches: returning the (B, F) matrix unflattened, a list or None, a transposed or truncated result.
    """
    out = as_output(impl(seed, x_batch, num_layers, features))
    b, f = np.shape(x_batch)
    assert out.ndim == 1, f"output must be 1-D, got shape {out.shape}"
    assert out.shape == (b * f,), f"output shape {out.shape}, expected (B*F,) = ({b * f},)"


@prop(CORE, S.cases())
def matches_oracle(impl, seed, x_batch, num_layers, features):
    """The output equals the explicit float64 loop over layers (``composed.oracle``) on the spec's parameters, row by
    row within 32x the propagated float32 rounding scale (the tolerance policy of ``properties.assertions``).

    Catches: wrong activation or its placement, wrong layer count or order, wrong parameters (seed handling, init,
    shared or reversed layers), flattening order, batch mixing, precision loss beyond float32 rounding.
    """
    ref = assert_matches_oracle(impl(seed, x_batch, num_layers, features), seed, x_batch, num_layers, features)
    assert_some_nonzero(ref, "matches_oracle")


@prop(CORE, S.cases(buckets=S.DEEP_BUCKETS))
def nonnegative_and_finite(impl, seed, x_batch, num_layers, features):
    """For finite input and N >= 1 every output entry is finite and >= 0 (relu comes last).

    Catches: a missing final relu, leaky/elu activations, overflow or NaN from a broken computation.
    """
    out = as_output(impl(seed, x_batch, num_layers, features)).astype(np.float64)
    assert np.all(np.isfinite(out)), f"non-finite output entries at {np.where(~np.isfinite(out))[0][:10].tolist()}"
    neg = out < 0
    assert not neg.any(), f"{int(neg.sum())} negative output entries, e.g. {out[neg][:5].tolist()} (relu comes last)"


@st.composite
def _permuted(draw):
    case = draw(S.cases(buckets=S.MULTI_ROW_BUCKETS))
    case["perm"] = draw(S.permutations(np.shape(case["x_batch"])[0]))
    return case


@prop(CORE, _permuted(), weight=0.7)
def batch_permutation_equivariance(impl, seed, x_batch, num_layers, features, perm):
    """Permuting the rows of x_batch permutes the rows of the (B, F) output the same way: f(x[p]) = f(x)[p].

    Catches: batch mixing (normalising over the batch, sorting, mixing rows), position-dependent computation.
    """
    b, f = np.shape(x_batch)
    perm = np.asarray(perm)
    whole = output_matrix(impl(seed, x_batch, num_layers, features), b, f)
    permuted = output_matrix(impl(seed, np.ascontiguousarray(x_batch[perm]), num_layers, features), b, f)
    assert_some_nonzero(whole, "batch_permutation_equivariance")
    scale = error_scale(seed, x_batch, num_layers, features, np.asarray(x_batch).dtype)
    assert_rows_close(permuted, whole[perm], scale=scale[perm], label="f(x[perm]) vs f(x)[perm]")


@st.composite
def _split(draw):
    case = draw(S.cases(buckets=S.MULTI_ROW_BUCKETS))
    b = np.shape(case["x_batch"])[0]
    case["cut"] = draw(st.integers(1, b - 1))
    case["edit_row"] = draw(st.integers(0, b - 1))
    return case


@prop(CORE, _split(), weight=0.6)
def batch_locality(impl, seed, x_batch, num_layers, features, cut, edit_row):
    """Rows are independent: f on a split of the batch equals the matching rows of f on the whole batch, and editing
    one input row changes only that output row.

    Catches: batch mixing (batch statistics, cross-row terms), results depending on B, broadcasting mistakes.
    """
    b, f = np.shape(x_batch)
    dtype = np.asarray(x_batch).dtype
    whole = output_matrix(impl(seed, x_batch, num_layers, features), b, f)
    top = output_matrix(impl(seed, np.ascontiguousarray(x_batch[:cut]), num_layers, features), cut, f)
    bottom = output_matrix(impl(seed, np.ascontiguousarray(x_batch[cut:]), num_layers, features), b - cut, f)
    scale = error_scale(seed, x_batch, num_layers, features, dtype)
    assert_rows_close(top, whole[:cut], scale=scale[:cut], label=f"f(x[:{cut}]) vs f(x)[:{cut}]")
    assert_rows_close(bottom, whole[cut:], scale=scale[cut:], label=f"f(x[{cut}:]) vs f(x)[{cut}:]")
    edited = np.array(x_batch, copy=True)
    edited[edit_row] = edited[edit_row] * np.asarray(-2, dtype) + np.asarray(1, dtype)
    after = output_matrix(impl(seed, edited, num_layers, features), b, f)
    keep = np.arange(b) != edit_row
    assert_rows_close(after[keep], whole[keep], scale=scale[keep],
                      label=f"rows other than {edit_row} after editing row {edit_row}")
    assert_some_nonzero(whole, "batch_locality")


@st.composite
def _two_cases(draw):
    first = draw(S.cases())
    second = draw(S.cases())
    return dict(first=first, second=second)


@prop(CORE, _two_cases(), weight=0.6)
def deterministic(impl, first, second):
    """The same arguments give the same output, bit for bit, on repeated calls and after a call with other arguments.

    Catches: hidden state between calls (counters, caches keyed on the wrong thing), randomness not derived from the
    seed, results that depend on the previous call.
    """
    a = impl(**first)
    b = impl(**first)
    assert_identical(a, b, label="two identical calls in a row")
    impl(**second)
    c = impl(**first)
    assert_identical(a, c, label="the same call after a call with other arguments")


@st.composite
def _fractional_seed(draw):
    case = draw(S.cases(fractional=False))
    base = draw(st.integers(-(2**40), 2**40))
    frac = draw(st.sampled_from((0.5, 0.25, 0.75, 0.9375)))
    toward_zero = float(base) + (frac if base >= 0 else -frac)
    if base == 0:
        toward_zero = draw(st.sampled_from((frac, -frac)))
    case["seed"] = toward_zero
    case["int_seed"] = base
    return case


@prop(CORE, _fractional_seed(), weight=0.6)
def seed_truncates_toward_zero(impl, seed, int_seed, x_batch, num_layers, features):
    """A fractional seed acts as ``int(seed)`` (truncation toward zero): f(3.7) = f(3), f(-0.5) = f(0), f(-2.9) = f(-2).

    Catches: rounding, floor or ceil of the seed, hashing the float, using the seed's bits.
    """
    assert int(seed) == int_seed
    assert_identical(impl(seed, x_batch, num_layers, features), impl(int_seed, x_batch, num_layers, features),
                     label=f"f(seed={seed!r}) vs f(seed={int_seed})")


@st.composite
def _seed_pair(draw):
    case = draw(S.cases(buckets=tuple(s for s in S.DEEP_BUCKETS if s[1] >= 3), fractional=False))
    seed = draw(st.integers(-(2**31), 2**31 - 1))
    case["seed"] = seed
    case["other"] = draw(st.integers(-(2**40), 2**40).filter(lambda o: (o - seed) % 2**32 != 0))
    case["wrapped"] = seed + draw(st.sampled_from((2**32, -(2**32), 2**33, 5 * 2**32)))
    return case


@prop(CORE, _seed_pair(), weight=0.6)
def seed_semantics(impl, seed, other, wrapped, x_batch, num_layers, features):
    """Seeds that differ modulo 2**32 give different outputs (for a non-zero output); seeds equal modulo 2**32 give
    the same output, as ``jax.random.key`` does with x64 disabled.

    Catches: an ignored seed, a constant key, ``abs(seed)``, seeds clipped or wrapped at 2**31, keys built another way.
    """
    b, f = np.shape(x_batch)
    base = output_matrix(impl(seed, x_batch, num_layers, features), b, f)
    assert_some_nonzero(base, "seed_semantics")
    diff = output_matrix(impl(other, x_batch, num_layers, features), b, f)
    assert not np.array_equal(base, diff), f"seeds {seed} and {other} (different mod 2**32) gave the same output"
    import jax

    if jax.config.jax_enable_x64:
        return  # with x64, jax.random.key keeps all 64 bits: seeds equal mod 2**32 differ, as in the reference
    assert_identical(impl(wrapped, x_batch, num_layers, features), impl(seed, x_batch, num_layers, features),
                     label=f"seeds {wrapped} and {seed} (equal mod 2**32)")


@st.composite
def _fractional_layers(draw):
    case = draw(S.cases(fractional=False))
    n = case["num_layers"]
    case["num_layers"] = draw(S.as_count(n).filter(lambda v: v != n))
    case["int_layers"] = n
    return case


@prop(CORE, _fractional_layers(), weight=0.6)
def layers_truncate_toward_zero(impl, seed, x_batch, num_layers, int_layers, features):
    """``num_layers`` acts as ``int(num_layers)``: f(N + 0.9) = f(N), and a count in (-1, 0) is 0 layers.

    Catches: rounding or ceil of the layer count, an off-by-one layer, a float count reaching a loop bound.
    """
    assert int(num_layers) == int_layers
    assert_identical(impl(seed, x_batch, num_layers, features), impl(seed, x_batch, int_layers, features),
                     label=f"f(num_layers={num_layers!r}) vs f(num_layers={int_layers})")


@prop(CORE, S.cases(buckets=tuple((b, f, 0) for b, f, _ in S.SHAPE_BUCKETS)))
def zero_layers_is_identity(impl, seed, x_batch, num_layers, features):
    """With int(num_layers) == 0 the output is x_batch itself, flattened, exactly (no layer, no relu).

    Catches: a relu applied outside the scan, an extra layer, an off-by-one in the layer count.
    """
    out = as_output(impl(seed, x_batch, num_layers, features))
    expected = np.asarray(x_batch).reshape(-1)
    assert out.shape == expected.shape, f"output shape {out.shape}, expected {expected.shape}"
    assert np.array_equal(out.astype(np.float64), expected.astype(np.float64)), (
        f"N=0 must return x_batch unchanged; first difference at {int(np.argmax(out != expected))}"
    )


@st.composite
def _zeros(draw):
    b, f, n = draw(st.sampled_from(S.DEEP_BUCKETS))
    return dict(seed=draw(S.seeds()), x_batch=np.zeros((b, f), np.float32), num_layers=draw(S.as_count(n)),
                features=draw(S.as_count(f)))


@prop(CORE, _zeros(), weight=0.5)
def zero_input_gives_zero(impl, seed, x_batch, num_layers, features):
    """f(0) = 0 exactly: every bias is zero at initialisation (Flax's ``zeros_init``) and relu(0) = 0.

    Catches: non-zero bias initialisation, an activation with f(0) != 0 (softplus, gelu offsets), added constants.
    """
    out = as_output(impl(seed, x_batch, num_layers, features))
    assert out.shape == (x_batch.size,), f"output shape {out.shape}, expected ({x_batch.size},)"
    assert not np.any(out), f"f(0) must be 0: got non-zero entries {out[out != 0][:5].tolist()}"


@st.composite
def _scaled(draw):
    case = draw(S.cases(buckets=S.DEEP_BUCKETS))
    case["log2_scale"] = draw(st.integers(-6, 6).filter(lambda k: k != 0))
    return case


@prop(CORE, _scaled(), weight=0.6)
def positive_homogeneity(impl, seed, x_batch, num_layers, features, log2_scale):
    """f(a x) = a f(x) for a = 2**k > 0: zero biases and relu make the network positively homogeneous, and a power of
    two scales floating point exactly, so the two agree to rounding (no overflow at these magnitudes).

    Catches: non-zero biases, non-homogeneous activations (gelu, softplus, elu, clipping), value-dependent branches.
    """
    b, f = np.shape(x_batch)
    dtype = np.asarray(x_batch).dtype
    a = 2.0**log2_scale
    base = output_matrix(impl(seed, x_batch, num_layers, features), b, f)
    scaled = output_matrix(impl(seed, (x_batch * np.asarray(a, dtype)).astype(dtype), num_layers, features), b, f)
    assert_some_nonzero(base, "positive_homogeneity")
    scaled_x = (x_batch * np.asarray(a, dtype)).astype(dtype)
    scale = np.maximum(a * error_scale(seed, x_batch, num_layers, features, dtype),
                       error_scale(seed, scaled_x, num_layers, features, dtype))
    assert_rows_close(scaled, a * base, scale=scale, label=f"f({a:g} x) vs {a:g} f(x)")
