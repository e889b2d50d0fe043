"""The pytest plugin of the conformance suite (entry point ``pytest11: properties.plugin``).

Installed with the package, so ``pytest --pyargs properties --impl mymod:fn`` works from anywhere; the repository's
root ``conftest.py`` lists it in ``pytest_plugins`` for runs from a checkout without an install (pytest registers it
once either way: the entry point is named after the module).

It is inert for other projects: it adds options and profiles, and touches JAX only through environment variables set
before JAX is imported (compilation cache), and only when the suite's tests run does it load the implementation.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from properties.settings import register_profiles

# At import, not in pytest_configure: Hypothesis's own plugin loads --hypothesis-profile in its pytest_configure.
register_profiles()

ENV_IMPL = "COMPOSED_IMPL"
ENV_CACHE = "COMPOSED_JAX_CACHE"


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


def _configure_jax(config) -> None:
    """Persistent compilation cache with no minimum compile time (set via env before JAX is imported, else update)."""
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
        return Candidate.from_spec(spec, timeout=timeout)
    except SpecError as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)


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
    if report.failed and STATE.case is not None:
        from properties.repro import counterexample, repro

        spec, _ = impl_spec(item.config)
        item.user_properties.append(("composed_counterexample", counterexample(STATE.case)))
        item.user_properties.append(("composed_repro", repro(spec, STATE.prop, STATE.case)))
