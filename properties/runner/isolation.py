"""The isolation of a run, for the pytest plugin and the CLI: ``--require-isolation``, the header line, the report's
``isolation`` object.

Each pytest process makes itself non-dumpable at configuration (not under ``--in-process``). The process that owns
the run (the xdist controller, or the only pytest process) measures what a candidate process gets on this machine
(:func:`properties.sandbox.confine.probe`) before any candidate starts: the header says it, and with
``--require-isolation`` a missing protection ends the run at once with :attr:`Exit.ISOLATION_MISSING` (no verdict).
Every candidate process then sends the record of what it put in force; a pytest process passes it (with its own
non-dumpable state) to the owner on a test report, once, and the report's ``isolation`` object is the merge of all of
them (a protection is in force only where it was in force everywhere). A candidate process started with
``--require-isolation`` that cannot put every protection in force refuses to load the implementation.
"""

from __future__ import annotations

import json

import pytest

from properties.harness import isolation
from properties.runner.exitcodes import Exit
from properties.sandbox import confine

OPTION = "--require-isolation"
HELP = ("fail the run with exit status %d, instead of giving a verdict, when a protection of the candidate process "
        "(Landlock filesystem, network, signal and ptrace rules, no_new_privs, no capabilities) or the checking "
        "processes' non-dumpable state is not in force here (for CI gates on untrusted code)"
        % int(Exit.ISOLATION_MISSING))
#: The user property that carries a pytest process's record to the process that owns the run.
USER_PROPERTY = "composed_isolation"


class Collector:
    """In the process that owns the run: the probe's record and the records the candidates sent."""

    def __init__(self, config, probe: dict):
        self.config = config
        self.probe = probe
        self.records: dict[str, dict] = {}

    def record(self) -> dict | None:
        """The candidates' records (their reasons first), then the probe's."""
        return isolation.merge([*self.records.values(), self.probe])

    def pytest_runtest_logreport(self, report):
        for pair in getattr(report, "user_properties", None) or ():
            if isinstance(pair, (tuple, list)) and len(pair) == 2 and pair[0] == USER_PROPERTY:
                try:
                    self.records.setdefault(pair[1], json.loads(pair[1]))
                except (TypeError, ValueError):
                    pass

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        if not self.config.getoption("require_isolation"):
            return
        message = isolation.require_message(self.record())
        if message:
            tr = self.config.pluginmanager.get_plugin("terminalreporter")
            if tr is not None:
                tr.write_line(message)
            session.exitstatus = int(Exit.ISOLATION_MISSING)


def configure(config) -> None:
    """``pytest_configure``: protect this process; in the run's owner, probe, collect, and enforce ``OPTION``."""
    in_process = config.getoption("in_process")
    if not in_process:
        isolation.protect_checker()
    if hasattr(config, "workerinput"):
        return
    if in_process:
        why = "--in-process: the implementation runs in the checking process"
        probe = isolation.with_checker(confine.none_in_force(why), (False, why))
    else:
        probe = isolation.with_checker(confine.probe())
    collector = config._composed_isolation = Collector(config, probe)
    config.pluginmanager.register(collector, "composed-isolation")
    if config.getoption("require_isolation"):
        message = isolation.require_message(probe)
        if message:
            pytest.exit(message, returncode=int(Exit.ISOLATION_MISSING))


def attach(item) -> None:
    """On this process's first report after its candidate started (and after any change): the candidate's record with
    this process's own state, for the run's owner."""
    handle = getattr(item.config, "_composed_candidate", None)
    rec = getattr(handle, "isolation", None)
    if rec is None:
        return
    text = json.dumps(isolation.with_checker(rec), sort_keys=True)
    sent = item.config.__dict__.setdefault("_composed_isolation_sent", set())
    if text not in sent:
        sent.add(text)
        item.user_properties.append((USER_PROPERTY, text))


def header(config) -> str | None:
    collector = getattr(config, "_composed_isolation", None)
    return None if collector is None else "composed: " + isolation.summary(collector.record())


def report_object(config) -> dict | None:
    """The report's ``isolation`` object: ``{"platform", "kernel", "landlock_abi", "protections": {name: {"in_force",
    "reason"}}, "missing": [names]}``."""
    collector = getattr(config, "_composed_isolation", None)
    rec = None if collector is None else collector.record()
    if rec is None:
        return None
    return dict(rec, missing=sorted(isolation.missing(rec)))
