"""The one list of named properties, serving both the pytest integration and the plain-function API.

A property is a short function ``check(impl, **case)`` whose docstring states the invariant; ``case`` is drawn by the
property's Hypothesis strategy (a dict of keyword arguments). It raises ``AssertionError`` (or
:class:`properties.candidate.ImplementationError`) when the invariant does not hold for ``impl``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

CORE = "core"
STRICT = "strict"
TIERS = (CORE, STRICT)


@dataclass(frozen=True)
class Property:
    name: str
    tier: str
    check: Callable  # check(impl, **case) -> None
    strategy: object  # a SearchStrategy of dict(case)
    weight: float = 1.0  # multiplies the profile's example count (calls per example, cost)

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.check.__doc__ or "")

    @property
    def invariant(self) -> str:
        return self.doc.split("\n\n")[0].replace("\n", " ")

    def __call__(self, impl, **case):
        return self.check(impl, **case)


PROPERTIES: dict[str, Property] = {}


def prop(tier: str, strategy, *, weight: float = 1.0, name: str | None = None):
    """Register ``check`` as a property of ``tier`` drawing its cases from ``strategy``."""
    if tier not in TIERS:
        raise ValueError(f"tier must be one of {TIERS}, got {tier!r}")

    def register(check: Callable) -> Callable:
        key = name or check.__name__
        if key in PROPERTIES:
            raise ValueError(f"property {key!r} registered twice")
        if not (check.__doc__ or "").strip():
            raise ValueError(f"property {key!r} needs a docstring stating its invariant")
        PROPERTIES[key] = Property(key, tier, check, strategy, weight)
        return check

    return register


def load_all() -> dict[str, Property]:
    """Import the modules that define properties, and return the registry."""
    from properties import core, extra, sharding, strict  # noqa: F401  (registration happens on import)

    return PROPERTIES
