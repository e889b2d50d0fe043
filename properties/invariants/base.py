"""What a property is: a short function ``check(impl, **case)`` whose docstring states the invariant, a tier, and the
Hypothesis strategy its cases are drawn from.

:func:`prop` turns such a function into a :class:`Property` (still callable like the function). The catalogue of
all properties is :data:`properties.invariants.PROPERTIES`; this module knows nothing of it (no import cycle).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

from properties.harness.tiers import CORE, STRICT, TIERS, TRANSFORMS  # noqa: F401 (re-exported: the tiers, defined once)


@dataclass(frozen=True)
class Property:
    name: str
    tier: str
    check: Callable  # check(impl, **case) -> None; raises AssertionError or ImplementationError
    strategy: object  # a SearchStrategy of dict(case)
    weight: float = 1.0  # multiplies the profile's example count (calls per example, cost)
    examples: tuple = ()  # explicit cases (dicts) checked before any drawn one: Hypothesis's @example

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.check.__doc__ or "")

    @property
    def invariant(self) -> str:
        return self.doc.split("\n\n")[0].replace("\n", " ")

    def given(self, test):
        """``test(case=...)`` under ``@given(case=self.strategy)`` and ``@example(case=...)`` for each explicit case."""
        from hypothesis import example, given

        test = given(case=self.strategy)(test)
        for case in reversed(self.examples):
            test = example(case=case)(test)
        return test

    def __call__(self, impl, **case):
        return self.check(impl, **case)


def prop(tier: str, strategy, *, weight: float = 1.0, name: str | None = None, examples: tuple = ()):
    """Make ``check`` a :class:`Property` of ``tier`` drawing its cases from ``strategy`` (after the explicit
    ``examples``, if any)."""
    if tier not in TIERS:
        raise ValueError(f"tier must be one of {TIERS}, got {tier!r}")

    def make(check: Callable) -> Property:
        if not (check.__doc__ or "").strip():
            raise ValueError(f"property {name or check.__name__!r} needs a docstring stating its invariant")
        return Property(name or check.__name__, tier, check, strategy, weight, tuple(examples))

    return make
