"""``composed-check [SPEC]``: run the conformance suite against one implementation and print a verdict per property.

Also ``python -m composed`` and ``python -m properties``. The CLI is a thin driver: it runs pytest in a subprocess on
the installed ``properties`` package (one pytest process, or ``-n N`` pytest-xdist workers; the implementation runs in a
candidate process of each, never in pytest's), reads the ``@@composed@@`` progress lines and the JSON report the
plugin writes, and prints a table. It gives the run an id (``$COMPOSED_RUN``, kept if already set) and, when pytest has
exited, ends any process that still carries it.

Its options come from one table (:mod:`properties.runner.options`), shared with the pytest plugin; its exit status
from :mod:`properties.runner.exitcodes`. On a terminal a live line shows what runs (rewritten in place); otherwise
one plain line per finished property. ``NO_COLOR`` turns colour off. Nothing is written to the working directory
unless asked (``--report``, ``--markdown``, ``--junitxml``, ``--log``): Hypothesis's database and the
``--last-failed`` record live in the state directory (``--state-dir``).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from properties.harness import processes
from properties.runner import options
from properties.runner.exitcodes import MEANING, Exit

#: Seconds pytest gets to finish its report after a Ctrl-C before it is killed.
STOP_GRACE = 20.0
MAX_WORKER_RESTARTS = 500
#: The ANSI colour of each outcome on a terminal (unless ``NO_COLOR`` is set).
COLORS = {"passed": "32", "failed": "31", "error": "31", "skipped": "33", "xfailed": "33"}


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error exiting with :data:`Exit.USAGE` (argparse's own is 2, pytest's 4)."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(int(Exit.USAGE), f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="composed-check",
        description="Check an implementation of composed_transforms against the conformance suite. Arguments after "
        "'--' go to pytest unchanged.",
        epilog="exit status:\n" + "\n".join(f"  {int(code)}  {meaning}" for code, meaning in MEANING.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("impl", nargs="?", default=None, metavar="SPEC",
                   help=options.BY_DEST["impl"].describe() + "; under pytest: --impl SPEC")
    options.add_to_argparse(p)
    return p


def _split_extra(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def state_dir(spec: str) -> Path:
    """The default ``--state-dir`` of SPEC: ``$XDG_CACHE_HOME/composed/state/<SPEC>-<hash>``, the same from any
    working directory (a file SPEC counts by its absolute path)."""
    target, colon, attr = spec.rpartition(":") if re.search(r":[A-Za-z_][\w.]*$", spec) else (spec, "", "")
    if target.endswith(".py") or os.sep in target or "/" in target:
        spec = os.path.abspath(os.path.expanduser(target)) + colon + attr
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", spec)[-48:].strip("_")
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "composed" / "state" / f"{slug}-{hashlib.sha256(spec.encode()).hexdigest()[:10]}"


def pytest_command(args, report_path: str, ini_dir: str) -> list[str]:
    """The pytest command line of a run: the suite, the plugin, our own config in ``ini_dir`` (the caller's pytest.ini,
    conftest.py and cache stay out of it; pytest's cache, for ``--last-failed``, is kept there) and the options."""
    from properties.harness.processes import parse_size

    if args.max_memory != "auto":
        parse_size(args.max_memory)  # validate early (ValueError)
    workers = max(1, args.workers if args.workers is not None else options.default_workers())
    if workers == 1 and not args.in_process:
        parallel = ["-n", "0"]  # one pytest process: the candidate process is the isolation
    else:  # under --in-process a crash kills a worker, which xdist restarts
        parallel = ["-n", str(workers), "--max-worker-restart", str(MAX_WORKER_RESTARTS)]
    passed = argparse.Namespace(**vars(args))
    passed.report = report_path
    return [
        sys.executable, "-m", "pytest",
        "--pyargs", "properties",
        "-c", os.path.join(ini_dir, "pytest.ini"), "--rootdir", ini_dir, "--noconftest",
        "-o", f"cache_dir={os.path.join(ini_dir, 'pytest-cache')}",
        "-p", "properties.plugin", "-p", "xdist",
        *parallel,
        "--impl", args.impl,
        "--conformance-progress",
        "-q", "-rN", "--color=no",
        *options.pytest_args(passed),
    ]


def use_color(stream=None) -> bool:
    """Colour on a terminal, unless ``NO_COLOR`` is set (https://no-color.org) or the terminal is dumb."""
    stream = sys.stdout if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("NO_COLOR") and \
        os.environ.get("TERM") != "dumb"


def paint(text: str, outcome: str, color: bool) -> str:
    code = COLORS.get(outcome.lower())
    return f"\x1b[{code}m{text}\x1b[0m" if color and code else text


def _progress_line(ev: dict, color: bool = False) -> str:
    width = len(str(ev.get("total", 0)))
    word = paint(f"{ev['outcome'].upper():<7}", ev["outcome"], color)
    line = (f"[{ev.get('index', 0):>{width}}/{ev.get('total', 0)}] {word} {ev['id']:<36} "
            f"{str(ev.get('tier')):<6} {ev.get('examples', 0):>5} ex {ev.get('seconds', 0.0):7.2f}s")
    if ev.get("examples_cut"):  # issue 17: the example budget stopped this property early
        line += f"  (budget: {ev['examples_cut']} examples not run)"
    if ev["outcome"] in ("failed", "error") and ev.get("message"):
        first = ev["message"].strip().splitlines()[0]
        line += "\n" + " " * (width * 2 + 4) + (first if len(first) <= 160 else first[:157] + "...")
    return line


class Display:
    """What the run prints while it runs: a line per finished property and, on a terminal, a live line below them
    (done/total, elapsed, what runs now) rewritten in place with ``\\r``."""

    def __init__(self, quiet: bool, live: bool, color: bool):
        self.quiet, self.live, self.color = quiet, live and not quiet, color
        self.lock = threading.Lock()
        self.running: dict[str, float] = {}
        self.done = self.total = 0
        self.start = time.monotonic()
        self.shown = False
        self.stopped = threading.Event()
        if self.live:
            threading.Thread(target=self._tick, daemon=True).start()

    def event(self, ev: dict) -> None:
        with self.lock:
            kind = ev.get("event")
            if kind == "collected":
                self.total = ev.get("total", 0)
            elif kind == "start":
                self.running[ev.get("id", "?")] = time.monotonic()
            elif kind == "result":
                self.running.pop(ev.get("id"), None)
                self.done, self.total = ev.get("index", self.done + 1), ev.get("total", self.total)
                if not self.quiet:
                    self._clear()
                    print(_progress_line(ev, self.color), flush=True)
            self._draw()

    def write(self, text: str, stream=None) -> None:
        """Print ``text`` above the live line."""
        with self.lock:
            self._clear()
            print(text, file=stream or sys.stdout, flush=True)
            self._draw()

    def close(self) -> None:
        self.stopped.set()
        with self.lock:
            self._clear()
            self.live = False

    def _tick(self) -> None:
        while not self.stopped.wait(1.0):
            with self.lock:
                self._draw()

    def _draw(self) -> None:
        if not self.live:
            return
        now = time.monotonic()
        text = f"[{self.done}/{self.total or '?'}] {now - self.start:.0f} s"
        if self.running:
            current, since = max(self.running.items(), key=lambda kv: kv[1])
            more = f" (+{len(self.running) - 1} more)" if len(self.running) > 1 else ""
            text += f"  running {current} ({now - since:.0f} s){more}"
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        sys.stdout.write("\r\x1b[K" + text[:width])
        sys.stdout.flush()
        self.shown = True

    def _clear(self) -> None:
        if self.shown:
            sys.stdout.write("\r\x1b[K")
            sys.stdout.flush()
            self.shown = False


def _details(report: dict) -> str:
    """The findings: one per cause, each with its reproduction and the failures it explains (see ``docs/report.md``)."""
    from properties.runner.report import finding_text

    return finding_text(report)


def print_results(report: dict, args, interrupted: bool, color: bool = False) -> None:
    """The end of a run: the table (with -v), the findings, the verdict; under GitHub Actions also one ``::error``
    annotation per finding and the Markdown appended to ``$GITHUB_STEP_SUMMARY``."""
    from properties.runner.report import github_annotations, github_summary, on_github, text_table, verdict_line

    print()
    if args.verbose:
        print(text_table(report))
        print()
    details = _details(report)
    if details:
        print(details)
        print()
    line = verdict_line(report)
    if interrupted and line.startswith("PASSED"):  # nothing failed, but most of it never ran: no verdict
        line = "INTERRUPTED" + line[len("PASSED"):]
    word, _, tail = line.partition(":")
    line = paint(word, "passed" if word == "PASSED" else "failed", color) + ":" + tail
    print(f"composed-check {args.impl}: {line}" + (" (interrupted)" if interrupted else ""))
    prov = report.get("provenance") or {}
    if prov:
        seed = prov.get("seed")
        if seed is None:
            seed = "none: derandomized" if prov.get("derandomize") else "none: random"
        print(f"run: profile {prov.get('profile')}, seed {seed}, suite {prov.get('suite')}, jax {prov.get('jax')}, "
              f"started {prov.get('started')}")
    for name in ("report", "markdown", "junitxml"):
        if getattr(args, name, None):
            print(f"{name}: {getattr(args, name)}")
    if on_github():
        for annotation in github_annotations(report):
            print(annotation)
        github_summary(report)
    sys.stdout.flush()


def _read_output(proc, args, log_lines: list, prefix: str, display: Display) -> None:
    """Show a line per finished property (and the live line); keep the rest of pytest's output for the log."""
    for raw in proc.stdout:
        pos = raw.find(prefix)
        if pos >= 0:
            before = raw[:pos]
            if before.strip():
                log_lines.append(before + "\n")
            try:
                ev = json.loads(raw[pos + len(prefix):])
            except ValueError:
                log_lines.append(raw)
                continue
            if ev.get("event") == "warning":
                display.write(f"composed-check: warning: {ev.get('message')}", sys.stderr)
            else:
                display.event(ev)
            continue
        log_lines.append(raw)
        if args.verbose:
            display.write(raw.rstrip("\n"))


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """pytest ends when this process does, however it ends (Linux: PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, int(signal.SIGTERM), 0, 0, 0)
    except Exception:  # noqa: BLE001
        pass


def _stop(proc) -> int:
    """Pass one SIGINT to pytest's process group (pytest then reports what finished) and wait for it; kill it if it
    takes longer than :data:`STOP_GRACE`."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
    except (ProcessLookupError, PermissionError):
        pass
    while True:
        try:
            return proc.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            return proc.wait()
        except KeyboardInterrupt:  # a second Ctrl-C: stop now
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _isolation(args) -> tuple[str, str | None]:
    """Isolation (issue 14): make this process non-dumpable; the header's line about what a candidate process gets
    here, and the ``--require-isolation`` error if something is missing."""
    from properties.harness import isolation
    from properties.sandbox import confine

    if args.in_process:
        why = "--in-process: the implementation runs in the checking process"
        rec = isolation.with_checker(confine.none_in_force(why), (False, why))
    else:
        rec = isolation.with_checker(confine.probe(), isolation.protect_checker())
    return isolation.summary(rec), isolation.require_message(rec) if args.require_isolation else None


def _usage_error(args) -> str | None:
    """What is wrong with the options, if anything (checked before anything starts)."""
    from properties.sandbox.loader import missing_file

    if args.workers is not None and args.workers < 0:
        return "-n must be >= 0"
    if args.call_timeout <= 0:
        return "--call-timeout must be > 0"
    if args.max_failures is not None and args.max_failures < 1:
        return "--max-failures must be >= 1"
    if args.max_examples is not None and args.max_examples < 1:
        return "--max-examples must be >= 1"
    if args.shrink_budget is not None and args.shrink_budget < 0:
        return "--shrink-budget must be >= 0"
    if missing_file(args.impl):
        return missing_file(args.impl)
    if args.xfails_file and not Path(args.xfails_file).is_file():
        return f"no such xfails file: {args.xfails_file!r}"
    return None


def _pytest_usage_error(log: str, rc: int) -> str:
    """pytest's own account of a usage error (rc 4) or an empty selection (rc 5), whole: every line it printed
    (without the inifile/rootdir lines, which name our own config)."""
    lines = [ln.rstrip() for ln in log.strip().splitlines()
             if ln.strip() and not ln.strip().startswith(("inifile:", "rootdir:"))]
    if rc == int(Exit.NO_PROPERTIES):
        lines = [ln for ln in lines if "deselected" in ln or ln.startswith(("ERROR", "E "))]
        lines.append("no property was selected (check --tier, -k and the arguments after '--')")
    return "\n".join("  " + ln for ln in lines[-40:])


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    own, extra = _split_extra(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(own)
    except SystemExit as exc:  # argparse: Exit.USAGE for a usage error, 0 for --help
        return int(exc.code or 0)
    args.impl = args.impl or os.environ.get(options.ENV_IMPL) or "fast"
    problem = _usage_error(args)
    if problem:
        parser.print_usage(sys.stderr)
        print(f"composed-check: error: {problem}", file=sys.stderr)
        return Exit.USAGE
    try:
        import hypothesis  # noqa: F401
        import xdist  # noqa: F401

        from properties.runner.report import PROGRESS_PREFIX
    except ImportError as exc:
        print(f"composed-check: {exc}: the suite needs the 'test' extra: pip install 'composed[test]'", file=sys.stderr)
        return Exit.USAGE
    isolation_line, isolation_error = _isolation(args)
    if isolation_error:
        print(f"composed-check: {isolation_error}", file=sys.stderr)
        return Exit.ISOLATION_MISSING
    if args.seed is None:
        args.seed = random.SystemRandom().getrandbits(32)
    state = (Path(args.state_dir) if args.state_dir else state_dir(args.impl)).expanduser().resolve()
    try:
        state.mkdir(parents=True, exist_ok=True)
        (state / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    except OSError as exc:
        print(f"composed-check: error: cannot use the state directory {str(state)!r}: {exc}", file=sys.stderr)
        return Exit.USAGE
    args.state_dir = str(state)

    color = use_color()
    display = Display(args.quiet, sys.stdout.isatty(), color)
    with tempfile.TemporaryDirectory(prefix="composed-check-") as tmp:
        report_path = os.path.abspath(args.report) if args.report else os.path.join(tmp, "report.json")
        if args.report and os.path.exists(report_path):
            os.remove(report_path)  # so a stale report is never read as this run's
        try:
            cmd = pytest_command(args, report_path, str(state)) + extra
        except (ValueError, IndexError):
            print(f"composed-check: error: --max-memory: cannot read {args.max_memory!r} (e.g. 4G, 512M, off)",
                  file=sys.stderr)
            return Exit.USAGE
        env = dict(os.environ)
        env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        env["PYTHONUNBUFFERED"] = "1"
        run = env.setdefault(processes.ENV_RUN, uuid.uuid4().hex)
        processes.become_subreaper()  # orphans of the run come here, to be killed and reaped
        # -- suite self-check (issue 14): the suite's files, before any process of the run starts --
        from properties.runner import integrity

        snapshot = integrity.Snapshot.take()
        # -- end suite self-check --
        if not args.quiet:
            print(f"composed-check: checking {args.impl} (tier {args.tier}"
                  + (f", profile {args.profile}" if args.profile else "") + f", seed {args.seed})", flush=True)
            print(f"composed-check: {isolation_line}", flush=True)
        try:
            # its own process group: a Ctrl-C reaches this process only, which passes one SIGINT on
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
                                    errors="replace", bufsize=1, process_group=0, preexec_fn=_die_with_parent)
        except OSError as exc:
            print(f"composed-check: cannot run pytest: {exc}", file=sys.stderr)
            return Exit.INTERNAL
        log_lines: list[str] = []
        reader = threading.Thread(target=_read_output, args=(proc, args, log_lines, PROGRESS_PREFIX, display),
                                  daemon=True)
        reader.start()
        interrupted = False
        try:
            rc = proc.wait()
        except KeyboardInterrupt:
            interrupted = True
            display.write("\ncomposed-check: interrupted; stopping the run and collecting what finished ...",
                          sys.stderr)
            rc = _stop(proc)
        reader.join(timeout=5)
        display.close()
        processes.kill_tree(run=run)
        processes.reap_orphans()
        from properties.harness.isolation import remove_tmpdirs

        remove_tmpdirs(run)  # the candidates' temporary directories (issue 14)
        log = "".join(log_lines)
        if args.log:
            Path(args.log).write_text(log, encoding="utf-8")
        # -- suite self-check (issue 14): a change, seen here or by pytest, voids the verdict --
        tampered = integrity.cli_verdict(snapshot, rc, report_path, args.report)
        if tampered is not None:
            return tampered
        # -- end suite self-check --
        if rc < 0 and not interrupted:  # pytest was killed: whatever report file exists is not its verdict
            print(f"composed-check: pytest was killed by signal {-rc} before it finished; no verdict (a report file, "
                  "if any, was not written by a finished run)", file=sys.stderr)
            return Exit.INTERNAL
        if rc == int(Exit.ISOLATION_MISSING) and args.require_isolation:  # isolation (issue 14): no verdict
            lines = log.splitlines()
            at = next((i for i, ln in enumerate(lines) if "--require-isolation" in ln), None)
            found = [] if at is None else [lines[at][lines[at].index("--require-isolation"):]] + [
                ln for ln in itertools.takewhile(lambda ln: ln.startswith("  "), lines[at + 1:])]
            print("composed-check: " + ("\n".join(found) or "--require-isolation: a protection is missing"),
                  file=sys.stderr)
            return Exit.ISOLATION_MISSING

        if rc in (int(Exit.USAGE), int(Exit.NO_PROPERTIES)) and not interrupted:
            what = "usage error" if rc == int(Exit.USAGE) else "nothing to check"
            print(f"composed-check: {what}:\n{_pytest_usage_error(log, rc)}", file=sys.stderr)
            return Exit(rc)
        try:
            report = json.loads(Path(report_path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            if interrupted:
                print("composed-check: interrupted before any report was written", file=sys.stderr)
                return Exit.INTERRUPTED
            print(f"composed-check: pytest exited with status {rc} and wrote no report; its output:\n"
                  + "\n".join(log.strip().splitlines()[-60:]), file=sys.stderr)
            return Exit.INTERNAL

    return _summarise(args, report, rc, log, interrupted, color)


def _summarise(args, report, rc, log, interrupted, color) -> int:
    """Print the table, the failures and the verdict; the exit status."""
    summary = report["summary"]
    print_results(report, args, interrupted, color)
    if interrupted:
        return Exit.INTERRUPTED
    if summary["total"] == 0:
        return Exit.NO_PROPERTIES
    if summary["failed"] or summary["error"]:
        return Exit.FAILED
    if rc != 0:
        # every property passed but pytest still failed (e.g. an error outside the suite's items)
        print("composed-check: pytest exited with status %d; its output:\n%s" % (rc, "\n".join(
            log.strip().splitlines()[-30:])), file=sys.stderr)
        return Exit.FAILED
    return Exit.OK


if __name__ == "__main__":
    raise SystemExit(main())
