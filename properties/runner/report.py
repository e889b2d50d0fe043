"""Conformance reports: one verdict per property and the findings they add up to, as JSON (``--conformance-report``)
and Markdown (``--conformance-markdown``), written by the process that owns the session (the xdist controller under
``-n``). The user-facing description is ``docs/report.md``.

Schema version 2 (a contract: ``composed-check --report`` writes the same; a change of meaning bumps ``schema``)::

    {"schema": 2,
     "implementation": SPEC,
     "provenance": {"suite": "0.1.0", "python": "3.12.3", "jax": ..., "jaxlib": ..., "flax": ..., "hypothesis": ...,
                    "numpy": ...,                 # versions, null when not installed
                    "profile": "ci",              # the Hypothesis profile in effect
                    "seed": 1234 | null,          # --hypothesis-seed (or the CLI's --seed); null: none given
                    "derandomize": true,          # the profile derives each property's examples from its name
                    "started": "2026-12-06T20:38:47Z",  # UTC
                    "platform": "Linux-6.8-x86_64-with-glibc2.39"},
     "tiers": ["core", "strict"],                # tiers of the selected properties
     "findings": [{"id": "nonnegative_and_finite",   # the property that names the cause
                   "tier": "core",
                   "message": "...",              # its failure, as in "properties"
                   "counterexample": {...} | null,
                   "repro": "python source" | null,
                   "explains": ["matches_oracle", "grid[B1-F2-N3]", ...]},  # other failures with this cause
                  ...],                           # most telling first
     "properties": [{"id": "matches_oracle",      # test name without "test_"; grid cells as "grid[B1-F2-N3]"
                     "tier": "core",
                     "outcome": "passed" | "failed" | "error" | "xfailed" | "skipped",
                     "examples": 25,              # Hypothesis examples run (int; 0 when none ran)
                     "examples_cut": 0,           # examples drawn but not run: the example budget of a slow
                                                  # implementation (properties.harness.budget); 0 when none
                     "seconds": 1.23,             # setup + call + teardown (until the crash for a crashed worker)
                     "message": "",               # why it failed / was skipped ("XPASS ..." for a listed property
                                                  # that passed)
                     "counterexample": {...} | null,   # the minimal failing case, JSON-friendly
                     "repro": "python source" | null,  # copy-paste snippet reproducing it
                     "raised": false,             # a failure because the implementation raised (or crashed)
                     "oracle_mismatch": true | false | null,  # its plain call on the counterexample differs from
                                                  # the oracle (null: not a plain call, or not known)
                     "finding": "nonnegative_and_finite" | null},  # the finding that reports it (failures only)
                    ...],
     "summary": {"passed": n, "failed": n, "error": n, "xfailed": n, "skipped": n, "total": n, "findings": n,
                 "examples": n, "examples_cut": n, "seconds": s, "wall_seconds": s},
     "integrity": {"files": n,                   # the suite's own files hashed at the start (runner/integrity.py)
                   "changed": [...]} | null,    # what changed during the run: non-empty voids the verdict
     "isolation": {"platform": "linux", "kernel": "6.8.0", "landlock_abi": 7,   # what the candidate processes and
                   "protections": {"fs_write": {"in_force": true, "reason": "..."}, ...},  # the checking ones had
                   "missing": ["tcp", ...]} | null}                   # in force (properties.runner.isolation)

Every selected property of the suite appears exactly once (``summary.total`` is their number); one that never
reported (the session was interrupted, too many workers crashed) is an ``error`` saying so. Only items of this
package's ``test_*.py`` modules are reported, whatever else the session runs.

Findings group the failures by cause (:func:`findings`): one check family (grid cells and boundary cases run
``matches_oracle``'s check), and every failure whose counterexample the oracle already rejects (its plain call differs
from the oracle there, recorded as ``oracle_mismatch``). Each group is one finding, named by its most telling member
(:data:`DIAGNOSIS`).

With ``--conformance-progress`` the session also prints one line per finished property on stdout, ``@@composed@@``
followed by JSON (the ``composed-check`` CLI reads these).
"""

from __future__ import annotations

import json
import os
import platform
import re
import time
from pathlib import Path, PurePath

import pytest

from properties.harness import processes
from properties.harness.tiers import TIERS

SCHEMA = 2
SUITE_DIR = Path(__file__).resolve().parent.parent  # where the test_*.py modules of the suite are
OUTCOMES = ("passed", "failed", "error", "xfailed", "skipped")
PROGRESS_PREFIX = "@@composed@@ "
MAX_MESSAGE = 2000
#: Lines where Hypothesis's own notes start (the counterexample and repro fields carry that information).
_NOTE_MARKERS = ("Failing test case", "Falsifying example", "Falsifying explicit example", "Failing explicit example",
                 "Failing example", "Explanation:",
                 "You can reproduce this", "Unreliable test timings", "While generating examples")


def suite_files() -> set[str]:
    return {p.name for p in SUITE_DIR.glob("test_*.py")}


def property_id(nodeid: str) -> str:
    """``.../test_properties.py::test_matches_oracle`` -> ``matches_oracle``; ``test_grid[B1-F2-N3]`` ->
    ``grid[B1-F2-N3]``."""
    name = nodeid.rsplit("::", 1)[-1]
    base, bracket, params = name.partition("[")
    if base.startswith("test_"):
        base = base[len("test_"):]
    return base + bracket + params


def is_suite_path(path) -> bool:
    try:
        p = Path(path).resolve()
    except OSError:
        return False
    return p.parent == SUITE_DIR and p.name.startswith("test_") and p.suffix == ".py"


def tier_of(prop_id: str, keywords=()) -> str | None:
    """The tier of a property: from the item's markers if known, else from the registry."""
    for tier in TIERS:
        if tier in keywords:
            return tier
    try:
        from properties.runner.plan import tier

        return tier(prop_id)  # a property's, or its case set's (grid, boundary, ...)
    except Exception:  # noqa: BLE001
        return None


def _trim(text: str) -> str:
    lines = []
    for line in str(text).splitlines():
        if line.strip().startswith(_NOTE_MARKERS):
            break
        if lines and line.startswith("assert "):  # pytest's assertion introspection after the property's own message
            break
        lines.append(line.rstrip())
    while lines and not lines[-1].strip():
        lines.pop()
    out = "\n".join(lines).strip()
    return out if len(out) <= MAX_MESSAGE else out[: MAX_MESSAGE - 15] + " ... [truncated]"


def _message(rep) -> str:
    lr = rep.longrepr
    if lr is None:
        return ""
    if isinstance(lr, tuple) and len(lr) == 3:  # a skip: (path, lineno, reason)
        reason = str(lr[2])
        return reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason
    crash = getattr(lr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return _trim(crash.message)
    return _trim(str(lr))


def _user_props(rep) -> dict:
    out = {}
    for pair in getattr(rep, "user_properties", None) or ():
        try:
            key, value = pair
        except (TypeError, ValueError):
            continue
        out[key] = value
    return out


def _decoded(value):
    """The counterexample travels as JSON text (see the plugin's makereport); older reports may hold the dict."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class _Entry:
    def __init__(self, nodeid: str, tier: str | None = None):
        self.nodeid = nodeid
        self.id = property_id(nodeid)
        self.tier = tier
        self.reports: dict = {}
        self.crash: str | None = None
        self.start: float | None = None
        self.seconds = 0.0
        self.extra: dict = {}
        self.done = False

    def add(self, rep) -> None:
        self.reports[rep.when] = rep
        self.seconds += float(getattr(rep, "duration", 0.0) or 0.0)
        self.extra.update(_user_props(rep))
        if self.tier is None:
            self.tier = tier_of(self.id, getattr(rep, "keywords", None) or ())

    def verdict(self, stopped: str | None = None) -> tuple[str, str]:
        if self.crash:
            return "failed", self.crash
        setup, call, teardown = (self.reports.get(w) for w in ("setup", "call", "teardown"))
        if not self.reports:
            if stopped:  # the run was stopped on purpose (Ctrl-C, --exitfirst, --max-failures)
                return "skipped", f"not run: {stopped}"
            return "error", "not run: the session ended before this property reported (too many crashed workers, " \
                            "or an internal error)"
        if setup is not None and setup.failed:
            return "error", "error in setup: " + _message(setup)
        if setup is not None and setup.skipped:
            return ("xfailed" if hasattr(setup, "wasxfail") else "skipped"), _message(setup)
        if call is None:
            if stopped:  # it was running when the run was stopped: no verdict, like the ones that never started
                return "skipped", f"not run to the end: {stopped}"
            if teardown is not None and teardown.failed:
                return "error", "error in teardown: " + _message(teardown)
            return "error", "did not finish (no result for the test itself)"
        if call.failed:
            return "failed", _message(call)
        if call.skipped:
            if hasattr(call, "wasxfail"):
                return "xfailed", f"XFAIL ({call.wasxfail}): {_message(call)}".rstrip(": ")
            return "skipped", _message(call)
        if teardown is not None and teardown.failed:
            return "error", "error in teardown: " + _message(teardown)
        if hasattr(call, "wasxfail"):
            return "passed", f"XPASS: expected to fail ({call.wasxfail}) but passed; remove it from the xfails file"
        return "passed", ""

    def as_dict(self, stopped: str | None = None) -> dict:
        outcome, message = self.verdict(stopped)
        if outcome == "failed" and self.extra.get("composed_shrink_note"):
            message = f"{message}\n  ({self.extra['composed_shrink_note']})"
        first = self.extra.get("composed_first_failure")
        if outcome == "failed" and first and "Flaky" in message:
            # Hypothesis saw a failure that did not happen again when it replayed the case: report that failure
            message = _trim(first) + "\n  (the same case passed when it was tried again: the implementation does " \
                "not behave the same way twice)"
        examples = self.extra.get("composed_examples")
        return {
            "id": self.id,
            "tier": self.tier if self.tier is not None else tier_of(self.id),
            "outcome": outcome,
            "examples": int(examples) if isinstance(examples, (int, float)) else 0,
            "examples_cut": int(self.extra.get("composed_examples_cut") or 0),  # issue 17: harness.budget
            "seconds": round(self.seconds, 3),
            "message": message,
            "counterexample": _decoded(self.extra.get("composed_counterexample"))
            if outcome in ("failed", "xfailed") else None,
            "repro": self.extra.get("composed_repro") if outcome in ("failed", "xfailed") else None,
            "raised": bool(self.extra.get("composed_raised")) if outcome == "failed" else False,
            "oracle_mismatch": self.extra.get("composed_oracle_mismatch") if outcome == "failed" else None,
            "finding": None,
        }


#: Which failing property names a cause best, most telling first. When failures share a cause, the first of these
#: among them names the finding; findings are listed in this order too. A property that checks one thing (how the
#: seed is read, that the output is not negative) tells more than the oracle comparison, which any wrong number fails;
#: the transforms, form and contract checks follow it. Ids not listed come after, in run order.
DIAGNOSIS = (
    "output_shape", "input_not_mutated", "deterministic",
    "seed_semantics", "seeds_wrap_modulo_2_32", "seed_truncates_toward_zero", "layers_truncate_toward_zero",
    "features_truncate_toward_zero", "float32_in_float32_out", "empty_batch",
    "rejects_every_violation", "rejects_invalid_arguments",
    "nonnegative_and_finite", "zero_input_gives_zero", "batch_permutation_equivariance", "batch_locality",
    "matches_oracle", "boundary", "grid", "dtypes", "zero_layers_is_identity", "positive_homogeneity",
    "nonfinite_rows_stay_in_their_row", "input_forms",
    "array_like_inputs", "sharded_batch", "jaxpr_constant_in_depth", "scan_body_is_batched_matmul",
    "jit_matches_eager", "vmap_matches_stacked_calls", "vjp_matches_oracle", "jvp_matches_oracle",
    "grad_matches_vjp", "jit_grad_matches_grad", "vmap_grad_matches_grad",
)
#: Checks whose failure upsets every other check: an output of the wrong form, a changed input, a call that depends
#: on the calls before it. The first of these that fails by its own assertion explains every other failure.
EXPLAINS_ALL = ("output_shape", "input_not_mutated", "deterministic")
#: When these fail because the implementation raised, they tell nothing of their own (every call raises there), so
#: they name a cause last.
_GENERAL_INPUTS = EXPLAINS_ALL
ORACLE = "matches_oracle"


def base_id(prop_id: str) -> str:
    return prop_id.split("[", 1)[0]


def _family(prop_id: str) -> str:
    from properties.runner.plan import family

    return family(prop_id)


def _rank(entry: dict, position: int) -> tuple:
    base = base_id(entry["id"])
    index = DIAGNOSIS.index(base) if base in DIAGNOSIS else len(DIAGNOSIS)
    if entry.get("raised") and base in _GENERAL_INPUTS:
        index = len(DIAGNOSIS)
    return (bool(entry.get("raised")), index, position)


def findings(entries: list[dict]) -> list[dict]:
    """Group the failed and errored ``entries`` by cause and return one finding per cause, most telling first; set
    each failure's ``finding`` to the id of the finding that reports it.

    A cause is one check family (:func:`properties.runner.pytest_items.family`: grid cells and boundary cases run
    ``matches_oracle``'s check), and the oracle: every failure whose counterexample the oracle already rejects
    (``oracle_mismatch``) joins ``matches_oracle``'s group. Elsewhere, failures where the implementation raised the
    same exception type share a cause (e.g. a NumPy conversion of a tracer under jit, vmap and grad). The first of
    :data:`EXPLAINS_ALL` that fails by its own assertion explains every failure. Each group is named by its first
    member in the order of :func:`_rank`: failures where the implementation raised after the others, then
    :data:`DIAGNOSIS`, then run order.
    """
    failed = {e["id"] for e in entries if e["outcome"] == "failed" and not e.get("raised")}
    state = next((pid for pid in EXPLAINS_ALL if pid in failed), None)
    groups: dict[str, list[tuple[tuple, dict]]] = {}
    for position, e in enumerate(entries):
        if e["outcome"] not in ("failed", "error"):
            continue
        key = _family(e["id"])
        exception = re.search(r"implementation raised (\w+)|^[\w.]*\b(CallTimeout)\b", e["message"].split("\n", 1)[0])
        if e["outcome"] == "failed" and e.get("raised") and exception:
            key = "raised " + (exception.group(1) or exception.group(2))
        if e["outcome"] == "failed" and e.get("oracle_mismatch"):
            key = ORACLE
        if state is not None and e["outcome"] == "failed":
            key = state
        groups.setdefault(key, []).append((_rank(e, position), e))
    out = []
    for members in groups.values():
        members.sort(key=lambda pair: pair[0])
        rank, head = members[0]
        for _, e in members:
            e["finding"] = head["id"]
        out.append((rank, {
            "id": head["id"], "tier": head["tier"], "outcome": head["outcome"], "message": head["message"],
            "counterexample": head.get("counterexample"), "repro": head.get("repro"),
            "explains": [e["id"] for _, e in members[1:]],
        }))
    return [f for _, f in sorted(out, key=lambda pair: pair[0])]


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def provenance(config=None, started: float | None = None) -> dict:
    """Where a report comes from: the suite's and its dependencies' versions, the Hypothesis profile and seed, the
    start time (UTC) and the platform. ``config``: the pytest config, for ``--hypothesis-seed``."""
    profile, derandomize = None, None
    try:
        from hypothesis import settings

        profile = settings.get_current_profile_name()
        derandomize = bool(settings.default.derandomize)
    except Exception:  # noqa: BLE001 - Hypothesis missing or not configured: unknown
        pass
    seed = None
    if config is not None:
        try:
            seed = config.getoption("hypothesis_seed")
        except (ValueError, AttributeError):
            seed = None
    stamp = time.gmtime(time.time() if started is None else started)
    return {
        "suite": _version("composed"),
        "python": platform.python_version(),
        **{name: _version(name) for name in ("jax", "jaxlib", "flax", "hypothesis", "numpy")},
        "profile": profile,
        "seed": int(seed) if isinstance(seed, (int, str)) and str(seed).lstrip("-").isdigit() else seed,
        "derandomize": derandomize,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", stamp),
        "platform": platform.platform(),
    }


def _unexplained_not_run(entries: list[dict]) -> None:
    """A property is "not run" only because of something that failed (a hang, ``-x``): when nothing failed, such a skip
    has no cause in this run (the shared run state was written by something else), so it is an error, never a pass."""
    if any(e["outcome"] in ("failed", "error") for e in entries):
        return
    for e in entries:
        if e["outcome"] == "skipped" and e["message"].startswith(("not run: the implementation hangs",
                                                                  "not run: the run stopped early")):
            e["outcome"] = "error"
            e["message"] = ("not run, and nothing in this run failed to explain it (was the run's shared state "
                            "written by another process?): " + e["message"])


def build(spec: str, entries: list[dict], wall_seconds: float | None = None, provenance: dict | None = None,
          isolation: dict | None = None, integrity: dict | None = None) -> dict:
    _unexplained_not_run(entries)
    summary = {k: 0 for k in OUTCOMES}
    for e in entries:
        summary[e["outcome"]] += 1
    found = findings(entries)
    summary["total"] = len(entries)
    summary["findings"] = len(found)
    summary["examples"] = sum(e["examples"] for e in entries)
    summary["examples_cut"] = sum(e.get("examples_cut", 0) for e in entries)  # issue 17
    summary["seconds"] = round(sum(e["seconds"] for e in entries), 3)
    if wall_seconds is not None:
        summary["wall_seconds"] = round(wall_seconds, 3)
    tiers = [t for t in TIERS if any(e["tier"] == t for e in entries)]
    return {"schema": SCHEMA, "implementation": spec, "provenance": provenance or {}, "tiers": tiers,
            "findings": found, "properties": entries, "summary": summary, "isolation": isolation,
            "integrity": integrity}


def verdict_line(report: dict) -> str:
    s = report["summary"]
    ok = s["failed"] == 0 and s["error"] == 0 and s["total"] > 0
    counts = ", ".join(f"{s[k]} {k}" for k in OUTCOMES)
    wall = s.get("wall_seconds", s["seconds"])
    if (report.get("integrity") or {}).get("changed"):  # the suite's files changed: no verdict
        return f"VOID (the suite's files changed during the run): {counts}"
    found = s.get("findings")
    head = "PASSED: " if ok else "FAILED: " + (f"{found} finding{'s' * (found != 1)}; " if found else "")
    cut = (f"; {s['examples_cut']} not run: the example budget of a slow implementation"
           if s.get("examples_cut") else "")
    return f"{head}{counts} ({s['total']} properties, {s['examples']} examples{cut}, {wall:.1f} s)"


def text_table(report: dict) -> str:
    rows = [("property", "tier", "verdict", "examples", "time")]
    for p in report["properties"]:
        rows.append((p["id"], str(p["tier"]), p["outcome"], str(p["examples"]), f"{p['seconds']:.2f}s"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for n, r in enumerate(rows):
        cells = ((c.rjust(w) if i >= 3 else c.ljust(w)) for i, (c, w) in enumerate(zip(r, widths)))
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _first_line(text: str, width: int = 150) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    line = line.removeprefix("AssertionError: ")
    return line if len(line) <= width else line[: width - 3] + "..."


def explained_lines(report: dict, finding: dict) -> list[str]:
    """One line per property a finding explains; the cells of a family (grid, boundary) share one line."""
    by_id = {p["id"]: p for p in report["properties"]}
    cells: dict[str, list[str]] = {}
    for pid in finding["explains"]:
        cells.setdefault(base_id(pid), []).append(pid)
    lines = []
    for base, ids in cells.items():
        if len(ids) == 1 and ids[0] == base:
            lines.append(f"{base}: {_first_line(by_id[base]['message'], 110)}")
        else:
            names = ", ".join(pid[len(base) + 1: -1] for pid in ids[:4]) + (", ..." if len(ids) > 4 else "")
            lines.append(f"{base}: {len(ids)} failed ({names})")
    return lines


def _message_lines(message: str, limit: int = 12) -> list[str]:
    lines = [ln for ln in (message or "").strip().splitlines() if not ln.strip().startswith("(not shrunk: ")]
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more lines in the report)"]
    return lines


def finding_text(report: dict) -> str:
    """The findings for a terminal: each with its message, one reproduction and the failures it explains."""
    found = report.get("findings") or []
    out = []
    for n, f in enumerate(found, 1):
        out.append(f"--- finding {n}/{len(found)}: {f['id']} ({f['tier']}): {f['outcome']}")
        out += ["    " + ln for ln in _message_lines(f["message"])]
        if f.get("repro"):
            out.append("  reproduce with:")
            out += ["    " + ln for ln in f["repro"].rstrip().splitlines()]
        elif f.get("counterexample"):
            out.append("  counterexample: " + json.dumps(f["counterexample"], default=repr)[:400])
        if f["explains"]:
            out.append(f"  also failing, with the same cause ({len(f['explains'])}):")
            out += ["    " + ln for ln in explained_lines(report, f)]
    return "\n".join(out)


def markdown(report: dict) -> str:
    found = report.get("findings") or []
    lines = [
        f"## Conformance of `{report['implementation']}` (tiers: {', '.join(report['tiers']) or 'none'})",
        "",
        f"**{verdict_line(report)}**",
    ]
    for n, f in enumerate(found, 1):
        lines += ["", f"### Finding {n}: `{f['id']}` ({f['tier']}): {f['outcome']}", "", "```text",
                  "\n".join(_message_lines(f["message"], 40)), "```"]
        if f.get("repro"):
            lines += ["", "Reproduce:", "", "```python", f["repro"].rstrip(), "```"]
        if f["explains"]:
            lines += ["", f"Also failing, with the same cause ({len(f['explains'])}):", ""]
            lines += [f"- {ln}" for ln in explained_lines(report, f)]
    prov = report.get("provenance") or {}
    if prov:
        keys = ("suite", "jax", "flax", "hypothesis", "profile", "seed", "started", "platform")
        lines += ["", "Run: " + ", ".join(f"{k} `{prov.get(k)}`" for k in keys if k in prov)]
    lines += ["", "<details><summary>Every property</summary>", "",
              "| property | tier | verdict | examples | time |", "|---|---|---|---:|---:|"]
    for p in report["properties"]:
        verdict = p["outcome"] if p["outcome"] in ("passed", "skipped", "xfailed") else f"**{p['outcome']}**"
        if p.get("finding") and p["finding"] != p["id"]:
            verdict += f" (see `{p['finding']}`)"
        lines.append(f"| `{p['id']}` | {p['tier']} | {verdict} | {p['examples']} | {p['seconds']:.2f} s |")
    lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _escape(text: str, *, prop: bool = False) -> str:
    """GitHub Actions workflow-command escaping (``%``, CR, LF; also ``:`` and ``,`` in a property)."""
    text = str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def github_annotations(report: dict) -> list[str]:
    """One ``::error`` workflow command per finding (GitHub Actions shows them on the run's page)."""
    out = []
    for f in report.get("findings") or []:
        more = len(f["explains"])
        title = f"composed-check: {f['id']}" + (f" (+{more} with the same cause)" if more else "")
        body = "\n".join(_message_lines(f["message"], 8))
        out.append(f"::error title={_escape(title, prop=True)}::{_escape(body)}")
    return out


def github_summary(report: dict, environ=None) -> str | None:
    """Append the Markdown to ``$GITHUB_STEP_SUMMARY`` when it is set; return its path (None when not set)."""
    path = (os.environ if environ is None else environ).get("GITHUB_STEP_SUMMARY")
    if not path:
        return None
    with open(path, "a", encoding="utf-8") as f:
        f.write(markdown(report) + "\n")
    return path


def on_github(environ=None) -> bool:
    return (os.environ if environ is None else environ).get("GITHUB_ACTIONS") == "true"


def write(report: dict, json_path: str | None, md_path: str | None) -> None:
    for path, text in ((json_path, lambda: json.dumps(report, indent=2, default=repr) + "\n"),
                       (md_path, lambda: markdown(report))):
        if not path:
            continue
        target = Path(path)
        if target.parent and not target.parent.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text(), encoding="utf-8")
        os.replace(tmp, target)


class ReportPlugin:
    """Collects the suite's test reports in the session-owning process and writes the report at the end."""

    def __init__(self, config, spec: str, json_path: str | None, md_path: str | None, progress: bool):
        self.config = config
        self.spec = spec
        self.json_path = json_path
        self.md_path = md_path
        self.progress = progress
        self.entries: dict[str, _Entry] = {}
        self.order: list[str] = []
        self.expected_known = False
        self.node_exits: dict[str, str] = {}
        self.stopped: str | None = None  # why the run stopped before every property ran, if it did
        self.warned: set[str] = set()
        self.session = None
        self.started = time.time()
        self.finished = 0
        self._files = suite_files()
        self._suite_cache: dict[str, bool] = {}

    # -- which items are ours ---------------------------------------------------------------------------------------
    def _is_suite_nodeid(self, nodeid: str) -> bool:
        fspart = nodeid.split("::", 1)[0]
        if fspart in self._suite_cache:
            return self._suite_cache[fspart]
        result = False
        if PurePath(fspart).name in self._files:
            bases = [self.config.rootpath]
            if self.session is not None:
                for p in getattr(self.session, "_initialpaths", ()) or ():
                    p = Path(p)
                    bases += [p] if p.is_dir() else [p.parent]
            bases.append(Path(self.config.invocation_params.dir))
            for base in bases:
                candidate = Path(base) / fspart
                if candidate.exists():
                    result = is_suite_path(candidate)
                    break
            else:
                # ``--pyargs properties`` outside the rootdir: node ids are relative to the package directory itself,
                # which the xdist controller (it collects nothing) cannot see among initial paths.
                result = is_suite_path(SUITE_DIR / fspart)
        self._suite_cache[fspart] = result
        return result

    def _entry(self, nodeid: str, tier: str | None = None) -> _Entry:
        entry = self.entries.get(nodeid)
        if entry is None:
            entry = self.entries[nodeid] = _Entry(nodeid, tier)
            self.order.append(nodeid)
        return entry

    # -- hooks ------------------------------------------------------------------------------------------------------
    def pytest_sessionstart(self, session):
        self.session = session
        self.started = time.time()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session):
        items = [i for i in session.items if is_suite_path(i.path)]
        if not items and not session.items:
            return  # the xdist controller collects nothing itself
        for item in items:
            tier = next((t for t in TIERS if item.get_closest_marker(t) is not None), None)
            self._entry(item.nodeid, tier)
        self.expected_known = True
        self._emit({"event": "collected", "total": len(self.order), "ids": [property_id(n) for n in self.order]})

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        if self.expected_known:
            return
        for nodeid in ids:
            if self._is_suite_nodeid(nodeid):
                self._entry(nodeid)
        self.expected_known = True
        self._emit({"event": "collected", "total": len(self.order), "ids": [property_id(n) for n in self.order]})

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error):
        if error is None:
            return
        code = _worker_exit_code(node)
        self.node_exits[node.gateway.id] = (
            f"the pytest worker {processes.describe_exit(code)} (the implementation runs in a candidate process of "
            "its own, so this is a crash of the suite itself, or of the implementation under --in-process)")

    def pytest_runtest_logstart(self, nodeid, location):
        if nodeid in self.entries or (not self.expected_known and self._is_suite_nodeid(nodeid)):
            entry = self._entry(nodeid)
            if entry.start is None:
                entry.start = time.time()
                self._emit({"event": "start", "id": entry.id})

    def pytest_runtest_logreport(self, report):
        if report.nodeid not in self.entries and not self._is_suite_nodeid(report.nodeid):
            return
        entry = self._entry(report.nodeid)
        if report.when not in ("setup", "call", "teardown"):  # xdist's report for the item a crashed worker ran
            node = getattr(report, "node", None)
            wid = getattr(getattr(node, "gateway", None), "id", None)
            cause = self.node_exits.get(wid, "")
            text = _message(report) or "the worker crashed"
            entry.crash = f"crashed: {text}" + (f": {cause}" if cause else "")
            if entry.start is not None:
                entry.seconds = max(entry.seconds, time.time() - entry.start)
            if entry.tier is None:
                entry.tier = tier_of(entry.id)
            self._finish(entry)
            return
        entry.add(report)
        if report.when == "teardown":
            self._finish(entry)

    def _finish(self, entry: _Entry) -> None:
        if entry.done:
            return
        entry.done = True
        self.finished += 1
        d = entry.as_dict()
        self._emit({"event": "result", "index": self.finished, "total": len(self.order), **{
            k: d[k] for k in ("id", "tier", "outcome", "examples", "examples_cut", "seconds", "message")}})

    def pytest_warning_recorded(self, warning_message, when, nodeid, location):
        from properties.runner.xfails import XfailsWarning

        category = getattr(warning_message, "category", None)
        text = str(warning_message.message)
        is_ours = (isinstance(category, type) and issubclass(category, XfailsWarning)) or text.startswith(
            "xfails file ")
        if is_ours and text not in self.warned:
            self.warned.add(text)
            self._emit({"event": "warning", "message": text})

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        if int(exitstatus) == int(pytest.ExitCode.INTERRUPTED):
            self.stopped = "the run was interrupted (Ctrl-C)"
        elif session.shouldfail or session.shouldstop:
            reason = session.shouldfail or session.shouldstop
            self.stopped = f"the run stopped early ({reason})" if isinstance(reason, str) else "the run stopped early"
        report = self.report()
        write(report, self.json_path, self.md_path)
        if not self.progress and on_github():  # plain pytest under GitHub Actions (the CLI does this itself)
            tr = self.config.pluginmanager.get_plugin("terminalreporter")
            for line in github_annotations(report):
                tr.write_line(line) if tr is not None else print(line, flush=True)
            github_summary(report)
        self._emit({"event": "done", "summary": report["summary"], "exitstatus": int(exitstatus)})

    def report(self) -> dict:
        entries = [self.entries[n].as_dict(self.stopped) for n in self.order]
        # -- suite self-check (issue 14): the files checked, and what changed (voids the verdict) --
        from properties.runner import integrity

        snapshot = getattr(self.config, "_composed_integrity", None)
        changes = getattr(self.config, "_composed_tampered", None)
        if snapshot is not None and changes is None:
            changes = self.config._composed_tampered = snapshot.changes()
        # -- end suite self-check --
        from properties.runner.isolation import report_object  # isolation (issue 14)

        origin = provenance(self.config, self.started)
        seed = getattr(self, "seed", None)  # Hypothesis's seed of the run (--seed)
        if seed is not None:
            origin["seed"] = seed
        report = build(self.spec, entries, time.time() - self.started, origin, report_object(self.config),
                       integrity.section(snapshot, changes or []))
        report["seed"] = seed
        return report

    def _emit(self, event: dict) -> None:
        if not self.progress:
            return
        line = PROGRESS_PREFIX + json.dumps(event, default=repr)
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.write_line(line)
        else:
            print(line, flush=True)


def _worker_exit_code(node, wait: float = 5.0) -> int | None:
    """The exit status of an xdist worker's process (negative: killed by that signal), if it can be had."""
    try:
        popen = node.gateway._io.popen  # execnet's Popen2IOMaster
    except AttributeError:
        return None
    try:
        return popen.wait(timeout=wait)
    except Exception:  # noqa: BLE001
        return popen.poll()
