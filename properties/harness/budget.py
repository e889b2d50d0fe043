"""The example budget: a slow implementation gets a complete verdict in minutes, not hours.

Each test of the suite may spend :func:`seconds` of the implementation's *run time* (what its calls took, minus what
JAX spent tracing and compiling in them: ``compile_s`` of each reply, measured in the candidate process). After every
example the test checks its spending: once it has run at least :func:`minimum` examples and the next example would
take it past its budget (at the mean cost of its examples so far), the test's remaining examples are drawn but not
run (at least :data:`MINIMUM` examples run, one in a grid cell, or one when it alone cost
:data:`ONE_EXAMPLE_BUDGETS` budgets). The cut is never silent: the report gives each property's ``examples`` run and ``examples_cut`` (JSON) and
``composed-check`` says ``(N examples, budget)`` on the property's line.

Why run time only: a jitted implementation pays a compile per new shape, the suite bounds the shapes, and that cost
says nothing about how many examples the implementation can afford; an implementation whose every call takes a second
of run time (a sleep, a slow loop, a remote service) would take an hour for the default profile's ~1000 calls.

A failing test is never cut: once an example failed, shrinking runs on its own time budget
(``profiles.DEFAULT_SHRINK_BUDGET``). ``COMPOSED_EXAMPLE_BUDGET`` overrides the seconds (``off`` or ``0``: no budget).
"""

from __future__ import annotations

import os

#: Seconds of implementation run time a property test may spend, per profile (None: no budget).
SECONDS = {"quick": None, "default": 2.0, "ci": 2.0, "exhaustive": None}
#: A grid cell is one small shape: a smaller share.
GRID_SECONDS = 0.5
#: Examples every property runs whatever its cost (a grid cell: one; a boundary case is one call anyway) ...
MINIMUM = 2
GRID_MINIMUM = 1
#: ... except that a test whose first example alone cost this many budgets stops after it (one example of
#: ``rejects_every_violation`` is 24 calls).
ONE_EXAMPLE_BUDGETS = 1
ENV = "COMPOSED_EXAMPLE_BUDGET"


def seconds(profile: str, grid: bool = False) -> float | None:
    """The budget of a test under ``profile`` (None: unlimited). A user profile gets the default's budget."""
    override = os.environ.get(ENV, "").strip().lower()
    if override:
        if override in ("off", "0", "none"):
            return None
        value = float(override)
        return value * GRID_SECONDS / SECONDS["default"] if grid else value
    base = SECONDS.get(profile, SECONDS["default"])
    if base is None:
        return None
    return GRID_SECONDS if grid else base


def minimum(grid: bool = False) -> int:
    return GRID_MINIMUM if grid else MINIMUM


class Budget:
    """The spending of one test: ``spent(run_seconds)`` after each example, ``exhausted()`` before the next."""

    def __init__(self, limit: float | None, least: int):
        self.limit = limit
        self.least = least
        self.examples = 0
        self.spent_s = 0.0
        self.cut = 0  # examples drawn but not run

    def add(self, run_seconds: float) -> None:
        self.examples += 1
        self.spent_s += max(0.0, run_seconds)

    def exhausted(self) -> bool:
        """Whether the next example would take the test past its budget (and the minimum has run)."""
        if self.limit is None or self.examples == 0:
            return False
        if self.examples < self.least:
            return self.spent_s > ONE_EXAMPLE_BUDGETS * self.limit
        return self.spent_s + self.spent_s / self.examples > self.limit

    def note(self) -> dict | None:
        """What the report says about a cut (None when nothing was cut)."""
        if not self.cut:
            return None
        return {"examples_run": self.examples, "examples_cut": self.cut, "budget_s": self.limit,
                "run_s_per_example": round(self.spent_s / max(1, self.examples), 3)}
