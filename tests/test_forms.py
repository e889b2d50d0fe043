"""Input forms (issue 8, item 3): the forms reach the implementation as built, the problem's own code accepts exactly
the forms of the core property, every bundled implementation accepts every form (bit-identical here), and the
properties pass for them. The mutants of ``tests/mutants/forms.py`` are killed by ``tests/test_mutants.py`` (from the
catalogue)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import composed
from properties.api import PASSED, run_property
from properties.harness.proxy import ImplementationError, ProcessCandidate
from properties.invariants import CORE, PROPERTIES, STRICT
from properties.invariants.forms import CORE_FORMS, STRICT_FORMS
from properties.runner.pytest_plugin import candidate_env
from properties.sandbox.loader import load

HERE = Path(__file__).resolve().parent
PROBE = str(HERE / "candidates" / "form_probe.py")
VERBATIM = str(HERE / "candidates" / "verbatim.py")
ALL_FORMS = {**CORE_FORMS, **STRICT_FORMS}

B, F, N = 3, 4, 2
X = (np.arange(B * F, dtype=np.float32).reshape(B, F) - 5.0) / 4.0  # distinct values: any misplacement shows


def _describe_here(value):
    sys.path.insert(0, str(HERE / "candidates"))
    try:
        from form_probe import _describe
    finally:
        sys.path.remove(str(HERE / "candidates"))
    return json.loads(json.dumps(_describe(value)))


def _strip_buffer(d):
    if isinstance(d, dict):
        return {k: _strip_buffer(v) for k, v in d.items() if k != "buffer_bytes"}
    if isinstance(d, list):
        return [_strip_buffer(v) for v in d]
    return d


@pytest.fixture(scope="module")
def probe(pytestconfig):
    candidate = ProcessCandidate(PROBE, timeout=60, env=candidate_env(pytestconfig))
    yield candidate
    candidate.close()


@pytest.mark.parametrize("label", list(ALL_FORMS))
def test_form_arrives_as_built(probe, label):
    """Each form reaches the candidate process as it was built here: type, dtype, shape, strides (negative ones
    included), C/F contiguity, the writeable flag, the container types of lists and tuples, and the values; a strided
    view arrives as a view into a larger buffer (not a compact copy)."""
    x_form, n, f = ALL_FORMS[label](X, N, F)
    with pytest.raises(ImplementationError) as info:
        probe(0, x_form, n, f)
    assert info.value.cause is not None and info.value.cause.type == "RuntimeError", str(info.value)
    arrived = json.loads(info.value.cause.message)
    sent = [_describe_here(v) for v in (0, x_form, n, f)]
    assert _strip_buffer(arrived) == _strip_buffer(sent)
    x_arrived = arrived[1]
    if isinstance(x_form, np.ndarray):
        if isinstance(x_form.base, np.ndarray) and x_form.base.nbytes > x_form.nbytes:  # a view of a larger array
            assert x_arrived["buffer_bytes"] > x_form.nbytes, f"{label} arrived as a compact copy: {x_arrived}"


def test_wire_forms_cover_the_issue():
    """The forms the issue names are all there, in the tier the verbatim code's behaviour puts them in."""
    core, strict = " ".join(CORE_FORMS), " ".join(STRICT_FORMS)
    for word in ("Fortran", "every second row", "column slice", "negatively strided", "read-only", "jax.Array",
                 "np.float32"):
        assert word in core, word
    for word in ("nested list", "tuple of tuples", "big-endian"):
        assert word in strict, word
    assert PROPERTIES["input_forms"].tier == CORE and PROPERTIES["array_like_inputs"].tier == STRICT


# --- what the problem's own code accepts -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def verbatim():
    return load(VERBATIM)


def test_verbatim_accepts_every_core_form_bitwise(verbatim):
    """The problem's code, as written, runs on every core form and gives the plain array's bits."""
    plain = np.asarray(verbatim(0, X, N, F))
    for label, build in CORE_FORMS.items():
        out = np.asarray(verbatim(0, *build(X, N, F)))
        assert out.dtype == plain.dtype and np.array_equal(out, plain), label


@pytest.mark.parametrize("label,error,words", [
    ("x_batch as a nested list", ValueError, "vmap was requested to map its argument along axis 0"),
    ("x_batch as a tuple of tuples", ValueError, "vmap was requested to map its argument along axis 0"),
    ("x_batch as a list of 1-D row arrays", TypeError, "dot_general requires contracting dimensions"),
    ("big-endian x_batch ('>f4')", TypeError, "Dtype >f4 is not a valid JAX array type"),
])
def test_verbatim_rejects_array_likes(verbatim, label, error, words):
    """The problem's code rejects lists and tuples (``nnx.vmap`` maps over each leaf of the pytree) and big-endian
    arrays (JAX has no such dtype): hence strict."""
    with pytest.raises(error, match=words):
        verbatim(0, *STRICT_FORMS[label](X, N, F))
    assert set(STRICT_FORMS) == {"x_batch as a nested list", "x_batch as a tuple of tuples",
                                 "x_batch as a list of 1-D row arrays", "big-endian x_batch ('>f4')"}


# --- the bundled implementations ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(composed.IMPLEMENTATIONS))
def test_bundled_accepts_every_form_bitwise(name):
    """Every bundled implementation accepts every form, core and strict, with the plain array's bits (measured; the
    properties only require two evaluations' tolerance)."""
    impl = composed.IMPLEMENTATIONS[name]
    plain = np.asarray(impl(0, X, N, F))
    for label, build in ALL_FORMS.items():
        out = np.asarray(impl(0, *build(X, N, F)))
        assert out.dtype == plain.dtype and np.array_equal(out, plain), f"{name}: {label}"


RUNS = [(impl, prop) for impl in [*sorted(composed.IMPLEMENTATIONS), "verbatim"]
        for prop in ("input_forms", "array_like_inputs") if not (impl == "verbatim" and prop == "array_like_inputs")]


@pytest.mark.parametrize("impl,prop", RUNS, ids=[f"{i}-{p}" for i, p in RUNS])
def test_correct_implementation_passes(impl, prop, verbatim):
    """The properties accept every bundled implementation (and the verbatim code, core only), one example each here
    (``tests/test_mutants.py`` and ``pytest properties --impl X`` run more)."""
    func = verbatim if impl == "verbatim" else composed.IMPLEMENTATIONS[impl]
    outcome = run_property(func, prop, max_examples=1)
    assert outcome.kind == PASSED, f"{impl} rejected by {prop}: {outcome.message[:3000]}"


# --- the guard sees a modification of every form (input_not_mutated) -------------------------------------------------


@pytest.mark.parametrize("label", [label for label in ALL_FORMS if ALL_FORMS[label](X, N, F)[0] is not X])
def test_guard_sees_a_write_into_each_form(label):
    """A write into any array form of x_batch is reported, a write into the padding of a view's larger array (outside
    the view's own items) included; a call that writes nothing is not. Here in process, as ``--in-process`` runs
    it, and on the copy the wire rebuilds (as the candidate process sees it)."""
    from properties.sandbox import guard, wire

    built = ALL_FORMS[label](X, N, F)[0]
    rebuilt = wire.decode(wire.loads(wire.dumps(wire.encode(built))))
    for x in (built, rebuilt):
        assert not guard.run(lambda: None, args=(x,))["mutated"]
        if not isinstance(x, np.ndarray) or not x.flags.writeable:
            continue
        assert guard.run(lambda: x.__setitem__((0, 0), 99.0), args=(x,))["mutated"], label
        owner = guard._owner(x)
        assert (owner is not None) == ("larger array" in label or "wider array" in label), label
        if owner is not None:  # a view into larger memory: change only the bytes outside its items
            memory = np.frombuffer(owner, np.uint8)
            keep, before = x.copy(), memory.copy()
            memory[:] = 0xAB
            x[...] = keep
            padding = memory != before
            memory[:] = before
            assert padding.any(), label
            assert guard.run(lambda: memory.__setitem__(padding, 0xAB), args=(x,))["mutated"], label


def test_output_keeps_its_shape():
    """The guard converts a result without reshaping it: a 0-d array stays 0-d (``output_shape`` judges it)."""
    from properties.sandbox import guard

    assert guard.convert_output(np.float32(1.0))["array"].shape == ()
    assert guard.convert_output(np.ones((2, 3), np.float32)[:, ::2])["array"].shape == (2, 2)
