"""Algebraic facts of the network: determinism, f(0) = 0 (zero biases at initialisation) and positive homogeneity.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from properties.harness import strategies as S
from properties.harness.proxy import as_output
from properties.harness.tolerance import (
    assert_identical,
    assert_rows_close,
    assert_some_nonzero,
    output_matrix,
    self_scale,
)
from properties.invariants.base import CORE, prop


@st.composite
def _two_cases(draw):
    first = draw(S.cases())
    second = draw(S.cases())
    return dict(first=first, second=second)


@prop(CORE, _two_cases(), weight=0.6, examples=(
    dict(first=S.corner(1, 1, 1), second=S.corner(1, 1, 0)), dict(first=S.corner(1, 1, 0), second=S.corner(1, 1, 1))))
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
def _zeros(draw):
    b, f, n = draw(st.sampled_from(S.DEEP_BUCKETS))
    return dict(seed=draw(S.seeds()), x_batch=np.zeros((b, f), np.float32), num_layers=draw(S.as_count(n)),
                features=draw(S.as_count(f)))


@prop(CORE, _zeros(), weight=0.5,
      examples=({**S.corner(1, 1, 1), "x_batch": np.zeros((1, 1), np.float32)},))
def zero_input_gives_zero(impl, seed, x_batch, num_layers, features):
    """f(0) = 0 exactly: every bias is zero at initialisation (Flax's ``zeros_init``) and relu(0) = 0.

    Catches: non-zero bias initialisation, an activation with f(0) != 0 (softplus, gelu offsets), added constants.
    """
    out = as_output(impl(seed, x_batch, num_layers, features))
    assert out.shape == (x_batch.size,), f"output shape {out.shape}, expected ({x_batch.size},)"
    assert not np.any(out), f"f(0) must be 0: got non-zero entries {out[out != 0][:5].tolist()}"


@st.composite
def _scaled(draw):
    # wide: large shapes and extreme magnitudes too (rows stay 2**6 under their max safe scale, so 2**6 x cannot overflow)
    case = draw(S.cases(buckets=S.DEEP_BUCKETS, wide=True, headroom_log2=6))
    case["log2_scale"] = draw(st.integers(-6, 6).filter(lambda k: k != 0))
    return case


@prop(CORE, _scaled(), weight=0.6, examples=S.corners(((1, 1, 1),), log2_scale=3))
def positive_homogeneity(impl, seed, x_batch, num_layers, features, log2_scale):
    """f(a x) = a f(x) for a = 2**k > 0: zero biases and relu make the network positively homogeneous, and a power of
    two scales floating point exactly, so the two agree to rounding (no overflow: extreme rows are drawn 2**6 under
    their max safe scale).

    Catches: non-zero biases, non-homogeneous activations (gelu, softplus, elu, clipping), value-dependent branches.
    """
    b, f = np.shape(x_batch)
    dtype = np.asarray(x_batch).dtype
    a = 2.0**log2_scale
    base = output_matrix(impl(seed, x_batch, num_layers, features), b, f)
    scaled = output_matrix(impl(seed, (x_batch * np.asarray(a, dtype)).astype(dtype), num_layers, features), b, f)
    assert_some_nonzero(base, "positive_homogeneity")
    scaled_x = (x_batch * np.asarray(a, dtype)).astype(dtype)
    scale = np.maximum(a * self_scale(seed, x_batch, num_layers, features, dtype, base),
                       self_scale(seed, scaled_x, num_layers, features, dtype, scaled))
    assert_rows_close(scaled, a * base, scale=scale, label=f"f({a:g} x) vs {a:g} f(x)")
