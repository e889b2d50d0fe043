"""Helpers for the tests that run ``composed-check`` / pytest in subprocesses (test_cli.py, test_hostile.py).

The runs are slow to start (two interpreters importing JAX each), so a test module starts all of its runs at once in a
small thread pool (:func:`run_all`) and its tests check the finished results.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import pty
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
PROPERTY_KEYS = {"id", "tier", "outcome", "examples", "examples_cut", "seconds", "message", "counterexample", "repro", "raised",
                 "oracle_mismatch", "finding"}
FINDING_KEYS = {"id", "tier", "outcome", "message", "counterexample", "repro", "explains"}
PROVENANCE_KEYS = {"suite", "python", "jax", "jaxlib", "flax", "hypothesis", "numpy", "profile", "seed", "derandomize",
                   "started", "platform"}
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
    #: Added to the environment of the run (e.g. PYTHONPATH of a copy of the suite, NO_COLOR).
    extra_env: dict = field(default_factory=dict)
    tty: bool = False  # stdout and stderr on a pseudo-terminal (stderr then reads as part of stdout)

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


def _on_a_terminal(run: Run, timeout: float) -> tuple[int, str]:
    """Run ``run.args`` with stdout and stderr on a pseudo-terminal; its exit status and everything it printed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(run.args, cwd=run.cwd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                            env={**env(run.run_id), **run.extra_env})
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=timeout), b"".join(chunks).decode(errors="replace")


def execute(run: Run, timeout: float = 300.0) -> Run:
    start = time.monotonic()
    if run.tty:
        run.returncode, run.stdout = _on_a_terminal(run, timeout)
    else:
        proc = subprocess.run(run.args, cwd=run.cwd, capture_output=True, text=True,
                              env={**env(run.run_id), **run.extra_env}, timeout=timeout, errors="replace")
        run.returncode, run.stdout, run.stderr = proc.returncode, proc.stdout, proc.stderr
    run.seconds = time.monotonic() - start
    if run.report_path and os.path.exists(run.report_path):
        with open(run.report_path, encoding="utf-8") as f:
            run.report = json.load(f)
    return run


def run_all(runs: dict[str, Run]) -> dict[str, Run]:
    with concurrent.futures.ThreadPoolExecutor(max_workers=POOL) as pool:
        futures = {name: pool.submit(execute, run) for name, run in runs.items()}
        return {name: f.result() for name, f in futures.items()}


def check_report_schema(report: dict, spec: str | None = None) -> None:
    """The report's shape is the contract (schema 2, ``docs/report.md``), and it is complete: the counts add up, and
    every failure is reported by exactly one finding."""
    from properties.harness.tiers import TIERS

    assert set(report) - {"seed"} == {"schema", "implementation", "provenance", "tiers", "findings", "properties",
                                      "summary", "integrity", "isolation"}, sorted(report)
    assert report["schema"] == 2
    assert set(report["provenance"]) == PROVENANCE_KEYS, sorted(report["provenance"])
    iso = report["isolation"]  # each protection in force or not, with the reason
    assert iso is None or (isinstance(iso["protections"], dict) and all(
        set(v) == {"in_force", "reason"} for v in iso["protections"].values())), iso
    integrity = report["integrity"]  # the suite's files checked, none changed (null: built outside a run)
    assert integrity is None or (integrity["files"] > 0 and integrity["changed"] == []), integrity
    if spec is not None:
        assert report["implementation"] == spec
    assert isinstance(report["tiers"], list) and set(report["tiers"]) <= set(TIERS)
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
    bad = {p["id"]: p for p in report["properties"] if p["outcome"] in ("failed", "error")}
    reported = []
    for f in report["findings"]:
        assert set(f) == FINDING_KEYS, sorted(f)
        assert f["id"] in bad and bad[f["id"]]["message"] == f["message"], f
        reported += [f["id"], *f["explains"]]
        assert all(bad[i]["finding"] == f["id"] for i in [f["id"], *f["explains"]]), f
    assert sorted(reported) == sorted(bad), (reported, sorted(bad))
    assert s["findings"] == len(report["findings"])
