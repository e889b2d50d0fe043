"""Equality to the float64 oracle (``composed.oracle``: the explicit loop over layers on the spec's parameters) within
the tolerance policy of ``properties.harness.tolerance``: for float32 input, for the other dtypes, and around non-finite
rows. ``GRID`` is the same check for one cell of the small-scope grid (``properties/test_phases.py``).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from properties.harness import strategies as S
from properties.harness.proxy import as_output
from properties.harness.tolerance import assert_matches_oracle, assert_some_nonzero, output_matrix
from properties.invariants.base import CORE, STRICT, Property, prop


#: Checked before any drawn case: the smallest shape that tells the layer order, the activation and its placement apart
#: (B x F x N = 4; seed 7's pre-activations have both signs in both layers, and its two kernels do not commute on
#: this row: relu then reversed layers give 0.53 vs 0.17). A simple bug fails here first, so its reported
#: counterexample is minimal whatever the shrinker would have reached (``tests/test_mutants.py``).
SMALLEST_CASE = dict(seed=7, x_batch=np.array([[1.0, 0.5]], dtype=np.float32), num_layers=2, features=2)


#: Also checked in every run: a seed past int32 (seeds wrap modulo 2**32, they are not clipped or cast to int32),
#: with two rows of which the spec's network keeps both signs alive.
INT32_EDGE_CASE = dict(seed=2**31 + 7, x_batch=np.array([[1.0, 0.5], [-0.5, 1.0]], dtype=np.float32), num_layers=2,
                       features=2)


@prop(CORE, S.cases(), examples=(SMALLEST_CASE, INT32_EDGE_CASE, *S.corners()))
def matches_oracle(impl, seed, x_batch, num_layers, features):
    """The output equals the explicit float64 loop over layers (``composed.oracle``) on the spec's parameters, row by
    row within C = 8 times the propagated float32 rounding scale (the tolerance policy of
    ``properties.harness.tolerance``). Its cases reach the wide domain (``strategies.cases``): large B, F or N one at a
    time, and extreme magnitudes from 1e-30 to the max safe scale.

    Catches: wrong activation or its placement, wrong layer count or order, wrong parameters (seed handling, init,
    shared or reversed layers), flattening order, batch mixing, precision loss beyond float32 rounding.
    """
    ref = assert_matches_oracle(impl(seed, x_batch, num_layers, features), seed, x_batch, num_layers, features)
    assert_some_nonzero(ref, "matches_oracle")


DTYPES = ("float16", "bfloat16", "float64", "int32", "int8", "uint8", "bool")


def _canonical(name):
    import jax
    import jax.numpy as jnp

    dtype = jnp.dtype(name)
    if jnp.issubdtype(dtype, jnp.floating):
        return np.dtype(jax.dtypes.canonicalize_dtype(dtype))
    return np.dtype(np.float32)


@st.composite
def _dtyped(draw):
    import jax.numpy as jnp

    case = draw(S.cases(buckets=S.DEEP_BUCKETS))
    name = draw(st.sampled_from(DTYPES))
    x = case["x_batch"]
    if name in ("int32", "int8"):
        x = np.clip(np.round(x * 10), -100, 100)
    elif name == "uint8":
        x = np.clip(np.round(np.abs(x) * 10), 0, 200)
    elif name == "bool":
        x = x > 0
    elif name == "float16":
        x = np.clip(x, -6e4, 6e4)
    case["x_batch"] = np.asarray(x).astype(jnp.dtype(name))
    case["dtype_name"] = name
    return case


def _dtyped_corner(dtype_name: str) -> dict:
    x = np.ones((1, 1), dtype=dtype_name)
    x.flags.writeable = False
    return {**S.corner(1, 1, 1), "x_batch": x, "dtype_name": dtype_name}


@prop(STRICT, _dtyped(), weight=0.8, examples=(_dtyped_corner("float16"), _dtyped_corner("bool")))
def dtypes(impl, seed, x_batch, num_layers, features, dtype_name):
    """float16/bfloat16/float64 inputs are computed and returned in their canonical dtype (float64 -> float32 without
    x64), integer and bool inputs are promoted to float32; the values match the oracle within that dtype's tolerance.
    """
    want = _canonical(dtype_name)
    out = as_output(impl(seed, x_batch, num_layers, features))
    assert out.dtype == want, f"{dtype_name} input: output dtype {out.dtype}, expected {want}"
    ref = assert_matches_oracle(out, seed, x_batch, num_layers, features, dtype=want,
                                label=f"{dtype_name} input")
    assert_some_nonzero(ref, "dtypes")


@st.composite
def _nonfinite(draw):
    case = draw(S.cases(buckets=S.MULTI_ROW_BUCKETS, fractional=False))
    x = np.array(case["x_batch"], copy=True)
    row = draw(st.integers(0, x.shape[0] - 1))
    col = draw(st.integers(0, x.shape[1] - 1))
    x[row, col] = draw(st.sampled_from((np.nan, np.inf, -np.inf)))
    case.update(x_batch=x, bad_row=row)
    return case


def _nonfinite_corner(b: int, f: int, n: int) -> dict:
    x = np.array(S.corner(b, f, n)["x_batch"])
    x[0, 0] = np.nan
    x.flags.writeable = False
    return {**S.corner(b, f, n), "x_batch": x, "bad_row": 0}


@prop(STRICT, _nonfinite(), weight=0.6, examples=tuple(_nonfinite_corner(*shape) for shape in S.MULTI_ROW_CORNERS))
def nonfinite_rows_stay_in_their_row(impl, seed, x_batch, num_layers, features, bad_row):
    """A NaN or inf in one input row affects only that row's output: every other row equals the oracle. A NaN row
    stays NaN through the layers (relu propagates NaN); with N = 0 it comes back unchanged."""
    b, f = np.shape(x_batch)
    got = output_matrix(impl(seed, x_batch, num_layers, features), b, f)
    keep = np.arange(b) != bad_row
    clean = np.ascontiguousarray(x_batch[keep])
    # got is float64 (output_matrix): the tolerance is that of the dtype the computation ran in, float32 here.
    assert_matches_oracle(got[keep].reshape(-1), seed, clean, num_layers, features, dtype=np.asarray(x_batch).dtype,
                          label="rows without NaN/inf")
    if np.isnan(x_batch[bad_row]).any():
        if int(num_layers) >= 1:
            assert np.isnan(got[bad_row]).all(), f"a NaN in row {bad_row} must give a NaN row, got {got[bad_row]}"
        else:  # N = 0 is the identity: the row comes back as it went in, one NaN and all
            same = np.array_equal(got[bad_row], np.asarray(x_batch[bad_row], np.float64), equal_nan=True)
            assert same, f"N = 0 must return row {bad_row} unchanged: got {got[bad_row]}, input {x_batch[bad_row]}"


def _grid_cell(impl, seed, x_batch, num_layers, features):
    """The output equals the float64 oracle within the suite's tolerance, on every case of one small-scope grid cell
    (dead rows and all-zero outputs too: a cell is a fixed (B, F, N), checked whatever it draws)."""
    assert_matches_oracle(impl(seed, x_batch, num_layers, features), seed, x_batch, num_layers, features)


#: ``matches_oracle`` for one cell of the small-scope grid (its cases come from ``strategies.cell_cases``).
GRID = Property("grid", CORE, _grid_cell, None)
