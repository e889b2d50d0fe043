"""Strict tier: the production contract of ``composed`` (``composed.contract``), beyond what the problem demands.

A bundled implementation must raise exactly ``ContractError`` / ``ContractTypeError``; a foreign one passes when it
raises ``ValueError`` or ``TypeError`` (their bases) rather than returning garbage.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import strategies as st

import composed
from properties import strategies as S
from properties.assertions import assert_matches_oracle, assert_some_nonzero, output_matrix
from properties.candidate import ImplementationError, as_output
from properties.registry import STRICT, prop

# Each violation: (name, bundled exception, builder(case) -> args tuple). The builders break one argument of a valid
# case; the message must name that argument.
def _x(case):
    return case["x_batch"]


VIOLATIONS = {
    "seed bool": (composed.ContractTypeError, "seed", lambda c: (True, _x(c), c["num_layers"], c["features"])),
    "seed str": (composed.ContractTypeError, "seed", lambda c: ("0", _x(c), c["num_layers"], c["features"])),
    "seed None": (composed.ContractTypeError, "seed", lambda c: (None, _x(c), c["num_layers"], c["features"])),
    "seed nan": (composed.ContractError, "seed", lambda c: (math.nan, _x(c), c["num_layers"], c["features"])),
    "seed inf": (composed.ContractError, "seed", lambda c: (-math.inf, _x(c), c["num_layers"], c["features"])),
    "seed 2**63": (composed.ContractError, "seed", lambda c: (2**63, _x(c), c["num_layers"], c["features"])),
    "seed 1e19": (composed.ContractError, "seed", lambda c: (1e19, _x(c), c["num_layers"], c["features"])),
    "seed -2**63-1": (composed.ContractError, "seed", lambda c: (-(2**63) - 1, _x(c), c["num_layers"], c["features"])),
    "num_layers -1": (composed.ContractError, "num_layers", lambda c: (c["seed"], _x(c), -1, c["features"])),
    "num_layers -3.5": (composed.ContractError, "num_layers", lambda c: (c["seed"], _x(c), -3.5, c["features"])),
    "num_layers nan": (composed.ContractError, "num_layers", lambda c: (c["seed"], _x(c), math.nan, c["features"])),
    "num_layers inf": (composed.ContractError, "num_layers", lambda c: (c["seed"], _x(c), math.inf, c["features"])),
    "num_layers str": (composed.ContractTypeError, "num_layers", lambda c: (c["seed"], _x(c), "2", c["features"])),
    "features 0": (composed.ContractError, "features", lambda c: (c["seed"], _x(c)[:, :0], c["num_layers"], 0)),
    "features nan": (composed.ContractError, "features", lambda c: (c["seed"], _x(c), c["num_layers"], math.nan)),
    "features str": (composed.ContractTypeError, "features", lambda c: (c["seed"], _x(c), c["num_layers"], "4")),
    "x_batch 1-D": (composed.ContractError, "x_batch", lambda c: (c["seed"], _x(c)[0], c["num_layers"], c["features"])),
    "x_batch 3-D": (composed.ContractError, "x_batch", lambda c: (c["seed"], _x(c)[None], c["num_layers"], c["features"])),
    "x_batch 0-D": (composed.ContractError, "x_batch", lambda c: (c["seed"], _x(c)[0, 0], c["num_layers"], c["features"])),
    "x_batch F mismatch": (composed.ContractError, "x_batch",
                           lambda c: (c["seed"], np.concatenate([_x(c), _x(c)], 1), c["num_layers"], c["features"])),
    "x_batch complex": (composed.ContractTypeError, "x_batch",
                        lambda c: (c["seed"], _x(c).astype(np.complex64), c["num_layers"], c["features"])),
    "x_batch object": (composed.ContractTypeError, "x_batch",
                       lambda c: (c["seed"], _x(c).astype(object), c["num_layers"], c["features"])),
    "x_batch str": (composed.ContractTypeError, "x_batch",
                    lambda c: (c["seed"], _x(c).astype(str), c["num_layers"], c["features"])),
    "x_batch None": (composed.ContractTypeError, "x_batch", lambda c: (c["seed"], None, c["num_layers"], c["features"])),
}


@st.composite
def _violation(draw):
    case = draw(S.cases(buckets=S.DEEP_BUCKETS, fractional=False))
    case["violation"] = draw(st.sampled_from(sorted(VIOLATIONS)))
    return case


@prop(STRICT, _violation())
def rejects_invalid_arguments(impl, seed, x_batch, num_layers, features, violation):
    """Every contract violation raises: ``ContractTypeError`` for a wrong type, ``ContractError`` otherwise (both
    ``ValueError``s; a foreign implementation may raise any ``ValueError``/``TypeError``), with a message naming the
    argument — never a result, never a cryptic backend error for a bundled implementation.

    Catches: a 3-D batch that silently runs, NaN/inf counts, bools as seeds, overflowing seeds, complex input accepted.
    """
    expected, arg, build = VIOLATIONS[violation]
    args = build(dict(seed=seed, x_batch=x_batch, num_layers=num_layers, features=features))
    try:
        out = impl(*args)
    except ImplementationError as exc:
        cause = exc.cause
        if impl.is_bundled:
            assert isinstance(cause, expected), (
                f"{violation}: expected {expected.__name__}, got {type(cause).__name__}: {cause}"
            )
            assert arg in str(cause), f"{violation}: the message must name {arg!r}: {cause}"
        else:
            assert isinstance(cause, (ValueError, TypeError)), (
                f"{violation}: expected a ValueError or TypeError, got {type(cause).__name__}: {cause}"
            )
        return
    raise AssertionError(f"{violation}: the call returned {type(out).__name__} instead of raising")


@st.composite
def _empty(draw):
    f = draw(st.sampled_from(sorted({f for _, f, _ in S.SHAPE_BUCKETS})))
    n = draw(st.sampled_from(sorted({n for _, _, n in S.SHAPE_BUCKETS})))
    return dict(seed=draw(S.seeds()), x_batch=np.zeros((0, f), np.float32), num_layers=draw(S.as_count(n)),
                features=draw(S.as_count(f)))


@prop(STRICT, _empty(), weight=0.3)
def empty_batch(impl, seed, x_batch, num_layers, features):
    """B = 0 is valid and returns an empty 1-D float32 array of shape (0,)."""
    out = as_output(impl(seed, x_batch, num_layers, features))
    assert out.shape == (0,), f"B = 0 must give shape (0,), got {out.shape}"
    assert out.dtype == np.float32, f"B = 0 float32 input must give float32, got {out.dtype}"


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


@prop(STRICT, _dtyped(), weight=0.8)
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


@prop(STRICT, S.cases())
def float32_in_float32_out(impl, seed, x_batch, num_layers, features):
    """float32 input gives a float32 output (no silent promotion to float64, no demotion)."""
    out = as_output(impl(seed, x_batch, num_layers, features))
    assert out.dtype == np.float32, f"float32 input gave {out.dtype} output"


@prop(STRICT, S.cases(), weight=0.6)
def input_not_mutated(impl, seed, x_batch, num_layers, features):
    """The input array is never modified, and a read-only input is accepted."""
    before = np.array(x_batch, copy=True)
    x_batch = np.array(x_batch, copy=True)
    impl(seed, x_batch, num_layers, features)
    assert np.array_equal(before, x_batch, equal_nan=True), "the implementation modified x_batch in place"
    x_batch.flags.writeable = False
    impl(seed, x_batch, num_layers, features)


@st.composite
def _nonfinite(draw):
    case = draw(S.cases(buckets=S.MULTI_ROW_BUCKETS, fractional=False))
    x = np.array(case["x_batch"], copy=True)
    row = draw(st.integers(0, x.shape[0] - 1))
    col = draw(st.integers(0, x.shape[1] - 1))
    x[row, col] = draw(st.sampled_from((np.nan, np.inf, -np.inf)))
    case.update(x_batch=x, bad_row=row)
    return case


@prop(STRICT, _nonfinite(), weight=0.6)
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


# --- structural properties (JAX-traceable implementations) -------------------------------------------------------


def _jaxpr(impl, seed, x, n, f):
    import jax

    from properties.candidate import CallTimeout

    try:
        # through the guard (timeout, output, JAX config): tracing runs the implementation's Python code, so a hostile
        # one can hang or misbehave here too
        return jax.make_jaxpr(lambda xb: impl(seed, xb, n, f))(x)
    except CallTimeout:
        raise
    except Exception as exc:  # noqa: BLE001 - not traceable: the property does not apply
        kind = type(getattr(exc, "cause", None) or exc).__name__
        pytest.skip(f"implementation is not JAX-traceable ({kind}): structural properties need jax.make_jaxpr")


def _walk(jaxpr):
    """Every equation of a closed jaxpr, recursing into sub-jaxprs (pjit, scan, ...)."""
    from jax.extend import core as jcore

    for eqn in jaxpr.eqns:
        yield eqn
        for value in eqn.params.values():
            subs = value if isinstance(value, (tuple, list)) else (value,)
            for sub in subs:
                if isinstance(sub, jcore.ClosedJaxpr):
                    yield from _walk(sub.jaxpr)
                elif isinstance(sub, jcore.Jaxpr):
                    yield from _walk(sub)


@st.composite
def _structural(draw):
    b, f = draw(st.sampled_from(((2, 3), (4, 4), (8, 16), (3, 7))))
    return dict(seed=draw(st.integers(-(2**31), 2**31 - 1)), batch=b, features=f,
                depths=draw(st.sampled_from(((2, 5), (3, 8), (2, 16)))))


@prop(STRICT, _structural(), weight=0.15)
def jaxpr_constant_in_depth(impl, seed, batch, features, depths):
    """The traced program does not grow with N: the jaxpr has the same number of equations for two depths, with a scan
    over the layers (compile time O(1) in depth).

    Measured: scan-inside-vmap and vmap-inside-scan give textually identical jaxprs here (one scan, carry (B, F)),
    unlike the problem text's claim that their HLO differs.
    Catches: an unrolled Python loop over layers.
    """
    x = np.ones((batch, features), np.float32)
    sizes = {}
    for n in depths:
        eqns = list(_walk(_jaxpr(impl, seed, x, n, features).jaxpr))
        sizes[n] = len(eqns)
        scans = [e for e in eqns if e.primitive.name == "scan"]
        assert scans, f"N={n}: no scan in the jaxpr (primitives: {sorted({e.primitive.name for e in eqns})})"
    a, b = depths
    assert sizes[a] == sizes[b], f"the jaxpr grows with depth: {sizes[a]} equations at N={a}, {sizes[b]} at N={b}"


@prop(STRICT, _structural(), weight=0.15)
def scan_body_is_batched_matmul(impl, seed, batch, features, depths):
    """The scan over layers has a carry of shape (B, F) and its body multiplies it by an (F, F) kernel: the batch is
    lifted into every layer's matmul (one batched kernel per layer).

    Catches: a per-sample loop, a scan whose body works on one row at a time, a kernel of the wrong shape.
    """
    x = np.ones((batch, features), np.float32)
    n = depths[1]
    eqns = list(_walk(_jaxpr(impl, seed, x, n, features).jaxpr))
    scans = [e for e in eqns if e.primitive.name == "scan" and e.params.get("length") == n]
    assert scans, f"no scan of length N={n} in the jaxpr"
    found = []
    for scan in scans:
        for e in _walk(scan.params["jaxpr"].jaxpr):
            if e.primitive.name == "dot_general":
                found.append(tuple(tuple(v.aval.shape) for v in e.invars))
    want = {((batch, features), (features, features)), ((features, features), (batch, features))}
    assert any(shapes in want for shapes in found), (
        f"no (B, F) x (F, F) = ({batch}, {features}) x ({features}, {features}) dot_general in a scan body; "
        f"found {found}"
    )
