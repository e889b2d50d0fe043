"""Time to a verdict: ``composed-check`` with its defaults on the bundled default and on wrong or hanging implementations.

    python benchmarks/verdict_time.py                 # all cases, one after the other (~5 min on 2 cores)
    python benchmarks/verdict_time.py --only default wrong_everywhere
    python benchmarks/verdict_time.py --out DIR       # default DIR: benchmarks/results

Each case runs the installed CLI (``python -m properties SPEC --report ...``) with its defaults and ``CI=true`` (so
Hypothesis's derandomized ``ci`` profile, as CI runs it), one case at a time, and records the wall time to the exit,
the time to the first ``FAILED`` progress line, the exit status and the report's summary. Every time is also given as
a ratio to the bundled default's time measured in the same run (the machine is noisy; ratios from one run are what
the targets are about). A warm-up run of the default comes first and is not counted (the persistent JAX compilation
cache then holds what the suite itself compiles).

Cases (the candidates are in ``benchmarks/candidates`` and ``tests/hostile``):

* ``default``: the bundled ``fast`` (passes);
* ``wrong_everywhere``: the layers applied last to first, jitted (fails most oracle properties; cheap calls);
* ``wrong_at_one_row``: ``fast`` but a single-row batch comes back scaled by 1 + 1e-3 (fails only where B = 1);
* ``eager_reversed``: the problem's code as written (eager, ~0.1 s a call), layers last to first;
* ``hang_everywhere``: ``while True: pass`` in every call (``tests/hostile/hang.py``).

Targets (issue 9, 2 cores): every wrong implementation <= 3x the default's time, the hang <= 8x.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = ROOT / "benchmarks" / "candidates"
CASES = {
    "default": "fast",
    "wrong_everywhere": str(CANDIDATES / "wrong_everywhere.py"),
    "wrong_at_one_row": str(CANDIDATES / "wrong_at_one_row.py"),
    "eager_reversed": str(CANDIDATES / "eager_reversed.py"),
    "hang_everywhere": str(ROOT / "tests" / "hostile" / "hang.py"),
}
TARGETS = {"wrong": 3.0, "hang": 8.0}


def run_case(spec: str, extra: list[str], tree: Path | None = None) -> dict:
    """``composed-check SPEC`` with ``CI=true``: wall time, time to the first ``FAILED`` line, exit, summary. ``tree``:
    run that checkout of the suite (working directory and ``PYTHONPATH``) instead of the installed one."""
    with tempfile.TemporaryDirectory(prefix="verdict-time-") as tmp:
        report = os.path.join(tmp, "report.json")
        env = dict(os.environ, CI="true")
        if tree is not None:
            env["PYTHONPATH"] = str(tree)
        env.pop("COMPOSED_RUN", None)
        cmd = [sys.executable, "-m", "properties", spec, "--report", report, *extra]
        start = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=str(tree or ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace")
        first_failed = None
        lines = []

        def read():
            nonlocal first_failed
            for line in proc.stdout:
                lines.append(line)
                if first_failed is None and "] FAILED " in line:
                    first_failed = time.monotonic() - start

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        rc = proc.wait()
        reader.join(timeout=5)
        seconds = time.monotonic() - start
        try:
            data = json.loads(Path(report).read_text())
        except (OSError, ValueError):
            data = None
    summary = data["summary"] if data else None
    return {"spec": spec, "seconds": round(seconds, 2), "first_failed_s": None if first_failed is None
            else round(first_failed, 2), "exit": rc, "summary": summary,
            "verdict_line": next((ln.strip() for ln in reversed(lines) if "composed-check" in ln and ":" in ln), None)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=sorted(CASES), help="run only these cases (default: all)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="directory for verdict_time.json")
    parser.add_argument("--no-warmup", action="store_true", help="skip the uncounted warm-up run of the default")
    args, extra = parser.parse_known_args(argv)
    names = args.only or list(CASES)
    if "default" not in names:
        names = ["default", *names]  # the ratios need it
    load_start = os.getloadavg()[0]
    if not args.no_warmup:
        print("warm-up: default ...", flush=True)
        run_case(CASES["default"], extra)
    results = {}
    for name in names:
        print(f"{name}: composed-check {CASES[name]} ...", flush=True)
        results[name] = run_case(CASES[name], extra)
        r = results[name]
        print(f"  {r['seconds']:.1f} s, exit {r['exit']}, first FAILED at {r['first_failed_s']} s: "
              f"{r['verdict_line']}", flush=True)
    base = results["default"]["seconds"]
    for name, r in results.items():
        r["ratio_to_default"] = round(r["seconds"] / base, 2)
        kind = "hang" if name.startswith("hang") else ("wrong" if name != "default" else None)
        r["target_ratio"] = TARGETS.get(kind)
        r["meets_target"] = None if kind is None else r["ratio_to_default"] <= TARGETS[kind]
    doc = {
        "meta": {"command": "python benchmarks/verdict_time.py " + " ".join(sys.argv[1:]), "cpus": os.cpu_count(),
                 "python": platform.python_version(), "load_average_1m_at_start": round(load_start, 2),
                 "load_average_1m_at_end": round(os.getloadavg()[0], 2),
                 "when": time.strftime("%Y-%m-%d %H:%M:%S")},
        "cases": results,
    }
    print()
    print(f"{'case':<20} {'seconds':>8} {'x default':>10} {'first FAILED':>13} {'exit':>5}  target")
    for name, r in results.items():
        target = "" if r["target_ratio"] is None else f"<= {r['target_ratio']:g}x " + (
            "met" if r["meets_target"] else "NOT met")
        first = "" if r["first_failed_s"] is None else f"{r['first_failed_s']:.1f} s"
        print(f"{name:<20} {r['seconds']:>8.1f} {r['ratio_to_default']:>10.2f} {first:>13} {r['exit']:>5}  {target}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "verdict_time.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwrote {out / 'verdict_time.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
