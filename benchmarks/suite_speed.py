"""Examples per second of the conformance suite vs a naive four-property Hypothesis suite, same eager candidate.

    python benchmarks/suite_speed.py [--quick] [--minimal] [--profile exhaustive] [--workers 2] [--out DIR]

Prints one JSON document and writes ``DIR/suite_speed.json`` (default DIR: ``benchmarks/results``). Every figure is a
separate ``pytest`` subprocess, timed from start to exit (interpreter start, imports, collection and xdist start-up
included), with the CPU seconds it and its workers used:

* ``naive``: ``pytest benchmarks/naive_suite.py`` (four plain ``@given`` tests over ``hypothesis.extra.numpy`` arrays
  of random shapes, ``deadline=None``, no compilation cache, no suite plugin) against
  ``tests/candidates/verbatim.py``, the problem's code verbatim (eager: every call builds new closures, so JAX
  re-traces and XLA recompiles);
* ``ours_*``: ``pytest properties -m core --impl tests/candidates/verbatim.py`` (every core property and the
  small-scope grid), examples counted by the suite's own ``--conformance-report`` (each example run, the ones a
  property discards with ``assume`` included, as the naive count does), under the levers the suite ships:
  ``serial_nocache`` (``--jax-cache-dir off``, ``-n 0``), ``serial_cold`` (fresh cache directory), ``nW_cold``
  (``-n W``, fresh cache: a fresh clone), ``nW_warm`` (the same again: the cache the first run filled);
* ``fast_*``: the same suite against the jitted ``fast`` implementation (cold and warm, ``-n W``).

``ratios`` divides examples per second by the naive suite's; the target is ``ours_nW_cold`` (and ``_warm``) >= 4x.
The machine this was written on has 2 cores shared with other work: ``load_before``/``load_after`` are recorded, and
``examples_per_cpu_s`` is the figure least disturbed by other processes (it does not credit ``-n``).
``--quick`` runs the naive suite at 25 examples a property and skips ``serial_nocache``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CANDIDATE = "tests/candidates/verbatim.py"
TARGET = 4.0


def _python() -> str:
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _env(**extra) -> dict:
    env = dict(os.environ)
    for var in ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
                "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "COMPOSED_JAX_CACHE", "COMPOSED_IMPL", "CI"):
        env.pop(var, None)
    env.update(extra)
    return env


def _run(name: str, args: list[str], env: dict, count) -> dict:
    """Run ``python -m pytest *args`` in the repository; time it; ``count()`` returns the examples it ran."""
    cmd = [_python(), "-m", "pytest", *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or [""]
    examples = count()
    result = {
        "command": " ".join(["pytest", *args]),
        "exit_code": proc.returncode,
        "summary_line": tail[0][:200],
        "examples": examples,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "examples_per_s": round(examples / wall, 2) if examples else None,
        "examples_per_cpu_s": round(examples / cpu, 2) if examples and cpu else None,
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }
    print(f"[suite_speed] {name}: {result['examples']} examples in {result['wall_s']} s "
          f"({result['examples_per_s']} /s, cpu {result['cpu_s']} s), exit {proc.returncode}", file=sys.stderr)
    return result


def _report_count(path: Path):
    def count():
        try:
            return int(json.loads(path.read_text())["summary"]["examples"])
        except (OSError, ValueError, KeyError):
            return 0
    return count


def run_naive(tmp: Path, quick: bool) -> dict:
    counter = tmp / "naive_count.json"
    env = _env(NAIVE_COUNT_FILE=str(counter), NAIVE_IMPL=str(REPO / CANDIDATE))
    # "-n 0": the repository's addopts run pytest on 2 workers; the naive baseline is one process.
    args = ["benchmarks/naive_suite.py", "-p", "no:properties.plugin", "-p", "no:cacheprovider", "-q", "-n", "0"]
    if quick:
        env["NAIVE_MAX_EXAMPLES"] = "25"

    def count():
        try:
            return int(json.loads(counter.read_text())["examples"])
        except (OSError, ValueError, KeyError):
            return 0

    return _run("naive", args, env, count)


def run_ours(name: str, tmp: Path, impl: str, workers: int, cache: str, profile: str = "default") -> dict:
    report = tmp / f"{name}.json"
    args = ["properties", "-m", "core", "--impl", impl, "-p", "no:cacheprovider", "-q",
            f"--jax-cache-dir={cache}", f"--conformance-report={report}", f"--hypothesis-profile={profile}"]
    args += ["-n", str(workers)]  # explicit, also 0: the repository's addopts say -n 2
    return _run(name, args, _env(), _report_count(report))


def measure(quick: bool = False, workers: int = 2, profile: str = "default", minimal: bool = False) -> dict:
    """The ``suite_examples_per_second`` section (see the module docstring). ``profile``: the Hypothesis profile of
    the suite's runs (the naive suite keeps its 100 examples); ``minimal``: only naive, ours_nW_cold, ours_nW_warm."""
    tmp = Path(tempfile.mkdtemp(prefix="suite_speed_"))
    try:
        runs: dict[str, dict] = {}
        runs["naive"] = run_naive(tmp, quick)
        cold = tmp / "cache_verbatim"
        if not (quick or minimal):
            runs["ours_serial_nocache"] = run_ours("ours_serial_nocache", tmp, CANDIDATE, 0, "off", profile)
        if not minimal:
            runs["ours_serial_cold"] = run_ours("ours_serial_cold", tmp, CANDIDATE, 0, str(cold), profile)
            shutil.rmtree(cold, ignore_errors=True)
        for state in ("cold", "warm"):
            name = f"ours_n{workers}_{state}"
            runs[name] = run_ours(name, tmp, CANDIDATE, workers, str(cold), profile)
        if not minimal:
            fast_cache = tmp / "cache_fast"
            for state in ("cold", "warm"):
                name = f"fast_n{workers}_{state}"
                runs[name] = run_ours(name, tmp, "fast", workers, str(fast_cache), profile)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = runs["naive"]["examples_per_s"]
    base_cpu = runs["naive"]["examples_per_cpu_s"]
    ratios = {
        name: {
            "examples_per_s": round(r["examples_per_s"] / base, 2) if base and r["examples_per_s"] else None,
            "examples_per_cpu_s": round(r["examples_per_cpu_s"] / base_cpu, 2)
            if base_cpu and r["examples_per_cpu_s"] else None,
        }
        for name, r in runs.items() if name != "naive"
    }
    headline = f"ours_n{workers}_cold"
    return {
        "candidate": CANDIDATE,
        "workers": workers,
        "profile": profile,
        "quick": quick,
        "runs": runs,
        "ratio_to_naive": ratios,
        "target": TARGET,
        "target_met": {k: (v["examples_per_s"] or 0) >= TARGET for k, v in ratios.items() if k.startswith("ours_n")},
        "headline": {"run": headline, "ratio": ratios[headline]["examples_per_s"]},
        "all_exit_codes_zero": all(r["exit_code"] == 0 for r in runs.values()),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="naive suite at 25 examples, no serial_nocache run")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers for the -n runs (default 2)")
    parser.add_argument("--profile", default="default", help="Hypothesis profile of the suite's runs (default, exhaustive)")
    parser.add_argument("--minimal", action="store_true", help="only naive, ours_nW_cold and ours_nW_warm")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"), help="directory for suite_speed.json")
    args = parser.parse_args(argv)
    results = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "suite_examples_per_second": measure(args.quick, args.workers, args.profile, args.minimal),
    }
    text = json.dumps(results, indent=2)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "suite_speed.json" if args.profile == "default" else f"suite_speed_{args.profile}.json"
    (out / name).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
