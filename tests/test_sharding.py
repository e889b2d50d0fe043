"""The sharding property (properties/sharding.py) and the plugin's host-device mechanism (properties/plugin.py)."""

from __future__ import annotations

import os
import types
from pathlib import Path

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import composed
from properties import plugin, sharding
from properties.candidate import Candidate
from properties.registry import STRICT, load_all

ROOT = Path(__file__).resolve().parent.parent
WRONG = str(ROOT / "tests" / "candidates" / "shard_first_block.py")
#: (seed, B, F, N) cases from SHARD_BUCKETS with non-zero outputs.
CASES = [(0, 8, 16, 4), (2**32 + 7, 16, 4, 1)]  # the second is never bitwise (B/4 = 4 rows a device)


def _x(b, f, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((b, f)) * 10.0 ** rng.integers(-3, 4, size=(b, 1))).astype(np.float32)


def _check(impl, seed, b, f, n):
    """Run the property's check on one case (inside a one-example Hypothesis test: the check may call ``assume``)."""
    check = load_all()["sharded_batch"].check

    @settings(max_examples=1, deadline=None, database=None)
    @given(st.just(None))
    def run(_):
        check(impl, seed=seed, x_batch=_x(b, f), num_layers=n, features=f)

    run()


def test_registered_in_strict_tier_with_divisible_buckets():
    prop = load_all()["sharded_batch"]
    assert prop.tier == STRICT
    assert sharding.SHARD_BUCKETS and all(b % sharding.MESH_SIZE == 0 and b > 0 for b, _, _ in sharding.SHARD_BUCKETS)


def test_the_plugin_gave_this_process_four_host_devices():
    if plugin._host_devices(types.SimpleNamespace(getoption=lambda name: None))[0] < 4:
        pytest.skip("host devices opted out ($COMPOSED_HOST_DEVICES)")
    assert "--xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "")
    assert len(jax.devices("cpu")) >= 4
    assert sharding.mesh_devices() is not None


def test_batch_is_really_split_and_fast_returns_a_sharded_array():
    devices = sharding.mesh_devices()
    if devices is None:
        pytest.skip("fewer than 4 devices in this process")
    placed = sharding.shard_batch(_x(8, 16), devices)
    assert {s.data.shape for s in placed.addressable_shards} == {(2, 16)}
    out = composed.composed_transforms(0, placed, 4, 16)
    assert len(out.sharding.device_set) == 4


@pytest.mark.parametrize("name", sorted(composed.IMPLEMENTATIONS))
def test_bundled_implementations_pass(name):
    impl = Candidate.from_spec(name)
    for case in CASES[:2] if name == "fast" else CASES[:1]:
        _check(impl, *case)


def test_a_shard_dropping_implementation_fails():
    with pytest.raises(AssertionError, match="sharded over 4 .* devices in this process vs unsharded"):
        _check(Candidate.from_spec(WRONG), *CASES[0])


def test_subprocess_fallback_passes_and_catches(monkeypatch):
    """With fewer than 4 devices in the process, the calls run in the helper subprocess (one for both checks)."""
    monkeypatch.setenv(sharding.ENV_FORCE_SUBPROCESS, "1")
    assert sharding.mesh_devices() is None
    _check(Candidate.from_spec("fast"), *CASES[0])
    with pytest.raises(AssertionError, match="in a helper subprocess vs unsharded"):
        _check(Candidate.from_spec(WRONG), *CASES[0])


def test_subprocess_fallback_skips_an_object_it_cannot_reload(monkeypatch):
    monkeypatch.setenv(sharding.ENV_FORCE_SUBPROCESS, "1")
    impl = Candidate(lambda *a: composed.composed_transforms(*a), spec="<lambda>")
    with pytest.raises(pytest.skip.Exception, match="cannot be re-loaded in a subprocess"):
        _check(impl, *CASES[0])


def test_with_host_devices_appends_without_clobbering():
    assert sharding.with_host_devices(None) == "--xla_force_host_platform_device_count=4"
    assert sharding.with_host_devices("--xla_cpu_foo=1") == "--xla_cpu_foo=1 --xla_force_host_platform_device_count=4"
    kept = "--xla_force_host_platform_device_count=8 --x=1"
    assert sharding.with_host_devices(kept) == kept


def _config(host_devices=None, impl=None, rootpath="/elsewhere/project", args=("tests",), invoked="/elsewhere/project"):
    options = {"host_devices": host_devices, "impl": impl}
    return types.SimpleNamespace(getoption=options.get, rootpath=Path(rootpath), args=list(args),
                                 invocation_params=types.SimpleNamespace(dir=Path(invoked)))


@pytest.mark.parametrize(
    "before, config, backends_up, after",
    [
        ("", _config(rootpath=ROOT), False, "--xla_force_host_platform_device_count=4"),
        ("--a=1", _config(rootpath=ROOT), False, "--a=1 --xla_force_host_platform_device_count=4"),
        ("--a=1", _config(host_devices="8"), False, "--a=1 --xla_force_host_platform_device_count=8"),
        ("", _config(args=["properties"]), False, "--xla_force_host_platform_device_count=4"),
        ("", _config(impl="fast"), False, "--xla_force_host_platform_device_count=4"),
        ("--xla_force_host_platform_device_count=2", _config(rootpath=ROOT), False,
         "--xla_force_host_platform_device_count=2"),
        ("", _config(rootpath=ROOT, host_devices="0"), False, ""),
        ("", _config(rootpath=ROOT, host_devices="off"), False, ""),
        ("", _config(rootpath=ROOT), True, ""),
        # `pytest --jax-cache-dir /existing/dir` from the checkout: pytest takes the dir for the rootdir
        ("", _config(rootpath="/tmp/cache", invoked=ROOT, args=[str(ROOT)]), False,
         "--xla_force_host_platform_device_count=4"),
        ("", _config(args=["--pyargs", "properties"]), False, "--xla_force_host_platform_device_count=4"),
        ("", _config(), False, ""),  # another project's run: untouched
    ],
)
def test_plugin_sets_xla_flags_only_when_it_should(monkeypatch, before, config, backends_up, after):
    monkeypatch.delenv(plugin.ENV_HOST_DEVICES, raising=False)
    monkeypatch.delenv(plugin.ENV_IMPL, raising=False)
    monkeypatch.setenv("XLA_FLAGS", before)
    monkeypatch.setattr(plugin, "_jax_backends_initialised", lambda: backends_up)
    plugin._configure_host_devices(config)
    assert os.environ["XLA_FLAGS"] == after


def test_plugin_env_opt_out(monkeypatch):
    monkeypatch.setenv(plugin.ENV_HOST_DEVICES, "0")
    monkeypatch.setenv("XLA_FLAGS", "")
    monkeypatch.setattr(plugin, "_jax_backends_initialised", lambda: False)
    plugin._configure_host_devices(_config(rootpath=ROOT))
    assert os.environ["XLA_FLAGS"] == ""
    monkeypatch.setenv(plugin.ENV_HOST_DEVICES, "many")
    with pytest.raises(pytest.UsageError):
        plugin._configure_host_devices(_config(rootpath=ROOT))


def test_backends_already_initialised_here():
    jax.devices()
    assert plugin._jax_backends_initialised() is True
