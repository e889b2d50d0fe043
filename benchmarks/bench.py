"""Benchmarks for ``composed``: warm-call speed, compile time vs depth, compile counts.

    python benchmarks/bench.py [--quick] [--out DIR]

Prints one JSON document to stdout and writes ``DIR/bench.json`` and ``DIR/bench.png`` (default DIR:
``benchmarks/results``). Every ratio is taken between measurements made in the same run, interleaved, because the
machine this was written on (2 CPU cores) is noisy. Sections of the JSON:

* ``warm_call``: median time of a warm call of each implementation in ``composed.IMPLEMENTATIONS`` at B=8, F=16, N=4
  float32 (result forced with ``np.asarray``), and ``reference / impl``. Target: ``fast`` at least 300x the reference.
* ``depth_scaling``: for N in 1..256, the time to first result (trace + lower + compile + run, from empty caches) and
  the jaxpr size of the scan body (``composed.fast._forward``) and of an unrolled Python loop over the layers written
  here. Target: scan first call at N=256 within 1.5x of N=2 (N=1 is no fair base, it compiles much faster). The
  parameter initialisation alone (``params_only``) is timed the same way, to show how much of a first call it is.
* ``compile_counts``: backend compiles counted with a ``jax.monitoring`` listener on
  ``/jax/core/compile/backend_compile_duration`` while calling each implementation with 20 seeds at one shape.

The suite's own speed (time to a verdict of ``composed-check``) is ``benchmarks/verdict_time.py``.
"""

from __future__ import annotations

import os

# A persistent compilation cache would turn "first call" into a cache read: make sure none is enabled, before jax loads.
for _var in ("JAX_COMPILATION_CACHE_DIR", "JAX_ENABLE_COMPILATION_CACHE"):
    os.environ.pop(_var, None)

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # runnable from a checkout without installing the package
    sys.path.insert(0, str(REPO))

import flax  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402
from flax import nnx  # noqa: E402

import composed  # noqa: E402
from composed import fast  # noqa: E402

BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
CACHE_HIT_EVENT = "/jax/compilation_cache/cache_hits"

B, F, N_WARM = 8, 16, 4
WARM_TARGET = 300.0  # fast must be at least this many times faster than the reference
SCAN_FLAT_TARGET = 1.5  # scan first call at N=256 within this factor of N=2
DEPTHS_FULL = (1, 2, 4, 8, 16, 32, 64, 128, 256)
DEPTHS_QUICK = (1, 2, 16, 256)


# --------------------------------------------------------------------------------------------------------------------
# The unrolled baseline: same parameters as composed.fast (the spec's make_block, seed traced), but a Python `for` over
# the layers instead of nnx.scan, so the traced program grows with N.
# --------------------------------------------------------------------------------------------------------------------
def _spec_params(seed, dtype, num_layers, features):
    """The spec's make_block with the seed traced (called inside the jitted functions below, so it is traced inline)."""

    @nnx.split_rngs(splits=num_layers)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_block(rngs):
        return nnx.Linear(features, features, dtype=dtype, rngs=rngs)

    blocks = make_block(nnx.Rngs(jax.random.key(seed)))
    return blocks.kernel[...], blocks.bias[...]


@partial(jax.jit, static_argnames=("num_layers", "features"))
def loop_forward(seed, x_batch, num_layers, features):
    kernel, bias = _spec_params(seed, x_batch.dtype, num_layers, features)
    h = x_batch
    for n in range(num_layers):
        h = jax.nn.relu(h @ kernel[n] + bias[n])
    return h.reshape(-1)


# The parameter initialisation alone (the spec's make_block, seed traced), to split the first-call time of the two
# above into "make the parameters" and "the forward". Not a forward: it returns (kernel, bias).
@partial(jax.jit, static_argnames=("num_layers", "features"))
def params_only(seed, x_batch, num_layers, features):
    return _spec_params(seed, x_batch.dtype, num_layers, features)


def _static_call(jitted):
    return lambda seed, x, n, f: jitted(seed, x, num_layers=n, features=f)


# kind -> (call(seed, x, N, F), the jitted function whose __wrapped__ body make_jaxpr traces)
FORWARDS = {
    "scan": (_static_call(fast._forward), fast._forward),
    "loop": (_static_call(loop_forward), loop_forward),
    "params_only": (_static_call(params_only), params_only),
}


# --------------------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------------------
def _block(out):
    """Wait for a result, whatever it is (jax.Array or NumPy)."""
    return jax.tree.map(np.asarray, jax.block_until_ready(out))


def _summary(samples):
    s = sorted(samples)
    q = statistics.quantiles(s, n=4) if len(s) >= 2 else [s[0]] * 3
    return {"median_s": statistics.median(s), "min_s": s[0], "p25_s": q[0], "p75_s": q[2], "n_calls": len(s)}


def count_eqns(jaxpr, recursive=True):
    """Equations in a jaxpr; with ``recursive``, those of every sub-jaxpr (scan/pjit/cond bodies) are added."""
    total = 0
    for eqn in jaxpr.eqns:
        total += 1
        if recursive:
            for sub in jax.extend.core.jaxprs_in_params(eqn.params):
                total += count_eqns(sub, recursive=True)
    return total


class CompileCounter:
    """Counts backend (XLA) compiles and persistent-cache hits through jax.monitoring, by function name."""

    def __init__(self):
        self.compiles = Counter()
        self.cache_hits = 0

    def _on_duration(self, event, duration_secs, **kwargs):
        if event == BACKEND_COMPILE_EVENT:
            self.compiles[kwargs.get("fun_name", "?")] += 1

    def _on_event(self, event, **kwargs):
        if event == CACHE_HIT_EVENT:
            self.cache_hits += 1

    def __enter__(self):
        jax.monitoring.register_event_duration_secs_listener(self._on_duration)
        jax.monitoring.register_event_listener(self._on_event)
        return self

    def __exit__(self, *exc):
        jax.monitoring.unregister_event_duration_listener(self._on_duration)
        jax.monitoring.unregister_event_listener(self._on_event)

    @property
    def total(self):
        return sum(self.compiles.values())


def _x(batch=B, features=F, seed=0):
    return np.random.default_rng(seed).standard_normal((batch, features)).astype(np.float32)


# --------------------------------------------------------------------------------------------------------------------
# 1. Warm calls
# --------------------------------------------------------------------------------------------------------------------
def bench_warm(quick):
    x = _x()
    impls = dict(composed.IMPLEMENTATIONS)
    rounds = 3 if quick else 5
    # Calls per round: the reference costs ~0.1 s a call (it recompiles), the others well under a millisecond.
    per_round = {name: (2 if quick else 4) if name == "reference" else (40 if quick else 200) for name in impls}
    for name, fn in impls.items():  # warm-up: compile, fill parameter caches
        for _ in range(2):
            _block(fn(0, x, N_WARM, F))
    samples = {name: [] for name in impls}
    for _ in range(rounds):  # interleaved rounds, so slow drifts of the machine hit every implementation alike
        for name, fn in impls.items():
            for _ in range(per_round[name]):
                t0 = time.perf_counter()
                _block(fn(0, x, N_WARM, F))
                samples[name].append(time.perf_counter() - t0)
    stats = {name: _summary(s) for name, s in samples.items()}
    ref = stats["reference"]["median_s"]
    ratios = {name: ref / s["median_s"] for name, s in stats.items()}
    return {
        "config": {"B": B, "F": F, "N": N_WARM, "dtype": "float32", "seed": 0, "rounds": rounds,
                   "calls_per_round": per_round},
        "impls": stats,
        "ratio_reference_over_impl": ratios,
        "fast_over_reference_target": WARM_TARGET,
        "meets_target": ratios["fast"] >= WARM_TARGET,
    }


# --------------------------------------------------------------------------------------------------------------------
# 2. Depth scaling: first call (fresh compile) and jaxpr size, scan vs unrolled loop
# --------------------------------------------------------------------------------------------------------------------
def _first_call(kind, n, x, seed):
    call, _ = FORWARDS[kind]
    jax.clear_caches()  # every jit cache in the process: this N is traced, lowered and compiled afresh
    with CompileCounter() as cc:
        c0, t0 = time.process_time(), time.perf_counter()
        out = _block(call(seed, x, n, F))
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return elapsed, cpu, out, cc


def _warm_time(kind, n, x, seed, reps):
    call, _ = FORWARDS[kind]
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        _block(call(seed, x, n, F))
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def bench_depth(quick):
    depths = DEPTHS_QUICK if quick else DEPTHS_FULL
    repeats = 1 if quick else 2
    x, seed = _x(), np.int64(0)
    kinds = ["scan", "loop"] if quick else list(FORWARDS)  # --quick skips the params_only decomposition
    # Throw-away compiles first, so one-time costs of the process (first lowering, lazy imports) land on nobody.
    for kind in kinds:
        _first_call(kind, 3, x, seed)
    first = {kind: {n: [] for n in depths} for kind in kinds}
    first_cpu = {kind: {n: [] for n in depths} for kind in kinds}
    compiles = {kind: {n: [] for n in depths} for kind in kinds}
    cache_hits = 0
    max_diff = {}
    for _ in range(repeats):  # repeats interleaved across N and kind
        for n in depths:
            outs = {}
            for kind in kinds:
                t, cpu, outs[kind], cc = _first_call(kind, n, x, seed)
                first[kind][n].append(t)
                first_cpu[kind][n].append(cpu)
                compiles[kind][n].append(cc.total)
                cache_hits += cc.cache_hits
            max_diff[n] = float(np.max(np.abs(outs["scan"] - outs["loop"])))
    result = {"config": {"B": B, "F": F, "dtype": "float32", "seed": 0, "repeats": repeats, "N": list(depths)}}
    for kind in kinds:
        _, jitted = FORWARDS[kind]
        eqn_top, eqn_rec, warm = [], [], []
        for n in depths:
            closed = jax.make_jaxpr(jitted.__wrapped__, static_argnums=(2, 3))(seed, x, n, F)
            eqn_top.append(count_eqns(closed.jaxpr, recursive=False))
            eqn_rec.append(count_eqns(closed.jaxpr, recursive=True))
            warm.append(_warm_time(kind, n, x, seed, reps=5 if quick else 20))
        result[kind] = {
            # Wall time to first result, the best of the repeats: on a shared machine noise only ever adds time.
            "first_call_s": [min(first[kind][n]) for n in depths],
            "first_call_median_s": [statistics.median(first[kind][n]) for n in depths],
            "first_call_cpu_s": [min(first_cpu[kind][n]) for n in depths],  # process CPU time (XLA uses threads)
            "first_call_all_s": [first[kind][n] for n in depths],
            "backend_compiles_per_first_call": [max(compiles[kind][n]) for n in depths],
            "jaxpr_eqns_top_level": eqn_top,
            "jaxpr_eqns_recursive": eqn_rec,
            "warm_call_s": warm,
        }

    def ratio(kind, hi, lo, key="first_call_s"):
        if kind in result and hi in depths and lo in depths:
            fc = result[kind][key]
            return fc[depths.index(hi)] / fc[depths.index(lo)]
        return None

    def slope(kind):  # log-log slope of first-call time vs N over N >= 16 (1 = linear growth, 0 = flat)
        pts = [(math.log(n), math.log(t)) for n, t in zip(depths, result[kind]["first_call_s"]) if n >= 16]
        if len(pts) < 2:
            return None
        mx = sum(p[0] for p in pts) / len(pts)
        my = sum(p[1] for p in pts) / len(pts)
        return sum((a - mx) * (b - my) for a, b in pts) / sum((a - mx) ** 2 for a, _ in pts)

    scan_ratio = ratio("scan", 256, 2)
    result.update({
        "scan_first_call_ratio_256_over_2": scan_ratio,
        "scan_flat_target": SCAN_FLAT_TARGET,
        "meets_target": None if scan_ratio is None else scan_ratio <= SCAN_FLAT_TARGET,
        "scan_first_call_ratio_256_over_2_of_median": ratio("scan", 256, 2, "first_call_median_s"),
        "scan_first_call_cpu_ratio_256_over_2": ratio("scan", 256, 2, "first_call_cpu_s"),
        "loop_first_call_ratio_256_over_2": ratio("loop", 256, 2),
        "loop_first_call_ratio_256_over_2_of_median": ratio("loop", 256, 2, "first_call_median_s"),
        "loop_first_call_cpu_ratio_256_over_2": ratio("loop", 256, 2, "first_call_cpu_s"),
        "params_only_first_call_ratio_1_over_2": ratio("params_only", 1, 2),
        "loglog_slope_first_call_vs_N_ge_16": {kind: slope(kind) for kind in kinds},
        "loop_minus_scan_max_abs_diff": [max_diff[n] for n in depths],
        "persistent_cache_hits": cache_hits,  # must be 0: every first call is a real compile
        "persistent_cache_dir": jax.config.jax_compilation_cache_dir,
    })
    return result


# --------------------------------------------------------------------------------------------------------------------
# 3. Compile counts: 20 seeds at one shape
# --------------------------------------------------------------------------------------------------------------------
def bench_compiles(quick):
    x = _x()
    seeds = list(range(20))
    out = {"config": {"B": B, "F": F, "N": N_WARM, "dtype": "float32", "seeds": f"0..{len(seeds) - 1}",
                      "event": BACKEND_COMPILE_EVENT}, "impls": {}}
    for name, fn in composed.IMPLEMENTATIONS.items():
        jax.clear_caches()
        params_cache = getattr(sys.modules["composed.params"], "_cached", None)
        if params_cache is not None:  # numpy_loop / pure_jax keep parameters in an lru_cache: start them cold too
            params_cache.cache_clear()
        per_call = []
        names = Counter()
        with CompileCounter() as cc:
            for s in seeds:
                before = cc.total
                _block(fn(s, x, N_WARM, F))
                per_call.append(cc.total - before)
            names.update(cc.compiles)
            # The same call again, identical arguments: a cached program compiles nothing.
            before = cc.total
            _block(fn(seeds[0], x, N_WARM, F))
            repeat = cc.total - before
        out["impls"][name] = {
            "total_compiles_20_seeds": sum(per_call),
            "compiles_per_call": per_call,
            "compiles_on_repeated_identical_call": repeat,
            "compiled_functions": dict(names),
        }
    return out


# --------------------------------------------------------------------------------------------------------------------
# Plot
# --------------------------------------------------------------------------------------------------------------------
def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    ax1, ax2 = axes[0], axes[1]
    depth = results["depth_scaling"]
    ns = depth["config"]["N"]
    for kind, style, label in (("scan", "o-", "scan (composed.fast._forward)"), ("loop", "s-", "unrolled Python loop"),
                               ("params_only", "^:", "parameter init alone (make_block)")):
        if kind not in depth:
            continue
        line, = ax1.plot(ns, depth[kind]["first_call_s"], style, label=label, alpha=0.6 if kind == "params_only" else 1)
        if kind != "params_only":  # process CPU time of the same calls: less sensitive to other processes
            ax1.plot(ns, depth[kind]["first_call_cpu_s"], "--", color=line.get_color(), lw=0.8, alpha=0.7,
                     label=f"{kind}: process CPU time")
    for kind, dy in (("loop", 7), ("scan", -13)):
        for n, t, e in zip(ns, depth[kind]["first_call_s"], depth[kind]["jaxpr_eqns_recursive"]):
            if n in (16, 256) or (kind == "scan" and n == 2):
                ax1.annotate(f"{e} eqns", (n, t), textcoords="offset points", xytext=(-22, dy), fontsize=7,
                             color="tab:orange" if kind == "loop" else "tab:blue")
    ax1.set_xscale("log", base=2)
    ax1.margins(y=0.15)
    ax1.set_yscale("log")
    ax1.set_xlabel("depth N (layers)")
    ax1.set_ylabel("time to first result, s (trace + compile + run)\nbest of repeats, fresh caches")
    r = depth["scan_first_call_ratio_256_over_2"]
    ax1.set_title(f"First call vs depth (B={B}, F={F})" + ("" if r is None else f"\nscan N=256 / N=2: {r:.2f}x"))
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=8)

    warm = results["warm_call"]
    names = list(warm["impls"])
    med = [warm["impls"][n]["median_s"] * 1e3 for n in names]
    bars = ax2.bar(names, med, color=["tab:red" if n == "reference" else "tab:blue" for n in names])
    for bar, n in zip(bars, names):
        ratio = warm["ratio_reference_over_impl"][n]
        ax2.annotate(f"{bar.get_height():.3g} ms\n{ratio:.0f}x" if n != "reference" else f"{bar.get_height():.3g} ms",
                     (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=8)
    ax2.set_yscale("log")
    ax2.set_ylabel("warm call, ms (median)")
    ax2.set_ylim(top=max(med) * 10)
    ax2.set_title(f"Warm call per implementation (B={B}, F={F}, N={N_WARM})\nlabels: median, speed-up vs reference")
    ax2.grid(True, axis="y", which="both", alpha=0.3)
    ax2.tick_params(axis="x", labelrotation=15)
    meta = results["meta"]
    fig.suptitle(f"composed benchmarks: jax {meta['jax']}, {meta['device']}, {meta['cpu_count']} CPUs, {meta['date']}, "
                 f"1-min load average {meta['load_average_1m_at_start']:.1f} at start", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer depths, fewer repeats (about a minute)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"), help="output folder")
    args = parser.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    assert jax.config.jax_compilation_cache_dir is None, "a persistent compilation cache is enabled"
    t_start = time.perf_counter()
    results = {
        "meta": {
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "quick": args.quick,
            "jax": jax.__version__,
            "flax": flax.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "backend": jax.default_backend(),
            "device": str(jax.devices()[0].device_kind),
            "load_average_1m_at_start": os.getloadavg()[0],  # > cpu_count means other processes competed
        },
    }
    phases = {}
    for key, fn in (("warm_call", bench_warm), ("compile_counts", bench_compiles), ("depth_scaling", bench_depth)):
        t0 = time.perf_counter()
        results[key] = fn(args.quick)
        phases[key] = time.perf_counter() - t0
        print(f"[bench] {key}: {phases[key]:.1f} s", file=sys.stderr, flush=True)
    results["meta"]["phase_seconds"] = phases
    results["meta"]["run_time_s"] = time.perf_counter() - t_start
    results["meta"]["load_average_1m_at_end"] = os.getloadavg()[0]
    results["meta"]["command"] = "python benchmarks/bench.py" + (" --quick" if args.quick else "")

    text = json.dumps(results, indent=2)
    (out_dir / "bench.json").write_text(text + "\n")
    plot(results, out_dir / "bench.png")
    print(text)
    return results


if __name__ == "__main__":
    main()
