"""The cheats that go for the verdict itself, end to end through ``composed-check`` (and pytest with the plugin): each is
a wrong implementation (seed + 1) that tries one way to forge the verdict; each run must end FAILED or in an error
state (never passed), naming what the cheat tried, leave no process behind, and leave later runs unaffected.

Also the suite's self-check (``properties.runner.integrity``): a change of the suite's own files during a run voids its
verdict (exit status 7, the report marked void, the files named). ``--in-process`` makes that tamper certain (the
implementation then runs, unconfined, in the pytest process), whatever confinement the machine offers.

One property or two per run (quick profile, no shrinking, one pytest process), all runs started at once, two at a
time (``cli_support.run_all``).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
from pathlib import Path

import pytest

from cli_support import CHEATS, CLI, ROOT, Run, leftovers, run_all

ORACLE = "matches_oracle or output_shape"
RUN = ["--tier", "core", "--profile", "quick", "-n", "1", "--no-shrink"]
REFUSED = ("Permission denied", "Operation not permitted")


def landlock_abi() -> int:
    """The Landlock ABI this kernel offers (0: none), as the candidate process would see it."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        abi = libc.syscall(444, None, 0, 1)  # landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
    except (OSError, AttributeError):
        return 0
    return max(0, int(abi))


def needs_landlock(abi: int):
    return pytest.mark.skipif(landlock_abi() < abi, reason=f"needs Landlock ABI >= {abi} (the confined candidate)")


def _copy_tree(where: Path) -> Path:
    """A private copy of the suite (``properties``, ``composed``) for runs that may edit it."""
    for package in ("properties", "composed"):
        shutil.copytree(ROOT / package, where / package, ignore=shutil.ignore_patterns("__pycache__"))
    return where


def _cli(spec: str, report: Path, *, cwd: Path | None = None, extra=(), k: str = ORACLE, tree: Path | None = None,
         env: dict | None = None) -> Run:
    # a copy of the suite is also the working directory: `python -m` puts that first on sys.path, in every process
    run = Run(CLI + [spec, *RUN, "--report", str(report), *extra, "--", "-k", k], cwd=str(tree or cwd or ROOT),
              report_path=str(report))
    run.extra_env = {**(env or {}), **({"PYTHONPATH": str(tree)} if tree else {})}
    return run


def _messages(run: Run) -> str:
    return "\n".join(p["message"] for p in (run.report or {}).get("properties", []))


def _never_passed(run: Run) -> None:
    assert run.returncode != 0, run.explain()
    if run.report is not None:
        assert run.report["summary"]["failed"] + run.report["summary"]["error"] > 0 or run.returncode == 7, \
            run.explain()
    assert not any(line.startswith("composed-check") and ": PASSED" in line for line in run.stdout.splitlines()), \
        run.explain()
    assert not leftovers(run.run_id), f"processes of the run still alive: {leftovers(run.run_id)}\n{run.explain()}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cheats")
    todo = {}
    # the self-check: the implementation edits the suite from inside the pytest process
    tree = _copy_tree(tmp / "tree-in-process")
    todo["in_process_cli"] = _cli(str(CHEATS / "edits_suite.py"), tmp / "ip.json", extra=["--in-process"], k="output_shape",
                                  tree=tree)
    tree = _copy_tree(tmp / "tree-plugin")
    plugin = Run([sys.executable, "-m", "pytest", "--pyargs", "properties", "-p", "properties.plugin", "-p",
                  "no:cacheprovider", "-n", "0", "--noconftest", "-c", os.devnull, "--rootdir", str(tmp),
                  "--impl", str(CHEATS / "edits_suite.py"), "--in-process", "--hypothesis-profile", "quick",
                  "--conformance-report", str(tmp / "plugin.json"), "-m", "core", "-k", "output_shape", "-q"],
                 cwd=str(tree), report_path=str(tmp / "plugin.json"))
    plugin.extra_env = {"PYTHONPATH": str(tree)}
    todo["in_process_plugin"] = plugin
    # the same cheat in its candidate process
    todo["edits_suite"] = _cli(str(CHEATS / "edits_suite.py"), tmp / "edits.json", tree=_copy_tree(tmp / "tree"))
    todo["edits_suite_later"] = None  # after it, on the same tree (below)
    todo["kills_checker"] = _cli(str(CHEATS / "kills_checker.py"), tmp / "kills.json")
    todo["writes_runstate"] = _cli(str(CHEATS / "writes_runstate.py"), tmp / "runstate.json")
    user = tmp / "user"
    user.mkdir()
    (user / "xfails.txt").write_text("# nothing is expected to fail\n")
    todo["writes_user_files"] = _cli(str(CHEATS / "writes_user_files.py"), tmp / "user.json", cwd=user,
                                     extra=["--xfails-file", str(user / "xfails.txt")])
    # poisoning for later runs: a working directory (Hypothesis's database) and a JAX cache of their own
    shared = tmp / "shared"
    shared.mkdir()
    cache = {"COMPOSED_JAX_CACHE": str(shared / "jax-cache")}
    for name in ("poisons_jax_cache", "poisons_hypothesis_db"):
        todo[name] = _cli(str(CHEATS / f"{name}.py"), tmp / f"{name}.json", cwd=shared, env=cache)
    first = {name: run for name, run in todo.items() if run is not None}
    done = run_all(first)
    later = {
        "edits_suite_later": _cli(f"{CHEATS / '_wrong.py'}:wrong", tmp / "later-edits.json",
                                  tree=Path(first["edits_suite"].extra_env["PYTHONPATH"])),
        "wrong_after_poison": _cli(f"{CHEATS / '_wrong.py'}:wrong", tmp / "later-wrong.json", cwd=shared, env=cache),
        "fast_after_poison": _cli("fast", tmp / "later-fast.json", cwd=shared, env=cache),
    }
    done.update(run_all(later))
    done["trees"] = {name: first[name].extra_env.get("PYTHONPATH") for name in ("in_process_cli", "edits_suite")}
    done["user"] = user
    done["shared"] = shared
    return done


def test_in_process_tamper_voids_the_cli_verdict(runs):
    run = runs["in_process_cli"]
    assert run.returncode == 7, run.explain()
    assert "suite files changed during the run" in run.stderr and "harness/proxy.py" in run.stderr, run.explain()
    assert run.report["integrity"]["changed"] and "VOID" in run.stderr, run.explain()
    assert any("proxy.py" in line for line in run.report["integrity"]["changed"]), run.report["integrity"]


def test_in_process_tamper_voids_the_plugin_verdict(runs):
    run = runs["in_process_plugin"]
    assert run.returncode == 7, run.explain()
    assert "suite files changed during the run" in run.stdout + run.stderr, run.explain()
    assert any("proxy.py" in line for line in run.report["integrity"]["changed"]), run.report["integrity"]


def test_edits_suite_is_refused_or_voided(runs):
    run = runs["edits_suite"]
    _never_passed(run)
    named = "proxy.py" in _messages(run) or "proxy.py" in run.stderr
    assert named, run.explain()


@needs_landlock(1)
def test_edits_suite_leaves_the_suite_and_later_runs_alone(runs):
    run = runs["edits_suite"]
    assert any(word in _messages(run) for word in REFUSED) and run.returncode == 1, run.explain()
    tree = Path(runs["trees"]["edits_suite"])
    assert (tree / "properties/harness/proxy.py").read_bytes() == (ROOT / "properties/harness/proxy.py").read_bytes()
    later = runs["edits_suite_later"]
    assert later.returncode == 1 and later.by_id()["matches_oracle"]["outcome"] == "failed", later.explain()


@needs_landlock(6)
def test_kills_checker_is_refused(runs):
    run = runs["kills_checker"]
    _never_passed(run)
    assert run.returncode == 1 and "SIGTERM): " in _messages(run), run.explain()
    assert any(word in _messages(run) for word in REFUSED), run.explain()


def test_kills_checker_never_passes(runs):
    _never_passed(runs["kills_checker"])


@needs_landlock(1)
def test_writes_runstate_is_refused(runs):
    run = runs["writes_runstate"]
    _never_passed(run)
    assert "composed-run-" in _messages(run) and any(word in _messages(run) for word in REFUSED), run.explain()


def test_writes_runstate_never_passes(runs):
    run = runs["writes_runstate"]
    _never_passed(run)


@needs_landlock(1)
def test_writes_user_files_is_refused(runs):
    run = runs["writes_user_files"]
    _never_passed(run)
    assert any(word in _messages(run) for word in REFUSED), run.explain()
    assert (runs["user"] / "xfails.txt").read_text() == "# nothing is expected to fail\n"
    assert not (runs["user"] / "conftest.py").exists()


@pytest.mark.parametrize("name", ["poisons_jax_cache", "poisons_hypothesis_db"])
def test_poisoning_cheats_fail(runs, name):
    _never_passed(runs[name])


@needs_landlock(1)
def test_poisoned_hypothesis_database_is_refused(runs):
    run = runs["poisons_hypothesis_db"]
    assert ".hypothesis" in _messages(run) and any(word in _messages(run) for word in REFUSED), run.explain()


def test_later_runs_unaffected_by_poisoning(runs):
    wrong, fast = runs["wrong_after_poison"], runs["fast_after_poison"]
    assert wrong.returncode == 1 and wrong.by_id()["matches_oracle"]["outcome"] == "failed", wrong.explain()
    assert fast.returncode == 0, fast.explain()
    assert {p["outcome"] for p in fast.report["properties"]} == {"passed"}, fast.explain()


def cli_check(name: str) -> dict:
    """One cheat of ``CLI_ONLY`` end to end on a copy of the suite (for ``hostile_table.py``): outcomes, seconds, what
    was left alive, the exit status."""
    import tempfile

    from cli_support import execute

    with tempfile.TemporaryDirectory(prefix="composed-cheat-") as tmp:
        tree = _copy_tree(Path(tmp))
        run = execute(_cli(str(CHEATS / f"{name}.py"), Path(tmp) / "report.json", tree=tree))
        outcomes = {p["id"]: (p["outcome"], p["message"]) for p in (run.report or {}).get("properties", [])}
        if not outcomes:
            outcomes = {"(no report)": ("error", (run.stderr or run.stdout).strip().splitlines()[-1:] or [""])[0]}
        return {"outcomes": outcomes, "seconds": run.seconds, "left": leftovers(run.run_id),
                "returncode": run.returncode}


# -- the self-check itself, in process ----------------------------------------------------------------------------------


@pytest.fixture
def fake_suite(tmp_path, monkeypatch):
    """A package directory standing in for the suite's (no RECORD, no .pth files)."""
    from properties.runner import integrity

    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    for name in ("__init__.py", "a.py", "sub/b.py"):
        (root / name).write_text(f"# {name}\n")
    monkeypatch.setattr(integrity, "_roots", lambda: [str(root)])
    monkeypatch.setattr(integrity, "_record", lambda: {})
    monkeypatch.setattr(integrity, "_site_hooks", lambda: [])
    return root


def test_self_check_names_each_kind_of_change(fake_suite):
    import py_compile

    from properties.runner import integrity

    py_compile.compile(str(fake_suite / "a.py"), cfile=str(fake_suite / "__pycache__" / "a.cpython-311.pyc"))
    snap = integrity.Snapshot.take()
    assert snap.changes() == []
    (fake_suite / "sub/b.py").write_text("# b, edited\n")
    (fake_suite / "__init__.py").unlink()
    (fake_suite / "c.py").write_text("# new\n")
    (fake_suite / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"forged")
    text = (fake_suite / "a.py").read_text()
    (fake_suite / "a.py").unlink()
    (fake_suite / "a.py").write_text(text)  # the same content, written again
    changes = snap.changes()
    assert f"changed: {fake_suite / 'sub/b.py'}" in changes
    assert f"removed: {fake_suite / '__init__.py'}" in changes
    assert f"added: {fake_suite / 'c.py'}" in changes
    assert f"changed: {fake_suite / '__pycache__' / 'a.cpython-311.pyc'}" in changes
    assert f"rewritten (same content now): {fake_suite / 'a.py'}" in changes
    assert "suite files changed during the run" in integrity.message(changes)


def test_self_check_compares_with_the_record(fake_suite, monkeypatch):
    from properties.runner import integrity

    path = str(fake_suite / "a.py")
    monkeypatch.setattr(integrity, "_record", lambda: {path: "0" * 64})
    assert integrity.Snapshot.take().changes() == [f"differs from the install's RECORD: {path}"]


def test_self_check_of_the_real_suite_is_cheap():
    """Recording the suite's files and checking them again: milliseconds (measured 3 ms and 0.5 ms on 2 cores)."""
    import time

    from properties.runner import integrity

    start = time.perf_counter()
    snap = integrity.Snapshot.take()
    took = time.perf_counter() - start
    start = time.perf_counter()
    assert snap.changes() == []
    checked = time.perf_counter() - start
    assert len(snap.files) > 40 and any(p.endswith("properties/harness/proxy.py") for p in snap.files)
    assert took < 1.0 and checked < 0.5, (took, checked)
