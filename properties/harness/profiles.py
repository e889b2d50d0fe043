"""Hypothesis profiles of the suite and the example budget of each property.

Profiles registered with Hypothesis (select with ``--hypothesis-profile NAME``):

* ``quick``: 4 examples a property, for editing;
* ``default``: 25 examples a property (Hypothesis's own ``default`` profile underneath);
* ``ci``: Hypothesis's own ``ci`` profile (derandomized, no database; loaded by Hypothesis when ``CI`` is set) with the
  suite's 25 examples a property on top;
* ``exhaustive``: 150 examples a property and the whole small-scope grid.

``deadline=None`` everywhere: the first call of a JAX function compiles. The plugin does not re-register Hypothesis's
``default`` and ``ci`` profiles (it is installed for every pytest run in the environment); the suite's own tests take
the active profile as parent and set their example count on top (:func:`for_property`).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

EXAMPLES = {"quick": 4, "default": 25, "ci": 25, "exhaustive": 150}
FULL_GRID_PROFILES = {"exhaustive"}
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


def for_property(weight: float = 1.0, examples: int | None = None) -> settings:
    """Settings for one property test: the active profile, our example count, no deadline."""
    return settings(
        parent=settings.default,
        max_examples=examples or examples_for(weight),
        deadline=None,
        suppress_health_check=list(settings.default.suppress_health_check) + _HEALTH,
    )


def full_grid() -> bool:
    return profile_name() in FULL_GRID_PROFILES


def grid_examples() -> int:
    return GRID_EXAMPLES.get(profile_name(), 3)
