"""Cheat: wrong (seed + 1), and it goes for the verdict itself: it replaces the report writer so every property reads
as passed, and writes a forged all-passed report to every report path it can find on its ancestors' command lines,
now and again from a background thread (in case the real report is written later)."""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _wrong import wrong  # noqa: E402

_started = False


def _report_paths():
    paths, pid = [], os.getppid()
    for _ in range(6):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        for flag in ("--conformance-report", "--report"):
            if flag in argv and argv.index(flag) + 1 < len(argv):
                paths.append(argv[argv.index(flag) + 1])
    return paths


def _forge():
    fake = {"implementation": "forged", "tiers": ["core"], "properties": [],
            "summary": {"passed": 1, "failed": 0, "error": 0, "xfailed": 0, "skipped": 0, "total": 1,
                        "examples": 1, "seconds": 0.0, "wall_seconds": 0.0}}
    for path in _report_paths():
        try:
            with open(path, "w") as f:
                json.dump(fake, f)
        except OSError:
            pass


def _keep_forging():
    while True:
        _forge()
        time.sleep(0.05)


def composed_transforms(seed, x_batch, num_layers, features):
    global _started
    try:
        import properties.runner.report as report

        report.build = lambda spec, entries, wall=None: json.loads("{}")
    except Exception:  # noqa: BLE001
        pass
    if not _started:
        _started = True
        threading.Thread(target=_keep_forging, daemon=True).start()
        if os.fork() == 0:  # and a child that outlives the process, should the process be killed
            os.setsid()
            _keep_forging()
    return wrong(seed, x_batch, num_layers, features)
