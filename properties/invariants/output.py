"""The output's form: a 1-D array of length B*F, finite and non-negative after the final relu, float32 for float32
input, and the empty batch.

Each property is ``check(impl, **case)``; the docstring's first paragraph is the invariant, the line "Catches:" names
the wrong implementations it exists to reject (see the mutant catalogue in ``tests/mutants``).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from properties.harness import strategies as S
from properties.harness.proxy import as_output
from properties.invariants.base import CORE, STRICT, prop


@prop(CORE, S.cases(), examples=S.corners())
def output_shape(impl, seed, x_batch, num_layers, features):
    """The output is a 1-D array of length B*F.

    Catches: returning the (B, F) matrix unflattened, a list or None, a transposed or truncated result.
    """
    out = as_output(impl(seed, x_batch, num_layers, features))
    b, f = np.shape(x_batch)
    assert out.ndim == 1, f"output must be 1-D, got shape {out.shape}"
    assert out.shape == (b * f,), f"output shape {out.shape}, expected (B*F,) = ({b * f},)"


@prop(CORE, S.cases(buckets=S.DEEP_BUCKETS, wide=True), examples=S.corners(((1, 1, 1),)))
def nonnegative_and_finite(impl, seed, x_batch, num_layers, features):
    """For finite input and N >= 1 every output entry is finite and >= 0 (relu comes last).

    Catches: a missing final relu, leaky/elu activations, overflow or NaN from a broken computation.
    """
    out = as_output(impl(seed, x_batch, num_layers, features)).astype(np.float64)
    assert np.all(np.isfinite(out)), f"non-finite output entries at {np.where(~np.isfinite(out))[0][:10].tolist()}"
    neg = out < 0
    assert not neg.any(), f"{int(neg.sum())} negative output entries, e.g. {out[neg][:5].tolist()} (relu comes last)"


@prop(STRICT, S.cases(), examples=S.corners())
def float32_in_float32_out(impl, seed, x_batch, num_layers, features):
    """float32 input gives a float32 output (no silent promotion to float64, no demotion)."""
    out = as_output(impl(seed, x_batch, num_layers, features))
    assert out.dtype == np.float32, f"float32 input gave {out.dtype} output"


@st.composite
def _empty(draw):
    f = draw(st.sampled_from(sorted({f for _, f, _ in S.SHAPE_BUCKETS})))
    n = draw(st.sampled_from(sorted({n for _, _, n in S.SHAPE_BUCKETS})))
    return dict(seed=draw(S.seeds()), x_batch=np.zeros((0, f), np.float32), num_layers=draw(S.as_count(n)),
                features=draw(S.as_count(f)))


@prop(STRICT, _empty(), weight=0.3, examples=S.corners(((0, 1, 0), (0, 1, 1))))
def empty_batch(impl, seed, x_batch, num_layers, features):
    """B = 0 is valid and returns an empty 1-D float32 array of shape (0,)."""
    out = as_output(impl(seed, x_batch, num_layers, features))
    assert out.shape == (0,), f"B = 0 must give shape (0,), got {out.shape}"
    assert out.dtype == np.float32, f"B = 0 float32 input must give float32, got {out.dtype}"
