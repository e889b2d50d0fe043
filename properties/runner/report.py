"""Conformance reports: one verdict per property, as JSON (``--conformance-report``) and Markdown
(``--conformance-markdown``), written by the process that owns the session (the xdist controller under ``-n``).

Schema (a contract: ``composed-check --report`` writes the same)::

    {"implementation": SPEC,
     "tiers": ["core", "strict"],                # tiers of the selected properties
     "properties": [{"id": "matches_oracle",      # test name without "test_"; grid cells as "grid[B1-F2-N3]"
                     "tier": "core",
                     "outcome": "passed" | "failed" | "error" | "xfailed" | "skipped",
                     "examples": 25,              # Hypothesis examples run (int; 0 when none ran)
                     "seconds": 1.23,             # setup + call + teardown (until the crash for a crashed worker)
                     "message": "",               # why it failed / was skipped ("XPASS ..." for a listed property
                                                  # that passed)
                     "counterexample": {...} | null,   # the minimal failing case, JSON-friendly
                     "repro": "python source" | null}, # copy-paste snippet reproducing it
                    ...],
     "summary": {"passed": n, "failed": n, "error": n, "xfailed": n, "skipped": n, "total": n,
                 "examples": n, "seconds": s, "wall_seconds": s}}

Every selected property of the suite appears exactly once (``summary.total`` is their number); one that never
reported (the session was interrupted, too many workers crashed) is an ``error`` saying so. Only items of this
package's ``test_*.py`` modules are reported, whatever else the session runs.

With ``--conformance-progress`` the session also prints one line per finished property on stdout, ``@@composed@@``
followed by JSON (the ``composed-check`` CLI reads these).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path, PurePath

import pytest

from properties.harness import processes
from properties.invariants.base import CORE, TIERS

SUITE_DIR = Path(__file__).resolve().parent.parent  # where the test_*.py modules of the suite are
OUTCOMES = ("passed", "failed", "error", "xfailed", "skipped")
PROGRESS_PREFIX = "@@composed@@ "
MAX_MESSAGE = 2000
#: Lines where Hypothesis's own notes start (the counterexample and repro fields carry that information).
_NOTE_MARKERS = ("Failing test case", "Falsifying example", "Falsifying explicit example", "Explanation:",
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
    base = prop_id.split("[", 1)[0]
    if base in ("grid", "boundary"):
        return CORE
    if base == "transforms_boundary":
        return "transforms"
    try:
        from properties.invariants import PROPERTIES

        found = PROPERTIES.get(base)
    except Exception:  # noqa: BLE001
        found = None
    return found.tier if found is not None else None


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
            "seconds": round(self.seconds, 3),
            "message": message,
            "counterexample": _decoded(self.extra.get("composed_counterexample"))
            if outcome in ("failed", "xfailed") else None,
            "repro": self.extra.get("composed_repro") if outcome in ("failed", "xfailed") else None,
        }


def build(spec: str, entries: list[dict], wall_seconds: float | None = None) -> dict:
    summary = {k: 0 for k in OUTCOMES}
    for e in entries:
        summary[e["outcome"]] += 1
    summary["total"] = len(entries)
    summary["examples"] = sum(e["examples"] for e in entries)
    summary["seconds"] = round(sum(e["seconds"] for e in entries), 3)
    if wall_seconds is not None:
        summary["wall_seconds"] = round(wall_seconds, 3)
    tiers = [t for t in TIERS if any(e["tier"] == t for e in entries)]
    return {"implementation": spec, "tiers": tiers, "properties": entries, "summary": summary}


def verdict_line(report: dict) -> str:
    s = report["summary"]
    ok = s["failed"] == 0 and s["error"] == 0 and s["total"] > 0
    counts = ", ".join(f"{s[k]} {k}" for k in OUTCOMES)
    wall = s.get("wall_seconds", s["seconds"])
    return (f"{'PASSED' if ok else 'FAILED'}: {counts} ({s['total']} properties, {s['examples']} examples, "
            f"{wall:.1f} s)")


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


def markdown(report: dict) -> str:
    lines = [
        f"## Conformance of `{report['implementation']}` (tiers: {', '.join(report['tiers']) or 'none'})",
        "",
        f"**{verdict_line(report)}**",
        "",
        "| property | tier | verdict | examples | time |",
        "|---|---|---|---:|---:|",
    ]
    for p in report["properties"]:
        verdict = p["outcome"] if p["outcome"] in ("passed", "skipped", "xfailed") else f"**{p['outcome']}**"
        lines.append(f"| `{p['id']}` | {p['tier']} | {verdict} | {p['examples']} | {p['seconds']:.2f} s |")
    bad = [p for p in report["properties"] if p["outcome"] in ("failed", "error")]
    if bad:
        lines += ["", "### Failures"]
        for p in bad:
            lines += ["", f"#### `{p['id']}` ({p['tier']}): {p['outcome']}", "", "```text", p["message"], "```"]
            if p.get("repro"):
                lines += ["", "Reproduce:", "", "```python", p["repro"].rstrip(), "```"]
    return "\n".join(lines) + "\n"


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
            k: d[k] for k in ("id", "tier", "outcome", "examples", "seconds", "message")}})

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
        self._emit({"event": "done", "summary": report["summary"], "exitstatus": int(exitstatus)})

    def report(self) -> dict:
        entries = [self.entries[n].as_dict(self.stopped) for n in self.order]
        return build(self.spec, entries, time.time() - self.started)

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
