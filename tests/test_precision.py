"""GPU precision: the suite pins float32 matmuls to true float32 while it runs, and its tolerance rejects TF32.

On an A100/H100, JAX's default float32 matmul precision is TF32 (operands rounded to a 10-bit mantissa, ~1e-3
relative), which would fail the oracle comparison. The plugin pins ``jax_default_matmul_precision`` (``--matmul-precision``,
default ``highest``) in the candidate process (``JAX_DEFAULT_MATMUL_PRECISION`` in its environment); these tests show the
pin is in force where the implementation runs (and its compiled program asks for HIGHEST), and that a TF32-sized error
is rejected at the loosest bucket, F=16, N=8 (``properties.harness.tolerance`` used directly). They run on CPU;
docs/speed.md says what to run on a GPU.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

import composed
from composed import fast
from properties.harness.proxy import ImplementationError, ProcessCandidate
from properties.harness.strategies import SHAPE_BUCKETS
from properties.harness.tolerance import assert_matches_oracle
from properties.runner.pytest_plugin import candidate_env

PROBE = str(Path(__file__).resolve().parent / "candidates" / "precision_probe.py")

#: The loosest bucket of the strategies: largest F and N (the tolerance grows with both).
B, F, N = max(SHAPE_BUCKETS, key=lambda s: (s[1], s[2], s[0]))
SEEDS = (0, 5, -1, 2**32 + 7, 123456789, -(2**40), 77, 2024)


def _pinned(pytestconfig) -> str | None:
    value = pytestconfig.getoption("matmul_precision")
    return None if value in (None, "", "keep") else value


def _x(seed, rows=B, features=F):
    rng = np.random.default_rng(abs(seed) % 2**32)
    return (rng.standard_normal((rows, features)) * 10.0 ** rng.integers(-3, 4, size=(rows, 1))).astype(np.float32)


def test_largest_bucket_is_f16_n8():
    assert (F, N) == (16, 8)


def test_pin_is_in_force_where_the_implementation_runs(pytestconfig):
    """The candidate process of this session runs with jax_default_matmul_precision pinned (default 'highest')."""
    want = _pinned(pytestconfig)
    probe = ProcessCandidate(PROBE, timeout=60, env=candidate_env(pytestconfig))
    try:
        with pytest.raises(ImplementationError) as info:
            probe(0, _x(0), N, F)
    finally:
        probe.close()
    if want is None:
        assert "jax_default_matmul_precision=None" in str(info.value)
    else:
        assert f"jax_default_matmul_precision={want}" in str(info.value)


def test_candidate_program_asks_for_highest_precision_dots(pytestconfig):
    """What makes the pin matter on a GPU: every dot in the lowered program carries the pinned precision (on CPU the
    arithmetic is float32 either way)."""
    if _pinned(pytestconfig) != "highest":
        pytest.skip("the suite runs with another --matmul-precision")
    with jax.default_matmul_precision("highest"):  # what the pin does in the candidate process
        text = fast._forward.lower(np.int64(0), _x(0), num_layers=N, features=F).as_text()
    dots = [line for line in text.splitlines() if "dot_general" in line]
    assert dots and all("precision = [HIGHEST, HIGHEST]" in line for line in dots), dots
    with jax.default_matmul_precision("tensorfloat32"):  # what a GPU would run without the pin
        tf32 = fast._forward.lower(np.int64(0), _x(0), num_layers=N, features=F).as_text()
    assert "precision = [HIGHEST, HIGHEST]" not in tf32


def _round_to_tf32(a: np.ndarray) -> np.ndarray:
    """float32 values rounded to TF32 (10 explicit mantissa bits), round-to-nearest-even, as tensor cores do."""
    bits = np.asarray(a, np.float32).view(np.uint32)
    keep = np.uint32(0xFFFFE000)  # sign, 8 exponent bits, 10 mantissa bits
    half = np.uint32(0x1000)
    odd = (bits >> np.uint32(13)) & np.uint32(1)
    return ((bits + half - np.uint32(1) + odd) & keep).view(np.float32)


def _tf32_forward(seed, x, n, f):
    """The network with every matmul's operands rounded to TF32 and float32 accumulation."""
    kernel, bias = composed.params(seed, n, f)
    h = np.asarray(x, np.float32)
    for layer in range(n):
        z = (_round_to_tf32(h) @ _round_to_tf32(kernel[layer])).astype(np.float32) + bias[layer]
        h = np.maximum(z, np.float32(0))
    return h.reshape(-1)


def _rejected(out, seed, x) -> bool:
    try:
        assert_matches_oracle(out, seed, x, N, F)
    except AssertionError:
        return True
    return False


def test_true_float32_passes_at_the_largest_bucket():
    for seed in SEEDS:
        x = _x(seed)
        assert_matches_oracle(composed.composed_transforms(seed, x, N, F), seed, x, N, F)


def test_relative_error_1e3_is_rejected_at_the_largest_bucket():
    """Each entry off by 1e-3 relative (random sign): rejected for every seed."""
    rng = np.random.default_rng(0)
    for seed in SEEDS:
        x = _x(seed)
        out = np.asarray(composed.composed_transforms(seed, x, N, F))
        assert np.any(out), "vacuous case"
        noisy = out * (1 + 1e-3 * rng.choice([-1.0, 1.0], size=out.shape)).astype(np.float32)
        assert _rejected(noisy, seed, x), f"seed {seed}: a 1e-3 relative error passed"


def test_emulated_tf32_matmuls_are_rejected_at_the_largest_bucket():
    """The network computed with TF32 operands (what an unpinned GPU does) fails the comparison for every seed."""
    assert _round_to_tf32(np.float32(1 + 2**-11)) == np.float32(1)  # ties to even
    assert _round_to_tf32(np.float32(1 + 3 * 2**-11)) == np.float32(1 + 2**-9)
    for seed in SEEDS:
        x = _x(seed)
        assert _rejected(_tf32_forward(seed, x, N, F), seed, x), f"seed {seed}: TF32 matmuls passed"


@pytest.mark.parametrize("worker, preset, backends_up, want", [
    ("gw0", None, False, "false"),  # an xdist worker on a GPU does not grab 75% of its memory
    ("gw1", ".5", False, ".5"),  # the user's setting wins
    (None, None, False, None),  # not under xdist: JAX's default
    ("gw0", None, True, None),  # too late: JAX already initialised
])
def test_xdist_workers_do_not_preallocate_gpu_memory(monkeypatch, pytestconfig, worker, preset, backends_up, want):
    from properties.runner import pytest_plugin as plugin

    for var, value in (("PYTEST_XDIST_WORKER", worker), ("XLA_PYTHON_CLIENT_PREALLOCATE", preset)):
        if value is None:
            monkeypatch.delenv(var, raising=False)
        else:
            monkeypatch.setenv(var, value)
    monkeypatch.setattr(plugin, "_jax_backends_initialised", lambda: backends_up)
    monkeypatch.setattr(plugin, "_cache_settings", lambda config: {})
    plugin._configure_jax(pytestconfig)
    import os

    assert os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE") == want
