"""Turning the check plan (:mod:`properties.runner.plan`) into pytest tests: ``properties/test_properties.py`` (a test
per property of the catalogue) and ``properties/test_phases.py`` (a test per case set, a parameter per case)."""

from __future__ import annotations

import pytest
from hypothesis import given

from properties.harness import budget as example_budget
from properties.harness import profiles
from properties.harness.proxy import ImplementationError, NotRun
from properties.invariants import Property
from properties.runner.plan import CASE_SETS, CaseSet, Phase, family, rank  # noqa: F401 (family, rank: the plugin's)

#: Set by the plugin from its options: ``examples`` (``--max-examples``), examples a property or grid cell.
OVERRIDES: dict = {"examples": None}


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
        self.budget = None  # issue 17: the test's example budget (harness.budget), made at its first example


STATE = _State()


def _budget(grid: bool) -> example_budget.Budget:
    """The running test's example budget: a grid cell has its own, smaller one."""
    if STATE.budget is None:
        STATE.budget = example_budget.Budget(example_budget.seconds(profiles.profile_name(), grid),
                                             example_budget.minimum(grid))
    return STATE.budget


def _run(prop: Property, candidate, case: dict, name: str | None = None) -> None:
    budget = _budget(name is not None and CASE_SETS[name].phase is Phase.GRID)
    if STATE.first_failure is None and budget.exhausted():
        budget.cut += 1  # drawn, not run: reported as examples_cut (harness.budget)
        return
    STATE.examples += 1
    STATE.case = case
    STATE.prop = name or prop.name
    candidate.calls.clear()
    before = getattr(candidate, "run_seconds", 0.0)
    try:
        prop.check(candidate, **case)
    except NotRun as exc:
        pytest.skip(str(exc))
    except (AssertionError, ImplementationError) as exc:
        if STATE.first_failure is None:
            STATE.first_failure = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        budget.add(getattr(candidate, "run_seconds", 0.0) - before)


def make_property_test(prop: Property):
    """A pytest test function for ``prop`` (phase RANDOM): Hypothesis draws ``case`` dicts from its strategy."""

    @profiles.for_property(prop.weight, examples=OVERRIDES["examples"])
    @prop.given
    def test(candidate, case):
        _run(prop, candidate, case)

    test.__name__ = f"test_{prop.name}"
    test.__qualname__ = test.__name__
    test.__doc__ = prop.doc
    return getattr(pytest.mark, prop.tier)(test)


def run_case(candidate, case_set: CaseSet, case_id: str) -> None:
    """One case of a case set: a fixed case is one deterministic call, recorded like a Hypothesis example (its
    counterexample is the case, its repro ``check_case(SPEC, NAME, case)``); a grid cell is a Hypothesis test of its
    own over the cell's strategy."""
    case = case_set.case(case_id)
    if case_set.phase is Phase.BOUNDARY:
        _run(case_set.prop, candidate, case, case_set.name)
        return

    @profiles.for_property(examples=OVERRIDES["examples"] or profiles.grid_examples())
    @given(case=case)
    def run(candidate, case):
        _run(case_set.prop, candidate, case, case_set.name)

    run(candidate)


def make_case_set_test(case_set: CaseSet):
    """``test_<name>``, parametrized by the case ids the active profile runs, marked with the set's tier."""
    ids = [cid for cid, _ in case_set.case_list()]

    @pytest.mark.parametrize("case_id", ids, ids=ids)
    def test(candidate, case_id):
        run_case(candidate, case_set, case_id)

    test.__name__ = f"test_{case_set.name}"
    test.__qualname__ = test.__name__
    test.__doc__ = f"{case_set.phase.name} phase: {case_set.prop.invariant}"
    return getattr(pytest.mark, case_set.tier)(test)
