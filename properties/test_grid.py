"""Exhaustive small-scope checking: every (B, F, N) with B, F in 1..4 and N in 0..4 against the oracle.

Hypothesis draws the seed and values inside each cell. A fixed quarter of the grid runs by default, all of it under
the ``exhaustive`` profile. Core tier: the check is ``matches_oracle``.
"""

import pytest

from properties import settings as suite_settings
from properties.pytest_support import make_cell_test
from properties.strategies import grid_cells

CELLS = grid_cells(full=suite_settings.full_grid())


@pytest.mark.parametrize("cell", CELLS, ids=[f"B{b}-F{f}-N{n}" for b, f, n in CELLS])
def test_grid(candidate, cell):
    make_cell_test(*cell)(candidate)


test_grid = pytest.mark.core(test_grid)
