"""Turning the catalogue's properties into pytest tests (used by ``properties/test_properties.py`` and
``properties/test_grid.py``)."""

from __future__ import annotations

import pytest
from hypothesis import given

from properties.harness import profiles
from properties.harness import strategies as S
from properties.harness.proxy import ImplementationError
from properties.invariants import GRID, Property


class _State:
    """What the running test has done so far, read by the plugin's report hooks (one per process)."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.examples = 0
        self.case = None
        self.prop = None
        self.first_failure = None  # the first failure of the test, as text (reported if a replay then passes)


STATE = _State()


def _run(prop: Property, candidate, case: dict) -> None:
    STATE.examples += 1
    STATE.case = case
    STATE.prop = prop.name
    candidate.calls.clear()
    try:
        prop.check(candidate, **case)
    except (AssertionError, ImplementationError) as exc:
        if STATE.first_failure is None:
            STATE.first_failure = f"{type(exc).__name__}: {exc}"
        raise


def make_property_test(prop: Property):
    """A pytest test function for ``prop``: Hypothesis draws ``case`` dicts from the property's strategy."""

    @profiles.for_property(prop.weight)
    @given(case=prop.strategy)
    def test(candidate, case):
        _run(prop, candidate, case)

    test.__name__ = f"test_{prop.name}"
    test.__qualname__ = test.__name__
    test.__doc__ = prop.doc
    return getattr(pytest.mark, prop.tier)(test)


def make_cell_test(b: int, f: int, n: int):
    """A Hypothesis-driven ``matches_oracle`` check for one grid cell."""
    @profiles.for_property(examples=profiles.grid_examples())
    @given(case=S.cell_cases(b, f, n))
    def run(candidate, case):
        _run(GRID, candidate, case)

    return run
