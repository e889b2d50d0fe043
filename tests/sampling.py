"""Drawing values from a strategy outside a property, for the tests that check what the suite's strategies reach."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, given, settings


def draw(strategy, n: int) -> list:
    """Up to ``n`` values of ``strategy`` from a derandomized Hypothesis run (deterministic; fewer when the strategy
    filters with ``assume``)."""
    drawn = []

    @settings(max_examples=n, derandomize=True, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value):
        drawn.append(value)

    collect()
    return drawn
