"""The hostile catalogue (``tests/hostile/*.py``) and the cheats (``tests/cheats/*.py``): every implementation there
must get the right verdict -- for each failed property a message that names what the implementation did -- without
poisoning the verdicts of the other properties, within a bounded time, and leave no process of the run alive (README,
"Isolation model").

Every entry runs through the checking side's own machinery: its properties (``-k`` below) with
:func:`properties.api.run_property` against a :class:`~properties.harness.proxy.ProcessCandidate` -- the candidate
process every pytest worker uses -- at the ``quick`` profile, without shrinking, with a run id of its own; after it,
no process carrying that id may be alive. A few entries also run end to end through ``composed-check`` (exit status,
report, progress lines, the pytest processes), two at a time (``cli_support.run_all``). In-process tests at the end
check that a timeout or a MemoryError stays one consistent failure while Hypothesis shrinks (not a "flaky" one).
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_support import CHEATS, CLI, HOSTILE, ROOT, Run, check_report_schema, env, leftovers, run_all

ONE = "zero_input_gives_zero"
TWO = "output_shape or zero_input_gives_zero"
ORACLE = "matches_oracle or output_shape"
#: Per-call timeout of the entries that hang (the others get the CLI's default, 30 s).
HANG_TIMEOUT = 3.0
#: The bound each entry must finish within here (alone they take 1-8 s on 2 cores; here two run at a time).
BOUND_S = 90.0


def everything(outcome: str, text: str):
    return {"*": (outcome, text)}


#: name -> (options, -k expression, expectations: {property id, "*" (every other) or "one" (exactly one of them):
#: (outcome, text in message)}). Options: "timeout", "max_memory" (bytes).
CASES = {
    "hang": ({"timeout": HANG_TIMEOUT}, ONE, everything("failed", "call timed out after 3 s")),
    "sleep": ({"timeout": HANG_TIMEOUT}, ONE, everything("failed", "call timed out after 3 s")),
    "hang_in_c": ({"timeout": HANG_TIMEOUT}, ONE, everything("failed", "call timed out after 3 s")),
    "segfault": ({}, ONE, everything("failed", "candidate process was killed by SIGSEGV (segmentation fault)")),
    "os_exit": ({}, ONE, everything("failed", "candidate process exited with status 0")),
    "sigkill": ({}, ONE, everything("failed", "killed by SIGKILL (the kernel's OOM killer")),
    "sys_exit": ({}, TWO, everything("failed", "implementation raised SystemExit: 3")),
    "keyboard_interrupt": ({}, TWO, everything("failed", "implementation raised KeyboardInterrupt")),
    "returns_none": ({}, TWO, everything("failed", "got NoneType")),
    "returns_list": ({}, TWO, everything("failed", "got list")),
    "wrong_shape": ({}, TWO, everything("failed", "shape")),
    "torch_like": ({}, TWO, everything("failed", "cannot be converted to a NumPy array")),
    "prints_megabytes": ({}, TWO, everything("failed", "bytes to stdout/stderr in one call")),
    "jax_x64": ({}, TWO, everything("failed", "jax_enable_x64: False -> True")),
    "jax_precision": ({}, TWO, everything("failed", "jax_default_matmul_precision")),
    "closes_stdio": ({}, TWO, everything("failed", "file descriptor 0 (stdin): closed")),
    "changes_cwd": ({}, TWO, everything("failed", "the working directory:")),
    "numpy_errstate": ({}, TWO, everything("failed", "NumPy's error state (np.seterr)")),
    "signal_handlers": ({}, TWO, everything("failed", "signal handlers: SIGINT, SIGTERM")),
    "background_thread": ({}, TWO, {"one": ("failed", "exited with status 3"), "*": ("passed", "")}),
    "memory_error": ({}, TWO, everything("failed", "MemoryError")),
    # MemoryError (the 1 GiB RLIMIT_DATA stopped it), not the hog's own RuntimeError safety net
    "memory_hog": ({"max_memory": 1 << 30, "timeout": 60}, ONE, everything("failed", "MemoryError")),
    # contained: correct values, so every property passes, and nothing it forked survives
    "forks_and_lingers": ({}, TWO, everything("passed", "")),
    # selective: the other properties must keep their true verdicts
    "segfault_in_one_property": ({}, "matches_oracle or zero_input_gives_zero or output_shape",
                                 {"one": ("failed", "SIGSEGV"), "*": ("passed", "")}),
    "x64_in_one_property": ({}, "output_shape or zero_input_gives_zero or matches_oracle",
                            {"one": ("failed", "jax_enable_x64"), "*": ("passed", "")}),
}
#: Cheats: wrong (seed + 1) and tampering with the checker; each must fail matches_oracle like any wrong answer.
CHEAT_CASES = {name: ({}, ORACLE, {"matches_oracle": ("failed", "differs from the float64 oracle"),
                                   "*": ("passed", "")})
               for name in ("patches_oracle", "patches_params", "patches_assertions", "patches_numpy",
                            "patches_report", "reads_expected")}
#: A cheat the wire refuses: its replies are pickles that would run code here; every property fails naming the wire.
CHEAT_CASES["pickles_reply"] = ({}, ORACLE, everything("failed", "broke the wire protocol"))
#: Cheats that go for the checking side itself (its memory, its processes, its files, later runs): each attempt must be
#: refused, and every call then fails naming what it tried (the cheat raises the error that stopped it). Options:
#: "private" (a working directory and a JAX cache of its own, so a cheat that is not stopped poisons nothing shared).
#: More of them, end to end and with later runs, in test_cheats.py.
REFUSED = ("Permission denied", "Operation not permitted")
TAMPER_CASES = {
    "writes_checker_memory": ({}, ORACLE, everything("failed", "/mem")),
    "ptrace_attach": ({}, ORACLE, everything("failed", "ptrace(PTRACE_SEIZE")),
    "signals_checker": ({}, ORACLE, everything("failed", "kill(")),
    "opens_checker_fds": ({}, ORACLE, everything("failed", "/fd")),
    "connects_to_checker": ({}, ORACLE, everything("failed", "connect to ")),
    "writes_runstate": ({}, ORACLE, everything("failed", "composed-run-")),
    "poisons_hypothesis_db": ({"private": True}, ORACLE, everything("failed", ".hypothesis")),
    "writes_user_files": ({"private": True}, ORACLE, everything("failed", "conftest.py")),
    # it may write the cache of its own implementation, not the rest (later runs: test_cheats.py)
    "poisons_jax_cache": ({"private": True}, ORACLE, everything("failed", "jax-cache")),
}
#: Cheats run only end to end, through composed-check (test_cheats.py): the ones that, were they not stopped, would
#: kill or rewrite the test process itself or this checkout.
CLI_ONLY = ("edits_suite", "kills_checker")
ALL = {**{("hostile", k): v for k, v in CASES.items()}, **{("cheats", k): v for k, v in CHEAT_CASES.items()},
       **{("cheats", k): v for k, v in TAMPER_CASES.items()}}
#: Entries also run end to end with composed-check (the pytest processes, the report, the exit status).
END_TO_END = [("hostile", "hang_in_c"), ("hostile", "segfault_in_one_property"), ("hostile", "forks_and_lingers"),
              ("cheats", "patches_report")]


def _path(kind, name):
    return (HOSTILE if kind == "hostile" else CHEATS) / f"{name}.py"


def _check(kind: str, name: str) -> dict:
    """Run the entry's properties against it in a candidate process; return outcomes, time and what was left."""
    from properties.api import run_property
    from properties.harness.proxy import ProcessCandidate, candidate_environment

    options, k, _ = ALL[(kind, name)]
    run = uuid.uuid4().hex
    private = tempfile.mkdtemp(prefix="composed-cheat-") if options.get("private") else None
    cwd, cache = (private, os.path.join(private, "jax-cache")) if private else (str(ROOT), "default")
    handle = ProcessCandidate(str(_path(kind, name)), timeout=options.get("timeout", 30.0),
                              max_memory=options.get("max_memory"), env=candidate_environment(run=run, cache_dir=cache),
                              cwd=cwd)
    start = time.monotonic()
    outcomes = {}
    try:
        for prop in (part.strip() for part in k.split(" or ")):
            outcomes[prop] = run_property(handle, prop, profile="quick", shrink=False)
    finally:
        handle.close()
        if private:
            shutil.rmtree(private, ignore_errors=True)
    return {"outcomes": outcomes, "seconds": time.monotonic() - start, "left": leftovers(run)}


@pytest.fixture(scope="module")
def checked():
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {key: pool.submit(_check, *key) for key in ALL}
        return {key: f.result() for key, f in futures.items()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    todo = {}
    for kind, name in END_TO_END:
        options, k, _ = ALL[(kind, name)]
        report = str(tmp / f"{kind}-{name}.json")
        extra = ["--call-timeout", f"{options['timeout']:g}"] if "timeout" in options else []
        args = CLI + [str(_path(kind, name)), "--tier", "core", "--profile", "quick", "-n", "1", "--no-shrink",
                      "--report", report, *extra, "--", "-k", k]
        todo[(kind, name)] = Run(args, cwd=str(ROOT), report_path=report)
    return run_all(todo)


def test_catalogues_are_covered():
    for kind, cases in (("hostile", CASES), ("cheats", {**CHEAT_CASES, **TAMPER_CASES, **dict.fromkeys(CLI_ONLY)})):
        files = {p.stem for p in _path(kind, "x").parent.glob("[!_]*.py")}
        assert files == set(cases), f"{kind}: files without a case: {files - set(cases)}; cases without a file: " \
                                    f"{set(cases) - files}"


def _judge(expect: dict, got: dict, context: str) -> None:
    """``got``: property id -> (outcome, message)."""
    if "one" in expect:
        outcome, text = expect["one"]
        hit = [pid for pid, (o, m) in got.items() if o == outcome and text in m]
        assert len(hit) == 1, f"expected exactly one property {outcome} with {text!r}: {got}\n{context}"
        got = {pid: v for pid, v in got.items() if pid not in hit}
    for pid, (outcome, message) in got.items():
        want, text = expect.get(pid, expect["*"])
        assert outcome == want, f"{pid}: {outcome}: {message}\n{context}"
        assert text in message, f"{pid}: {message!r} lacks {text!r}"


@pytest.mark.parametrize("kind, name", sorted(ALL), ids=[f"{k}-{n}" for k, n in sorted(ALL)])
def test_verdict(checked, kind, name):
    result = checked[(kind, name)]
    got = {pid: (o.kind, o.message) for pid, o in result["outcomes"].items()}
    _judge(ALL[(kind, name)][2], got, "")
    if name in TAMPER_CASES and ALL[(kind, name)][2].get("*", (None,))[0] == "failed":  # refused, not just failed
        for pid, (_, message) in got.items():
            assert any(word in message for word in REFUSED), f"{pid}: not refused: {message}"
    assert result["seconds"] < BOUND_S, f"{name} took {result['seconds']:.1f} s"
    assert not result["left"], f"processes of the run still alive: {result['left']}"


@pytest.mark.parametrize("kind, name", END_TO_END, ids=[f"{k}-{n}" for k, n in END_TO_END])
def test_end_to_end(runs, kind, name):
    run = runs[(kind, name)]
    _, k, expect = ALL[(kind, name)]
    assert run.report is not None, run.explain()
    check_report_schema(run.report, str(_path(kind, name)))
    selected = [part.strip() for part in k.split(" or ")]
    props = run.by_id()
    assert sorted(props) == sorted(selected), run.explain()
    _judge(expect, {pid: (p["outcome"], p["message"]) for pid, p in props.items()}, run.explain())
    failed = any(p["outcome"] == "failed" for p in props.values())
    assert run.returncode == (1 if failed else 0), run.explain()
    assert run.seconds < BOUND_S, f"{name} took {run.seconds:.1f} s"
    # a progress line per property, then the findings and the verdict line
    assert run.stdout.count("] FAILED ") + run.stdout.count("] PASSED ") == len(selected), run.stdout
    assert re.search(r"^composed-check .*: (PASSED|FAILED): ", run.stdout, re.M), run.stdout
    assert "forged" not in json.dumps(run.report)
    assert not leftovers(run.run_id), f"processes of the run still alive: {leftovers(run.run_id)}\n{run.explain()}"


#: Runs argv with SIGINT at its default, as for a command started from a terminal. A test run started in the
#: background of a non-interactive shell (``pytest &`` in a script, without job control) inherits SIGINT *ignored*,
#: and an ignored signal stays ignored across exec: the CLI would then never see the Ctrl-C this test sends. (An exec
#: wrapper rather than ``preexec_fn``: no Python code between fork and exec in a process that runs JAX's threads.)
AS_IN_A_TERMINAL = [sys.executable, "-c", "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                    "os.execv(sys.argv[1], sys.argv[1:])"]


def test_ctrl_c_stops_promptly_with_a_report(tmp_path):
    """A Ctrl-C (SIGINT to the CLI's process group, as a terminal sends it) in the middle of a run: the CLI exits 2
    (``Exit.INTERRUPTED``, as pytest) within seconds, prints what finished, writes the report (the rest marked not run), and leaves no process."""
    report = tmp_path / "report.json"
    e = env()
    proc = subprocess.Popen(AS_IN_A_TERMINAL + CLI + ["fast", "--profile", "default", "-n", "2", "--report", str(report)],
                            cwd=str(ROOT),
                            env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    seen = []
    start = time.monotonic()
    for line in proc.stdout:  # wait until a few properties finished
        seen.append(line)
        if line.lstrip().startswith("[") and "PASSED" in line and sum("PASSED" in s for s in seen) >= 3:
            break
        assert time.monotonic() - start < 120, "".join(seen)
    os.killpg(proc.pid, signal.SIGINT)
    interrupted = time.monotonic()
    rest, _ = proc.communicate(timeout=60)
    took = time.monotonic() - interrupted
    out = "".join(seen) + rest
    from properties.runner.exitcodes import Exit

    assert proc.returncode == Exit.INTERRUPTED, out
    assert took < 20, f"took {took:.1f} s to stop\n{out}"
    assert "interrupted" in out and "INTERRUPTED" in out, out  # the verdict line says so
    data = json.loads(report.read_text())
    outcomes = {p["outcome"] for p in data["properties"]}
    assert "passed" in outcomes and any(p["message"].startswith("not run") for p in data["properties"]), data
    time.sleep(0.5)
    assert not leftovers(e["COMPOSED_RUN"]), leftovers(e["COMPOSED_RUN"])


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
@pytest.mark.parametrize("where", ["process", "in_process"])
def test_one_consistent_failure_while_shrinking(name, error, text, where):
    """The first call times out (or raises MemoryError); every later call of the test fails at once from the same raise
    site, so Hypothesis shrinks cheaply and reports that error, not a FlakyFailure or an ExceptionGroup."""
    from properties.harness import proxy

    if where == "process":
        guarded = proxy.ProcessCandidate(str(HOSTILE / f"{name}.py"), timeout=0.2)
        guarded.wait_loaded()
    else:
        guarded = proxy.InProcessCandidate(_hostile(name), timeout=0.2)

    @settings(max_examples=20, deadline=None, database=None)
    @given(st.integers(1, 4), st.integers(1, 4))
    def check(b, f):
        guarded(0, np.ones((b, f), np.float32), 2, f)

    try:
        with pytest.raises(getattr(proxy, error)) as info:
            check()
        assert type(info.value).__name__ == error and text in str(info.value)
        guarded.reset()
        assert guarded.hung is None
    finally:
        guarded.close()


def test_guard_restores_jax_config_and_later_calls_pass(monkeypatch):
    import jax

    from properties.harness.proxy import ImplementationError, InProcessCandidate

    monkeypatch.setenv("COMPOSED_RUN", f"test-{os.getpid()}-{time.time()}")
    guarded = InProcessCandidate(_hostile("x64_in_one_property"), timeout=30)
    x = np.ones((2, 3), np.float32)
    before = jax.config.jax_enable_x64
    for _ in range(4):
        guarded(0, x, 2, 3)
    with pytest.raises(ImplementationError, match="jax_enable_x64"):
        guarded(0, x, 2, 3)  # the fifth call
    assert jax.config.jax_enable_x64 == before
    assert np.asarray(guarded(0, x, 2, 3)).shape == (6,)
