"""The derivative boundary phase: every case of the derivative boundary set
(``properties.invariants.transforms_boundary``) as its own test, ``transforms_boundary[vjp-B257-F129-N2-mag1]``.

The every-run subset (each transform at a wide batch, a wide layer and a deep network) runs by default, the whole set
under the ``exhaustive`` profile. Transforms tier: each case is one derivative compared with the float64 oracle
(``properties.invariants.TRANSFORMS_BOUNDARY``); implementations that are not JAX ones skip it, saying why.
"""

import pytest

from properties.harness import profiles
from properties.invariants.transforms_boundary import cases
from properties.runner.pytest_items import run_transforms_boundary_case

NAMES = [case.name for case in cases(full=profiles.full_boundary())]


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_transforms_boundary(candidate, name):
    run_transforms_boundary_case(candidate, name)


test_transforms_boundary = pytest.mark.transforms(test_transforms_boundary)
