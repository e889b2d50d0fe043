"""The argument contract of ``composed`` (``composed.contract``): invalid arguments raise, and the input is left alone.

A bundled implementation must raise exactly ``ContractError`` / ``ContractTypeError``; a foreign one passes when it
raises ``ValueError`` or ``TypeError`` (their bases) rather than returning garbage. The exception is judged by the
names of its class hierarchy, as the candidate process reports them.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

import composed
from properties.harness import strategies as S
from properties.harness.proxy import ImplementationError
from properties.invariants.base import STRICT, prop
from properties.invariants.forms import CORE_FORMS, STRICT_FORMS


# Each violation: (name, bundled exception, builder(case) -> args tuple). The builders break one argument of a valid
# case; the message must name that argument.
def _x(case):
    return case["x_batch"]


VIOLATIONS = {
    "seed bool": (composed.ContractTypeError, "seed", lambda c: (True, _x(c), c["num_layers"], c["features"])),
    "seed np.bool_": (composed.ContractTypeError, "seed",
                      lambda c: (np.bool_(False), _x(c), c["num_layers"], c["features"])),
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
    "num_layers bool": (composed.ContractTypeError, "num_layers", lambda c: (c["seed"], _x(c), True, c["features"])),
    "num_layers np.bool_": (composed.ContractTypeError, "num_layers",
                            lambda c: (c["seed"], _x(c), np.bool_(False), c["features"])),
    "features 0": (composed.ContractError, "features", lambda c: (c["seed"], _x(c)[:, :0], c["num_layers"], 0)),
    "features nan": (composed.ContractError, "features", lambda c: (c["seed"], _x(c), c["num_layers"], math.nan)),
    "features str": (composed.ContractTypeError, "features", lambda c: (c["seed"], _x(c), c["num_layers"], "4")),
    # one column, so that int(True) == 1 matches the batch: only the bool itself is wrong
    "features bool": (composed.ContractTypeError, "features",
                      lambda c: (c["seed"], _x(c)[:, :1], c["num_layers"], True)),
    "features np.bool_": (composed.ContractTypeError, "features",
                          lambda c: (c["seed"], _x(c)[:, :1], c["num_layers"], np.bool_(True))),
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


@prop(STRICT, _violation(), examples=(S.corner(1, 1, 1, violation="features bool"),
                                      S.corner(1, 1, 0, violation="num_layers np.bool_")))
def rejects_invalid_arguments(impl, seed, x_batch, num_layers, features, violation):
    """Every contract violation raises: ``ContractTypeError`` for a wrong type, ``ContractError`` otherwise (both
    ``ValueError``s; a foreign implementation may raise any ``ValueError``/``TypeError``), with a message naming the
    argument — never a result, never a cryptic backend error for a bundled implementation.

    Catches: a 3-D batch that silently runs, NaN/inf counts, bools (``True``/``False``, ``np.bool_``) as the seed,
    ``num_layers`` or ``features``, overflowing seeds, complex input accepted.
    """
    expected, arg, build = VIOLATIONS[violation]
    args = build(dict(seed=seed, x_batch=x_batch, num_layers=num_layers, features=features))
    try:
        out = impl(*args)
    except ImplementationError as exc:
        cause = exc.cause  # what the implementation raised (None: it crashed, hung or misbehaved instead)
        if cause is None:
            raise
        if impl.is_bundled:
            assert cause.is_a(expected), f"{violation}: expected {expected.__name__}, got {cause.type}: {cause}"
            assert arg in str(cause), f"{violation}: the message must name {arg!r}: {cause}"
        else:
            assert cause.is_a(ValueError, TypeError), (
                f"{violation}: expected a ValueError or TypeError, got {cause.type}: {cause}"
            )
        return
    raise AssertionError(f"{violation}: the call returned {out.type_name} instead of raising")


@prop(STRICT, S.cases(buckets=S.DEEP_BUCKETS, fractional=False), weight=0.08, examples=S.corners(((1, 1, 1),)))
def rejects_every_violation(impl, seed, x_batch, num_layers, features):
    """Every contract violation of :data:`VIOLATIONS`, each tried on the same valid case, raises as
    ``rejects_invalid_arguments`` requires (the right exception naming the argument for a bundled implementation; a
    ``ValueError``/``TypeError`` for a foreign one) -- none returns a result.

    Why besides ``rejects_invalid_arguments``: that property draws one violation per example (25 examples, 24
    violations, and Hypothesis's draws are far from uniform), so a mutant that mishandles a single violation often
    survives it: ``accepts_3d_input`` did in 6 of 10 random runs at the ``ci`` budget, and in the derandomized ``ci``
    run when first measured. This one tries them all in every example (10 of 10 kills).
    Catches: a 3-D batch silently reshaped, a negative layer count treated as 0, one missing check among many.
    """
    failures = []
    for violation in sorted(VIOLATIONS):
        try:
            rejects_invalid_arguments(impl, seed=seed, x_batch=x_batch, num_layers=num_layers, features=features,
                                      violation=violation)
        except AssertionError as exc:
            failures.append(str(exc).split("\n")[0])
    assert not failures, f"{len(failures)} of {len(VIOLATIONS)} violations not rejected:\n  " + "\n  ".join(failures)


@prop(STRICT, S.cases(), weight=0.2, examples=S.corners())
def input_not_mutated(impl, seed, x_batch, num_layers, features):
    """The caller's x_batch is never modified, in any form the forms properties pass: a plain array, Fortran-ordered,
    strided, column and negatively strided views (and the memory of the larger array around them), read-only, a
    ``jax.Array``, big-endian, a list or tuple. A read-only input is accepted.

    The candidate process compares each array it received with a copy taken before the call, a view together with
    the memory it lives in (a modification there could not reach this process). An implementation may reject the
    forms the problem's own code rejects (lists, tuples, big-endian: ``array_like_inputs`` judges that), but not
    modify them. Every form is tried in every example.
    Catches: in-place normalisation or relu on the caller's array, a non-contiguous input reused as scratch, a kernel
    that writes into the padding between a view's rows.
    """
    x = np.array(x_batch, dtype=np.float32, copy=True)
    impl(seed, x, num_layers, features)
    assert not impl.last_mutated, "the implementation modified x_batch in place (a C-contiguous float32 array)"
    modified = []
    for label, build in {**CORE_FORMS, **STRICT_FORMS}.items():
        form = build(x, num_layers, features)
        if form[0] is x:  # a form of the counts only
            continue
        try:
            impl(seed, *form)
        except ImplementationError as exc:
            if exc.cause is None or label not in STRICT_FORMS:  # a crash, a hang, or a core form refused
                raise
        if impl.last_mutated:
            modified.append(label)
    assert not modified, f"the implementation modified x_batch in place, given: {', '.join(modified)}"
