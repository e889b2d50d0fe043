"""Input forms: the same values passed in another form (memory layout, container, array type, scalar type of a count)
give the same result as the plain C-contiguous float32 array with Python counts.

The contract says ``x_batch`` is array-like; a faster kernel that assumes a memory layout, or a check that wants a
NumPy array, is right on the plain arrays every other property passes and wrong on these. Each form below arrives in
the candidate process exactly as built here (``properties/sandbox/wire.py`` rebuilds strided, negatively strided,
Fortran-ordered and read-only views as such, JAX arrays as ``jax.Array``, lists and tuples and NumPy scalar types as
themselves; ``tests/test_forms.py`` checks each one).

Which forms the problem's own code accepts (``tests/candidates/verbatim.py``, jax 0.10.2 / flax 0.12.8, measured by
``tests/test_forms.py``), hence the tiers:

* accepted, with a result bit-identical to the plain array's: a Fortran-ordered array, every second row of a larger
  array, a column slice of a wider array (contiguous columns, and every second column), negatively strided views
  (rows reversed; both axes reversed), a read-only array, a ``jax.Array``, and counts as NumPy scalars
  (``np.float32(3.0)`` layers and features, ``np.int64``) or JAX scalars -- the **core** property
  :func:`input_forms`;
* rejected: a nested Python list and a tuple of tuples (``nnx.vmap`` maps over every leaf of the pytree, each a
  Python float: ``ValueError: vmap was requested to map its argument along axis 0, which implies that its rank should
  be at least 1, but is only 0``), and a list of 1-D row arrays (``TypeError: dot_general requires contracting
  dimensions to have the same shape``), and a big-endian float32 array (``np.dtype('>f4')``, as FITS and many binary
  formats give it: ``TypeError: Dtype >f4 is not a valid JAX array type``) -- the **strict** property
  :func:`array_like_inputs`: the contract of ``composed`` says array-like and reads any byte order by value, and
  every bundled implementation converts them (``composed.contract.validate``).

Comparison: row by row within the tolerance for two evaluations of the implementation (``assert_rows_close``: 64 x the
propagated rounding scale; rows whose scale is 0 -- N = 0, zero rows -- must match exactly), not bitwise. Every bundled
implementation and the verbatim code were bit-identical across these forms when measured, but nothing in the contract
promises bits across layouts: a NumPy implementation may hand a Fortran-ordered operand to BLAS with a transpose flag
and get another summation order. A stride or layout bug moves whole entries (another row, a transposed block, padding
from the larger array), far outside that tolerance. The core property also requires the output dtype of the plain
call (a float32 array is a float32 array in any layout); the strict one does not (a list of Python floats has no
dtype).

The larger arrays the views are cut from are filled with other values (deterministic, of the batch's magnitude), so
reading the padding instead of the view gives a different answer. Cases are multi-row (B >= 2) from the strategies'
buckets: a row view or a reversal of one row would be meaningless, and the shapes stay the bounded set a jitted
implementation compiles anyway (one program serves every form).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from properties.harness import strategies as S
from properties.harness.proxy import ImplementationError, as_output
from properties.harness.tolerance import (
    _event,
    assert_rows_close,
    assert_some_nonzero,
    output_matrix,
    self_scale,
)
from properties.invariants.base import CORE, STRICT, prop


def _padding(shape, x: np.ndarray) -> np.ndarray:
    """Values for the parts of a larger array outside the view: deterministic, non-zero, of x's magnitude, so
    reading them instead of the view changes the result."""
    scale = float(np.max(np.abs(x), initial=0.0)) or 1.0
    rng = np.random.default_rng(20240808)
    return (scale * rng.uniform(0.5, 1.0, shape) * rng.choice((-1.0, 1.0), shape)).astype(x.dtype)


def _rows_view(x):
    big = _padding((2 * x.shape[0], x.shape[1]), x)
    big[::2] = x
    return big[::2]


def _column_slice(x):
    wide = _padding((x.shape[0], x.shape[1] + 3), x)
    wide[:, 2:2 + x.shape[1]] = x
    return wide[:, 2:2 + x.shape[1]]


def _every_second_column(x):
    wide = _padding((x.shape[0], 2 * x.shape[1] + 1), x)
    wide[:, 1::2] = x
    return wide[:, 1::2]


def _rows_reversed(x):
    return np.ascontiguousarray(x[::-1])[::-1]


def _both_reversed(x):
    return np.ascontiguousarray(x[::-1, ::-1])[::-1, ::-1]


def _read_only(x):
    y = np.array(x, copy=True)
    y.flags.writeable = False
    return y


def _jax_array(x):
    import jax.numpy as jnp

    return jnp.asarray(x)


def _jax_scalar(n, dtype):
    import jax.numpy as jnp

    return jnp.asarray(n, dtype)


# Each form: label -> build(x, num_layers, features) -> (x_batch, num_layers, features), where x is the plain
# C-contiguous float32 array and the counts are the case's. The label names the form in messages.
Form = Callable[[np.ndarray, object, object], tuple]

#: Forms the problem's own code accepts (core).
CORE_FORMS: dict[str, Form] = {
    "Fortran-ordered x_batch": lambda x, n, f: (np.asfortranarray(x), n, f),
    "x_batch as every second row of a larger array": lambda x, n, f: (_rows_view(x), n, f),
    "x_batch as a column slice of a wider array": lambda x, n, f: (_column_slice(x), n, f),
    "x_batch as every second column of a wider array": lambda x, n, f: (_every_second_column(x), n, f),
    "negatively strided x_batch (rows reversed)": lambda x, n, f: (_rows_reversed(x), n, f),
    "negatively strided x_batch (both axes reversed)": lambda x, n, f: (_both_reversed(x), n, f),
    "read-only x_batch": lambda x, n, f: (_read_only(x), n, f),
    "x_batch as a jax.Array": lambda x, n, f: (_jax_array(x), n, f),
    "counts as np.float32 (num_layers, features)": lambda x, n, f: (x, np.float32(int(n)), np.float32(int(f))),
    "counts as np.int64 (num_layers, features)": lambda x, n, f: (x, np.int64(int(n)), np.int64(int(f))),
    "counts as JAX scalars (float32 num_layers, int32 features)":
        lambda x, n, f: (x, _jax_scalar(int(n), "float32"), _jax_scalar(int(f), "int32")),
}

#: Array-likes the problem's own code rejects, that the contract accepts (strict).
STRICT_FORMS: dict[str, Form] = {
    "x_batch as a nested list": lambda x, n, f: (x.tolist(), n, f),
    "x_batch as a tuple of tuples": lambda x, n, f: (tuple(tuple(row) for row in x.tolist()), n, f),
    "x_batch as a list of 1-D row arrays": lambda x, n, f: ([np.array(row) for row in x], n, f),
    "big-endian x_batch ('>f4')": lambda x, n, f: (x.astype(">f4"), n, f),
}


def _plain(impl, seed, x_batch, num_layers, features):
    """The reference evaluation: the values as a C-contiguous float32 array, the counts as the case has them."""
    x = np.ascontiguousarray(x_batch, dtype=np.float32)
    plain = impl(seed, x, num_layers, features)
    return x, plain, output_matrix(plain, *x.shape)


def _same_in_every_form(impl, forms: dict[str, Form], seed, x, num_layers, features, plain, base, *,
                        same_dtype: bool, why: str) -> None:
    b, f = x.shape
    scale = self_scale(seed, x, num_layers, features, np.float32, base)
    failures = []
    for label, build in forms.items():
        args = build(x, num_layers, features)
        try:
            out = impl(seed, *args)
        except ImplementationError as exc:
            if exc.cause is None:  # a crash or hang, not an answer: the runner reports it
                raise
            failures.append(f"{label}: raised {exc.cause.type}: {str(exc.cause)[:300]}")
            continue
        try:
            got = output_matrix(out, b, f)
            if same_dtype:
                dtype, expected = as_output(out).dtype, as_output(plain).dtype
                assert dtype == expected, f"output dtype {dtype}, the plain array gave {expected}"
            assert_rows_close(got, base, scale=scale, label=label)
            _event(f"{why}: {label} bit-identical: {bool(np.array_equal(got, base))}")
        except AssertionError as exc:
            text = str(exc)
            failures.append(text if text.startswith(label) else f"{label}: {text}")
    assert not failures, (
        f"{len(failures)} of {len(forms)} input forms give another result than the same values as a C-contiguous "
        f"float32 array (B={b}, F={f}, N={int(num_layers)}; 'first' is the form's row, 'second' the plain "
        f"array's):\n  " + "\n  ".join(failures)
    )


@prop(CORE, S.cases(buckets=S.MULTI_ROW_BUCKETS), weight=0.2, examples=S.corners(((2, 1, 1),)))
def input_forms(impl, seed, x_batch, num_layers, features):
    """The same values give the same result (same dtype, rows within two evaluations' rounding) in every form the
    problem's own code accepts: x_batch Fortran-ordered, as every second row of a larger array, as a column slice or
    every second column of a wider array, negatively strided (rows reversed, both axes reversed), read-only, or a
    ``jax.Array``; the counts as ``np.float32``, ``np.int64`` or JAX scalars.

    Every form is tried in every example (one example covers them all: a layout bug shows on the first non-vacuous
    case).
    Catches: kernels that read the buffer as C-contiguous and ignore strides or order, mishandled negative strides,
    Fortran input read as its transpose, a view read with the padding of its base, ``isinstance(n, int)`` checks
    that reject NumPy counts.
    """
    x, plain, base = _plain(impl, seed, x_batch, num_layers, features)
    assert_some_nonzero(base, "input_forms")
    _same_in_every_form(impl, CORE_FORMS, seed, x, num_layers, features, plain, base, same_dtype=True,
                        why="input_forms")


@prop(STRICT, S.cases(buckets=S.MULTI_ROW_BUCKETS), weight=0.2, examples=S.corners(((2, 1, 1),)))
def array_like_inputs(impl, seed, x_batch, num_layers, features):
    """x_batch as a nested Python list, a tuple of tuples, a list of 1-D row arrays or a big-endian float32 array
    (``'>f4'``) gives the same values (rows within two evaluations' rounding) as the same numbers in a native float32
    array: the contract says array-like, and reads any byte order by value. (The problem's own code rejects all four:
    ``nnx.vmap`` maps over the leaves of the list; JAX has no big-endian dtype.)

    Catches: ``isinstance(x, np.ndarray)`` checks that raise on lists, implementations that call ``x.shape`` or
    ``x.dtype`` on the argument, a list of rows taken as a pytree of separate inputs, big-endian bytes read as
    native ones (or handed to JAX as they are).
    """
    x, plain, base = _plain(impl, seed, x_batch, num_layers, features)
    assert_some_nonzero(base, "array_like_inputs")
    _same_in_every_form(impl, STRICT_FORMS, seed, x, num_layers, features, plain, base, same_dtype=False,
                        why="array_like_inputs")
