"""Exhaustive small-scope checking: every (B, F, N) with B, F in 1..4 and N in 0..4 against the oracle.

Hypothesis draws the seed and values inside each cell. A fixed quarter of the grid runs by default, all of it under
the ``exhaustive`` profile. Core tier: the check is ``matches_oracle`` (``properties.invariants.GRID``).
"""

import pytest

from properties.harness import profiles
from properties.harness.strategies import grid_cells
from properties.runner.pytest_items import make_cell_test

CELLS = grid_cells(full=profiles.full_grid())


@pytest.mark.parametrize("cell", CELLS, ids=[f"B{b}-F{f}-N{n}" for b, f, n in CELLS])
def test_grid(candidate, cell):
    make_cell_test(*cell)(candidate)


test_grid = pytest.mark.core(test_grid)
