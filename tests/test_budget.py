"""The example budget (issue 17, ``properties.harness.budget``): a test stops after its minimum once the
implementation's run time would pass the budget, compile time does not count, and nothing is cut without a record."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from properties.harness import budget as B
from properties.sandbox import compile_clock, guard


def test_a_slow_implementation_is_cut_after_the_minimum():
    b = B.Budget(2.0, B.MINIMUM)
    spent = 0
    while not b.exhausted():
        b.add(1.0)  # one second of run time an example
        spent += 1
    assert spent == B.MINIMUM and b.note() is None  # nothing drawn and skipped yet
    b.cut += 1
    assert b.note() == {"examples_run": 2, "examples_cut": 1, "budget_s": 2.0, "run_s_per_example": 1.0}


def test_a_fast_implementation_is_never_cut():
    b = B.Budget(2.0, B.MINIMUM)
    for _ in range(1000):
        assert not b.exhausted()
        b.add(1e-4)


def test_one_costly_example_is_enough_and_no_budget_means_no_cut():
    b = B.Budget(2.0, B.MINIMUM)
    b.add(B.ONE_EXAMPLE_BUDGETS * 2.0 + 1)
    assert b.exhausted()
    unlimited = B.Budget(None, B.MINIMUM)
    for _ in range(10):
        unlimited.add(100.0)
    assert not unlimited.exhausted()


def test_budget_per_profile_and_override(monkeypatch):
    monkeypatch.delenv(B.ENV, raising=False)
    assert B.seconds("ci") == B.seconds("default") == 2.0 and B.seconds("ci", grid=True) == B.GRID_SECONDS
    assert B.seconds("exhaustive") is None and B.seconds("my_profile") == 2.0
    monkeypatch.setenv(B.ENV, "off")
    assert B.seconds("ci") is None
    monkeypatch.setenv(B.ENV, "8")
    assert B.seconds("ci") == 8.0 and B.seconds("ci", grid=True) == 2.0


def test_the_guard_tells_compile_time_from_run_time():
    """A first jitted call is mostly compile (``compile_s``); a sleep is run time."""
    size = 37 + int(time.time()) % 1000  # a shape no earlier test compiled

    @jax.jit
    def f(x):
        return jnp.tanh(x @ x.T).sum()

    reply = guard.run(lambda: np.asarray(f(jnp.ones((size, 3)))))
    assert reply["compile_s"] > 0 and reply["compile_s"] <= reply["seconds"] + 1e-6
    reply = guard.run(lambda: time.sleep(0.2))
    assert reply["seconds"] >= 0.2 and reply["compile_s"] < 0.05
    assert compile_clock.seconds() > 0


def test_run_time_is_measured_on_the_checking_side():
    """The budget's run time of a reply comes from the checking side's clock: a candidate that claims a long call
    (to get its examples cut, hiding a bug in the ones not run) is not believed; what it claims as compile time only
    lowers the run time; a claim that is not a number counts as nothing."""
    from properties.harness.proxy import ELAPSED, _run_time

    assert _run_time({ELAPSED: 0.01, "seconds": 1e9, "compile_s": 0.0}) == 0.01
    assert _run_time({ELAPSED: 0.5, "seconds": 0.5, "compile_s": 0.2}) == 0.5 - 0.2
    assert _run_time({ELAPSED: 0.5, "compile_s": 1e9}) == 0.0
    assert _run_time({ELAPSED: 0.5, "compile_s": "lots"}) == 0.5
    assert _run_time({"seconds": 0.25, "compile_s": None}) == 0.25  # in process: the guard's own clock
