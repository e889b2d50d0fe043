"""Where a run's time goes: a profile of the suite's default run, checking side and candidate side.

    CI=true python benchmarks/profile_run.py                 # the bundled default (fast), persistent cache as is
    CI=true python benchmarks/profile_run.py SPEC --cold      # another implementation, an empty JAX cache
    python benchmarks/profile_run.py --out DIR -- -m core     # arguments after -- go to pytest

It runs ``pytest properties --impl SPEC`` in this process with a small profiling plugin (the suite's own plugin does
the rest, exactly as ``composed-check`` runs it), then prints the breakdown and writes ``DIR/profile_run.json``
(default ``benchmarks/results``):

* ``startup``: a bare interpreter, and an interpreter importing JAX and running one op (subprocesses, timed apart);
* ``collection``: pytest's collection (the candidate process starts and imports the implementation meanwhile);
* ``candidate_start``: from the candidate process's start to its first reply;
* ``calls``: every request to the candidate, per test and overall: count, the candidate's own time (``seconds`` in its
  reply: trace, compile and run), the rest of the round trip (the wire and the guard), and the distinct
  ``(B, F, N, dtype)`` shapes called -- per property and for the whole run; ``first_at_shape_s`` is the candidate
  time of the first call at each shape (for a jitted implementation: trace and compile), ``later_calls_s`` the rest;
* ``oracle_s`` / ``tolerance_s``: ``composed.oracle`` and the covariance error model
  (``properties.harness.tolerance.error_scale``) on the checking side;
* ``hypothesis_s``: each test's time outside its examples' bodies (generation, the engine, shrinking's generation),
  and ``after_first_failure_s``: the time a failing test spent after its first failing example (shrinking, replay).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _timed_subprocess(code: str) -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(ROOT))
    return time.monotonic() - start


def startup() -> dict:
    """Seconds for a bare interpreter, and for one that imports JAX and runs one op."""
    return {"python_s": round(_timed_subprocess("pass"), 3),
            "python_jax_s": round(_timed_subprocess("import jax.numpy as jnp; jnp.zeros(1).block_until_ready()"), 3)}


def _shape(op: str, kwargs: dict):
    x = kwargs.get("x_batch")
    if x is None:
        return None
    import numpy as np

    try:
        arr = np.asarray(x)
        b, f = (arr.shape + (None, None))[:2] if arr.ndim >= 1 else (None, None)
        n = kwargs.get("num_layers")
        return (op, b, f, int(n) if n is not None else None, str(arr.dtype))
    except Exception:  # noqa: BLE001 - an odd input (a list, a hostile array-like): named by its type
        return (op, type(x).__name__)


class Profiler:
    """A pytest plugin that times the suite's parts (module docstring)."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.test = None
        self.calls = []  # (test, shape, round_trip_s, candidate_s)
        self.tests = defaultdict(lambda: {"call_phase_s": 0.0, "bodies_s": 0.0, "examples": 0, "oracle_s": 0.0,
                                          "tolerance_s": 0.0, "after_first_failure_s": 0.0, "outcome": None})
        self.first_failure_at = None
        self.collection = None
        self.candidate_start = None
        self._patch()

    # -- patches on the checking side ---------------------------------------------------------------------------------
    def _patch(self):
        import composed
        from properties.harness import proxy, tolerance
        from properties.runner import pytest_items

        prof = self

        def timed(module, name, key):
            original = getattr(module, name)

            def wrapper(*args, **kwargs):
                start = time.monotonic()
                try:
                    return original(*args, **kwargs)
                finally:
                    if prof.test is not None:
                        prof.tests[prof.test][key] += time.monotonic() - start

            setattr(module, name, wrapper)

        timed(composed, "oracle", "oracle_s")
        timed(tolerance, "error_scale", "tolerance_s")

        request = proxy.Candidate._request

        def _request(self, op, kwargs):
            start = time.monotonic()
            last = self.last
            try:
                return request(self, op, kwargs)
            finally:
                seconds = self.last.get("seconds") if self.last is not last else None
                prof.calls.append((prof.test, _shape(op, kwargs), time.monotonic() - start, seconds))

        proxy.Candidate._request = _request

        wait_ready = proxy._Process.wait_ready

        def wait_ready_timed(self, deadline):
            wait_ready(self, deadline)
            if prof.candidate_start is None:
                prof.candidate_start = time.monotonic() - self.started

        proxy._Process.wait_ready = wait_ready_timed

        run = pytest_items._run

        def _run(prop, candidate, case):
            start = time.monotonic()
            rec = prof.tests[prof.test]
            try:
                return run(prop, candidate, case)
            except (AssertionError, proxy.ImplementationError):
                if prof.first_failure_at is None:
                    prof.first_failure_at = time.monotonic()
                raise
            finally:
                rec["bodies_s"] += time.monotonic() - start
                rec["examples"] += 1

        pytest_items._run = _run

    # -- pytest hooks -------------------------------------------------------------------------------------------------
    def pytest_collection(self, session):
        self._collect_start = time.monotonic()

    def pytest_collection_finish(self, session):
        self.collection = time.monotonic() - self._collect_start

    def pytest_runtest_call(self, item):
        self.test = item.nodeid.split("::", 1)[-1]
        self.first_failure_at = None
        self._call_start = time.monotonic()

    def pytest_runtest_logreport(self, report):
        if report.when != "call" or self.test is None:
            return
        rec = self.tests[self.test]
        end = time.monotonic()
        rec["call_phase_s"] = end - self._call_start
        rec["outcome"] = report.outcome
        if self.first_failure_at is not None:
            rec["after_first_failure_s"] = end - self.first_failure_at

    # -- the breakdown ------------------------------------------------------------------------------------------------
    def summary(self) -> dict:
        by_test = defaultdict(list)
        for test, shape, rt, seconds in self.calls:
            by_test[test].append((shape, rt, seconds))
        seen = set()
        first_at_shape = later = wire = 0.0
        tests = {}
        for test, rec in self.tests.items():
            calls = by_test.get(test, [])
            shapes = {s for s, _, _ in calls if s is not None}
            new = shapes - seen
            seen |= shapes
            own = sum(s or 0.0 for _, _, s in calls)
            first_here = {}
            for shape, rt, seconds in calls:
                wire += rt - (seconds or 0.0)
                if shape in new and shape not in first_here:
                    first_here[shape] = seconds or 0.0
                    first_at_shape += seconds or 0.0
                else:
                    later += seconds or 0.0
            tests[test] = {
                "outcome": rec["outcome"], "examples": rec["examples"], "calls": len(calls),
                "distinct_shapes": len(shapes), "new_shapes": len(new),
                "call_phase_s": round(rec["call_phase_s"], 3), "candidate_s": round(own, 3),
                "wire_s": round(sum(rt - (s or 0.0) for _, rt, s in calls), 3),
                "oracle_s": round(rec["oracle_s"], 3), "tolerance_s": round(rec["tolerance_s"], 3),
                "hypothesis_s": round(rec["call_phase_s"] - rec["bodies_s"], 3),
                "after_first_failure_s": round(rec["after_first_failure_s"], 3),
            }
        total = lambda key: round(sum(t[key] for t in tests.values()), 3)  # noqa: E731
        return {
            "collection_s": None if self.collection is None else round(self.collection, 3),
            "candidate_start_s": None if self.candidate_start is None else round(self.candidate_start, 3),
            "pytest_session_s": round(time.monotonic() - self.t0, 3),
            "tests_call_phase_s": total("call_phase_s"),
            "calls": len(self.calls),
            "distinct_shapes": len(seen),
            "candidate_s": total("candidate_s"),
            "first_at_shape_s": round(first_at_shape, 3),
            "later_calls_s": round(later, 3),
            "wire_and_guard_s": round(wire, 3),
            "oracle_s": total("oracle_s"),
            "tolerance_s": total("tolerance_s"),
            "hypothesis_s": total("hypothesis_s"),
            "after_first_failure_s": total("after_first_failure_s"),
            "examples": total("examples"),
            "tests": tests,
        }


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", nargs="?", default="fast", help="the implementation (default: the bundled fast)")
    parser.add_argument("--cold", action="store_true", help="an empty JAX compilation cache (a fresh directory)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="directory for profile_run.json")
    parser.add_argument("--name", default="profile_run", help="file name (without .json)")
    args = parser.parse_args(argv)
    start = startup()
    tmp = tempfile.mkdtemp(prefix="profile-cache-") if args.cold else None
    if tmp:
        os.environ["COMPOSED_JAX_CACHE"] = tmp
    os.environ.pop("COMPOSED_RUN", None)
    import pytest

    wall = time.monotonic()
    prof = Profiler()
    code = pytest.main(["properties", "--impl", args.spec, "-q", "-p", "no:cacheprovider", "-n", "0",
                        *pytest_args], plugins=[prof])
    summary = prof.summary()
    doc = {"meta": {"spec": args.spec, "cold_cache": args.cold, "pytest_args": pytest_args, "exit": int(code),
                    "wall_s": round(time.monotonic() - wall, 2), "cpus": os.cpu_count(),
                    "load_average_1m": round(os.getloadavg()[0], 2), "python": platform.python_version(),
                    "ci": os.environ.get("CI"), "when": time.strftime("%Y-%m-%d %H:%M:%S")},
           "startup": start, **summary}
    print_breakdown(doc)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {out / (args.name + '.json')}")
    return 0


def print_breakdown(doc: dict) -> None:
    """The breakdown as a short table, then the tests by call-phase time."""
    s = doc
    print(f"\nprofile of pytest properties --impl {s['meta']['spec']} (exit {s['meta']['exit']}, wall "
          f"{s['meta']['wall_s']} s, load {s['meta']['load_average_1m']})")
    rows = [
        ("interpreter start", s["startup"]["python_s"]), ("interpreter + JAX + one op", s["startup"]["python_jax_s"]),
        ("collection", s["collection_s"]), ("candidate process start to first reply", s["candidate_start_s"]),
        ("tests (call phase)", s["tests_call_phase_s"]),
        ("  candidate, first call at each shape", s["first_at_shape_s"]),
        ("  candidate, other calls", s["later_calls_s"]), ("  wire and guard", s["wire_and_guard_s"]),
        ("  oracle", s["oracle_s"]), ("  covariance tolerance", s["tolerance_s"]),
        ("  Hypothesis (outside example bodies)", s["hypothesis_s"]),
        ("  after a first failure (shrinking, replay)", s["after_first_failure_s"]),
    ]
    for label, value in rows:
        print(f"  {label:<45} {'' if value is None else f'{value:8.2f} s'}")
    print(f"  calls {s['calls']}, examples {s['examples']}, distinct (op, B, F, N, dtype) shapes {s['distinct_shapes']}")
    print(f"\n  {'test':<44} {'s':>6} {'cand':>6} {'orac':>5} {'tol':>5} {'hyp':>5} {'ex':>4} {'calls':>5} "
          f"{'shp':>4} {'new':>4}")
    for name, t in sorted(s["tests"].items(), key=lambda kv: -kv[1]["call_phase_s"])[:25]:
        print(f"  {name[:44]:<44} {t['call_phase_s']:6.2f} {t['candidate_s']:6.2f} {t['oracle_s']:5.2f} "
              f"{t['tolerance_s']:5.2f} {t['hypothesis_s']:5.2f} {t['examples']:4d} {t['calls']:5d} "
              f"{t['distinct_shapes']:4d} {t['new_shapes']:4d}")


if __name__ == "__main__":
    raise SystemExit(main())
