"""The boundary phase: every case of the boundary set (``properties.invariants.boundary``) as its own test,
``boundary[B1025-F16-N2-mag1]``, run right after ``output_shape`` (each is one deterministic call, no Hypothesis).

The every-run subset (one or more cases per edge class) runs by default, the whole set under the ``exhaustive``
profile. Core tier: the check is ``matches_oracle`` on a fixed case (``properties.invariants.BOUNDARY``).
"""

import pytest

from properties.harness import profiles
from properties.invariants.boundary import cases
from properties.runner.pytest_items import run_boundary_case

NAMES = [case.name for case in cases(full=profiles.full_boundary())]


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_boundary(candidate, name):
    run_boundary_case(candidate, name)


test_boundary = pytest.mark.core(test_boundary)
