"""Helpers for the tests that run ``composed-check`` / pytest in subprocesses (test_cli.py, test_hostile.py).

The runs are slow to start (two interpreters importing JAX each), so a test module starts all of its runs at once in a
small thread pool (:func:`run_all`) and its tests check the finished results.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
HOSTILE = TESTS / "hostile"
CHEATS = TESTS / "cheats"
CANDIDATES = TESTS / "candidates"
#: ``python -m properties`` is ``composed-check`` without depending on the console script being on PATH.
CLI = [sys.executable, "-m", "properties"]
PROPERTY_KEYS = {"id", "tier", "outcome", "examples", "examples_cut", "seconds", "message", "counterexample",
                 "repro"}
OUTCOMES = ("passed", "failed", "error", "xfailed", "skipped")
PROGRESS = re.compile(r"^\[\s*(\d+)/(\d+)\] (PASSED|FAILED|ERROR|XFAILED|SKIPPED)\s+(\S+)", re.M)
#: Concurrent runs (measured on 2 cores: 1, 2 and 3 at a time took 90, 87 and 93 s for the hostile catalogue).
POOL = int(os.environ.get("COMPOSED_TEST_POOL", "2"))


@dataclass
class Run:
    args: list
    cwd: str
    report_path: str | None = None
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    report: dict | None = field(default=None, repr=False)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def by_id(self) -> dict:
        return {p["id"]: p for p in self.report["properties"]}

    def explain(self) -> str:
        return (f"command: {self.args}\nexit {self.returncode} after {self.seconds:.1f} s\n--- stdout\n"
                f"{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-4000:]}")


def env(run_id: str | None = None) -> dict:
    """The environment of a subprocess run: ours, without pytest's settings, with a run id of its own (so its
    processes can be told from ours, and found afterwards)."""
    e = dict(os.environ)
    e.pop("PYTEST_ADDOPTS", None)
    e.pop("COMPOSED_IMPL", None)
    e.pop("PYTEST_XDIST_WORKER", None)
    e["COMPOSED_RUN"] = run_id or uuid.uuid4().hex
    return e


def leftovers(run_id: str) -> list[str]:
    """Live processes (not zombies) that carry the run id ``run_id``: what a run left behind."""
    found = []
    needle = f"COMPOSED_RUN={run_id}".encode()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                environ = f.read().split(b"\0")
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")[:120]
        except OSError:
            continue
        if needle in environ and state not in (b"Z", b"X"):
            found.append(f"{name} {state.decode()} {cmd}")
    return found


def execute(run: Run, timeout: float = 300.0) -> Run:
    start = time.monotonic()
    proc = subprocess.run(run.args, cwd=run.cwd, capture_output=True, text=True, env=env(run.run_id), timeout=timeout,
                          errors="replace")
    run.seconds = time.monotonic() - start
    run.returncode, run.stdout, run.stderr = proc.returncode, proc.stdout, proc.stderr
    if run.report_path and os.path.exists(run.report_path):
        with open(run.report_path, encoding="utf-8") as f:
            run.report = json.load(f)
    return run


def run_all(runs: dict[str, Run]) -> dict[str, Run]:
    with concurrent.futures.ThreadPoolExecutor(max_workers=POOL) as pool:
        futures = {name: pool.submit(execute, run) for name, run in runs.items()}
        return {name: f.result() for name, f in futures.items()}


def check_report_schema(report: dict, spec: str | None = None) -> None:
    """The report's shape is the contract of issue 4, and it is complete: the counts add up."""
    assert set(report) == {"implementation", "tiers", "properties", "summary"}, sorted(report)
    if spec is not None:
        assert report["implementation"] == spec
    assert isinstance(report["tiers"], list) and set(report["tiers"]) <= {"core", "strict", "transforms"}
    ids = []
    for p in report["properties"]:
        assert set(p) == PROPERTY_KEYS, sorted(p)
        assert p["outcome"] in OUTCOMES, p
        assert p["tier"] in report["tiers"], p
        assert isinstance(p["examples"], int) and p["examples"] >= 0, p
        assert isinstance(p["seconds"], (int, float)) and p["seconds"] >= 0, p
        assert isinstance(p["message"], str), p
        if p["outcome"] in ("failed", "error"):
            assert p["message"].strip(), f"a {p['outcome']} property needs a message: {p}"
        ids.append(p["id"])
    assert len(ids) == len(set(ids)), f"duplicate ids: {ids}"
    s = report["summary"]
    for k in OUTCOMES:
        assert s[k] == sum(p["outcome"] == k for p in report["properties"]), (k, s)
    assert s["total"] == len(report["properties"]) == sum(s[k] for k in OUTCOMES)
    assert s["examples"] == sum(p["examples"] for p in report["properties"])
