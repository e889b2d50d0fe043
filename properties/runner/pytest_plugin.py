"""The pytest plugin of the conformance suite (entry point ``pytest11: properties.plugin``, which re-exports this).

Installed with the package, so ``pytest --pyargs properties --impl mymod:fn`` works from anywhere; the repository's
root ``conftest.py`` lists ``properties.plugin`` in ``pytest_plugins`` for runs from a checkout without an install
(pytest registers it once either way: the entry point is named after the module).

It is inert for other projects: it adds options and profiles, and touches JAX only through environment variables set
before JAX is imported (compilation cache); only when the suite's tests run does it start the candidate process.

The implementation under test never runs in a pytest process: the ``candidate`` fixture is a
:class:`properties.harness.proxy.ProcessCandidate`, one candidate process per pytest process (per xdist worker),
started at configuration so it imports the implementation while pytest collects. ``--in-process`` runs it here
instead (for pdb; not tamper-proof).
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import pytest

from properties.harness.profiles import register_profiles

# At import, not in pytest_configure: Hypothesis's own plugin loads --hypothesis-profile in its pytest_configure.
register_profiles()

from properties.runner.options import DEFAULT_HOST_DEVICES, ENV_HOST_DEVICES, ENV_IMPL  # noqa: E402

__all__ = [
    "pytest_addoption", "pytest_configure", "pytest_unconfigure", "pytest_sessionfinish", "pytest_report_header",
    "pytest_runtest_makereport",
    "pytest_sessionstart", "pytest_collection_modifyitems", "pytest_collection_finish", "candidate",
    "_fresh_candidate_state",
]


def pytest_addoption(parser):
    from properties.runner.options import add_to_pytest

    add_to_pytest(parser.getgroup("composed", "composed conformance suite"))


def impl_spec(config) -> tuple[str, bool]:
    """The SPEC under test and whether the user chose it explicitly."""
    spec = config.getoption("impl") or os.environ.get(ENV_IMPL)
    return (spec, True) if spec else ("fast", False)


def _cache_dir(config) -> str | None:
    from properties.harness.proxy import default_cache_dir

    value = config.getoption("jax_cache_dir")  # $COMPOSED_JAX_CACHE is read by default_cache_dir
    if value and value.lower() in ("off", "0", "none", "false", "no"):
        return None
    return value or default_cache_dir()


def _host_devices(config) -> int:
    value = config.getoption("host_devices")
    if value is None:
        value = os.environ.get(ENV_HOST_DEVICES, str(DEFAULT_HOST_DEVICES))
    value = str(value).strip().lower()
    if value in ("", "off", "no", "none", "false"):
        return 0
    try:
        return max(0, int(value))
    except ValueError:
        raise pytest.UsageError(f"--host-devices / ${ENV_HOST_DEVICES}: expected a device count, got {value!r}") from None


def _runs_the_suite(config) -> bool:
    """Whether this run may include the suite's tests: an implementation named, a run in or over this checkout, or
    ``properties`` named (``--pyargs properties``). The invocation directory and the arguments count, not only the
    rootdir: ``--jax-cache-dir PATH`` (space-separated, PATH existing) makes pytest take PATH as the rootdir, because
    it determines the rootdir before it knows this plugin's options."""
    if impl_spec(config)[1]:
        return True
    root = Path(__file__).resolve().parent.parent.parent
    args = [str(arg).split("::")[0] for arg in config.args]
    invoked = Path(str(config.invocation_params.dir))
    places = [Path(str(config.rootpath)), invoked, *(invoked / arg for arg in args)]  # absolute args stay absolute
    for place in places:
        try:
            path = place.resolve()
        except (OSError, RuntimeError):
            continue
        if path == root or root in path.parents or path in root.parents:
            return True
    return any("properties" in Path(arg).parts or arg.startswith("properties") for arg in args)


def _jax_backends_initialised() -> bool:
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge.backends_are_initialized())
    except Exception:  # noqa: BLE001 - a JAX without that function: assume the worst
        return True


def _cache_settings(config) -> dict:
    """This process's own JAX cache: ``BASE/checker``, which no confined candidate can write; under --in-process the
    implementation runs here, so this process uses the implementation's cache instead (isolation, issue 14)."""
    from properties.harness import isolation
    from properties.harness.proxy import cache_settings

    base = _cache_dir(config)
    if base and config.getoption("in_process"):
        key = isolation.implementation_key(impl_spec(config)[0], str(config.invocation_params.dir))
        return cache_settings(isolation.candidate_cache_dir(base, key))
    return cache_settings(isolation.checker_cache_dir(base))


def _configure_jax(config) -> None:
    """This process: persistent compilation cache with no minimum compile time (via env before JAX is imported, else
    ``jax.config.update``); xdist workers sharing a GPU preallocate nothing."""
    if os.environ.get("PYTEST_XDIST_WORKER") and not _jax_backends_initialised():
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    settings = _cache_settings(config)
    if "jax" in sys.modules:
        import jax

        for key, value in settings.items():
            jax.config.update(key, value)
    else:
        for key, value in settings.items():
            os.environ.setdefault(key.upper(), str(value))


def _configure_blas() -> None:
    """One BLAS thread in the checking processes (``OPENBLAS_NUM_THREADS=1``, unless set), when NumPy is not loaded yet
    (else nothing). The oracle and the error model are small float64 matmuls; with a BLAS thread pool contending
    with XLA's threads on a small machine they ran up to 80x slower (measured on 2 cores: the oracle at F = 513, 160 ms
    instead of 2.5 ms). Child processes (xdist workers, candidate processes) inherit it."""
    if "numpy" in sys.modules:
        return
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def candidate_env(config) -> dict:
    """The environment of the candidate process (:func:`properties.harness.proxy.candidate_environment`) as this
    session's options say."""
    from properties.harness.proxy import candidate_environment

    return candidate_environment(cache_dir=_cache_dir(config), matmul_precision=config.getoption("matmul_precision"),
                                 host_devices=_host_devices(config), run=run_id())


def run_id() -> str:
    """This run's id (shared by the controller, its workers and every candidate process): ``$COMPOSED_RUN``, set by
    ``composed-check`` or, for a plain pytest run, by the first pytest process."""
    from properties.harness import processes

    return os.environ.setdefault(processes.ENV_RUN, uuid.uuid4().hex)


def _memory_budget(config) -> int | None:
    from properties.harness import processes

    size = config.getoption("max_memory")
    if size == "auto":
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
        return processes.auto_memory(workers)
    return processes.parse_size(size)


def _is_controller(config) -> bool:
    """The xdist controller: it collects and schedules, but runs no test (so it needs no candidate)."""
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", None))


def make_candidate(config):
    """A new handle on the implementation under test, as this session's options say (not started)."""
    from properties.harness.proxy import DEFAULT_TIMEOUT, InProcessCandidate, ProcessCandidate

    spec, _ = impl_spec(config)
    timeout = config.getoption("call_timeout") or DEFAULT_TIMEOUT
    if config.getoption("in_process"):
        return InProcessCandidate(spec, timeout=timeout)
    return ProcessCandidate(spec, timeout=timeout, max_memory=_memory_budget(config), env=candidate_env(config),
                            cwd=str(config.invocation_params.dir),
                            require_isolation=config.getoption("require_isolation"))


@pytest.hookimpl(tryfirst=True)  # before Hypothesis's own, which reads --hypothesis-seed
def pytest_configure(config):
    from properties.harness.tiers import TIER_TABLE

    for tier in TIER_TABLE:
        config.addinivalue_line("markers", f"{tier.name}: {tier.description}")
    suite = _runs_the_suite(config) or hasattr(config, "workerinput")
    if suite or config.getoption("seed") is not None:
        _configure_hypothesis(config)
    _configure_jax(config)
    _configure_conformance(config)
    if not suite:
        return
    _configure_blas()
    if config.getoption("max_examples"):
        from properties.runner import pytest_items

        pytest_items.OVERRIDES["examples"] = config.getoption("max_examples")
    from properties.runner import isolation  # isolation (issue 14): non-dumpable; probe and --require-isolation

    isolation.configure(config)
    run_id()  # before xdist starts its workers, so they (and every candidate process) share it
    # -- suite self-check (issue 14): hash the suite's files before any candidate process starts --
    if not hasattr(config, "workerinput"):
        from properties.runner import integrity

        integrity.start_session(config)
    # -- end suite self-check --
    spec, explicit = impl_spec(config)
    if config.getoption("in_process"):
        if explicit:
            _check_spec_here(spec)
        return
    if _is_controller(config):
        if explicit:
            _probe(config)  # a bad SPEC is a usage error (checked in pytest_sessionstart)
        return
    # A process that runs tests: start the candidate now, so it imports the implementation while pytest collects
    # (a SPEC that does not load is a usage error once collection is done: pytest_collection_finish).
    config._composed_candidate = make_candidate(config)
    config._composed_candidate.start()
    config._composed_check_load = explicit and not hasattr(config, "workerinput")


def _configure_hypothesis(config) -> None:
    """``--seed``: Hypothesis's seed (as ``--hypothesis-seed``); a new one when neither is given, so that every run
    can be replayed (the header and the report say which). ``--state-dir``: where Hypothesis keeps its database."""
    import random

    seed = config.getoption("seed")
    given = getattr(config.option, "hypothesis_seed", None)
    if seed is None and given is not None:
        try:
            seed = int(given)
        except ValueError:  # a text seed: Hypothesis hashes it, ours stays unknown
            seed = None
    elif seed is None:
        seed = random.SystemRandom().getrandbits(32)
    if seed is not None:
        config.option.seed = seed  # xdist passes the controller's options on to its workers
        config.option.hypothesis_seed = seed
    config._composed_seed = seed
    state = config.getoption("state_dir")
    if state:
        from hypothesis.configuration import set_hypothesis_home_dir

        set_hypothesis_home_dir(Path(state) / "hypothesis")


def pytest_collection_finish(session):
    config = session.config
    if getattr(config, "_composed_check_load", False) and any(_is_suite_item(i) for i in session.items):
        try:
            _wait_loaded(config._composed_candidate)
        except pytest.UsageError as exc:
            pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)


def _is_suite_item(item) -> bool:
    from properties.runner.report import is_suite_path

    return is_suite_path(item.path)


def _check_spec_here(spec: str) -> None:
    from properties.sandbox.loader import SpecError, load

    try:
        load(spec)
    except SpecError as exc:
        raise pytest.UsageError(str(exc)) from None


def _probe(config) -> None:
    """Start loading the SPEC in a throw-away candidate process (the controller never imports the implementation);
    ``pytest_sessionstart`` waits for it once xdist has started its workers, so the two overlap."""
    if impl_spec(config)[0] in _bundled():
        return
    config._composed_probe = make_candidate(config)
    config._composed_probe.start()


def _finish_probe(config) -> None:
    probe = getattr(config, "_composed_probe", None)
    if probe is None:
        return
    config._composed_probe = None
    try:
        _wait_loaded(probe)
    except pytest.UsageError as exc:
        pytest.exit(f"ERROR: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    finally:
        probe.close()


def _bundled():
    from properties.sandbox.loader import bundled_names

    return bundled_names()


def _wait_loaded(candidate) -> None:
    """Wait until the candidate process has imported the implementation; a load error is a usage error."""
    from properties.harness.proxy import IsolationMissing
    from properties.runner.exitcodes import Exit
    from properties.sandbox.loader import SpecError

    try:
        candidate.wait_loaded()
    except IsolationMissing as exc:  # isolation (issue 14): the candidate refused to load the implementation
        candidate.close()
        pytest.exit(str(exc), returncode=int(Exit.ISOLATION_MISSING))
    except SpecError as exc:
        candidate.close()
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    """Before any report is written: end the candidate process and, in the process that owns the run, anything of
    the run still alive (so nothing the implementation started can touch the report); then the suite's files are
    checked again (a change voids the verdict: exit status 7)."""
    _end_candidates(session.config)
    # -- suite self-check (issue 14) --
    if not hasattr(session.config, "workerinput"):
        from properties.runner import integrity

        integrity.finish_session(session)
    # -- end suite self-check --


def pytest_unconfigure(config):
    _end_candidates(config)


def _end_candidates(config) -> None:
    for name in ("_composed_candidate", "_composed_probe"):
        candidate = getattr(config, name, None)
        if candidate is not None:
            candidate.close()
    if hasattr(config, "workerinput") or config.getoption("in_process"):
        return
    from properties.harness import processes

    if os.environ.get(processes.ENV_RUN):  # orphans of a crashed worker, and whatever escaped a candidate's tree
        processes.kill_tree(run=os.environ[processes.ENV_RUN])
        from properties.harness.isolation import remove_tmpdirs

        remove_tmpdirs(os.environ[processes.ENV_RUN])  # the candidates' temporary directories (issue 14)
    processes.reap_orphans()


def pytest_report_header(config):
    spec, explicit = impl_spec(config)
    from hypothesis import settings

    source = "--impl" if config.getoption("impl") else (f"${ENV_IMPL}" if explicit else "default")
    where = "in process" if config.getoption("in_process") else "in a candidate process"
    from hypothesis import core

    seed = getattr(core, "global_force_seed", None)  # what Hypothesis uses (the option reached it)
    seed_text = f"seed {seed}" if seed is not None else "seed: Hypothesis's"
    if settings.default.derandomize:
        seed_text += " (unused: the profile is derandomized)"
    from properties.runner import isolation

    lines = [
        f"composed: implementation under test: {spec} ({source}), {where}; hypothesis profile: "
        f"{settings.get_current_profile_name()}, {seed_text}; JAX cache: {_cache_dir(config) or 'off'}"
    ]
    return lines + [line for line in (isolation.header(config),) if line]  # isolation (issue 14)


@pytest.fixture(scope="session")
def candidate(pytestconfig):
    """The implementation under test (see :mod:`properties.harness.proxy`)."""
    handle = getattr(pytestconfig, "_composed_candidate", None)
    if handle is None:
        handle = pytestconfig._composed_candidate = make_candidate(pytestconfig)
        handle.start()
    precision = pytestconfig.getoption("matmul_precision")
    if precision and precision != "keep" and pytestconfig.getoption("in_process"):
        import jax

        jax.config.update("jax_default_matmul_precision", precision)
    yield handle
    handle.close()


@pytest.fixture(autouse=True)
def _fresh_candidate_state(request):
    """Each test starts with no recorded calls and no hang inherited from the previous one, shrinks on a time budget
    (none when its check already failed in this run), and ends with whatever processes the implementation left
    behind killed."""
    from properties.harness.profiles import DEFAULT_SHRINK_BUDGET, shrink_budget
    from properties.harness.runstate import RunState
    from properties.runner.pytest_items import STATE, family
    from properties.runner.report import is_suite_path, property_id

    STATE.reset()
    handle = request.getfixturevalue("candidate") if "candidate" in request.fixturenames else None
    if handle is not None:
        handle.reset()
    budget = request.config.getoption("shrink_budget")
    budget = DEFAULT_SHRINK_BUDGET if budget is None else budget
    if is_suite_path(request.node.path):
        check = family(property_id(request.node.nodeid))
        if check != property_id(request.node.nodeid).split("[")[0] and RunState().failed(check):
            budget = 0.0
            STATE.shrink_note = (f"not shrunk: the same check ({check}) already failed and was shrunk in this run; "
                                 "this is the first failing example found")
    with shrink_budget(budget):
        yield
    if handle is not None:
        handle.end_test()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when != "call":
        return
    from properties.runner.pytest_items import STATE

    item.user_properties.append(("composed_examples", STATE.examples))
    from properties.runner import isolation

    isolation.attach(item)  # isolation (issue 14): the candidate's record, once, for the report
    if STATE.budget is not None and STATE.budget.cut:  # issue 17: the example budget cut this test
        item.user_properties.append(("composed_examples_cut", STATE.budget.cut))
    report = outcome.get_result()
    from properties.harness.profiles import shrink_was_cut
    from properties.runner.report import is_suite_path, property_id

    if report.failed and is_suite_path(item.path):
        from properties.harness.runstate import RunState
        from properties.runner.pytest_items import family

        RunState().note_failed(family(property_id(item.nodeid)))
        note = STATE.shrink_note or (
            "shrinking stopped at the time budget (--shrink-budget): the counterexample may not be "
            "minimal" if shrink_was_cut() else None)
        if note:
            item.user_properties.append(("composed_shrink_note", note))
        _note_cause(item, call, STATE)
    if (report.failed or hasattr(report, "wasxfail") and report.skipped) and STATE.case is not None:
        from properties.runner.repro import counterexample, repro

        spec, _ = impl_spec(item.config)
        # as JSON text: execnet (xdist) cannot serialise ints below -2**31 (seeds!), and junitxml wants text anyway
        item.user_properties.append(("composed_counterexample", json.dumps(counterexample(STATE.case), default=repr)))
        item.user_properties.append(("composed_repro", repro(spec, STATE.prop, STATE.case)))
    if report.failed and STATE.first_failure and "Flaky" in str(report.longrepr):
        item.user_properties.append(("composed_first_failure", STATE.first_failure))


def _note_cause(item, call, state) -> None:
    """What the report needs to group this failure by cause: whether the implementation raised, and whether its plain
    call on the failing case already differs from the oracle (then the oracle comparison explains the failure)."""
    from properties.harness.proxy import CallTimeout, ImplementationError
    from properties.harness.tolerance import oracle_mismatch
    from properties.runner.plan import family
    from properties.runner.report import property_id

    raised = call.excinfo is not None and call.excinfo.errisinstance(ImplementationError)
    item.user_properties.append(("composed_raised", bool(raised)))
    handle = item.funcargs.get("candidate")
    if state.case is None or handle is None or family(property_id(item.nodeid)) == "matches_oracle":
        return
    if call.excinfo is not None and call.excinfo.errisinstance(CallTimeout):
        return  # it hangs: another call would cost the timeout again
    try:
        mismatch = oracle_mismatch(handle, state.case)
    except Exception:  # noqa: BLE001 - the grouping is a courtesy; never fail the report over it
        mismatch = None
    item.user_properties.append(("composed_oracle_mismatch", mismatch))


# -- reports, xfails file -----------------------------------------------------------------------------------------------


def _configure_conformance(config) -> None:
    from properties.harness import processes

    path = config.getoption("xfails_file")
    if path:
        from properties.runner import xfails

        try:
            config._composed_xfails = (path, xfails.read(path))
        except xfails.XfailsFileError as exc:
            raise pytest.UsageError(str(exc)) from None
    size = config.getoption("max_memory")
    try:
        processes.parse_size(size) if size != "auto" else None
    except (ValueError, IndexError):
        raise pytest.UsageError(f"--max-memory: cannot read {size!r} (e.g. 4G, 512M, off)") from None
    if hasattr(config, "workerinput"):
        return
    if config.getoption("report") or config.getoption("markdown") or config.getoption("conformance_progress"):
        from properties.runner.report import ReportPlugin

        plugin = ReportPlugin(
            config,
            impl_spec(config)[0],
            config.getoption("report"),
            config.getoption("markdown"),
            config.getoption("conformance_progress"),
        )
        plugin.seed = getattr(config, "_composed_seed", None)
        config.pluginmanager.register(plugin, "composed-report")


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    """The controller's SPEC probe (after xdist started its workers); --conformance-no-shrink: reload the active
    Hypothesis profile without the shrink and explain phases (after Hypothesis's own plugin loaded it, before the
    suite's modules build their settings at collection)."""
    _finish_probe(session.config)
    if not session.config.getoption("no_shrink"):
        return
    from hypothesis import Phase, settings

    name = settings.get_current_profile_name()
    current = settings.get_profile(name)
    phases = tuple(p for p in current.phases if p not in (Phase.shrink, Phase.explain))
    settings.register_profile(name, parent=current, phases=phases)
    settings.load_profile(name)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    """Mark the properties listed in the xfails file (before -m/-k deselect, so a line is checked against all), and
    run the suite's tests cheapest and most discriminating first."""
    _mark_xfails(config, items)
    _select_tier(config, items)
    _order(items)


def _select_tier(config, items) -> None:
    """``--tier NAME``: deselect the suite's tests of the other tiers (like ``-m NAME``; other tests stay)."""
    tier = config.getoption("tier")
    if not tier or tier == "all":
        return
    keep, drop = [], []
    for item in items:
        (drop if _is_suite_item(item) and item.get_closest_marker(tier) is None else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _order(items) -> None:
    """The suite's tests in ``properties.runner.pytest_items.ORDER`` (a broken implementation is found in the first
    seconds); other tests keep their places, before the suite's."""
    from properties.harness.tiers import TIERS
    from properties.runner.pytest_items import rank
    from properties.runner.report import is_suite_path, property_id

    def key(pair):
        position, item = pair
        if not is_suite_path(item.path):
            return (0, position)
        tier = next((t for t in TIERS if item.get_closest_marker(t) is not None), None)
        return (1, rank(property_id(item.nodeid), tier), position)

    items[:] = [item for _, item in sorted(enumerate(items), key=key)]


def _mark_xfails(config, items) -> None:
    listed = getattr(config, "_composed_xfails", None)
    if not listed:
        return
    import warnings

    from properties.runner import xfails
    from properties.runner.report import is_suite_path, property_id

    path, entries = listed
    ours = [(item, property_id(item.nodeid)) for item in items if is_suite_path(item.path)]
    for item, pid in ours:
        entry = xfails.first_match(entries, pid)
        if entry is not None:
            item.add_marker(pytest.mark.xfail(reason=f"{path}:{entry.line}: {entry.pattern}", strict=False))
    for entry in xfails.unmatched(entries, [pid for _, pid in ours]):
        warnings.warn(xfails.XfailsWarning(xfails.warning_text(path, entry)), stacklevel=1)
