"""The bundled implementations against each other, the parameters against the spec's make_block, and the registry.

* ``fast`` (jitted, seed traced) is bit-identical to ``reference`` (the problem's code, eager);
* ``composed.params`` is, bit for bit, the spec's eager ``make_block``;
* every implementation agrees with the float64 oracle normwise in float32.

The (B, F, N) shapes are few and shared with tests/test_contract.py, so each jitted implementation compiles a handful of
programs (about 1 s each) and the whole file stays fast.
"""

import contextlib
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

import composed

NAMES = ["fast", "numpy_loop", "pure_jax", "reference", "vmap_in_scan"]
X64 = bool(jax.config.jax_enable_x64)


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


# -- registry ------------------------------------------------------------------------------------------------------

def test_registry_names_and_default():
    assert sorted(composed.IMPLEMENTATIONS) == NAMES
    assert composed.IMPLEMENTATIONS["fast"] is composed.composed_transforms
    assert all(callable(fn) for fn in composed.IMPLEMENTATIONS.values())
    assert len({id(fn) for fn in composed.IMPLEMENTATIONS.values()}) == len(NAMES)  # five distinct functions
    with pytest.raises(TypeError):
        composed.IMPLEMENTATIONS["other"] = composed.composed_transforms  # read-only mapping


def test_registry_from_the_command_line():
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", "import composed; print(sorted(composed.IMPLEMENTATIONS))"],
        cwd=root, capture_output=True, text=True, timeout=120, check=True,
    )
    assert result.stdout.strip() == str(NAMES)


# -- fast == reference, bit for bit --------------------------------------------------------------------------------

# (B, F, N): few on purpose (each costs the jitted implementation a compile); shared with the other tests.
SHAPES = [(3, 4, 2), (3, 4, 1), (3, 4, 0), (0, 4, 2), (1, 1, 1), (2, 16, 8)]

SPECIAL_SEEDS = [0, 1, -1, 2**31 - 1, -(2**31), 2**32 - 1, 2**32, 2**32 + 7, -(2**40), 2**62, 2**63 - 1, -(2**63)]

seeds = st.one_of(
    st.sampled_from(SPECIAL_SEEDS),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(2**32, 2**63 - 1),
    st.floats(-1e4, 1e4, allow_nan=False),  # mostly fractional: int() truncates toward zero
    st.floats(-(2.0**63), 2.0**63, exclude_max=True, allow_nan=False),
)


def _count(n, allow_negative_fraction):
    """An int ``n`` or a float whose ``int()`` is ``n`` (fraction < 0.999 so n + fraction cannot round up to n+1)."""
    low = -0.999 if allow_negative_fraction else 0.0
    return st.one_of(st.just(n), st.floats(low, 0.999).map(lambda frac: n + frac))


@st.composite
def cases(draw):
    b, f, n = draw(st.sampled_from(SHAPES))
    seed = draw(seeds)
    num_layers = draw(_count(n, allow_negative_fraction=(n == 0)))
    features = draw(_count(f, allow_negative_fraction=False))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    magnitude = 10.0 ** draw(st.integers(-3, 3))
    x = (rng.normal(size=(b, f)) * magnitude).astype(np.float32)
    return seed, x, num_layers, features, (b, f, n)


@settings(deadline=None, max_examples=25)
@given(cases())
def test_fast_is_bit_identical_to_reference(case):
    seed, x, num_layers, features, (b, f, n) = case
    fast = np.asarray(composed.IMPLEMENTATIONS["fast"](seed, x, num_layers, features))
    reference = np.asarray(composed.IMPLEMENTATIONS["reference"](seed, x, num_layers, features))
    assert reference.shape == (b * f,) and reference.dtype == np.float32
    assert _same(fast, reference), (seed, num_layers, features, np.abs(fast - reference).max())


@pytest.mark.parametrize("dtype", [np.float16, jnp.bfloat16, np.float64, np.int32], ids=lambda d: np.dtype(d).name)
def test_fast_is_bit_identical_to_reference_in_other_dtypes(dtype):
    x = (np.random.default_rng(21).normal(size=(3, 4)) * 3).astype(dtype)
    for seed in (0, -1, 2**32 + 7, 2**62):
        fast = composed.IMPLEMENTATIONS["fast"](seed, x, 2, 4)
        reference = composed.IMPLEMENTATIONS["reference"](seed, x, 2, 4)
        assert _same(fast, reference), (seed, dtype)


def test_fast_depends_on_every_seed_bit_that_jax_keeps():
    """Not vacuous: the seeds compared above give different results (low and high 32-bit halves both matter)."""
    x = np.random.default_rng(22).normal(size=(3, 4)).astype(np.float32)
    outs = [np.asarray(composed.composed_transforms(s, x, 2, 4)) for s in (0, 1, -1, 2**31, 2**32 - 2)]
    for i in range(len(outs)):
        for j in range(i):
            assert not np.array_equal(outs[i], outs[j])


# -- params == the spec's eager make_block -------------------------------------------------------------------------

def _eager_make_block(seed, num_layers, features):
    """The spec's parameter construction, literally (eager, nnx.Rngs(int(seed)))."""

    @nnx.split_rngs(splits=num_layers)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_block(rngs):
        return nnx.Linear(features, features, rngs=rngs)

    blocks = make_block(nnx.Rngs(int(seed)))
    return np.asarray(blocks.kernel[...]), np.asarray(blocks.bias[...])


@pytest.mark.parametrize("seed", [0, -1, 2**32 + 7, 3.7, -(2**40), 2**63 - 1, -(2**63)], ids=str)
@pytest.mark.parametrize("n, f", [(2, 4), (8, 16), (1, 1), (3, 129)])
def test_params_equal_the_eager_make_block(seed, n, f):
    """composed.params derives the parameters with jax.random alone (the oracle shares no code with the
    implementations); it must be the spec's make_block bit for bit."""
    kernel, bias = composed.params(seed, n, f)
    ref_kernel, ref_bias = _eager_make_block(seed, n, f)
    assert kernel.shape == (n, f, f) and bias.shape == (n, f)
    assert kernel.dtype == np.float32 and bias.dtype == np.float32
    assert _same(kernel, ref_kernel)
    assert _same(bias, ref_bias)
    assert np.all(bias == 0)  # zeros_init
    assert np.all(np.any(kernel != 0, axis=(1, 2)))
    assert n == 1 or not np.array_equal(kernel[0], kernel[1])  # one independent key per layer


@pytest.mark.skipif(X64, reason="with x64 enabled jax.random.key keeps all 64 bits of the seed")
def test_params_seeds_equal_mod_2_32_collide():
    for a, b in [(0, 2**32), (7, 2**32 + 7), (-1, 2**32 - 1), (5, 5 - 2**40), (123, 123 + 2**63 - 2**32)]:
        ka, ba = composed.params(a, 2, 4)
        kb, bb = composed.params(b, 2, 4)
        assert _same(ka, kb) and _same(ba, bb), (a, b)
    # ... and seeds that differ mod 2**32 do not.
    assert not np.array_equal(composed.params(0, 2, 4)[0], composed.params(1, 2, 4)[0])
    assert not np.array_equal(composed.params(0, 2, 4)[0], composed.params(2**31, 2, 4)[0])


# -- every implementation against the float64 oracle ---------------------------------------------------------------

# (seed, B, F, N)
ORACLE_CASES = [(0, 3, 4, 2), (-1, 2, 16, 8), (2**32 + 7, 3, 4, 1), (-(2**40), 1, 1, 1)]


def _float32_matmuls():
    """True float32 matmuls: on GPU/TPU JAX's default float32 precision is TF32/bf16 passes."""
    if jax.default_backend() == "cpu":
        return contextlib.nullcontext()  # already float32; a config change would only force recompiles
    return jax.default_matmul_precision("highest")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("case", ORACLE_CASES, ids=lambda c: "seed{}-B{}-F{}-N{}".format(*c))
def test_agrees_with_the_oracle_normwise(name, case):
    seed, b, f, n = case
    x = np.random.default_rng(seed % 1000).normal(size=(b, f)).astype(np.float32)
    with _float32_matmuls():
        out = np.asarray(composed.IMPLEMENTATIONS[name](seed, x, n, f))
    assert out.shape == (b * f,) and out.ndim == 1 and out.dtype == np.float32
    ref = composed.oracle(seed, x, n, f)
    assert ref.shape == (b * f,) and ref.dtype == np.float64
    scale = np.abs(ref).max()
    assert scale > 0, "a case whose output is all zero checks nothing"
    assert np.abs(out.astype(np.float64) - ref).max() <= 1e-5 * scale
