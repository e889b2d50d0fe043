"""The argument contract of every bundled implementation (composed.contract): violations and valid edge cases.

Every implementation in ``composed.IMPLEMENTATIONS`` validates through ``composed.contract.validate``, so each check
runs against all five. Shapes are kept to a few (B, F, N) so the jitted implementations compile a handful of programs:
the default case is x of shape (3, 4) with N = 2.
"""

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

import composed
from composed import ContractError, ContractTypeError

NAMES = sorted(composed.IMPLEMENTATIONS)
B, F, N = 3, 4, 2
X64 = bool(jax.config.jax_enable_x64)


@pytest.fixture(params=NAMES)
def impl(request):
    return composed.IMPLEMENTATIONS[request.param]


def _x(shape=(B, F), seed=0, dtype=np.float32):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def _out(impl, *args):
    """The implementation's result as a NumPy array (dtype kept)."""
    return np.asarray(impl(*args))


def _same(a, b):
    """Bit for bit: same dtype, same shape, same values."""
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


# -- violations ----------------------------------------------------------------------------------------------------

VALUE_ERROR, TYPE_ERROR = "value", "type"

# (id, argument, bad value, kind, regex of what was received)
VIOLATIONS = [
    ("seed-bool", "seed", True, TYPE_ERROR, r"bool.*True"),
    ("seed-np-bool", "seed", np.bool_(False), TYPE_ERROR, r"bool.*False"),
    ("seed-str", "seed", "3", TYPE_ERROR, r"str '3'"),
    ("seed-none", "seed", None, TYPE_ERROR, r"None"),
    ("seed-complex", "seed", 1 + 2j, TYPE_ERROR, r"complex"),
    ("seed-1d-array", "seed", np.array([1]), TYPE_ERROR, r"array\(\[1\]\)"),
    ("seed-nan", "seed", float("nan"), VALUE_ERROR, r"nan"),
    ("seed-np-nan", "seed", np.float32("nan"), VALUE_ERROR, r"nan"),
    ("seed-inf", "seed", float("inf"), VALUE_ERROR, r"inf"),
    ("seed-neg-inf", "seed", -float("inf"), VALUE_ERROR, r"-inf"),
    ("seed-2**63", "seed", 2**63, VALUE_ERROR, str(2**63)),
    ("seed--2**63-1", "seed", -(2**63) - 1, VALUE_ERROR, str(-(2**63) - 1)),
    ("seed-1e19", "seed", 1e19, VALUE_ERROR, r"1e\+19"),
    ("seed-uint64-max", "seed", np.uint64(2**64 - 1), VALUE_ERROR, str(2**64 - 1)),
    ("num_layers--1", "num_layers", -1, VALUE_ERROR, r"-1"),
    ("num_layers--1.5", "num_layers", -1.5, VALUE_ERROR, r"-1\.5"),
    ("num_layers-nan", "num_layers", float("nan"), VALUE_ERROR, r"nan"),
    ("num_layers-inf", "num_layers", float("inf"), VALUE_ERROR, r"inf"),
    ("num_layers-str", "num_layers", "2", TYPE_ERROR, r"str '2'"),
    ("num_layers-bool", "num_layers", True, TYPE_ERROR, r"bool.*True"),
    ("num_layers-np-bool", "num_layers", np.bool_(True), TYPE_ERROR, r"bool.*True"),
    ("num_layers-none", "num_layers", None, TYPE_ERROR, r"None"),
    ("features-0", "features", 0, VALUE_ERROR, r"got int 0"),
    ("features-0.5", "features", 0.5, VALUE_ERROR, r"0\.5"),
    ("features--3", "features", -3, VALUE_ERROR, r"-3"),
    ("features-nan", "features", float("nan"), VALUE_ERROR, r"nan"),
    ("features-inf", "features", float("inf"), VALUE_ERROR, r"inf"),
    ("features-str", "features", "4", TYPE_ERROR, r"str '4'"),
    ("features-bool", "features", True, TYPE_ERROR, r"bool.*True"),
    ("features-np-bool", "features", np.bool_(True), TYPE_ERROR, r"bool.*True"),
    ("x-1d", "x_batch", np.ones(F, np.float32), VALUE_ERROR, r"1-D.*\(4,\)"),
    ("x-3d", "x_batch", np.ones((B, F, 1), np.float32), VALUE_ERROR, r"3-D.*\(3, 4, 1\)"),
    ("x-0d", "x_batch", np.float32(1.0), VALUE_ERROR, r"0-D"),
    ("x-0d-array", "x_batch", np.array(1.0), VALUE_ERROR, r"0-D"),
    ("x-wrong-features", "x_batch", np.ones((B, F + 1), np.float32), VALUE_ERROR, r"4.*\(3, 5\)"),
    ("x-complex", "x_batch", np.ones((B, F), np.complex64), TYPE_ERROR, r"complex64"),
    ("x-object", "x_batch", np.ones((B, F), object), TYPE_ERROR, r"object"),
    ("x-list-with-none", "x_batch", [[1.0, None, 2.0, 3.0]], TYPE_ERROR, r"object"),
    ("x-str-dtype", "x_batch", np.array([["a", "b", "c", "d"]]), TYPE_ERROR, r"<U1"),
    ("x-ragged", "x_batch", [[1.0, 2.0, 3.0, 4.0], [5.0]], TYPE_ERROR, r"list"),
    ("x-none", "x_batch", None, TYPE_ERROR, r"None"),
    ("x-str", "x_batch", "abcd", TYPE_ERROR, r"str 'abcd'"),
]
if np.dtype(np.longdouble).itemsize > 8:  # where long double is float64 it is simply float64
    VIOLATIONS.append(("x-longdouble", "x_batch", np.ones((B, F), np.longdouble), TYPE_ERROR, r"float(128|96|80)"))


def test_exception_classes():
    assert issubclass(ContractError, ValueError)
    assert issubclass(ContractTypeError, ContractError)
    assert issubclass(ContractTypeError, TypeError)
    assert not issubclass(ContractError, TypeError)
    assert composed.contract.ContractError is ContractError


@pytest.mark.parametrize("case", VIOLATIONS, ids=[v[0] for v in VIOLATIONS])
def test_violation(impl, case):
    _, arg, bad, kind, received = case
    kwargs = {"seed": 0, "x_batch": np.ones((B, F), np.float32), "num_layers": N, "features": F}
    kwargs[arg] = bad
    # The message starts by naming the argument (bare or as int(arg)) and then says what was received.
    pattern = rf"^(int\()?{arg}\b(.|\n)*{received}"
    expected = ContractTypeError if kind == TYPE_ERROR else ContractError
    with pytest.raises(expected, match=pattern) as info:
        impl(**kwargs)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, TypeError) == (kind == TYPE_ERROR), type(info.value)


@pytest.mark.parametrize("seed", [-(2**63), 2**63 - 1, -(2**63) - 0.5, 2.0**62])
def test_seed_range_bounds_are_accepted(seed):
    """int(seed) in [-2**63, 2**63) is valid: the bounds themselves (and a float that truncates onto one)."""
    x = _x()
    for name in NAMES:
        out = _out(composed.IMPLEMENTATIONS[name], seed, x, N, F)
        assert out.shape == (B * F,) and out.dtype == np.float32, name


# -- valid edge cases ----------------------------------------------------------------------------------------------

# input dtype -> the dtype the contract computes in (float64 only with x64 enabled)
CANONICAL = {
    np.float32: np.float32,
    np.float16: np.float16,
    jnp.bfloat16: jnp.bfloat16,
    np.float64: np.float64 if X64 else np.float32,
    np.int32: np.float32,
    np.bool_: np.float32,
}


@pytest.mark.parametrize("dtype", list(CANONICAL), ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("num_layers", [0, 0.9, -0.5])
def test_zero_layers_is_the_identity(impl, dtype, num_layers):
    x = (_x(seed=1) * 3).astype(dtype)
    out = _out(impl, 7, x, num_layers, F)
    assert _same(out, x.astype(CANONICAL[dtype]).reshape(-1)), (out, x)


def test_empty_batch(impl):
    out = _out(impl, 5, np.zeros((0, F), np.float32), N, F)
    assert out.shape == (0,) and out.dtype == np.float32


@pytest.mark.parametrize(
    "fractional, truncated, rounded_away",
    [(3.7, 3, 4), (-0.5, 0, -1), (-2.9, -2, -3), (np.float64(1e3 + 0.99), 1000, 1001)],
    ids=["3.7", "-0.5", "-2.9", "1000.99"],
)
def test_fractional_seed_truncates_toward_zero(impl, fractional, truncated, rounded_away):
    x = _x(seed=3)
    got = _out(impl, fractional, x, N, F)
    assert _same(got, _out(impl, truncated, x, N, F))
    # Not vacuous: the neighbouring seed (what rounding or floor would give) changes the result.
    assert not np.array_equal(got, _out(impl, rounded_away, x, N, F))


def test_fractional_num_layers_truncates(impl):
    x = _x(seed=4)
    got = _out(impl, 11, x, 1.9, F)
    assert _same(got, _out(impl, 11, x, 1, F))
    assert not np.array_equal(got, _out(impl, 11, x, 2, F))


@pytest.mark.parametrize("features", [4.5, 4.7, 4.999])
def test_fractional_features_truncates(impl, features):
    # x has 4 columns: rounding 4.7 up to 5 would be a shape violation.
    x = _x(seed=5)
    assert _same(_out(impl, 2, x, N, features), _out(impl, 2, x, N, F))


SCALAR_SEEDS = [
    (np.int64(5), 5),
    (np.int32(-5), -5),
    (np.uint32(5), 5),
    (np.float32(5.75), 5),
    (np.float64(-5.5), -5),
    (np.array(5), 5),
    (np.array(-5.9), -5),
    (jnp.array(5, jnp.int32), 5),
    (jnp.array(5.5, jnp.float32), 5),
    (np.int64(2**40 + 5), 2**40 + 5),
]


def test_numpy_and_jax_scalar_seeds(impl):
    x = _x(seed=6)
    results = {s: _out(impl, s, x, N, F) for s in {5, -5, 2**40 + 5}}
    assert not np.array_equal(results[5], results[-5])
    for seed, as_int in SCALAR_SEEDS:
        assert _same(_out(impl, seed, x, N, F), results[as_int]), repr(seed)


def test_array_likes_as_x_batch(impl):
    x = _x(seed=7)
    expected = _out(impl, 9, x, N, F)
    assert _same(_out(impl, 9, jnp.asarray(x), N, F), expected)
    # Python floats are float64: the list gives what the same float64 array gives (float32 unless x64 is enabled)
    as_list = x.tolist()
    from_list = _out(impl, 9, x.astype(np.float64), N, F)
    assert _same(_out(impl, 9, as_list, N, F), from_list)
    assert _same(_out(impl, 9, [tuple(row) for row in as_list], N, F), from_list)
    if not X64:
        assert _same(from_list, expected)  # the values are exactly float32 ones
    ints = [[1, -2, 3, 0], [0, 4, -1, 2], [5, 0, 0, -3]]
    assert _same(_out(impl, 9, ints, N, F), _out(impl, 9, np.array(ints, np.float32), N, F))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, jnp.bfloat16, np.int64, np.bool_])
def test_input_is_never_mutated(impl, dtype):
    x = (_x(seed=8) * 4).astype(dtype)
    before = x.copy()
    impl(1, x, N, F)
    assert x.dtype == before.dtype and np.array_equal(x, before)
    x.flags.writeable = False
    impl(1, x, N, F)  # a read-only input is fine: nothing writes to it
    assert np.array_equal(x, before)


def test_list_input_is_never_mutated(impl):
    rows = [[0.5, -1.0, 2.0, 3.0], [1.0, 1.0, -1.0, 0.25], [0.0, 2.0, -3.0, 1.5]]
    before = [list(r) for r in rows]
    impl(1, rows, N, F)
    assert rows == before


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.uint64, np.bool_, np.float64])
def test_promoted_inputs_compute_in_float32(impl, dtype):
    """Integers, bools (and float64 without x64) give float32: the result for the same values given as float32."""
    if dtype is np.float64 and X64:
        pytest.skip("with x64 enabled float64 stays float64")
    x = np.abs(_x(seed=9) * 5).astype(dtype)
    out = _out(impl, 4, x, N, F)
    assert out.dtype == np.float32 and out.shape == (B * F,)
    assert _same(out, _out(impl, 4, x.astype(np.float32), N, F))


def test_float32_in_float32_out(impl):
    out = _out(impl, 4, _x(seed=10), N, F)
    assert out.dtype == np.float32 and out.shape == (B * F,) and out.ndim == 1


@pytest.mark.parametrize("dtype", [np.float16, jnp.bfloat16], ids=["float16", "bfloat16"])
def test_low_precision_floats_keep_their_dtype(impl, dtype):
    """float16 / bfloat16 in gives the same dtype out, within that dtype's rounding of the float64 oracle."""
    x = _x(seed=11, dtype=dtype)
    out = _out(impl, 3, x, N, F)
    assert out.dtype == np.dtype(dtype) and out.shape == (B * F,)
    ref = composed.oracle(3, x, N, F)
    scale = np.abs(ref).max()
    assert scale > 0
    # N*F unit roundoffs of the dtype, relative to the largest output (measured worst: 0.4 of this on 90 cases).
    tol = N * F * float(ml_dtypes.finfo(dtype).eps) * scale
    assert np.abs(out.astype(np.float64) - ref).max() <= tol


@pytest.mark.parametrize("dtype", ["f4", "f2", "f8", "i4", "u2"])
def test_non_native_byte_order_is_read_by_value(impl, dtype):
    """A batch in the other byte order (big-endian on the usual machines: FITS and many binary formats) gives what
    the same values in native byte order give, bit for bit and in the same dtype
    (``x.astype(x.dtype.newbyteorder('='))``), and is left as it was."""
    x = (_x(seed=12) * 3).astype(np.dtype(dtype).newbyteorder("S"))
    before = x.copy()
    native = x.astype(x.dtype.newbyteorder("="))
    assert not x.dtype.isnative and native.dtype.isnative
    assert _same(_out(impl, 5, x, N, F), _out(impl, 5, native, N, F))
    assert x.dtype == before.dtype and np.array_equal(x, before)
