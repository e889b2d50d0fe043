"""The invariants: every property of the suite, one module per theme, collected here in one ordered catalogue.

:data:`PROPERTIES` (name -> :class:`~properties.invariants.base.Property`) serves both the pytest integration
(``properties/test_properties.py``) and the plain-function API (:mod:`properties.api`); :data:`GRID` is
``matches_oracle`` for one cell of the small-scope grid (``properties/test_phases.py``), :data:`BOUNDARY` the same check
on one named case of the boundary set (``properties/test_phases.py``).

Modules (each property is a short function of the implementation whose docstring states the invariant):

* :mod:`.output` -- the output's form (shape, relu last, float32, the empty batch);
* :mod:`.oracle` -- equality to the float64 oracle (float32, other dtypes, non-finite rows; the grid cell);
* :mod:`.boundary` -- the boundary set: fixed cases at the edges of the domain (sizes around tile widths, depth,
  magnitudes from 1e-30 to the max safe scale), each one oracle comparison (``BOUNDARY``, ``properties/test_phases.py``);
* :mod:`.batch` -- rows are independent and unordered;
* :mod:`.arguments` -- how the seed and the counts are read;
* :mod:`.algebra` -- determinism, f(0) = 0, positive homogeneity;
* :mod:`.contract` -- invalid arguments raise; the input is left alone;
* :mod:`.forms` -- the same values in another input form (layout, list, jax.Array, NumPy counts): the same result;
* :mod:`.structure` -- the traced program (a scan over layers, a batched matmul);
* :mod:`.sharding` -- the batch sharded over a device mesh;
* :mod:`.transforms` -- the implementation under jax.jit, jax.vmap and differentiation (the ``transforms`` tier);
* :mod:`.transforms_boundary` -- the derivative boundary set: fixed derivative cases at the edges (B, F up to 257, N up
  to 129, derivatives 1e-30 .. 1e30), each one comparison with the oracle (``TRANSFORMS_BOUNDARY``,
  ``properties/test_phases.py``).
"""

from __future__ import annotations

from properties.invariants import (algebra, arguments, batch, boundary, contract, forms, oracle, output, sharding,
                                   structure, transforms, transforms_boundary)
from properties.invariants.base import CORE, STRICT, TIERS, TRANSFORMS, Property, prop

MODULES = (output, oracle, boundary, batch, arguments, algebra, contract, forms, structure, sharding, transforms)


def _collect() -> dict[str, Property]:
    found: dict[str, Property] = {}
    for module in MODULES:
        for value in vars(module).values():
            if isinstance(value, Property) and value.strategy is not None and value.check.__module__ == module.__name__:
                if value.name in found:
                    raise ValueError(f"property {value.name!r} defined twice")
                found[value.name] = value
    return found


#: Every property, by name, in catalogue order.
PROPERTIES: dict[str, Property] = _collect()
GRID = oracle.GRID
BOUNDARY = boundary.BOUNDARY
TRANSFORMS_BOUNDARY = transforms_boundary.TRANSFORMS_BOUNDARY

__all__ = ["PROPERTIES", "GRID", "BOUNDARY", "TRANSFORMS_BOUNDARY", "Property", "prop", "CORE", "STRICT", "TRANSFORMS",
           "TIERS"]
