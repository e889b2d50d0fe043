"""Issue 17's targets, side by side with another tree (today's main) in one run.

    git worktree add --detach /tmp/old main
    CI=true python benchmarks/targets.py --old /tmp/old               # ~30 min on a loaded 2-core machine
    CI=true python benchmarks/targets.py --old /tmp/old --only default port

Each case runs ``python -m properties SPEC --report R`` with ``CI=true`` in the given tree (``PYTHONPATH`` and the
working directory set to it), one at a time, and records the wall time to the exit and to the first ``FAILED`` line.
Cases:

* ``default``: the bundled ``fast`` (warm: a warm-up run of each tree comes first and is not counted);
* ``port``: a correct jitted ``lax.scan`` port written here into a temporary directory (not in the repository), with a
  random constant in its programs' signature (an unused argument of random length), so its first run finds nothing of
  it in the persistent compilation cache: the "implementation the suite has not seen" target (<= 1.25x the default);
* ``slow_wrong`` / ``slow_correct``: ``fast`` plus one second of sleep in every call, wrong at B = 1 / correct
  (<= 3x the default);
* ``wrong``: ``benchmarks/candidates/wrong_everywhere.py``: the first failure printed within 5 s.

Writes ``benchmarks/results/targets.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from verdict_time import run_case  # one reader of a composed-check run (benchmarks/ is the script's directory)

ROOT = Path(__file__).resolve().parent.parent

PORT = '''"""A correct jitted port: the spec's parameters from jax.random, one lax.scan over the layers (written on the fly by
benchmarks/targets.py; not part of the repository)."""
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from composed.contract import validate

SALT = {salt}


@partial(jax.jit, static_argnames=("n", "f"))
def _forward(seed, x, pad, n, f):
    keys = jax.random.split(jax.random.fold_in(jax.random.key(seed), 0), n)
    init = jax.nn.initializers.lecun_normal()
    kernel = jax.vmap(lambda k: init(jax.random.fold_in(k, 0), (f, f), jnp.float32))(keys).astype(x.dtype)

    def layer(h, k):
        # the salt as a constant in every program (jax.jit drops unused arguments, so `pad` alone left the programs,
        # and their cache keys, the same from run to run); zeros times it, in float32 (float16 overflows a large
        # salt), is still exactly the zeros added before
        return jax.nn.relu(h @ k + (jnp.zeros((), jnp.float32) * SALT).astype(x.dtype)), None

    h, _ = jax.lax.scan(layer, x, kernel)
    return h.reshape(-1)


def composed_transforms(seed, x_batch, num_layers, features):
    seed, x, n, f = validate(seed, x_batch, num_layers, features)
    return _forward(np.int64(seed), x, np.zeros(SALT, np.float32), n=n, f=f)
'''

SLOW = '''import time
import numpy as np
import composed


def composed_transforms(seed, x_batch, num_layers, features):
    time.sleep(1.0)
    out = composed.composed_transforms(seed, x_batch, num_layers, features)
    if {wrong} and np.shape(x_batch)[0] == 1:
        out = out * np.float32(1 + 1e-3)
    return out
'''


def write_candidates(tmp: Path) -> dict:
    (tmp / "port_a.py").write_text(PORT.format(salt=random.randrange(1, 10**6)))
    (tmp / "port_b.py").write_text(PORT.format(salt=random.randrange(1, 10**6)))
    (tmp / "slow_wrong.py").write_text(SLOW.format(wrong=True))
    (tmp / "slow_correct.py").write_text(SLOW.format(wrong=False))
    return {name: str(tmp / f"{name}.py") for name in ("port_a", "port_b", "slow_wrong", "slow_correct")}


def run(tree: Path, spec: str) -> dict:
    r = run_case(spec, [], tree)
    first = r["first_failed_s"]
    return {"tree": str(tree), "spec": spec, "seconds": round(r["seconds"], 1), "exit": r["exit"],
            "first_failed_s": None if first is None else round(first, 1), "summary": r["summary"],
            "load_1m": round(os.getloadavg()[0], 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", required=True, help="the tree to compare with (a worktree of main)")
    parser.add_argument("--only", nargs="*", default=["default", "port", "slow_wrong", "slow_correct", "wrong"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    old, new = Path(args.old).resolve(), ROOT
    tmp = Path(tempfile.mkdtemp(prefix="targets-cands-"))
    cands = write_candidates(tmp)
    plan = [("warm-up old", old, "fast"), ("warm-up new", new, "fast"),
            ("default old", old, "fast"), ("default new", new, "fast")]
    if "port" in args.only:
        plan += [("port old", old, cands["port_a"]), ("port new", new, cands["port_b"])]
    for name in ("slow_wrong", "slow_correct"):
        if name in args.only:
            plan += [(f"{name} new", new, cands[name])]
    if "wrong" in args.only:
        wrong = str(ROOT / "benchmarks" / "candidates" / "wrong_everywhere.py")
        plan += [("wrong old", old, wrong), ("wrong new", new, wrong)]
    results = {}
    for label, tree, spec in plan:
        print(f"{label}: ...", flush=True)
        results[label] = r = run(tree, spec)
        print(f"  {r['seconds']} s, exit {r['exit']}, first FAILED {r['first_failed_s']}, load {r['load_1m']}, "
              f"{(r['summary'] or {}).get('examples')} examples, {(r['summary'] or {}).get('examples_cut')} cut",
              flush=True)
    for side in ("old", "new"):
        base = results.get(f"default {side}", {}).get("seconds")
        for label, r in results.items():
            if label.endswith(side) and base:
                r["x_default_same_tree"] = round(r["seconds"] / base, 2)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    doc = {"meta": {"command": "python benchmarks/targets.py " + " ".join(sys.argv[1:]), "cpus": os.cpu_count(),
                    "when": time.strftime("%Y-%m-%d %H:%M:%S")}, "cases": results}
    (out / "targets.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps({k: (v["seconds"], v.get("x_default_same_tree"), v["first_failed_s"]) for k, v in results.items()},
                     indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
