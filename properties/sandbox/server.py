"""The candidate process: load the implementation, then serve requests from the checking process until it hangs up.

Started by :class:`properties.harness.proxy.ProcessCandidate` as ``python -m properties.sandbox.server FD CONFIG``
where FD is its end of a Unix socket and CONFIG a JSON object (``spec``, ``max_output``, ``max_memory``,
``parent``, ``confine``: its temporary directory, the other places it may write, whether every protection is
required). It confines itself (:mod:`properties.sandbox.confine`) before it imports anything else or loads the
implementation. Its stdin is ``/dev/null`` and its stdout/stderr go to a log file the checking side reads after a
crash; it runs in a session of its own, so the terminal's Ctrl-C does not reach it (the checking side ends it).

Protocol (:mod:`properties.sandbox.wire` frames): first the process sends ``{"status": "ready", "pid": ...}``,
``{"status": "load_error", "message": ...}`` or ``{"status": "isolation_missing", "message": ...}``, each with the
``isolation`` record of what it put in force; then for each request ``{"op": NAME, "kwargs": {...}}`` it runs
``ops.OPS[NAME](func, **kwargs)`` under :func:`properties.sandbox.guard.run` and sends back the reply dict.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

#: Log size past which the server empties its log between calls (the tail that matters after a crash is recent).
MAX_LOG = 4 << 20


class _LogMeter:
    """Bytes the implementation wrote to stdout/stderr during one call (both go to the log file)."""

    def __init__(self):
        self.fd = os.dup(1)
        self.at = 0

    def _size(self) -> int:
        try:
            return os.fstat(self.fd).st_size
        except OSError:
            return 0

    def start(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass
        size = self._size()
        if size > MAX_LOG:
            try:
                os.ftruncate(self.fd, 0)
                size = 0
            except OSError:
                pass
        self.at = size

    def stop(self) -> tuple[int, str]:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass
        written = max(0, self._size() - self.at)
        head = ""
        if written:
            try:
                head = os.pread(self.fd, 200, self.at).decode("utf-8", "replace")
            except OSError:
                pass
        return written, head


def _contain(config: dict) -> None:
    """Die with the checking process; a memory budget; no terminal Ctrl-C (that is the checking side's to handle)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux: the checking side still kills the tree
        pass
    parent = config.get("parent")
    if parent and os.getppid() != parent:  # the checking process died before prctl took effect
        os._exit(70)
    limit = config.get("max_memory")
    if limit:
        try:
            import resource

            soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
            new = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
            if soft == resource.RLIM_INFINITY or soft > new:
                resource.setrlimit(resource.RLIMIT_DATA, (new, hard))
        except (ImportError, ValueError, OSError):
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# -- isolation (issue 14) -----------------------------------------------------------------------------------------------


def _confine(config: dict) -> dict:
    """Restrict this process as ``config["confine"]`` says (:mod:`properties.sandbox.confine`); the record of what is
    in force. The temporary directory is this process's ``TMPDIR`` from here on."""
    from properties.sandbox import confine

    spec = config.get("confine")
    if not spec or not spec.get("tmpdir"):
        return confine.none_in_force("the checking side did not ask for confinement")
    confine.private_tmpdir(spec["tmpdir"])
    return confine.confine(spec["tmpdir"], spec.get("writable") or ())


def _lacking(config: dict, isolation: dict) -> str | None:
    """With ``config["confine"]["require"]``: the message naming each protection not in force, else None."""
    from properties.sandbox import confine

    missing = confine.missing(isolation) if (config.get("confine") or {}).get("require") else {}
    if not missing:
        return None
    return "--require-isolation: the candidate process could not put in force: " + "; ".join(
        f"{name} ({why})" for name, why in missing.items())


# -- end of isolation ---------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    sock = socket.socket(fileno=int(argv[0]))
    config = json.loads(argv[1])
    _contain(config)
    isolation = _confine(config)  # before anything else is imported (no thread may exist yet) or loaded

    from properties.sandbox import guard, ops, wire
    from properties.sandbox.loader import SpecError, load

    std_fds = {fd: os.dup(fd) for fd in (0, 1, 2)}
    meter = _LogMeter()
    arena = wire.Arena(size=config["arena_size"], fd=config["arena_fd"]) if config.get("arena_fd") is not None else None
    lacking = _lacking(config, isolation)
    if lacking:  # --require-isolation: the implementation is not even loaded
        wire.send(sock, {"status": "isolation_missing", "message": lacking, "isolation": isolation})
        return 6
    try:
        func = load(config["spec"])
    except SpecError as exc:
        wire.send(sock, {"status": "load_error", "message": str(exc), "isolation": isolation})
        return 2
    wire.send(sock, {"status": "ready", "pid": os.getpid(), "isolation": isolation})
    max_output = int(config.get("max_output") or guard.DEFAULT_MAX_OUTPUT)
    while True:
        try:
            request = wire.recv(sock, arena=arena)
        except wire.WireClosed:
            return 0
        except KeyboardInterrupt:  # raised into the loop by a thread of the implementation: ignore
            continue
        if request is None:
            return 0
        name = request.get("op", "call")
        kwargs = wire.decode(request.get("kwargs") or {})
        op = ops.OPS.get(name)
        if op is None:
            reply = {"status": "internal", "message": f"unknown operation {name!r}"}
        else:
            reply = guard.run(lambda: op(func, **kwargs), args=list(kwargs.values()), meter=meter,
                              max_output=max_output, std_fds=std_fds)
            if reply["error"] is not None:
                reply["error"].pop("exception", None)
            reply["value"] = wire.encode(reply["value"])
        try:
            wire.send(sock, reply, arena)
        except wire.WireClosed:
            return 0
        except Exception as exc:  # noqa: BLE001 - a value that cannot be sent: say so instead
            wire.send(sock, {"status": "internal", "message": f"cannot send the reply: {type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    sys.exit(main())
