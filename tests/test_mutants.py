"""Meta-tests of the conformance suite: it rejects every mutant in ``tests/mutants`` with the property the catalogue
names, and accepts every bundled implementation (and a verbatim copy of the problem's code, core tier).

Properties run through :func:`properties.api.run_property`: the same ``@given(prop.strategy)`` and example budget
as ``pytest properties``. The mutant runs always use the ``ci`` profile (derandomized, 25 examples a property, as
``CI=true`` selects): the claim under test is "the suite kills every mutant under CI", and it must not depend on the
profile a developer runs with (``quick`` has 4 examples) nor on luck (with random draws at the same budget,
``wrong_from_depth_6`` and ``layers_rounded`` survived 1 run in 8 each when measured). They stop at the first
falsifying example (``shrink=False``): a failing property is all these tests need, and shrinking compiles a new
shape at every step. The correct implementations run under the active profile with a small budget (below).

The full table (every property against every mutant) is ``tests/mutation_table.py``, written to
``tests/mutation_table.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # `mutants` is a package in tests/, whatever pytest's import mode
    sys.path.insert(0, str(HERE))

import composed  # noqa: E402
from mutants import MUTANTS  # noqa: E402
from mutants import derivative_edges, derivatives  # noqa: E402
from mutants._base import correct  # noqa: E402
from properties.api import FAILED, PASSED, SKIPPED, run_property  # noqa: E402
from properties.harness.profiles import examples_for  # noqa: E402
from properties.harness.proxy import ProcessCandidate  # noqa: E402
from properties.invariants import CORE, PROPERTIES, STRICT, TRANSFORMS  # noqa: E402
from properties.sandbox.loader import load  # noqa: E402

PROPS = PROPERTIES
KNOWN = set(PROPS) | {"grid", "boundary", "transforms_boundary"}
TIER = {name: p.tier for name, p in PROPS.items()} | {"grid": CORE, "boundary": CORE, "transforms_boundary": TRANSFORMS}
VERBATIM = str(HERE / "candidates" / "verbatim.py")


# --- the catalogue itself ----------------------------------------------------------------------------------------


def test_catalogue_is_large_and_well_formed():
    assert len(MUTANTS) >= 28, f"only {len(MUTANTS)} mutants"
    for name, (impl, killers, tier) in MUTANTS.items():
        assert impl.__name__ == name
        doc = (impl.__doc__ or "").strip()
        assert doc and "\n" not in doc, f"{name}: needs a one-line docstring stating its bug, got {doc!r}"
        assert killers, f"{name}: no expected killer"
        assert killers <= KNOWN, f"{name}: unknown properties {sorted(killers - KNOWN)}"
        assert tier in (CORE, STRICT, TRANSFORMS), f"{name}: tier {tier!r}"
        if tier == TRANSFORMS or any(TIER[k] == TRANSFORMS for k in killers):  # the transforms tier's own mutants
            assert tier == TRANSFORMS and all(TIER[k] == TRANSFORMS for k in killers), (
                f"{name}: tier {tier!r} but its killers are {sorted((k, TIER[k]) for k in killers)}"
            )
        core_killer = any(TIER[k] == CORE for k in killers)
        assert (tier == CORE) == core_killer, (
            f"{name}: tier {tier!r} but its killers are {sorted((k, TIER[k]) for k in killers)}"
        )


def test_mutant_bugs_are_distinct():
    bugs = [m.bug for m in MUTANTS.values()]
    assert len(set(bugs)) == len(bugs), "two mutants state the same bug"
    assert len({m.impl for m in MUTANTS.values()}) == len(MUTANTS)


def test_every_property_is_some_mutants_declared_killer():
    """Every property is the declared killer of at least one mutant: each has a bug it demonstrably catches."""
    declared = set().union(*(m.killers for m in MUTANTS.values()))
    missing = sorted(set(PROPS) - declared)
    assert not missing, f"properties that kill no catalogued mutant: {missing}"


@pytest.mark.parametrize("name", ["no_final_relu", "call_parity", "accepts_3d_input"])
def test_mutants_load_as_specs(name):
    """A mutant's SPEC (a file path) loads through the suite's own loader, so it can be run with --impl."""
    import os

    spec = MUTANTS[name].spec
    root = HERE.parent
    cwd = os.getcwd()
    os.chdir(root)
    try:
        func = load(spec)
    finally:
        os.chdir(cwd)
    assert func.__name__ == name
    assert func.__doc__ == MUTANTS[name].impl.__doc__


# --- every mutant dies, by each of the properties it is declared to die by ---------------------------------------

KILLS = [(name, killer) for name, m in sorted(MUTANTS.items()) for killer in sorted(m.killers)]


#: Properties that need the candidate process (4 host devices for the sharding mesh): their runs use the SPEC there.
NEEDS_PROCESS = {"sharded_batch"}


def _handle(prop: str, impl, spec: str):
    """The mutant or implementation as the property needs it: the callable in this process (fast, no process to
    start), or its SPEC in a candidate process for the properties that need one."""
    if prop not in NEEDS_PROCESS:
        return impl
    return ProcessCandidate(spec, timeout=120, cwd=str(HERE.parent))


def _run(prop: str, impl, spec: str, **kwargs):
    handle = _handle(prop, impl, spec)
    try:
        return run_property(handle, prop, **kwargs)
    finally:
        if handle is not impl:
            handle.close()


@pytest.mark.parametrize("name,killer", KILLS, ids=[f"{n}-by-{k}" for n, k in KILLS])
def test_mutant_is_killed(name, killer):
    outcome = _run(killer, MUTANTS[name].impl, MUTANTS[name].spec, shrink=False, profile="ci")
    assert outcome.kind == FAILED, (
        f"mutant {name!r} ({MUTANTS[name].bug}) was not rejected by {killer!r}: {outcome.kind} after "
        f"{outcome.examples} examples ({outcome.discarded} discarded) {outcome.message[:2000]}"
    )
    assert outcome.prop == killer and outcome.message


# --- the counterexample of a simple bug is minimal, within the default shrink budget --------------------------------


@pytest.mark.parametrize("name", ["reversed_layers", "leaky_relu", "gelu"])
def test_simple_bug_shrinks_to_a_minimal_counterexample(name):
    """Shrinking is on a time budget (``--shrink-budget``, default 5 s): for a simple bug the report's counterexample
    for ``matches_oracle`` is still minimal, B x F x N <= 8."""
    outcome = run_property(MUTANTS[name].impl, "matches_oracle", profile="ci")
    assert outcome.kind == FAILED, outcome
    case = outcome.counterexample
    b, f = case["x_batch"].shape
    size = b * int(case["features"]) * int(case["num_layers"])
    assert size <= 8, f"{name}: counterexample B={b}, F={f}, N={case['num_layers']} ({outcome.message[-200:]})"


# --- correct implementations pass ----------------------------------------------------------------------------------

#: Examples per property for the correct implementations: the jitted ones compile one program per shape bucket, the
#: eager ones (reference, verbatim) recompile on every call (~0.1 s), so they get fewer. ``pytest properties --impl X``
#: runs them with the full budget (see .ci/run).
BUDGET = {"fast": 4, "vmap_in_scan": 1, "pure_jax": 1, "numpy_loop": 1, "reference": 1, "verbatim": 1, "control": 2,
          "custom_vjp": 1, "custom_vjp_correct": 1, "custom_jvp_correct": 1, "edges_vjp_correct": 1,
          "edges_jvp_correct": 1}
CUSTOM_VJP = str(HERE / "candidates" / "custom_vjp.py")
CORRECT = {**composed.IMPLEMENTATIONS, "verbatim": VERBATIM, "control": correct,
           # transforms tier (issue 11): correct implementations with hand-written derivative rules
           "custom_vjp": load(CUSTOM_VJP), "custom_vjp_correct": derivatives.custom_vjp_correct,
           "custom_jvp_correct": derivatives.custom_jvp_correct,
           # issue 15: the controls of the derivative-edge mutants
           "edges_vjp_correct": derivative_edges.edges_vjp_correct,
           "edges_jvp_correct": derivative_edges.edges_jvp_correct}
SPECS = {**{name: name for name in composed.IMPLEMENTATIONS}, "verbatim": VERBATIM,
         "control": "tests/mutants/_base.py:correct", "custom_vjp": CUSTOM_VJP,
         "custom_vjp_correct": "tests/mutants/derivatives.py:custom_vjp_correct",
         "custom_jvp_correct": "tests/mutants/derivatives.py:custom_jvp_correct",
         "edges_vjp_correct": "tests/mutants/derivative_edges.py:edges_vjp_correct",
         "edges_jvp_correct": "tests/mutants/derivative_edges.py:edges_jvp_correct"}


#: Tiers each correct implementation is checked on here. ``fast`` is not in the matrix: every plain ``pytest`` runs
#: the whole suite against it at the full budget (``properties/``). The controls of the derivative mutants differ from
#: ``control`` only in their backward pass: the transforms tier is theirs.
TIERS_OF = {"verbatim": {CORE}, "custom_vjp_correct": {TRANSFORMS}, "custom_jvp_correct": {TRANSFORMS},
            "edges_vjp_correct": {TRANSFORMS}, "edges_jvp_correct": {TRANSFORMS},
            "custom_vjp": {CORE, TRANSFORMS}}


def _correct_runs():
    for impl in CORRECT:
        if impl == "fast":
            continue
        for prop in [*PROPS, "grid", "boundary", "transforms_boundary"]:
            if TIER[prop] not in TIERS_OF.get(impl, {CORE, STRICT, TRANSFORMS}):
                continue
            if impl in ("reference", "verbatim", "vmap_in_scan", "custom_vjp") and prop == "grid":
                # 20 cells, one nnx compile (or eager call) each: ~15 s cold. `pytest properties --impl X` runs it.
                continue
            if impl not in ("numpy_loop", "control") and prop == "boundary":
                # 10 large shapes, one compile each (~2 s cold): `pytest properties --impl X` runs them, and for fast
                # every plain `pytest` run does (properties/test_phases.py). numpy_loop (no compile) checks the
                # NumPy machinery of the domain mutants (tests/mutants/domain.py), control that of the others.
                continue
            if prop == "transforms_boundary" and impl not in ("custom_vjp", "edges_vjp_correct", "edges_jvp_correct"):
                # 4 large shapes, compiled per transform (~30-60 s cold): the hand-written derivatives are checked
                # here, fast by every plain `pytest` run (properties/test_phases.py), the others by
                # `pytest --pyargs properties -m transforms --impl X`.
                continue
            yield impl, prop


#: Runs that only `pytest --slow` makes: the eager reference under the transforms tier (each of its jit/vmap/grad
#: programs is a new trace of the eager code; `pytest --pyargs properties -m transforms --impl reference` checks it),
#: and most of the verbatim problem code's.
SLOW_RUNS = {("reference", p) for p in PROPS if TIER[p] == TRANSFORMS}
#: The verbatim problem code is eager nnx (every call re-traces, ~1 s): a plain `pytest` checks it on the properties
#: that judge what it computes and accepts; `pytest --slow` (and `pytest --pyargs properties -m core --impl
#: tests/candidates/verbatim.py`) on the whole core tier.
VERBATIM_EVERY_RUN = {"matches_oracle", "output_shape", "input_forms", "batch_permutation_equivariance"}
SLOW_RUNS |= {("verbatim", p) for p in PROPS if p not in VERBATIM_EVERY_RUN}


RUNS = [pytest.param(i, p, id=f"{i}-{p}", marks=[pytest.mark.slow] if (i, p) in SLOW_RUNS else [])
        for i, p in _correct_runs()]


@pytest.mark.parametrize("impl,prop", RUNS)
def test_correct_implementation_passes(impl, prop):
    # A property's share of the budget follows its weight, as in the suite; the grid runs one example per cell, the
    # boundary set its every-run cases.
    examples = (1 if prop == "grid" else None if prop in ("boundary", "transforms_boundary")
                else min(BUDGET[impl], examples_for(PROPS[prop].weight)))
    outcome = _run(prop, CORRECT[impl], SPECS[impl], max_examples=examples)
    if outcome.kind == SKIPPED and TIER[prop] == TRANSFORMS:  # JAX implementations only; the others say why not
        assert impl == "numpy_loop" and "not a JAX implementation" in outcome.message, (
            f"{impl}: {prop} skipped: {outcome.message}"
        )
        pytest.skip(outcome.message)
    if outcome.kind == SKIPPED:
        assert prop in ("jaxpr_constant_in_depth", "scan_body_is_batched_matmul") and impl not in ("fast", "control"), (
            f"{impl}: {prop} skipped: {outcome.message}"
        )
        pytest.skip(outcome.message)
    assert outcome.kind == PASSED, f"{impl} rejected by {prop}: {outcome.message[:3000]}"
    assert outcome.examples >= 1
