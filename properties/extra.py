"""Properties added to close gaps the mutant catalogue found (``tests/mutation_table.py``): each one exists because a
deliberately wrong implementation in ``tests/mutants`` survived every other property under the ``ci`` profile.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from properties import strategies as S
from properties.assertions import assert_identical, assert_some_nonzero, output_matrix
from properties.registry import CORE, STRICT, prop
from properties.strict import VIOLATIONS, rejects_invalid_arguments


@prop(STRICT, S.cases(buckets=S.DEEP_BUCKETS, fractional=False), weight=0.08)
def rejects_every_violation(impl, seed, x_batch, num_layers, features):
    """Every contract violation of ``properties.strict.VIOLATIONS``, each tried on the same valid case, raises as
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
            rejects_invalid_arguments(impl, seed, x_batch, num_layers, features, violation=violation)
        except AssertionError as exc:
            failures.append(str(exc).split("\n")[0])
    assert not failures, f"{len(failures)} of {len(VIOLATIONS)} violations not rejected:\n  " + "\n  ".join(failures)


#: Multipliers of 2**32 that put a seed near the ends of the int64 range or past 2**53 (where a float loses bits).
_BIG_WRAPS = (2**31 - 1, -(2**31) + 1, 2**30 + 1, -(2**29) - 3, 2**21 + 1, -(2**22) - 1)


@st.composite
def _seed_and_residue(draw):
    case = draw(S.cases(buckets=tuple(s for s in S.DEEP_BUCKETS if s[1] >= 3), fractional=False))
    small = draw(st.integers(-(2**31), 2**31 - 1) | st.sampled_from((1, -1, 2**31 - 1, -(2**31), 12345)))
    wraps = st.sampled_from(_BIG_WRAPS) | st.integers(-(2**31) + 1, 2**31 - 1).filter(lambda k: k != 0)
    k = draw(wraps)
    case["seed"] = small + k * 2**32  # in [-2**63, 2**63): |k| < 2**31, |small| <= 2**31
    case["small"] = small
    return case


@prop(CORE, _seed_and_residue(), weight=0.6)
def seeds_wrap_modulo_2_32(impl, seed, small, x_batch, num_layers, features):
    """Any seed in [-2**63, 2**63) gives exactly the output of its signed 32-bit residue ``small`` (seed = small +
    k 2**32, k up to +-2**31): ``jax.random.key`` with x64 disabled keeps the low 32 bits.

    Why besides ``seed_semantics``: that one wraps by a few multiples of 2**32 only, and ``matches_oracle`` draws
    seeds beyond 2**53 in about 2% of examples (Hypothesis favours small integers), so a seed cast through a float
    survives: the mutant ``seed_via_float`` passed ``matches_oracle`` in 7 of 10 random runs at the ``ci`` budget (and
    derandomized when first measured), ``seed_semantics`` in 10 of 10. This property kills it in 10 of 10.
    Catches: ``int(float(seed))``, seeds clipped or rejected outside 32 bits, ``abs(seed)``, hashing the seed.
    """
    import jax

    if jax.config.jax_enable_x64:
        return  # with x64, jax.random.key keeps all 64 bits: the residue is another seed
    b, f = np.shape(x_batch)
    base = output_matrix(impl(small, x_batch, num_layers, features), b, f)
    assert_some_nonzero(base, "seeds_wrap_modulo_2_32")
    assert_identical(impl(seed, x_batch, num_layers, features), impl(small, x_batch, num_layers, features),
                     label=f"seed {seed} vs its 32-bit residue {small}")


@st.composite
def _fractional_features(draw):
    case = draw(S.cases(fractional=False))
    f = case["features"]
    frac = draw(st.sampled_from((0.5, 0.75, 0.9375, 0.99)) | st.floats(0.0, 1.0, exclude_min=True, exclude_max=True))
    value = float(f) + frac
    case["features"] = value if int(value) == f else float(f) + 0.5  # f + frac may round up to f + 1
    case["int_features"] = f
    return case


@prop(CORE, _fractional_features(), weight=0.4)
def features_truncate_toward_zero(impl, seed, x_batch, num_layers, features, int_features):
    """``features`` acts as ``int(features)``: f(..., F + 0.75) = f(..., F), bit for bit.

    Why besides ``matches_oracle``: the cases draw a fractional ``features`` above F + 0.5 in about one example in ten,
    so a ``round(features)`` can survive: mutant ``features_rounded`` passed ``matches_oracle`` derandomized when first
    measured and in 1 of 10 random runs at the ``ci`` budget. This property kills it in 10 of 10.
    Catches: rounding or ceil of the feature count (valid input rejected or mis-shaped).
    """
    assert int(features) == int_features
    assert_identical(impl(seed, x_batch, num_layers, features), impl(seed, x_batch, num_layers, int_features),
                     label=f"f(features={features!r}) vs f(features={int_features})")
