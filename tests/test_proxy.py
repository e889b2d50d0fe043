"""The handle on the candidate process (properties/harness/proxy.py): deadlines, hangs that cost once, a process that
loaded long before its first call, and the wire's round trip."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from properties.harness import proxy
from properties.harness.proxy import CallTimeout, NotRun, ProcessCandidate, candidate_environment
from properties.sandbox import wire

SLEEPY = str(Path(__file__).resolve().parent / "candidates" / "sleepy.py")
X = np.ones((2, 3), np.float32)


@pytest.fixture
def sleepy():
    made = []

    def make(timeout):
        handle = ProcessCandidate(SLEEPY, timeout=timeout, env=candidate_environment(run=uuid.uuid4().hex))
        made.append(handle)
        return handle

    yield make
    for handle in made:
        handle.close()
        handle.runstate.cleanup()


def test_a_process_that_loaded_long_ago_still_answers(sleepy, monkeypatch):
    """Regression: the ready message waiting in the socket counts even when the startup deadline has passed (a pytest
    worker may run other tests for minutes before its first property)."""
    monkeypatch.setattr(proxy, "STARTUP_GRACE", 0.0)
    handle = sleepy(timeout=1.0)
    handle.start()
    time.sleep(2.5)
    assert np.asarray(handle(0, X, 2, 3)).shape == (6,)


def test_deadline_is_enforced_from_outside_and_hangs_cost_once(sleepy):
    handle = sleepy(timeout=1.0)
    assert np.asarray(handle(0.05, X, 2, 3)).shape == (6,)  # returns: the run has seen an output
    start = time.monotonic()
    with pytest.raises(CallTimeout, match="call timed out after 1 s"):
        handle(30, X, 2, 3)
    assert time.monotonic() - start < 5
    assert handle.runstate.timeouts() == 1
    # after a timeout, the deadline is HANG_FACTOR x the slowest returned call, at least HANG_FLOOR, at most timeout
    assert handle.deadline() == pytest.approx(min(1.0, max(proxy.HANG_FLOOR, proxy.HANG_FACTOR * 0.05)), rel=0.5)
    handle.reset()
    assert np.asarray(handle(0, X, 2, 3)).shape == (6,)  # restarted


def test_an_implementation_that_never_returns_is_not_run_after_a_few_timeouts(sleepy):
    handle = sleepy(timeout=0.5)
    for _ in range(proxy.HANG_LIMIT):
        handle.reset()
        with pytest.raises(CallTimeout):
            handle(30, X, 2, 3)
    handle.reset()
    start = time.monotonic()
    with pytest.raises(NotRun, match="the implementation hangs"):
        handle(30, X, 2, 3)
    assert time.monotonic() - start < 0.5  # not even called


def test_wire_round_trip_keeps_layout_and_types():
    a = np.arange(40, dtype=np.float32).reshape(8, 5)
    values = {"F": np.asfortranarray(a), "rows": a[::2], "neg": a[::-1, ::-1], "big": 2**70, "scalar": np.float32(3),
              "nested": [[1.0, 2.0], (3.0,)], "none": None}
    ro = a.copy()
    ro.flags.writeable = False
    values["ro"] = ro
    left, right = wire.socket_pair()
    try:
        wire.send(left, wire.encode(values))
        got = wire.decode(wire.recv(right, time.monotonic() + 5))
    finally:
        left.close()
        right.close()
    for key in ("F", "rows", "neg", "ro"):
        assert got[key].strides == values[key].strides and np.array_equal(got[key], values[key]), key
        assert got[key].flags.writeable == values[key].flags.writeable, key
    assert type(got["big"]) is int and got["big"] == 2**70
    assert type(got["scalar"]) is np.float32
    assert got["nested"] == [[1.0, 2.0], (3.0,)] and got["none"] is None
