"""What the candidate process costs: per-call overhead of the process boundary, and a whole run against in process.

    python benchmarks/boundary_overhead.py            # both parts (~3 min on 2 cores)
    python benchmarks/boundary_overhead.py --calls    # per-call overhead only (~20 s)
    python benchmarks/boundary_overhead.py --out DIR  # default DIR: benchmarks/results

* ``calls``: the bundled ``fast`` called warm, at N = 1, for x_batch of 128, 4k, 16k and 64k float32 values, three
  ways interleaved (one call of each per round, so drifts of a shared machine hit all three), median over 400 rounds: the bare function in this process (``raw``), through the in-process guard
  (``--in-process``), and through the candidate process (the default: arguments and result cross a Unix socket, the
  guard runs there). ``overhead_ms`` = candidate process - raw. Target: under 1 ms up to 64k floats.
* ``run``: ``composed-check`` on the bundled default with its defaults (2 workers), and the same with ``--in-process``,
  alternated, ``--repeat`` times each (default 3); the ratio of the medians. Target: within 1.2x.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SIZES = ((8, 16), (64, 64), (128, 128), (256, 256))  # 128, 4k, 16k, 64k floats


def _interleaved_ms(fns: dict, repeat: int) -> dict:
    """Median time of each function, called in turn (one of each per round), so slow drifts hit all alike."""
    for fn in fns.values():
        for _ in range(5):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) * 1e3 for name, ts in times.items()}


def bench_calls(repeat: int = 400) -> dict:
    import composed
    from properties.harness.proxy import InProcessCandidate, ProcessCandidate

    raw = composed.composed_transforms
    local = InProcessCandidate("fast", timeout=60)
    remote = ProcessCandidate("fast", timeout=60)
    remote.wait_loaded()
    out = {}
    try:
        for b, f in SIZES:
            x = np.random.default_rng(0).standard_normal((b, f)).astype(np.float32)
            row = _interleaved_ms({
                "raw_ms": lambda: np.asarray(raw(0, x, 1, f)),
                "in_process_ms": lambda: np.asarray(local(0, x, 1, f)),
                "candidate_process_ms": lambda: np.asarray(remote(0, x, 1, f)),
            }, repeat)
            row["overhead_ms"] = row["candidate_process_ms"] - row["raw_ms"]
            row["guard_ms"] = row["in_process_ms"] - row["raw_ms"]
            out[f"{b}x{f} ({b * f} floats)"] = {k: round(v, 4) for k, v in row.items()}
            print(f"  {b}x{f}: {out[f'{b}x{f} ({b * f} floats)']}", flush=True)
    finally:
        remote.close()
    worst = max(v["overhead_ms"] for v in out.values())
    return {"sizes": out, "max_overhead_ms": worst, "target_ms": 1.0, "meets_target": worst < 1.0}


def _check(extra: list[str]) -> float:
    env = dict(os.environ)
    env.pop("COMPOSED_RUN", None)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "properties", "fast", "-q", *extra], cwd=str(ROOT), env=env,
                          capture_output=True, text=True)
    took = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"composed-check {' '.join(extra)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return took


def bench_run(repeat: int) -> dict:
    _check([])  # warm-up (compilation cache)
    process, in_process = [], []
    for i in range(repeat):
        process.append(_check([]))
        in_process.append(_check(["--in-process"]))
        print(f"  round {i + 1}: candidate process {process[-1]:.1f} s, in process {in_process[-1]:.1f} s", flush=True)
    ratio = statistics.median(process) / statistics.median(in_process)
    return {"candidate_process_s": [round(t, 2) for t in process], "in_process_s": [round(t, 2) for t in in_process],
            "ratio_of_medians": round(ratio, 3), "target": 1.2, "meets_target": ratio <= 1.2}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", action="store_true", help="only the per-call overhead")
    parser.add_argument("--repeat", type=int, default=3, help="composed-check runs of each kind")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    doc = {"meta": {"command": "python benchmarks/boundary_overhead.py " + " ".join(sys.argv[1:]),
                    "cpus": os.cpu_count(), "load_average_1m_at_start": round(os.getloadavg()[0], 2),
                    "when": time.strftime("%Y-%m-%d %H:%M:%S")}}
    print("per-call overhead (fast, warm, N=1):", flush=True)
    doc["calls"] = bench_calls()
    if not args.calls:
        print("composed-check fast, candidate process vs --in-process:", flush=True)
        doc["run"] = bench_run(args.repeat)
    doc["meta"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "boundary_overhead.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
