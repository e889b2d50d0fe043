"""pytest integration of the case sets (``properties.runner.plan.CASE_SETS``): one test per set, ``test_<name>``,
one parameter per case: ``boundary[B1025-F16-N2-mag1]`` (the boundary phase: one deterministic call a case, run right
after ``output_shape``), ``grid[B1-F2-N3]`` (the grid phase: Hypothesis draws the seed and values inside the cell).

The every-run subset of each set runs by default, all of it under the ``exhaustive`` profile.
"""

from properties.runner.plan import CASE_SETS
from properties.runner.pytest_items import make_case_set_test

for _set in CASE_SETS.values():
    globals()[f"test_{_set.name}"] = make_case_set_test(_set)
del _set
