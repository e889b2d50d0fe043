"""Turning registered properties into pytest tests (used by ``test_properties.py`` and ``test_grid.py``)."""

from __future__ import annotations

import pytest
from hypothesis import given

from properties import settings as suite_settings
from properties import strategies as S
from properties.assertions import assert_matches_oracle
from properties.registry import CORE, Property


class _State:
    """What the running test has done so far, read by the plugin's report hooks (one per process)."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.examples = 0
        self.case = None
        self.prop = None


STATE = _State()


def _run(prop: Property, candidate, case: dict) -> None:
    STATE.examples += 1
    STATE.case = case
    STATE.prop = prop.name
    candidate.calls.clear()
    prop.check(candidate, **case)


def make_property_test(prop: Property):
    """A pytest test function for ``prop``: Hypothesis draws ``case`` dicts from the property's strategy."""

    @suite_settings.for_property(prop.weight)
    @given(case=prop.strategy)
    def test(candidate, case):
        _run(prop, candidate, case)

    test.__name__ = f"test_{prop.name}"
    test.__qualname__ = test.__name__
    test.__doc__ = prop.doc
    return getattr(pytest.mark, prop.tier)(test)


def make_cell_test(b: int, f: int, n: int):
    """A Hypothesis-driven ``matches_oracle`` check for one grid cell."""
    @suite_settings.for_property(examples=suite_settings.grid_examples())
    @given(case=S.cell_cases(b, f, n))
    def run(candidate, case):
        _run(GRID_PROPERTY, candidate, case)

    return run


def _grid_check(impl, seed, x_batch, num_layers, features):
    """The output equals the float64 oracle within the suite's tolerance (all cases of the cell, dead ones too)."""
    assert_matches_oracle(impl(seed, x_batch, num_layers, features), seed, x_batch, num_layers, features)


GRID_PROPERTY = Property("grid", CORE, _grid_check, None)

