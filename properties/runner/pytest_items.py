"""Turning the catalogue's properties into pytest tests (used by ``properties/test_properties.py``,
``properties/test_grid.py`` and ``properties/test_boundary.py``)."""

from __future__ import annotations

import pytest
from hypothesis import given

from properties.harness import profiles
from properties.harness import strategies as S
from properties.harness.proxy import ImplementationError, NotRun
from properties.invariants import BOUNDARY, GRID, TRANSFORMS_BOUNDARY, Property

#: Tests that run the same check as a property of the catalogue: once one test of a family failed (and was shrunk) in
#: a run, the others report their first failing example without shrinking it again.
FAMILIES = {"grid": "matches_oracle", "boundary": "matches_oracle"}

#: The order the suite's tests run in: cheap, discriminating checks first (a broken implementation is found in the
#: first seconds), expensive ones last. Ids not listed run after these, core before strict before transforms.
ORDER = (
    "matches_oracle", "output_shape", "boundary", "zero_layers_is_identity", "nonnegative_and_finite", "zero_input_gives_zero",
    "grid", "deterministic", "input_forms", "seed_truncates_toward_zero", "layers_truncate_toward_zero",
    "features_truncate_toward_zero", "seed_semantics", "seeds_wrap_modulo_2_32", "positive_homogeneity",
    "batch_permutation_equivariance", "batch_locality", "float32_in_float32_out", "empty_batch", "input_not_mutated",
    "array_like_inputs", "rejects_invalid_arguments", "nonfinite_rows_stay_in_their_row", "dtypes",
    "rejects_every_violation",
    "jaxpr_constant_in_depth", "scan_body_is_batched_matmul", "sharded_batch",
)
_TIER_RANK = {"core": 0, "strict": 1, "transforms": 2}


def family(prop_id: str) -> str:
    """The check a test runs: ``grid[B1-F2-N3]`` -> ``matches_oracle``; a property -> its own name."""
    base = prop_id.split("[", 1)[0]
    return FAMILIES.get(base, base)


def rank(prop_id: str, tier: str | None) -> tuple:
    base = prop_id.split("[", 1)[0]
    if base in ORDER:
        return (0, ORDER.index(base), 0)
    return (1, _TIER_RANK.get(tier or "", 3), 0)


class _State:
    """What the running test has done so far, read by the plugin's report hooks (one per process)."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.examples = 0
        self.case = None
        self.prop = None
        self.first_failure = None  # the first failure of the test, as text (reported if a replay then passes)
        self.shrink_note = None  # why the counterexample may not be minimal, if it may not be


STATE = _State()


def _run(prop: Property, candidate, case: dict) -> None:
    STATE.examples += 1
    STATE.case = case
    STATE.prop = prop.name
    candidate.calls.clear()
    try:
        prop.check(candidate, **case)
    except NotRun as exc:
        pytest.skip(str(exc))
    except (AssertionError, ImplementationError) as exc:
        if STATE.first_failure is None:
            STATE.first_failure = f"{type(exc).__name__}: {exc}"
        raise


def make_property_test(prop: Property):
    """A pytest test function for ``prop``: Hypothesis draws ``case`` dicts from the property's strategy."""

    @profiles.for_property(prop.weight)
    @prop.given
    def test(candidate, case):
        _run(prop, candidate, case)

    test.__name__ = f"test_{prop.name}"
    test.__qualname__ = test.__name__
    test.__doc__ = prop.doc
    return getattr(pytest.mark, prop.tier)(test)


def run_boundary_case(candidate, name: str) -> None:
    """One case of the boundary set (:mod:`properties.invariants.boundary`): a single deterministic call, recorded like
    a Hypothesis example (its counterexample is ``{"name": ...}``, its repro ``check_case(SPEC, "boundary", ...)``)."""
    _run(BOUNDARY, candidate, {"name": name})


def run_transforms_boundary_case(candidate, name: str) -> None:
    """One case of the derivative boundary set (:mod:`properties.invariants.transforms_boundary`), like
    :func:`run_boundary_case`."""
    _run(TRANSFORMS_BOUNDARY, candidate, {"name": name})


def make_cell_test(b: int, f: int, n: int):
    """A Hypothesis-driven ``matches_oracle`` check for one grid cell."""
    @profiles.for_property(examples=profiles.grid_examples())
    @given(case=S.cell_cases(b, f, n))
    def run(candidate, case):
        _run(GRID, candidate, case)

    return run
