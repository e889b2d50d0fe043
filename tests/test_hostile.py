"""The hostile catalogue (``tests/hostile/*.py``): every implementation there must give ``composed-check`` exit 1, a
complete report with a failed verdict and a clear message for each affected property, and must not poison the
verdicts of the others, within a bounded time (README, "Isolation model").

Each run checks one to three core properties (``-k``) at the ``quick`` profile with one xdist worker and
``--no-shrink`` (shrinking an implementation that fails everywhere costs ~100 calls and teaches nothing), a 3 s
per-call timeout for the ones that hang and the CLI's default (30 s) for the others. Runs go two at a
time (``cli_support.run_all``). In-process tests at the end check that a timeout or a MemoryError stays one consistent
failure while Hypothesis shrinks (not a "flaky" one).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_support import CLI, HOSTILE, ROOT, Run, check_report_schema, run_all

ONE = "zero_input_gives_zero"
TWO = "output_shape or zero_input_gives_zero"
HANGS = ["--timeout", "3"]
#: The bound each run must finish within here (alone they take 3.4-10 s on 2 cores; here two run at a time).
BOUND_S = 120.0


def everything(outcome: str, text: str):
    return {"*": (outcome, text)}


#: name -> (extra CLI options, -k expression, expectations {property id or "*": (outcome, text in message)})
CASES = {
    "hang": (HANGS, ONE, everything("failed", "call timed out after 3 s")),
    "sleep": (HANGS, ONE, everything("failed", "call timed out after 3 s")),
    "hang_in_c": (HANGS, ONE, everything("failed", "hard deadline of 5 s")),
    "segfault": ([], ONE, everything("failed", "SIGSEGV")),
    "os_exit": ([], ONE, everything("failed", "exited with status 0")),
    "sigkill": ([], ONE, everything("failed", "killed by SIGKILL (the kernel's OOM killer")),
    "sys_exit": ([], TWO, everything("failed", "implementation raised SystemExit: 3")),
    "returns_none": ([], TWO, everything("failed", "got NoneType")),
    "returns_list": ([], TWO, everything("failed", "got list")),
    "wrong_shape": ([], TWO, everything("failed", "shape")),
    "torch_like": ([], TWO, everything("failed", "cannot be converted to a NumPy array")),
    "prints_megabytes": ([], TWO, everything("failed", "bytes to stdout/stderr in one call")),
    "jax_x64": ([], TWO, everything("failed", "jax_enable_x64: False -> True")),
    "jax_precision": ([], TWO, everything("failed", "jax_default_matmul_precision")),
    "memory_error": ([], TWO, everything("failed", "MemoryError")),
    # MemoryError (the 1 GiB RLIMIT_DATA stopped it), not the hog's own RuntimeError safety net
    "memory_hog": (["--max-memory", "1G", "--timeout", "60"], ONE, everything("failed", "MemoryError")),
    # selective: the other properties must keep their true verdicts
    "segfault_in_one_property": (
        [], "matches_oracle or zero_input_gives_zero",
        {"matches_oracle": ("failed", "SIGSEGV"), "*": ("passed", "")},
    ),
    "x64_in_one_property": (
        [], "output_shape or zero_input_gives_zero or matches_oracle",
        {"output_shape": ("failed", "jax_enable_x64"), "*": ("passed", "")},
    ),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    todo = {}
    for name, (extra, k, _) in CASES.items():
        report = str(tmp / f"{name}.json")
        args = CLI + [str(HOSTILE / f"{name}.py"), "--tier", "core", "--profile", "quick", "-n", "1", "--no-shrink",
                      "--report", report, *extra, "--", "-k", k]
        todo[name] = Run(args, cwd=str(ROOT), report_path=report)
    return run_all(todo)


def test_catalogue_is_covered():
    files = {p.stem for p in HOSTILE.glob("*.py")}
    assert files == set(CASES), f"hostile files without a case: {files - set(CASES)}; cases without a file: " \
                                f"{set(CASES) - files}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile(runs, name):
    run = runs[name]
    _, k, expect = CASES[name]
    assert run.returncode == 1, run.explain()
    assert run.report is not None, run.explain()
    check_report_schema(run.report, str(HOSTILE / f"{name}.py"))
    selected = [part.strip() for part in k.split(" or ")]
    assert sorted(run.by_id()) == sorted(selected), run.explain()
    for pid, prop in run.by_id().items():
        outcome, text = expect.get(pid, expect["*"])
        assert prop["outcome"] == outcome, f"{pid}: {prop}\n{run.explain()}"
        assert text in prop["message"], f"{pid}: {prop['message']!r} lacks {text!r}"
    assert run.seconds < BOUND_S, f"{name} took {run.seconds:.1f} s"
    # a progress line per property, then the table
    assert run.stdout.count("] FAILED ") + run.stdout.count("] PASSED ") == len(selected), run.stdout
    assert "property" in run.stdout and "verdict" in run.stdout


# -- in process: the guard under Hypothesis's shrinking ---------------------------------------------------------------


def _hostile(name):
    spec = importlib.util.spec_from_file_location(f"hostile_{name}", HOSTILE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.composed_transforms


@pytest.mark.parametrize("name, error, text", [
    ("hang", "CallTimeout", "call timed out after 0.2 s"),
    ("sleep", "CallTimeout", "call timed out after 0.2 s"),
    ("memory_error", "ImplementationError", "MemoryError"),
])
def test_one_consistent_failure_while_shrinking(name, error, text):
    """The first call times out (or raises MemoryError); every later call of the test fails at once from the same raise
    site, so Hypothesis shrinks cheaply and reports that error, not a FlakyFailure or an ExceptionGroup."""
    from properties import candidate as C

    guarded = C.Candidate(_hostile(name), timeout=0.2)

    @settings(max_examples=20, deadline=None, database=None)
    @given(st.integers(1, 4), st.integers(1, 4))
    def check(b, f):
        guarded(0, np.ones((b, f), np.float32), 2, f)

    with pytest.raises(getattr(C, error)) as info:
        check()
    assert type(info.value).__name__ == error and text in str(info.value)
    guarded.reset()
    assert guarded.hung is None


def test_guard_restores_jax_config_and_later_calls_pass():
    import jax

    from properties.candidate import Candidate, ImplementationError

    guarded = Candidate(_hostile("x64_in_one_property"), timeout=30)
    x = np.ones((2, 3), np.float32)
    before = jax.config.jax_enable_x64

    def output_shape():  # the hostile file flips x64 only when a frame of this name is on the stack
        return guarded(0, x, 2, 3)

    with pytest.raises(ImplementationError, match="jax_enable_x64"):
        output_shape()
    assert jax.config.jax_enable_x64 == before
    assert np.asarray(guarded(0, x, 2, 3)).shape == (6,)
