"""Hypothesis profiles of the suite and the example budget of each property.

Profiles registered with Hypothesis (select with ``--hypothesis-profile NAME``):

* ``quick``: 4 examples a property, for editing;
* ``default``: 25 examples a property (Hypothesis's own ``default`` profile underneath);
* ``ci``: Hypothesis's own ``ci`` profile (derandomized, no database; loaded by Hypothesis when ``CI`` is set) with the
  suite's 25 examples a property on top;
* ``exhaustive``: 150 examples a property, the whole small-scope grid and the whole boundary set (other profiles check
  its every-run subset).

``deadline=None`` everywhere: the first call of a JAX function compiles. The plugin does not re-register Hypothesis's
``default`` and ``ci`` profiles (it is installed for every pytest run in the environment); the suite's own tests take
the active profile as parent and set their example count on top (:func:`for_property`).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

EXAMPLES = {"quick": 4, "default": 25, "ci": 25, "exhaustive": 150}
FULL_GRID_PROFILES = {"exhaustive"}
FULL_BOUNDARY_PROFILES = {"exhaustive"}
GRID_EXAMPLES = {"quick": 1, "default": 3, "ci": 3, "exhaustive": 4}

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


def register_profiles() -> None:
    settings.register_profile("quick", max_examples=EXAMPLES["quick"], deadline=None, suppress_health_check=_HEALTH)
    settings.register_profile(
        "exhaustive", max_examples=EXAMPLES["exhaustive"], deadline=None, suppress_health_check=_HEALTH
    )


def profile_name() -> str:
    return settings.get_current_profile_name()


def examples_for(weight: float = 1.0) -> int:
    """The example count of a property of ``weight`` under the active profile (a user profile keeps its own)."""
    name = profile_name()
    base = EXAMPLES.get(name, settings.default.max_examples)
    return max(1, round(base * weight))


def for_property(weight: float = 1.0, examples: int | None = None, parent: settings | None = None) -> settings:
    """Settings for one property test: the active profile (or ``parent``), our example count, no deadline, and one
    bug a property: generation stops at the first failing example, which is then shrunk (``report_multiple_bugs``
    off: a verdict needs one counterexample, and looking for more costs calls of a wrong implementation)."""
    parent = settings.default if parent is None else parent
    return settings(
        parent=parent,
        max_examples=examples or examples_for(weight),
        deadline=None,
        report_multiple_bugs=False,
        suppress_health_check=list(parent.suppress_health_check) + _HEALTH,
    )


def full_grid() -> bool:
    return profile_name() in FULL_GRID_PROFILES


def full_boundary() -> bool:
    """Whether the active profile checks the whole boundary set (else its every-run subset)."""
    return profile_name() in FULL_BOUNDARY_PROFILES


def grid_examples() -> int:
    return GRID_EXAMPLES.get(profile_name(), 3)


# -- shrinking on a time budget -------------------------------------------------------------------------------------------
#
# Hypothesis stops shrinking after MAX_SHRINKING_SECONDS (300 s: an internal module constant of its engine, read when
# shrinking starts, not a setting) and then reports the smallest failing example found so far. The suite sets that
# constant around each of its tests (``shrink_budget``): a few seconds by default, 0 when the same check already failed
# and was shrunk in this run. When Hypothesis hits the limit it says "spent more than five minutes working to shrink";
# the suite replaces that message by recording that shrinking was cut short (``shrink_cut``), which the report states.
# If a future Hypothesis renames the constant, shrinking simply runs to its own limit again (``BUDGET_SUPPORTED``).

DEFAULT_SHRINK_BUDGET = 5.0
_cut = {"hit": False}


def _engine():
    try:
        from hypothesis.internal.conjecture import engine
    except ImportError:  # pragma: no cover - a Hypothesis laid out differently
        return None
    return engine if hasattr(engine, "MAX_SHRINKING_SECONDS") else None


BUDGET_SUPPORTED = _engine() is not None


def _install_report_filter() -> None:
    engine = _engine()
    if engine is None or getattr(engine.report, "_composed", False):
        return
    original = engine.report

    def report(text, *args, **kwargs):
        if isinstance(text, str) and "working to shrink a failing test case" in text:
            _cut["hit"] = True  # our budget, not a five-minute stall: recorded instead of printed
            return None
        return original(text, *args, **kwargs)

    report._composed = True
    engine.report = report


def shrink_was_cut() -> bool:
    """Whether the budget stopped the shrinking of the test that ran last (in this process)."""
    return _cut["hit"]


class shrink_budget:
    """Context manager: Hypothesis spends at most ``seconds`` shrinking a failure (0: report the first one found, give
    or take one shrink step). ``.cut`` afterwards: whether the budget stopped the shrinking."""

    def __init__(self, seconds: float):
        self.seconds = max(0.0, float(seconds))
        self.cut = False

    def __enter__(self):
        engine = _engine()
        self.saved = None
        if engine is not None:
            _install_report_filter()
            self.saved = engine.MAX_SHRINKING_SECONDS
            engine.MAX_SHRINKING_SECONDS = self.seconds
        _cut["hit"] = False
        return self

    def __exit__(self, *exc):
        engine = _engine()
        if engine is not None and self.saved is not None:
            engine.MAX_SHRINKING_SECONDS = self.saved
        self.cut = _cut["hit"]
        return False
