"""Plain-function API: run one property of the suite against an implementation, outside pytest.

:func:`run_property` applies ``@given(prop.strategy)`` and :func:`properties.harness.profiles.for_property` to
``prop.check`` exactly as the pytest integration (:mod:`properties.runner.pytest_items`) does, under the active Hypothesis profile (the
``ci`` profile when ``CI`` is set: derandomized, no database), and returns an :class:`Outcome` instead of raising.
A case set of the check plan (:data:`properties.runner.plan.CASE_SETS`) runs by its name: ``"grid"`` every cell of
the small-scope grid (Hypothesis inside each), ``"boundary"`` the boundary set (its every-run cases; all of them under
the ``exhaustive`` profile), one call a case; either stops at the first case that fails.

The implementation: a SPEC runs in a candidate process (started for the call and killed after it, or pass a
:class:`~properties.harness.proxy.ProcessCandidate` to reuse one); a plain callable can only run in this process.

    >>> from properties.api import run_property
    >>> run_property("fast", "output_shape", max_examples=2).passed
    True
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass

from hypothesis import Phase, given
from hypothesis import settings as hsettings
from hypothesis.errors import Flaky, UnsatisfiedAssumption

from properties.harness import profiles as suite_settings
from properties.harness.proxy import Candidate, ImplementationError, NotRun, ProcessCandidate, open_candidate
from properties.invariants import PROPERTIES, Property
from properties.harness.tiers import TIERS
from properties.runner import plan
from properties.runner.plan import CASE_SETS
from properties.runner.plan import Phase as CheckPhase

#: Outcome kinds.
PASSED, FAILED, SKIPPED, ERROR = "passed", "failed", "skipped", "error"


@dataclass(frozen=True)
class Outcome:
    """What running one property did.

    ``passed`` is True when no example falsified the property (a skip counts as passed, with ``kind == "skipped"``).
    ``kind``: ``"failed"`` when the implementation falsified the property (an ``AssertionError`` or an
    :class:`ImplementationError`, or a case that failed and then passed on replay: Hypothesis's ``Flaky``), ``"error"``
    for anything else that stopped the run (Hypothesis found no valid
    example, a health check, a bug in the suite), ``"skipped"`` when the property does not apply (e.g. structural
    properties of a non-traceable implementation). ``examples`` counts the examples run, ``discarded`` those rejected
    by ``hypothesis.assume`` (e.g. an all-zero oracle output). ``counterexample``: for a failure, the case (keyword
    arguments of the property) that failed last -- Hypothesis replays its minimal failing example last.
    """

    prop: str
    passed: bool
    message: str
    examples: int
    kind: str
    discarded: int = 0
    counterexample: dict | None = None

    def __bool__(self) -> bool:
        return self.passed


class _NotRunSkip(BaseException):
    """A property that could not be checked (:class:`~properties.harness.proxy.NotRun`), raised through Hypothesis
    (a BaseException, which it does not take for a failure to shrink)."""


def _skip_exception():
    try:
        import pytest

        return (pytest.skip.Exception,)
    except Exception:  # noqa: BLE001 - pytest is not installed: nothing can raise its Skipped
        return ()


def get_property(name: str) -> Property:
    """The property ``name`` of the catalogue, or the check of one case of the case set ``name`` (``"grid"``: one
    cell's check; ``"boundary"``: ``check(impl, name=...)``)."""
    return plan.get(name)


def as_candidate(impl) -> Candidate:
    """A SPEC string (run in a candidate process), a callable (run here) or a :class:`Candidate`."""
    return open_candidate(impl)


def run_property(impl, prop_name: str, max_examples: int | None = None, *, shrink: bool = True,
                 profile: str | None = None, matmul_precision: str | None = "highest",
                 shrink_budget: float | None = None) -> Outcome:
    """Run property ``prop_name`` against ``impl`` (SPEC, callable or Candidate) with Hypothesis; never raises for a
    failing implementation.

    ``max_examples`` overrides the profile's example count for the property (per cell for the grid phase; for a
    fixed case set such as ``"boundary"``, the number of its cases, taken in order).
    ``profile`` runs under that registered Hypothesis profile and the suite's budget for it (e.g. ``"ci"``:
    derandomized, 25 examples a property) instead of the active one.
    ``shrink=False`` stops at the first falsifying example (no shrinking, no explanation phase): enough to know *that*
    the property fails, much faster when every shrink step compiles a new shape. ``shrink_budget``: seconds Hypothesis
    may spend shrinking (default: the suite's, ``properties.harness.profiles.DEFAULT_SHRINK_BUDGET``); the outcome's
    message says when it was cut short. ``matmul_precision`` is set while the property runs in this process, as the
    pytest plugin does (``None`` leaves JAX's setting alone).
    """
    prop = get_property(prop_name)
    candidate = as_candidate(impl)
    owned = candidate is not impl  # made here: closed here
    try:
        budget = suite_settings.DEFAULT_SHRINK_BUDGET if shrink_budget is None else shrink_budget
        with suite_settings.shrink_budget(budget) as limited:
            outcome = _run(prop, prop_name, candidate, max_examples, shrink, profile, matmul_precision)
        if limited.cut and outcome.kind == FAILED:
            outcome = dataclasses.replace(outcome, message=outcome.message + f"\n  (shrinking stopped after the "
                                          f"{budget:g} s budget: the counterexample may not be minimal)")
        return outcome
    finally:
        candidate.end_test()
        if owned:
            candidate.close()


def _run(prop, prop_name, candidate, max_examples, shrink, profile, matmul_precision) -> Outcome:
    candidate.reset()
    name = profile or suite_settings.profile_name()
    case_set = CASE_SETS.get(prop_name)
    if case_set is not None and case_set.phase is CheckPhase.BOUNDARY:
        return _run_fixed(case_set, candidate, max_examples, name, matmul_precision)
    if case_set is not None:  # the grid phase: Hypothesis inside each cell
        runs = [(strategy, max_examples or suite_settings.GRID_EXAMPLES.get(name, 3), f"{prop_name}[{cid}]")
                for cid, strategy in case_set.case_list(name)]
    else:
        runs = [(prop, max_examples, "")]
    counts = {"examples": 0, "discarded": 0}
    skipped = _skip_exception()

    first: list[str] = []  # the first failure (reported when a replay of its case then passes: Flaky)
    failing: list[dict] = []  # the last failing case: the minimal one, which Hypothesis replays last

    def check(case):
        counts["examples"] += 1
        candidate.calls.clear()
        try:
            prop.check(candidate, **case)
        except UnsatisfiedAssumption:
            counts["discarded"] += 1
            raise
        except NotRun as exc:
            raise _NotRunSkip(str(exc)) from None
        except (AssertionError, ImplementationError) as exc:
            first.append(f"{type(exc).__name__}: {exc}")
            failing[:] = [case]
            raise

    precision = contextlib.nullcontext()
    if matmul_precision and not isinstance(candidate, ProcessCandidate):
        import jax

        precision = jax.default_matmul_precision(matmul_precision)
    with precision:
        for strategy, examples, where in runs:
            settings = _settings(prop.weight, examples, profile)
            if not shrink:
                settings = hsettings(settings, phases=[p for p in settings.phases if p not in (Phase.shrink, Phase.explain)])
            test = settings(strategy.given(check) if isinstance(strategy, Property) else given(case=strategy)(check))
            try:
                test()
            except (_NotRunSkip, *skipped) as exc:
                return Outcome(prop_name, True, str(exc), counts["examples"], SKIPPED, counts["discarded"])
            except (AssertionError, ImplementationError) as exc:
                return Outcome(prop_name, False, _message(exc, where), counts["examples"], FAILED, counts["discarded"],
                               failing[0] if failing else None)
            except BaseException as exc:  # noqa: BLE001 - ExceptionGroup of several bugs, Hypothesis errors, ...
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                # Flaky: the same case passed on replay -- under pytest the property fails, and for an
                # implementation it means nondeterminism (or state carried between calls).
                kind = FAILED if isinstance(exc, Flaky) or _all_failures(exc) else ERROR
                message = _message(exc, where)
                if isinstance(exc, Flaky) and first:
                    message = (f"{where + ': ' if where else ''}{first[0]}\n  (the same case passed when it was tried "
                               "again: the implementation does not behave the same way twice)")
                return Outcome(prop_name, False, message, counts["examples"], kind, counts["discarded"],
                               failing[0] if failing else None)
    return Outcome(prop_name, True, "", counts["examples"], PASSED, counts["discarded"])


def _run_fixed(case_set, candidate, max_examples, profile_name, matmul_precision) -> Outcome:
    """A fixed case set's cases in order, one call each, until one fails (no Hypothesis: nothing to draw or shrink)."""
    pairs = case_set.case_list(profile_name)
    pairs = pairs[:max_examples] if max_examples else pairs
    prop, name = case_set.prop, case_set.name
    precision = contextlib.nullcontext()
    if matmul_precision and not isinstance(candidate, ProcessCandidate):
        import jax

        precision = jax.default_matmul_precision(matmul_precision)
    done = 0
    with precision:
        for case_id, case in pairs:
            done += 1
            candidate.calls.clear()
            try:
                prop.check(candidate, **case)
            except NotRun as exc:
                return Outcome(name, True, str(exc), done, SKIPPED)
            except _skip_exception() as exc:  # the transforms tier skips implementations that are not JAX ones
                return Outcome(name, True, str(exc), done, SKIPPED)
            except (AssertionError, ImplementationError) as exc:
                return Outcome(name, False, f"{name}[{case_id}]: {type(exc).__name__}: {exc}", done, FAILED,
                               counterexample=dict(case))
    return Outcome(name, True, "", done, PASSED)


def _settings(weight: float, examples: int | None, profile: str | None) -> hsettings:
    if profile is None:
        return suite_settings.for_property(weight, examples=examples)  # exactly what pytest_items applies
    parent = hsettings.get_profile(profile)
    count = examples or max(1, round(suite_settings.EXAMPLES.get(profile, parent.max_examples) * weight))
    return suite_settings.for_property(examples=count, parent=parent)


def _all_failures(exc: BaseException) -> bool:
    """True for an exception group (Hypothesis reports several distinct bugs that way) made only of failures."""
    subs = getattr(exc, "exceptions", None)
    if not subs:
        return False
    return all(isinstance(e, (AssertionError, ImplementationError)) or _all_failures(e) for e in subs)


def _message(exc: BaseException, where: str) -> str:
    text = f"{type(exc).__name__}: {exc}"
    notes = getattr(exc, "__notes__", None)
    if notes:
        text += "\n" + "\n".join(str(n) for n in notes)
    return f"{where}: {text}" if where else text


def run_all(impl, tiers=TIERS, max_examples: int | None = None, *, grid: bool = True,
            shrink: bool = True) -> dict[str, Outcome]:
    """Run every property of ``tiers`` (default: all three, as ``composed-check --tier all``; and, when ``grid``, the
    case sets of those tiers: the grid and the boundary set) against one implementation."""
    candidate = as_candidate(impl)
    names = [p.name for p in PROPERTIES.values() if p.tier in tiers]
    if grid:
        names += [s.name for s in CASE_SETS.values() if s.tier in tiers]
    try:
        return {name: run_property(candidate, name, max_examples, shrink=shrink) for name in names}
    finally:
        if candidate is not impl:
            candidate.close()


__all__ = ["Outcome", "run_property", "run_all", "get_property", "as_candidate", "PASSED", "FAILED", "SKIPPED", "ERROR"]
