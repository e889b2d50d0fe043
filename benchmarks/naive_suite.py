"""The baseline of ``benchmarks/suite_speed.py``: a naive four-property Hypothesis suite, as one would first write it.

    NAIVE_IMPL=tests/candidates/verbatim.py pytest benchmarks/naive_suite.py -p no:properties.plugin -p no:cacheprovider

Four plain ``@given`` tests over ``hypothesis.extra.numpy`` arrays with random shapes (B, F in 1..8, N in 1..4),
``deadline=None``, Hypothesis's default 100 examples (``$NAIVE_MAX_EXAMPLES``), no compilation cache, no shape buckets: output shape,
non-negativity, equality with the float64 oracle (``composed.oracle``, ``assert_allclose``) and batch permutation
equivariance. Not part of the test run (``testpaths`` is ``tests`` and ``properties``; the file is not named
``test_*``). It counts the examples it runs and, when ``$NAIVE_COUNT_FILE`` is set, writes the count there at exit.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import composed

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "naive_candidate", os.environ.get("NAIVE_IMPL", str(ROOT / "tests" / "candidates" / "verbatim.py")))
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
composed_transforms = _module.composed_transforms

COUNT = {"examples": 0}


@atexit.register
def _write_count():
    path = os.environ.get("NAIVE_COUNT_FILE")
    if path:
        Path(path).write_text(json.dumps(COUNT))


@st.composite
def inputs(draw):
    x = draw(hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8),
                        elements=st.floats(-10, 10, width=32)))
    return draw(st.integers(0, 2**31 - 1)), x, draw(st.integers(1, 4))


naive = settings(deadline=None, max_examples=int(os.environ.get("NAIVE_MAX_EXAMPLES", "100")))


@naive
@given(inputs())
def test_shape(args):
    COUNT["examples"] += 1
    seed, x, n = args
    out = composed_transforms(seed, x, n, x.shape[1])
    assert out.shape == (x.size,)


@naive
@given(inputs())
def test_nonnegative(args):
    COUNT["examples"] += 1
    seed, x, n = args
    assert np.all(np.asarray(composed_transforms(seed, x, n, x.shape[1])) >= 0)


@naive
@given(inputs())
def test_matches_oracle(args):
    COUNT["examples"] += 1
    seed, x, n = args
    out = np.asarray(composed_transforms(seed, x, n, x.shape[1]))
    np.testing.assert_allclose(out, composed.oracle(seed, x, n, x.shape[1]), rtol=1e-4, atol=1e-5)


@naive
@given(inputs(), st.randoms())
def test_permutation(args, rnd):
    COUNT["examples"] += 1
    seed, x, n = args
    perm = list(range(x.shape[0]))
    rnd.shuffle(perm)
    f = x.shape[1]
    whole = np.asarray(composed_transforms(seed, x, n, f)).reshape(-1, f)
    permuted = np.asarray(composed_transforms(seed, x[perm], n, f)).reshape(-1, f)
    np.testing.assert_allclose(permuted, whole[perm], rtol=1e-5, atol=1e-6)
