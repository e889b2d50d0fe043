"""The pytest plugin of the conformance suite (entry point ``pytest11: properties.plugin``).

Installed with the package, so ``pytest --pyargs properties --impl mymod:fn`` works from anywhere; the repository's
root ``conftest.py`` lists it in ``pytest_plugins`` for runs from a checkout without an install (pytest registers it
once either way: the entry point is named after the module).

It is inert for other projects: it adds options and profiles, and touches JAX only through environment variables set
before JAX is imported (compilation cache), and only when the suite's tests run does it load the implementation.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from properties.settings import register_profiles

# At import, not in pytest_configure: Hypothesis's own plugin loads --hypothesis-profile in its pytest_configure.
register_profiles()

ENV_IMPL = "COMPOSED_IMPL"
ENV_CACHE = "COMPOSED_JAX_CACHE"
ENV_HOST_DEVICES = "COMPOSED_HOST_DEVICES"
#: Host CPU devices the suite asks XLA for by default (the sharding property needs a mesh of 4).
DEFAULT_HOST_DEVICES = 4


def pytest_addoption(parser):
    group = parser.getgroup("composed", "composed conformance suite")
    group.addoption(
        "--impl",
        metavar="SPEC",
        default=None,
        help="implementation under test: a name in composed.IMPLEMENTATIONS, package.module[:attr] or "
        f"path/to/file.py[:attr] (attr defaults to composed_transforms). Default: ${ENV_IMPL}, else 'fast'.",
    )
    group.addoption(
        "--impl-timeout",
        metavar="SECONDS",
        type=float,
        default=None,
        help="fail a single call of the implementation that runs longer than this (default 120)",
    )
    group.addoption(
        "--matmul-precision",
        default="highest",
        help="jax_default_matmul_precision while the suite runs (default 'highest', so float32 on GPU/TPU is true "
        "float32, not TF32/bf16 passes; 'keep' leaves JAX's setting alone)",
    )
    group.addoption(
        "--jax-cache-dir",
        metavar="PATH",
        default=None,
        help=f"persistent JAX compilation cache directory ('off' disables). Default: ${ENV_CACHE}, else "
        "$XDG_CACHE_HOME/composed/jax (~/.cache/composed/jax)",
    )
    group.addoption(
        "--host-devices",
        metavar="N",
        default=None,
        help="split the host CPU into N XLA devices (appends --xla_force_host_platform_device_count=N to XLA_FLAGS "
        "before JAX initialises) for the sharding property; 0 opts out. Default: $%s, else %d; applied only to runs "
        "of this suite, never when XLA_FLAGS already sets a count or JAX's backends are already initialised "
        "(properties/sharding.py then falls back to a subprocess)" % (ENV_HOST_DEVICES, DEFAULT_HOST_DEVICES),
    )
    _add_conformance_options(group)


def impl_spec(config) -> tuple[str, bool]:
    """The SPEC under test and whether the user chose it explicitly."""
    spec = config.getoption("impl") or os.environ.get(ENV_IMPL)
    return (spec, True) if spec else ("fast", False)


def _cache_dir(config) -> str | None:
    value = config.getoption("jax_cache_dir") or os.environ.get(ENV_CACHE)
    if value and value.lower() in ("off", "0", "none", "false", "no"):
        return None
    if value:
        return value
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "composed", "jax")


def _host_devices(config) -> tuple[int, bool]:
    """The host device count to ask XLA for, and whether the user chose it."""
    value = config.getoption("host_devices")
    explicit = value is not None or ENV_HOST_DEVICES in os.environ
    if value is None:
        value = os.environ.get(ENV_HOST_DEVICES, str(DEFAULT_HOST_DEVICES))
    value = str(value).strip().lower()
    if value in ("", "off", "no", "none", "false"):
        return 0, explicit
    try:
        return max(0, int(value)), explicit
    except ValueError:
        raise pytest.UsageError(f"--host-devices / ${ENV_HOST_DEVICES}: expected a device count, got {value!r}") from None


def _runs_the_suite(config) -> bool:
    """Whether this run may include the suite's tests: an implementation named, a run in or over this checkout, or
    ``properties`` named (``--pyargs properties``). The invocation directory and the arguments count, not only the
    rootdir: ``--jax-cache-dir PATH`` (space-separated, PATH existing) makes pytest take PATH as the rootdir, because
    it determines the rootdir before it knows this plugin's options."""
    if impl_spec(config)[1]:
        return True
    root = Path(__file__).resolve().parent.parent
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
    except Exception:  # noqa: BLE001 - a JAX without that function: assume the worst, leave XLA_FLAGS alone
        return True


def _configure_host_devices(config) -> None:
    """Append ``--xla_force_host_platform_device_count=N`` to ``XLA_FLAGS`` (not clobbering other flags) so the CPU
    backend offers the sharding property a mesh; only before JAX initialises (XLA reads the flag once), and inherited
    by pytest-xdist workers and subprocesses. Otherwise ``properties.sharding`` uses its subprocess fallback."""
    count, explicit = _host_devices(config)
    flag = "--xla_force_host_platform_device_count"
    flags = os.environ.get("XLA_FLAGS", "")
    if count <= 1 or flag in flags or _jax_backends_initialised() or not (explicit or _runs_the_suite(config)):
        return
    os.environ["XLA_FLAGS"] = f"{flags} {flag}={count}".strip()


def _configure_gpu_memory() -> None:
    """pytest-xdist workers share the GPU: JAX's default preallocation of 75% of its memory per process would leave
    the second worker short, so workers preallocate nothing (unless the user set it; before JAX initialises)."""
    if os.environ.get("PYTEST_XDIST_WORKER") and not _jax_backends_initialised():
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


def _configure_jax(config) -> None:
    """Persistent compilation cache with no minimum compile time (set via env before JAX is imported, else update)."""
    _configure_host_devices(config)
    _configure_gpu_memory()
    path = _cache_dir(config)
    if path is None:
        return
    settings = {
        "jax_compilation_cache_dir": path,
        "jax_persistent_cache_min_compile_time_secs": 0,
        "jax_persistent_cache_min_entry_size_bytes": 0,
    }
    if "jax" in sys.modules:
        import jax

        for key, value in settings.items():
            jax.config.update(key, value)
    else:
        for key, value in settings.items():
            os.environ.setdefault(key.upper(), str(value))


def pytest_configure(config):
    config.addinivalue_line("markers", "core: what the problem itself demands (float32, valid arguments)")
    config.addinivalue_line("markers", "strict: the production contract of composed (errors, dtypes, B=0, ...)")
    _configure_jax(config)
    spec, explicit = impl_spec(config)
    if explicit:
        from properties.candidate import SpecError, load

        try:
            load(spec)
        except SpecError as exc:
            raise pytest.UsageError(str(exc)) from None
    _configure_conformance(config)


def pytest_report_header(config):
    spec, explicit = impl_spec(config)
    from hypothesis import settings

    source = "--impl" if config.getoption("impl") else (f"${ENV_IMPL}" if explicit else "default")
    return [
        f"composed: implementation under test: {spec} ({source}); hypothesis profile: "
        f"{settings.get_current_profile_name()}; JAX cache: {_cache_dir(config) or 'off'}"
    ]


@pytest.fixture(scope="session")
def candidate(pytestconfig):
    """The guarded implementation under test (see ``properties.candidate.Candidate``)."""
    from properties.candidate import DEFAULT_TIMEOUT, Candidate, SpecError

    spec, _ = impl_spec(pytestconfig)
    precision = pytestconfig.getoption("matmul_precision")
    if precision and precision != "keep":
        import jax

        jax.config.update("jax_default_matmul_precision", precision)
    timeout = pytestconfig.getoption("impl_timeout") or DEFAULT_TIMEOUT
    try:
        guarded = Candidate.from_spec(spec, timeout=timeout)
    except SpecError as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)
    _isolate(pytestconfig, guarded)
    return guarded


@pytest.fixture(autouse=True)
def _fresh_candidate_state(request):
    """Each test starts with no recorded calls and no hang inherited from the previous one."""
    from properties.pytest_support import STATE

    STATE.reset()
    if "candidate" in request.fixturenames:
        request.getfixturevalue("candidate").reset()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when != "call":
        return
    from properties.pytest_support import STATE

    item.user_properties.append(("composed_examples", STATE.examples))
    report = outcome.get_result()
    if (report.failed or hasattr(report, "wasxfail") and report.skipped) and STATE.case is not None:
        from properties.repro import counterexample, repro

        spec, _ = impl_spec(item.config)
        # as JSON text: execnet (xdist) cannot serialise ints below -2**31 (seeds!), and junitxml wants text anyway
        item.user_properties.append(("composed_counterexample", json.dumps(counterexample(STATE.case), default=repr)))
        item.user_properties.append(("composed_repro", repro(spec, STATE.prop, STATE.case)))


# -- reports, xfails file, process-level isolation (README: Isolation model) ---------------------------------------------


def _add_conformance_options(group) -> None:
    group.addoption(
        "--conformance-report",
        metavar="PATH",
        default=None,
        help="write the suite's verdicts as JSON to PATH (schema: properties/report.py; with xdist the controller "
        "writes it)",
    )
    group.addoption("--conformance-markdown", metavar="PATH", default=None,
                    help="write the verdicts as a Markdown table to PATH (for CI summaries)")
    group.addoption("--conformance-progress", action="store_true", default=False,
                    help="print one machine-readable '@@composed@@ {json}' line per finished property (for the "
                    "composed-check CLI)")
    group.addoption(
        "--xfails-file",
        metavar="PATH",
        default=None,
        help="properties expected to fail: one property id or id prefix per line, '#' comments; matching properties "
        "become xfail (non-strict), a line matching none gives a warning",
    )
    group.addoption(
        "--conformance-no-shrink",
        action="store_true",
        default=False,
        help="skip Hypothesis's shrink phase: a failing property reports the first failing example found, not a "
        "minimal one (much faster against an implementation that fails everywhere)",
    )
    group.addoption(
        "--impl-max-memory",
        metavar="SIZE",
        default="auto",
        help="RLIMIT_DATA for each process running the suite, so an implementation allocating without bound gets "
        "MemoryError: e.g. 4G, 512M, 'off'. Default 'auto': RAM / (2 * (workers + 1)), at least 2 GiB, on the CPU "
        "backend only",
    )


def _configure_conformance(config) -> None:
    from properties import isolation

    path = config.getoption("xfails_file")
    if path:
        from properties import xfails

        try:
            config._composed_xfails = (path, xfails.read(path))
        except xfails.XfailsFileError as exc:
            raise pytest.UsageError(str(exc)) from None
    size = config.getoption("impl_max_memory")
    try:
        isolation.parse_size(size) if size != "auto" else None
    except (ValueError, IndexError):
        raise pytest.UsageError(f"--impl-max-memory: cannot read {size!r} (e.g. 4G, 512M, off)") from None
    if isolation.in_xdist_worker(config):
        return
    if (config.getoption("conformance_report") or config.getoption("conformance_markdown")
            or config.getoption("conformance_progress")):
        from properties.report import ReportPlugin

        plugin = ReportPlugin(
            config,
            impl_spec(config)[0],
            config.getoption("conformance_report"),
            config.getoption("conformance_markdown"),
            config.getoption("conformance_progress"),
        )
        config.pluginmanager.register(plugin, "composed-report")


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    """--conformance-no-shrink: reload the active Hypothesis profile without the shrink and explain phases (after
    Hypothesis's own plugin loaded it, before the suite's modules build their settings at collection)."""
    if not session.config.getoption("conformance_no_shrink"):
        return
    from hypothesis import Phase, settings

    name = settings.get_current_profile_name()
    current = settings.get_profile(name)
    phases = tuple(p for p in current.phases if p not in (Phase.shrink, Phase.explain))
    settings.register_profile(name, parent=current, phases=phases)
    settings.load_profile(name)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    """Mark the properties listed in the xfails file (before -m/-k deselect, so a line is checked against all)."""
    listed = getattr(config, "_composed_xfails", None)
    if not listed:
        return
    import warnings

    from properties import xfails
    from properties.report import is_suite_path, property_id

    path, entries = listed
    ours = [(item, property_id(item.nodeid)) for item in items if is_suite_path(item.path)]
    for item, pid in ours:
        entry = xfails.first_match(entries, pid)
        if entry is not None:
            item.add_marker(pytest.mark.xfail(reason=f"{path}:{entry.line}: {entry.pattern}", strict=False))
    for entry in xfails.unmatched(entries, [pid for _, pid in ours]):
        warnings.warn(xfails.XfailsWarning(xfails.warning_text(path, entry)), stacklevel=1)


def _isolate(config, guarded) -> None:
    """Process-level guards for the process that runs the suite: memory budget, and under xdist the call record and
    the hard per-call deadline (see ``properties.isolation``)."""
    from properties import isolation
    from properties.pytest_support import STATE

    size = config.getoption("impl_max_memory")
    if size == "auto":
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
        limit = isolation.auto_memory(workers) if isolation.on_cpu() else None
    else:
        limit = isolation.parse_size(size)
    isolation.limit_memory(limit)
    crash_dir = getattr(config, "workerinput", {}).get(isolation.WORKERINPUT_KEY)
    if crash_dir and os.path.isdir(crash_dir):
        worker = config.workerinput.get("workerid", "gw")
        guarded.monitor = isolation.CallMonitor(
            os.path.join(crash_dir, f"{worker}.json"),
            isolation.hard_deadline(guarded.timeout),
            examples=lambda: STATE.examples,
        )


@pytest.fixture(autouse=True)
def _composed_call_record(request):
    """Tell the call monitor (xdist workers only) which test is running."""
    if "candidate" in request.fixturenames:
        monitor = getattr(request.getfixturevalue("candidate"), "monitor", None)
        if monitor is not None:
            monitor.start_test(request.node.nodeid)
    yield
