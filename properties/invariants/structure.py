"""Structure of the traced program (JAX-traceable implementations): a scan over the layers whose body is one batched
matmul. The trace is taken in the candidate process (``properties.sandbox.ops.trace``) and comes back as a list of
equations; an implementation that cannot be traced (NumPy, PyTorch) skips these properties with the reason.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from properties.harness.proxy import CallTimeout, ImplementationError
from properties.invariants.base import STRICT, prop


def _equations(impl, seed, x, n, f) -> list[dict]:
    """The traced program's equations (``properties.sandbox.ops.trace``), or skip when it cannot be traced."""
    import pytest

    try:
        return impl.run("trace", seed=seed, x_batch=x, num_layers=n, features=f)["equations"]
    except ImplementationError as exc:
        if exc.cause is None or isinstance(exc, CallTimeout):
            raise  # it crashed, hung or misbehaved while being traced: a failure, not "not traceable"
        pytest.skip(f"implementation is not JAX-traceable ({exc.cause.type}): structural properties need "
                    "jax.make_jaxpr")


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
        eqns = _equations(impl, seed, x, n, features)
        sizes[n] = len(eqns)
        scans = [e for e in eqns if e["primitive"] == "scan"]
        assert scans, f"N={n}: no scan in the jaxpr (primitives: {sorted({e['primitive'] for e in eqns})})"
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
    eqns = _equations(impl, seed, x, n, features)
    assert any(e["primitive"] == "scan" and e.get("length") == n for e in eqns), f"no scan of length N={n} in the jaxpr"
    found = [tuple(tuple(shape) for shape in e["in_shapes"]) for e in eqns
             if e["primitive"] == "dot_general" and n in e["in_scans"]]
    want = {((batch, features), (features, features)), ((features, features), (batch, features))}
    assert any(shapes in want for shapes in found), (
        f"no (B, F) x (F, F) = ({batch}, {features}) x ({features}, {features}) dot_general in a scan body; "
        f"found {found}"
    )
