"""Run EVERY property against EVERY mutant of ``tests/mutants`` and write the kill table to ``tests/mutation_table.md``.

    CI=true .venv/bin/python tests/mutation_table.py            # the ci profile (derandomized): the published table
    .venv/bin/python tests/mutation_table.py --profile quick    # 4 examples a property, for a quick look

Not collected by pytest (the name does not start with ``test_``). Each run stops at a property's first falsifying
example (no shrinking). The control (``mutants._base.correct``, the mutants' machinery without a bug) and the bundled
``fast`` implementation are run too: no property may reject them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

# The suite's persistent JAX compilation cache (as the pytest plugin sets it), before JAX is imported.
_cache = os.environ.get("COMPOSED_JAX_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "composed", "jax")
if _cache.lower() not in ("off", "0", "none", "false", "no"):
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", _cache)
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

# The sharded_batch property needs 4 devices: split the host CPU as the pytest plugin does (read when JAX starts).
# One BLAS thread, as the pytest plugin sets it (the oracle's matmuls are small; a BLAS pool contending with XLA's
# threads slows them down many times on a small machine).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

if "--xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="ci", help="Hypothesis profile: ci (default), quick, default, exhaustive")
    parser.add_argument("--out", default=str(HERE / "mutation_table.md"))
    parser.add_argument("--only", nargs="*", help="mutant names (default: all)")
    args = parser.parse_args(argv)

    from hypothesis import settings

    from properties.harness.profiles import register_profiles

    register_profiles()
    settings.load_profile(args.profile)

    from mutants import MUTANTS
    from mutants._base import correct
    from properties.api import FAILED, run_property
    from properties.invariants import PROPERTIES

    props = PROPERTIES
    names = [*props, "grid", "boundary", "transforms_boundary"]
    tier = {n: p.tier for n, p in props.items()} | {"grid": "core", "boundary": "core",
                                                     "transforms_boundary": "transforms"}
    mutants = {k: v for k, v in MUTANTS.items() if not args.only or k in args.only}
    start = time.time()
    results: dict[str, dict] = {}
    for i, (name, m) in enumerate(mutants.items(), 1):
        t = time.time()
        results[name] = {p: run_property(m.impl, p, shrink=False) for p in names}
        killers = [p for p, o in results[name].items() if not o.passed]
        print(f"[{i}/{len(mutants)}] {name}: killed by {len(killers)} ({time.time() - t:.1f} s)", flush=True)
    controls = {"control": correct, "fast": "fast"}
    control_results = {}
    for cname, impl in controls.items():
        control_results[cname] = {p: run_property(impl, p, shrink=False) for p in names}
        print(f"{cname}: rejected by {[p for p, o in control_results[cname].items() if not o.passed]}", flush=True)
    elapsed = time.time() - start

    lines = render(mutants, results, control_results, names, tier, args.profile, elapsed)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:12]))
    print(f"written to {args.out}")
    survivors = [n for n, r in results.items() if all(o.passed for o in r.values())]
    errors = [(n, p) for n, r in results.items() for p, o in r.items() if not o.passed and o.kind != FAILED]
    if errors:
        print("runs that stopped with an error rather than a failure:", errors)
    broken = [(c, p) for c, r in control_results.items() for p, o in r.items() if not o.passed]
    missed = [(n, k) for n, m in mutants.items() for k in m.killers if results[n][k].passed]
    if missed:
        print("declared killers that did not kill:", missed)
    return 1 if survivors or broken or missed else 0


def render(mutants, results, control_results, names, tier, profile, elapsed) -> list[str]:
    from properties.api import FAILED

    killed = [n for n, r in results.items() if any(not o.passed for o in r.values())]
    core_names = [p for p in names if tier[p] == "core"]
    core_mutants = [n for n, m in mutants.items() if m.tier == "core"]
    core_killed = [n for n in core_mutants if any(not results[n][p].passed for p in core_names)]
    code = {p: f"P{i + 1}" for i, p in enumerate(names)}
    out = [
        "# Mutation table",
        "",
        f"Generated by `tests/mutation_table.py` (Hypothesis profile `{profile}`, every property against every mutant of",
        f"`tests/mutants`, stopping at the first falsifying example; {elapsed:.0f} s).",
        "",
        f"**Mutation score: {len(killed)}/{len(results)} killed** "
        f"(core tier alone: {len(core_killed)}/{len(core_mutants)} of the core-tier mutants).",
        "",
        f"Survivors: {', '.join(sorted(set(results) - set(killed))) or 'none'}.",
        "",
        "## Which properties kill which mutant",
        "",
        "Declared killers (asserted by `tests/test_mutants.py`) are in **bold**.",
        "",
        "| mutant | tier | bug | killed by |",
        "|---|---|---|---|",
    ]
    for name, m in mutants.items():
        ks = [p for p in names if not results[name][p].passed]
        shown = ", ".join(f"**{p}**" if p in m.killers else p for p in ks) or "**SURVIVED**"
        errs = [p for p in ks if results[name][p].kind != FAILED]
        if errs:
            shown += f" (error, not a failure: {', '.join(errs)})"
        out.append(f"| `{name}` | {m.tier} | {m.bug.replace('|', '/')} | {shown} |")
    out += ["", "## Kills per property", "", "| property | tier | mutants killed | sole killer of |", "|---|---|---|---|"]
    for p in names:
        ks = [n for n in results if not results[n][p].passed]
        sole = [n for n in ks if sum(not o.passed for o in results[n].values()) == 1]
        out.append(f"| `{p}` | {tier[p]} | {len(ks)} | {', '.join(f'`{n}`' for n in sole)} |")
    out += ["", "## Matrix", "", "Columns: " + ", ".join(f"{code[p]} = `{p}`" for p in names) + ".", ""]
    out.append("| mutant | " + " | ".join(code[p] for p in names) + " |")
    out.append("|---|" + "---|" * len(names))
    for name in results:
        out.append(f"| `{name}` | " + " | ".join("x" if not results[name][p].passed else "" for p in names) + " |")
    out += ["", "## Controls (must pass every property)", ""]
    for cname, r in control_results.items():
        bad = [p for p, o in r.items() if not o.passed]
        skipped = [p for p, o in r.items() if o.kind == "skipped"]
        out.append(f"- `{cname}`: {'rejected by ' + ', '.join(bad) if bad else 'passes every property'}"
                   + (f" (skipped: {', '.join(skipped)})" if skipped else ""))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
