"""The sharding property (properties/invariants/sharding.py) and the host devices it gets in the candidate process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from properties.harness.proxy import ProcessCandidate, candidate_environment
from properties.invariants import PROPERTIES, STRICT
from properties.invariants import sharding

ROOT = Path(__file__).resolve().parent.parent
WRONG = str(ROOT / "tests" / "candidates" / "shard_first_block.py")
#: (seed, B, F, N) cases from SHARD_BUCKETS with non-zero outputs.
CASES = [(0, 8, 16, 4), (2**32 + 7, 16, 4, 1)]  # the second is never bitwise (B/4 = 4 rows a device)


def _x(b, f, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((b, f)) * 10.0 ** rng.integers(-3, 4, size=(b, 1))).astype(np.float32)


def _check(impl, seed, b, f, n):
    """Run the property's check on one case (inside a one-example Hypothesis test: the check may call ``assume``)."""
    check = PROPERTIES["sharded_batch"].check

    @settings(max_examples=1, deadline=None, database=None)
    @given(st.just(None))
    def run(_):
        check(impl, seed=seed, x_batch=_x(b, f), num_layers=n, features=f)

    run()


@pytest.fixture(scope="module")
def process():
    """Candidate processes of this module, closed at its end."""
    made = {}

    def get(spec, **env):
        key = (spec, tuple(sorted(env.items())))
        if key not in made:
            made[key] = ProcessCandidate(spec, timeout=60, env=candidate_environment(**env))
        return made[key]

    yield get
    for handle in made.values():
        handle.close()


def test_registered_in_strict_tier_with_divisible_buckets():
    prop = PROPERTIES["sharded_batch"]
    assert prop.tier == STRICT
    assert sharding.SHARD_BUCKETS and all(b % sharding.MESH_SIZE == 0 and b > 0 for b, _, _ in sharding.SHARD_BUCKETS)


def test_candidate_process_has_four_host_devices_and_the_batch_is_split(process):
    got = process("fast").run("sharded", devices=4, seed=0, x_batch=_x(8, 16), num_layers=4, features=16)
    assert got["where"] == "4 cpu devices"
    assert np.array_equal(got["plain"]["array"].shape, (8 * 16,))
    assert got["sharded"]["is_jax"] and got["sharded"]["type"].endswith("ArrayImpl")


@pytest.mark.parametrize("name", ["fast", "pure_jax", "numpy_loop"])
def test_bundled_implementations_pass(process, name):
    for case in CASES if name == "fast" else CASES[:1]:
        _check(process(name), *case)


def test_a_shard_dropping_implementation_fails(process):
    with pytest.raises(AssertionError, match="sharded over 4 cpu devices vs unsharded"):
        _check(process(WRONG), *CASES[0])


def test_without_host_devices_the_property_is_skipped_saying_why(process):
    with pytest.raises(pytest.skip.Exception, match="needs 4 devices, this process has 1 cpu device"):
        _check(process("fast", host_devices=0), *CASES[0])


@pytest.mark.parametrize("before, count, after", [
    ("", 4, "--xla_force_host_platform_device_count=4"),
    ("--a=1", 4, "--a=1 --xla_force_host_platform_device_count=4"),
    ("--a=1", 8, "--a=1 --xla_force_host_platform_device_count=8"),
    ("--xla_force_host_platform_device_count=2", 4, "--xla_force_host_platform_device_count=2"),  # the user's wins
    ("--a=1", 0, "--a=1"),  # opted out
])
def test_candidate_environment_adds_host_devices_without_clobbering(before, count, after):
    env = candidate_environment({"XLA_FLAGS": before}, host_devices=count, cache_dir=None)
    assert env["XLA_FLAGS"] == after


def test_candidate_environment_pins_precision_and_does_not_preallocate():
    env = candidate_environment({}, cache_dir="/tmp/x")
    assert env["JAX_DEFAULT_MATMUL_PRECISION"] == "highest"
    assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert env["JAX_COMPILATION_CACHE_DIR"] == "/tmp/x"
    assert candidate_environment({"XLA_PYTHON_CLIENT_PREALLOCATE": ".5"})["XLA_PYTHON_CLIENT_PREALLOCATE"] == ".5"
    assert "JAX_DEFAULT_MATMUL_PRECISION" not in candidate_environment({}, matmul_precision="keep")
