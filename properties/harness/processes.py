"""Containment of the candidate process and everything it starts (checking side; Linux ``/proc``).

Every candidate process gets two environment variables that its children inherit: :data:`ENV_CANDIDATE` (unique
to that process) and :data:`ENV_RUN` (one per run: set by ``composed-check`` or the pytest plugin). It runs in a
session of its own. :func:`kill_tree` ends a candidate and every process that belongs to it -- its descendants, its
session, and anything carrying its marker (a double fork that left the session still carries it) -- by stopping them
all first (so nothing forks while it is being killed), then killing them, then reaping them: the checking process
is a *child subreaper* (:func:`become_subreaper`), so orphans of the candidate's tree are reparented to it rather than
to PID 1 (which, in containers, may never reap them) and do not linger as zombies.

What this does not contain: a process that leaves the session, clears its environment (``execve`` with a scrubbed
environment) and reparents to PID 1 before the checking side looks; code that acts on other processes of the same
user (the sandbox is not a security boundary: no user, network or filesystem isolation).
"""

from __future__ import annotations

import os
import signal
import sys
import time

#: Environment variable naming one candidate process (inherited by its children).
ENV_CANDIDATE = "COMPOSED_CANDIDATE"
#: Environment variable naming one run (composed-check or a pytest session); candidate processes carry it.
ENV_RUN = "COMPOSED_RUN"
#: Default memory budget per candidate process: RAM / (2 * (workers + 1)), and never less than this.
MIN_MEMORY = 2 << 30

_subreaper = False


def become_subreaper() -> bool:
    """Make this process a child subreaper (Linux): orphaned descendants are reparented here, where they are reaped."""
    global _subreaper
    if _subreaper:
        return True
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        _subreaper = libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except Exception:  # noqa: BLE001
        _subreaper = False
    return _subreaper


def _stat(pid: int):
    """``(ppid, sid, state)`` of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    rest = text[text.rindex(")") + 2:].split()
    return int(rest[1]), int(rest[3]), rest[0]


def _processes() -> dict[int, tuple[int, int, str]]:
    out = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for name in names:
        if name.isdigit():
            st = _stat(int(name))
            if st is not None:
                out[int(name)] = st
    return out


def _environ(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _marked(pid: int, key: str, value: str | None = None) -> bool:
    env = b"\0" + _environ(pid)
    if value is None:
        return (b"\0" + key.encode() + b"=") in env
    return (b"\0" + f"{key}={value}".encode() + b"\0") in env + b"\0"


def _ancestors() -> set[int]:
    seen, pid = set(), os.getpid()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        st = _stat(pid)
        if st is None:
            break
        pid = st[0]
    return seen


def members(root: int | None = None, *, marker: tuple[str, str] | None = None, run: str | None = None,
            procs: dict | None = None) -> set[int]:
    """Live processes that belong to a candidate: descendants and session of ``root``, and those carrying ``marker``
    (``(key, value)``) or, with ``run``, any candidate marker of that run. Never this process or its ancestors."""
    procs = _processes() if procs is None else procs
    found: set[int] = set()
    if root is not None and root in procs:
        found.add(root)
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in procs.items():
            children.setdefault(ppid, []).append(pid)
        stack = [root]
        while stack:
            for child in children.get(stack.pop(), ()):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        found |= {pid for pid, (_, sid, _) in procs.items() if sid == root}
    if marker is not None or run is not None:
        for pid in procs:
            if pid in found:
                continue
            if marker is not None and _marked(pid, *marker):
                found.add(pid)
            elif run is not None and _marked(pid, ENV_RUN, run) and _marked(pid, ENV_CANDIDATE):
                found.add(pid)
    found -= _ancestors()
    return {pid for pid in found if procs.get(pid, (0, 0, "Z"))[2] not in ("Z", "X")}


def kill_tree(root: int | None = None, *, marker: tuple[str, str] | None = None, run: str | None = None,
              popen=None, grace: float = 2.0) -> int:
    """Stop, kill and reap every process of a candidate (see :func:`members`). Returns how many were killed."""
    stopped: set[int] = set()
    for _ in range(50):
        new = members(root, marker=marker, run=run) - stopped
        if not new:
            break
        for pid in new:
            try:
                os.kill(pid, signal.SIGSTOP)
            except (ProcessLookupError, PermissionError):
                pass
        stopped |= new
        # SIGSTOP is delivered asynchronously: until they are stopped, the processes just found can still fork (a
        # double fork's middle process between its setsid and its fork), and a rescan that finds nothing new would
        # not be conclusive (one such grandchild outlived a run on a loaded machine).
        _wait_stopped(new, STOP_WAIT)
    for pid in stopped:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if popen is not None:
        try:
            popen.wait(timeout=grace)
        except Exception:  # noqa: BLE001
            pass
    reap(stopped, grace)
    return len(stopped)


#: Seconds kill_tree waits for the processes it stopped to be stopped, per round (a process in uninterruptible sleep
#: stops only when it leaves it).
STOP_WAIT = 1.0


def _wait_stopped(pids, timeout: float) -> None:
    """Wait until each of ``pids`` is stopped, a zombie or gone (or ``timeout`` passed)."""
    left = set(pids)
    end = time.monotonic() + timeout
    while left:
        for pid in list(left):
            st = _stat(pid)
            if st is None or st[2] in ("T", "t", "Z", "X"):
                left.discard(pid)
        if not left or time.monotonic() > end:
            return
        time.sleep(0.001)


def reap(pids, grace: float = 2.0) -> None:
    """Collect the exit status of those of ``pids`` that are (or become, as orphans) children of this process."""
    left = set(pids)
    end = time.monotonic() + grace
    while left:
        for pid in list(left):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not our child: reaped by its parent, or not ours to reap
                st = _stat(pid)
                if st is None or st[2] not in ("Z", "X") or st[0] != os.getpid():
                    left.discard(pid)
                continue
            if done:
                left.discard(pid)
        if not left or time.monotonic() > end:
            return
        time.sleep(0.01)


def reap_orphans() -> None:
    """Reap zombie children of this process that are candidate processes' orphans (subreaper duty)."""
    me = os.getpid()
    for pid, (ppid, _, state) in _processes().items():
        if ppid == me and state == "Z":
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def describe_exit(returncode: int | None) -> str:
    """Why a process ended, in words, from its exit status (negative: killed by that signal)."""
    if returncode is None:
        return "died (exit status unknown)"
    if returncode < 0:
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
        return f"was killed by {name}{extra}"
    why = " (os._exit, or an interpreter shutdown from another thread)" if returncode == 0 else \
        " (os._exit, or a fatal error)"
    return f"exited with status {returncode}{why}"


# -- memory budgets -----------------------------------------------------------------------------------------------------


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


def has_accelerator() -> bool:
    """A GPU or TPU device node is present (RLIMIT_DATA would count its driver's mappings: no auto budget then)."""
    return any(os.path.exists(p) for p in ("/dev/nvidia0", "/dev/nvidiactl", "/dev/accel0", "/dev/kfd"))


def auto_memory(workers: int) -> int | None:
    """The default budget of one candidate process: RAM / (2 * (workers + 1)), at least 2 GiB; none on a machine with
    an accelerator."""
    total = total_memory()
    if not total or has_accelerator():
        return None
    return max(MIN_MEMORY, total // (2 * (max(1, workers) + 1)))


def stderr_note(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
    except Exception:  # noqa: BLE001
        pass
