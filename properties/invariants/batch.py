"""The batch axis is a plain map: rows are independent and their order does not matter.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from properties.harness import strategies as S
from properties.harness.tolerance import assert_rows_close, assert_some_nonzero, output_matrix, self_scale
from properties.invariants.base import CORE, prop


@st.composite
def _permuted(draw):
    case = draw(S.cases(buckets=S.MULTI_ROW_BUCKETS))
    case["perm"] = draw(S.permutations(np.shape(case["x_batch"])[0]))
    return case


@prop(CORE, _permuted(), weight=0.7, examples=S.corners(S.MULTI_ROW_CORNERS, perm=[1, 0]))
def batch_permutation_equivariance(impl, seed, x_batch, num_layers, features, perm):
    """Permuting the rows of x_batch permutes the rows of the (B, F) output the same way: f(x[p]) = f(x)[p].

    Catches: batch mixing (normalising over the batch, sorting, mixing rows), position-dependent computation.
    """
    b, f = np.shape(x_batch)
    perm = np.asarray(perm)
    whole = output_matrix(impl(seed, x_batch, num_layers, features), b, f)
    permuted = output_matrix(impl(seed, np.ascontiguousarray(x_batch[perm]), num_layers, features), b, f)
    assert_some_nonzero(whole, "batch_permutation_equivariance")
    scale = self_scale(seed, x_batch, num_layers, features, np.asarray(x_batch).dtype, whole)
    assert_rows_close(permuted, whole[perm], scale=scale[perm], label="f(x[perm]) vs f(x)[perm]")


@st.composite
def _split(draw):
    case = draw(S.cases(buckets=S.MULTI_ROW_BUCKETS))
    b = np.shape(case["x_batch"])[0]
    case["cut"] = draw(st.integers(1, b - 1))
    case["edit_row"] = draw(st.integers(0, b - 1))
    return case


@prop(CORE, _split(), weight=0.6, examples=S.corners(S.MULTI_ROW_CORNERS, cut=1, edit_row=0))
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
    scale = self_scale(seed, x_batch, num_layers, features, dtype, whole)
    assert_rows_close(top, whole[:cut], scale=scale[:cut], label=f"f(x[:{cut}]) vs f(x)[:{cut}]")
    assert_rows_close(bottom, whole[cut:], scale=scale[cut:], label=f"f(x[{cut}:]) vs f(x)[{cut}:]")
    edited = np.array(x_batch, copy=True)
    edited[edit_row] = edited[edit_row] * np.asarray(-2, dtype) + np.asarray(1, dtype)
    after = output_matrix(impl(seed, edited, num_layers, features), b, f)
    keep = np.arange(b) != edit_row
    assert_rows_close(after[keep], whole[keep], scale=scale[keep],
                      label=f"rows other than {edit_row} after editing row {edit_row}")
    assert_some_nonzero(whole, "batch_locality")
