"""Process-level isolation from a hostile implementation (what the in-process guard of ``candidate.py`` cannot do).

The suite runs in layers (see the README, "Isolation model"):

1. in process, per call (``properties.candidate.Candidate``): exceptions (``SystemExit`` too), a SIGALRM timeout,
   output diversion, JAX-config restore;
2. in process, per call, under pytest-xdist only (:class:`CallMonitor`): the call in progress is written to a small
   file the controller reads if the worker dies, and a *hard* deadline (``faulthandler.dump_traceback_later(...,
   exit=True)``, a C watchdog thread that needs no GIL) ends a worker stuck in C code that ignores signals;
3. per process: an address-space budget (:func:`limit_memory`, ``RLIMIT_DATA``) so an implementation that allocates
   without bound gets ``MemoryError`` (or dies) instead of pushing the machine into swap or the OOM killer;
4. per run: pytest-xdist replaces a worker that died (segfault, ``os._exit``, hard deadline, OOM kill); the controller
   reports the property it was running as failed, with the cause (:func:`describe_exit`).
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
import time

#: Key of ``workerinput`` (xdist) naming the directory where workers leave their call records.
WORKERINPUT_KEY = "composed_crash_dir"
#: Default memory budget per process: RAM / (2 * (workers + 1)), and never less than this.
MIN_MEMORY = 2 << 30


def hard_deadline(timeout: float | None) -> float | None:
    """The hard per-call deadline for a soft (SIGALRM) ``timeout``: the soft one plus a grace of half of it, 2 to 30
    s (so a call that merely returned late to Python is reported by the soft timeout, not by ending the process)."""
    if not timeout:
        return None
    return timeout + min(30.0, max(2.0, 0.5 * timeout))


class CallMonitor:
    """Records the call in progress in ``path`` and arms a hard deadline around it (one per worker process).

    The file holds one JSON line ``{"nodeid", "examples", "call", "since", "hard_timeout"}`` (``call`` is null between
    calls); on a hard timeout faulthandler appends every thread's traceback after it and ends the process (status 1).
    """

    def __init__(self, path: str, hard_timeout: float | None, examples=lambda: None):
        self.path = path
        self.hard_timeout = hard_timeout
        self.examples = examples
        self.nodeid: str | None = None
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        self.file = os.fdopen(self.fd, "w", closefd=False)  # faulthandler wants an object with fileno()
        self._write(None)

    def start_test(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self._write(None)

    def _write(self, where: str | None) -> None:
        line = json.dumps(
            {
                "nodeid": self.nodeid,
                "examples": self.examples(),
                "call": None if where is None else "composed_transforms" + where,
                "since": time.time(),
                "hard_timeout": self.hard_timeout,
            }
        )
        try:
            os.ftruncate(self.fd, 0)
            os.lseek(self.fd, 0, os.SEEK_SET)
            os.write(self.fd, (line + "\n").encode())  # faulthandler appends at this offset
        except OSError:
            pass

    def begin(self, where: str) -> None:
        self._write(where)
        if self.hard_timeout:
            faulthandler.dump_traceback_later(self.hard_timeout, exit=True, file=self.file)

    def end(self) -> None:
        if self.hard_timeout:
            faulthandler.cancel_dump_traceback_later()
        self._write(None)


def read_call_record(path: str) -> tuple[dict, str]:
    """The last record a worker left (``{}`` if none) and whatever faulthandler appended after it."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            first = f.readline()
            rest = f.read()
        return json.loads(first), rest
    except (OSError, ValueError):
        return {}, ""


def describe_exit(returncode: int | None, record: dict, dump: str) -> str:
    """Why a worker died, in words, from its exit status, its last call record and faulthandler's dump."""
    parts = []
    hard = "Timeout (" in dump
    if hard:
        parts.append(
            f"the call passed the hard deadline of {record.get('hard_timeout') or 0:g} s without returning to Python "
            "(stuck in C code that ignores signals), so the worker was ended"
        )
    elif returncode is None:
        parts.append("the worker process died (exit status unknown)")
    elif returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        extra = {
            "SIGSEGV": " (segmentation fault)",
            "SIGBUS": " (bus error)",
            "SIGABRT": " (abort: a C/C++ assertion or an uncaught C++ exception, e.g. std::bad_alloc)",
            "SIGKILL": " (the kernel's OOM killer, or another process)",
            "SIGILL": " (illegal instruction)",
            "SIGFPE": " (arithmetic fault)",
        }.get(name, "")
        parts.append(f"the worker process was killed by {name}{extra}")
    else:
        parts.append(
            f"the worker process exited with status {returncode} in the middle of the test"
            + (" (os._exit, or an interpreter shutdown from another thread)" if returncode == 0 else
               " (os._exit, pytest-timeout's per-test limit, or a fatal error)")
        )
    call = record.get("call")
    if call:
        since = record.get("since")
        elapsed = time.time() - since if isinstance(since, (int, float)) else 0.0
        took = f", which had run {elapsed:.1f} s" if elapsed >= 1.0 and not hard else ""
        parts.append(f"during the call {call}{took}")
    elif record:
        parts.append("outside a guarded call of the implementation (a property tracing it directly, e.g. with "
                     "jax.make_jaxpr, or the suite's own code)")
    if record.get("examples"):
        parts.append(f"at example {record['examples']}")
    if hard:
        frame = _innermost_frame(dump)
        if frame:
            parts.append(f"stuck at {frame}")
    return "; ".join(parts)


def _innermost_frame(dump: str) -> str | None:
    """The first (innermost) frame of the thread that was running the implementation, from faulthandler's dump."""
    blocks = dump.split("\n\n")
    for block in blocks:
        if "candidate.py" in block:
            for line in block.splitlines():
                line = line.strip()
                if line.startswith("File "):
                    return line
    return None


def worker_exit_code(node, wait: float = 5.0) -> int | None:
    """The exit status of an xdist worker's process (negative: killed by that signal), if it can be had."""
    try:
        popen = node.gateway._io.popen  # execnet's Popen2IOMaster
    except AttributeError:
        return None
    try:
        return popen.wait(timeout=wait)
    except Exception:  # noqa: BLE001
        return popen.poll()


def parse_size(text: str) -> int | None:
    """``"4G"``, ``"512M"``, ``"2.5GiB"``, ``"1000000"`` (bytes) -> bytes; ``"off"``/``"none"``/``"0"`` -> None."""
    t = str(text).strip().lower().replace("ib", "").replace("b", "")
    if t in ("off", "none", "0", "no", "false", ""):
        return None
    scale = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    mult = 1
    if t[-1] in scale:
        mult = scale[t[-1]]
        t = t[:-1]
    value = float(t)
    if value <= 0:
        raise ValueError(text)
    return int(value * mult)


def total_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def auto_memory(workers: int) -> int | None:
    total = total_memory()
    if not total:
        return None
    return max(MIN_MEMORY, total // (2 * (max(1, workers) + 1)))


def limit_memory(limit: int | None) -> str | None:
    """Lower this process's RLIMIT_DATA (heap and private writable mappings) to ``limit`` bytes; never raises it.

    Returns a description of what was set, or None.
    """
    if not limit:
        return None
    try:
        import resource
    except ImportError:  # not on POSIX
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    new = limit
    if hard != resource.RLIM_INFINITY:
        new = min(new, hard)
    if soft != resource.RLIM_INFINITY and soft <= new:
        return None
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (new, hard))
    except (ValueError, OSError):
        return None
    return f"RLIMIT_DATA {new / (1 << 30):.1f} GiB"


def on_cpu() -> bool:
    """True when JAX's default backend is the CPU (where an address-space budget is harmless)."""
    try:
        import jax

        return jax.default_backend() == "cpu"
    except Exception:  # noqa: BLE001
        return False


def in_xdist_worker(config) -> bool:
    return hasattr(config, "workerinput")


def stderr_note(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
    except Exception:  # noqa: BLE001
        pass
