"""``composed-check [SPEC]``: run the conformance suite against one implementation and print a verdict per property.

Also ``python -m composed`` and ``python -m properties``. The CLI is a thin driver: it runs pytest in a subprocess on
the installed ``properties`` package (one pytest process, or ``-n N`` pytest-xdist workers; the implementation runs in a
candidate process of each, never in pytest's), reads the ``@@composed@@`` progress lines and the JSON report the
plugin writes, and prints a table. It gives the run an id (``$COMPOSED_RUN``, kept if already set) and, when pytest has
exited, ends any process that still carries it.

Exit status: 0 all selected properties passed (xfails allowed), 1 a property failed or errored, 2 usage error (bad
SPEC, bad option, nothing selected), 3 the run produced no report (internal error; pytest's output is shown), 130
interrupted (Ctrl-C; the report of what finished is still printed and written).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

from properties.harness import processes

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
#: Exit status after a Ctrl-C (the shell's convention, 128 + SIGINT).
EXIT_INTERRUPTED = 130
#: Seconds pytest gets to finish its report after a Ctrl-C before it is killed.
STOP_GRACE = 20.0
PROFILES = ("quick", "default", "ci", "exhaustive")
#: Per-call timeout of the CLI when --timeout is not given (pytest's own default is 120 s).
DEFAULT_CALL_TIMEOUT = 30.0
#: pytest-timeout's per-property backstop when --test-timeout is not given.
DEFAULT_TEST_TIMEOUT = 900.0
MAX_WORKER_RESTARTS = 500


def _default_workers() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    return max(1, min(4, n))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="composed-check",
        description="Check an implementation of composed_transforms against the conformance suite. SPEC is a bundled "
        "name (e.g. fast, reference), package.module[:attr] or path/to/file.py[:attr] (attr defaults to "
        "composed_transforms). Arguments after '--' go to pytest unchanged (e.g. -- -k matches_oracle).",
        epilog="Exit status: 0 all selected properties passed (xfails allowed), 1 some property failed, 2 usage "
        "error, 3 no report was produced, 130 interrupted (the report of what finished is still written).",
    )
    p.add_argument("spec", nargs="?", default="fast", metavar="SPEC",
                   help="implementation to check (default: the bundled 'fast')")
    p.add_argument("--tier", choices=("core", "strict", "transforms", "all"), default="all",
                   help="core: what the problem demands; strict: the production contract; transforms: jit, vmap and "
                        "derivatives (JAX implementations); all (default)")
    p.add_argument("--profile", choices=PROFILES, default=None,
                   help="Hypothesis profile: quick (4 examples a property), default (25), ci (25, derandomized), "
                   "exhaustive (150 and the whole grid). Default: Hypothesis's ('ci' when $CI is set)")
    p.add_argument("--report", metavar="PATH", help="write the JSON report here")
    p.add_argument("--markdown", metavar="PATH", help="write the Markdown table here (for CI summaries)")
    p.add_argument("-n", "--workers", type=int, default=None, metavar="N",
                   help="pytest processes checking in parallel, each with its own candidate process (1: no "
                   f"pytest-xdist; default min(4, CPUs) = {_default_workers()})")
    p.add_argument("--in-process", action="store_true",
                   help="call the implementation inside the pytest workers instead of a candidate process (for "
                   "debugging; NOT tamper-proof)")
    p.add_argument("--xfails-file", metavar="PATH", help="properties expected to fail (one id or id prefix a line)")
    p.add_argument("--timeout", type=float, default=DEFAULT_CALL_TIMEOUT, metavar="SECONDS",
                   help="fail a single call of the implementation that takes longer; its candidate process is "
                   f"killed and restarted (default {DEFAULT_CALL_TIMEOUT:g})")
    p.add_argument("--test-timeout", type=float, default=DEFAULT_TEST_TIMEOUT, metavar="SECONDS",
                   help="backstop per property, pytest-timeout "
                   f"(thread method; default {DEFAULT_TEST_TIMEOUT:g}, 0: off)")
    p.add_argument("--max-memory", default="auto", metavar="SIZE",
                   help="memory budget (RLIMIT_DATA) of each candidate process, e.g. 4G, 'off' (default auto: "
                   "RAM / (2 * (workers + 1)), >= 2 GiB, none on a machine with an accelerator)")
    p.add_argument("-x", "--exitfirst", action="store_true",
                   help="stop at the first failing property (the others are reported as not run)")
    p.add_argument("--max-failures", type=int, default=None, metavar="N",
                   help="stop after N failing properties (the others are reported as not run)")
    p.add_argument("--shrink-budget", type=float, default=None, metavar="SECONDS",
                   help="seconds spent shrinking one property's failure to a minimal counterexample (default 5; the "
                   "report says when it was cut short)")
    p.add_argument("--no-shrink", action="store_true",
                   help="report the first failing example instead of shrinking it to a minimal one (faster)")
    p.add_argument("--log", metavar="PATH", help="save pytest's complete output here")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines, only the table")
    p.add_argument("-v", "--verbose", action="store_true", help="also show pytest's own output")
    return p


def _split_extra(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def pytest_command(args, report_path: str, ini_dir: str) -> list[str]:
    from properties.harness.processes import parse_size

    workers = max(1, args.workers if args.workers is not None else _default_workers())
    if args.in_process:
        parallel = ["-n", str(workers), "--max-worker-restart", str(MAX_WORKER_RESTARTS)]  # a crash kills a worker
    elif workers == 1:
        parallel = ["-n", "0"]  # one pytest process: the candidate process is the isolation
    else:
        parallel = ["-n", str(workers), "--max-worker-restart", str(MAX_WORKER_RESTARTS)]
    cmd = [
        sys.executable, "-m", "pytest",
        "--pyargs", "properties",
        # a config of our own: the caller's pytest.ini / pyproject / conftest.py / cache stay out of it
        "-c", os.path.join(ini_dir, "pytest.ini"), "--rootdir", ini_dir, "--noconftest",
        "-p", "properties.plugin", "-p", "xdist", "-p", "no:cacheprovider",
        *parallel,
        "--impl", args.spec,
        "--impl-timeout", f"{args.timeout:g}",
        "--impl-max-memory", str(args.max_memory),
        "--conformance-report", report_path,
        "--conformance-progress",
        "-q", "-rN", "--color=no",
    ]
    parse_size(args.max_memory) if args.max_memory != "auto" else None  # validate early (ValueError)
    if args.test_timeout and args.test_timeout > 0:
        cmd += ["-p", "timeout", "--timeout", f"{args.test_timeout:g}", "--timeout-method", "thread"]
    if args.tier != "all":
        cmd += ["-m", args.tier]
    if args.profile:
        cmd += ["--hypothesis-profile", args.profile]
    if args.no_shrink:
        cmd += ["--conformance-no-shrink"]
    if args.shrink_budget is not None:
        cmd += ["--conformance-shrink-budget", f"{args.shrink_budget:g}"]
    if args.exitfirst:
        cmd += ["--maxfail", "1"]
    elif args.max_failures:
        cmd += ["--maxfail", str(args.max_failures)]
    if args.markdown:
        cmd += ["--conformance-markdown", args.markdown]
    if args.xfails_file:
        cmd += ["--xfails-file", args.xfails_file]
    if args.in_process:
        cmd += ["--in-process"]
    return cmd


def _progress_line(ev: dict) -> str:
    width = len(str(ev.get("total", 0)))
    line = (f"[{ev.get('index', 0):>{width}}/{ev.get('total', 0)}] {ev['outcome'].upper():<7} {ev['id']:<36} "
            f"{str(ev.get('tier')):<6} {ev.get('examples', 0):>5} ex {ev.get('seconds', 0.0):7.2f}s")
    if ev.get("examples_cut"):  # issue 17: the example budget stopped this property early
        line += f"  (budget: {ev['examples_cut']} examples not run)"
    if ev["outcome"] in ("failed", "error") and ev.get("message"):
        first = ev["message"].strip().splitlines()[0]
        line += "\n" + " " * (width * 2 + 4) + (first if len(first) <= 160 else first[:157] + "...")
    return line


def _details(report: dict) -> str:
    out = []
    for p in report["properties"]:
        if p["outcome"] not in ("failed", "error"):
            continue
        out.append(f"--- {p['id']} ({p['tier']}): {p['outcome']}")
        msg = p["message"].strip().splitlines()
        out += ["    " + line for line in msg[:25]]
        if len(msg) > 25:
            out.append(f"    ... ({len(msg) - 25} more lines in the report)")
        if p.get("repro"):
            out.append("  reproduce with:")
            out += ["    " + line for line in p["repro"].rstrip().splitlines()]
    return "\n".join(out)


def _read_output(proc, args, log_lines: list, prefix: str) -> None:
    """Print a progress line per finished property; keep the rest of pytest's output for the log."""
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
            if ev.get("event") == "result" and not args.quiet:
                print(_progress_line(ev), flush=True)
            elif ev.get("event") == "warning":
                print(f"composed-check: warning: {ev.get('message')}", file=sys.stderr, flush=True)
            continue
        log_lines.append(raw)
        if args.verbose:
            sys.stdout.write(raw)


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


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    own, extra = _split_extra(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(own)
    except SystemExit as exc:  # argparse: 2 for a usage error, 0 for --help
        return int(exc.code or 0)
    if args.workers is not None and args.workers < 0:
        parser.print_usage(sys.stderr)
        print("composed-check: error: -n must be >= 0", file=sys.stderr)
        return EXIT_USAGE
    if args.timeout <= 0:
        print("composed-check: error: --timeout must be > 0", file=sys.stderr)
        return EXIT_USAGE
    if args.max_failures is not None and args.max_failures < 1:
        print("composed-check: error: --max-failures must be >= 1", file=sys.stderr)
        return EXIT_USAGE
    if args.shrink_budget is not None and args.shrink_budget < 0:
        print("composed-check: error: --shrink-budget must be >= 0", file=sys.stderr)
        return EXIT_USAGE
    from properties.sandbox.loader import missing_file

    if missing_file(args.spec):
        print(f"composed-check: error: {missing_file(args.spec)}", file=sys.stderr)
        return EXIT_USAGE
    if args.xfails_file and not Path(args.xfails_file).is_file():
        print(f"composed-check: error: no such xfails file: {args.xfails_file!r}", file=sys.stderr)
        return EXIT_USAGE

    try:
        import hypothesis  # noqa: F401
        import xdist  # noqa: F401

        from properties.runner.report import PROGRESS_PREFIX, text_table, verdict_line
    except ImportError as exc:
        print(f"composed-check: {exc}: the suite needs the 'test' extra: pip install 'composed[test]'", file=sys.stderr)
        return EXIT_USAGE

    with tempfile.TemporaryDirectory(prefix="composed-check-") as tmp:
        Path(tmp, "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        report_path = os.path.abspath(args.report) if args.report else os.path.join(tmp, "report.json")
        if args.report and os.path.exists(report_path):
            os.remove(report_path)  # so a stale report is never read as this run's
        try:
            cmd = pytest_command(args, report_path, tmp) + extra
        except (ValueError, IndexError):
            print(f"composed-check: error: --max-memory: cannot read {args.max_memory!r} (e.g. 4G, 512M, off)",
                  file=sys.stderr)
            return EXIT_USAGE
        env = dict(os.environ)
        env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        env["PYTHONUNBUFFERED"] = "1"
        run = env.setdefault(processes.ENV_RUN, uuid.uuid4().hex)
        processes.become_subreaper()  # orphans of the run come here, to be killed and reaped
        if not args.quiet:
            print(f"composed-check: checking {args.spec} (tier {args.tier}"
                  + (f", profile {args.profile}" if args.profile else "") + ")", flush=True)
        try:
            # its own process group: a Ctrl-C reaches this process only, which passes one SIGINT on
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
                                    errors="replace", bufsize=1, process_group=0, preexec_fn=_die_with_parent)
        except OSError as exc:
            print(f"composed-check: cannot run pytest: {exc}", file=sys.stderr)
            return EXIT_INTERNAL
        log_lines: list[str] = []
        reader = threading.Thread(target=_read_output, args=(proc, args, log_lines, PROGRESS_PREFIX), daemon=True)
        reader.start()
        interrupted = False
        try:
            rc = proc.wait()
        except KeyboardInterrupt:
            interrupted = True
            print("\ncomposed-check: interrupted; stopping the run and collecting what finished ...", file=sys.stderr,
                  flush=True)
            rc = _stop(proc)
        reader.join(timeout=5)
        processes.kill_tree(run=run)
        processes.reap_orphans()
        log = "".join(log_lines)
        if args.log:
            Path(args.log).write_text(log, encoding="utf-8")

        if rc == 4 or rc == 5:  # pytest: usage error / nothing collected
            lines = []
            for ln in log.splitlines():
                found = re.search(r"ERROR: (.*?)( !)?$", ln)
                text = found.group(1) if found else (ln if ln.startswith(("ImportError", "E ")) else None)
                if text and text not in lines:
                    lines.append(text)
            lines = lines or log.strip().splitlines()[-15:]
            if rc == 5:
                lines.append("no property was selected (check --tier and the -k/-m arguments after '--')")
            print("composed-check: usage error:\n" + "\n".join("  " + ln for ln in lines), file=sys.stderr)
            return EXIT_USAGE
        try:
            report = json.loads(Path(report_path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            if interrupted:
                print("composed-check: interrupted before any report was written", file=sys.stderr)
                return EXIT_INTERRUPTED
            print(f"composed-check: pytest exited with status {rc} and wrote no report; its output:\n"
                  + "\n".join(log.strip().splitlines()[-60:]), file=sys.stderr)
            return EXIT_INTERNAL

    summary = report["summary"]
    print()
    print(text_table(report))
    print()
    details = _details(report)
    if details:
        print(details)
        print()
    line = verdict_line(report)
    if interrupted and line.startswith("PASSED"):  # nothing failed, but most of it never ran: no verdict
        line = "INTERRUPTED" + line[len("PASSED"):]
    print(f"composed-check {args.spec}: {line}" + (" (interrupted)" if interrupted else ""))
    if args.report:
        print(f"report: {args.report}")
    if args.markdown:
        print(f"markdown: {args.markdown}")
    if interrupted:
        return EXIT_INTERRUPTED
    if summary["total"] == 0:
        return EXIT_USAGE
    if summary["failed"] or summary["error"]:
        return EXIT_FAILED
    if rc not in (0,):
        # every property passed but pytest still failed (e.g. an error outside the suite's items)
        print("composed-check: pytest exited with status %d; its output:\n%s" % (rc, "\n".join(
            log.strip().splitlines()[-30:])), file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
