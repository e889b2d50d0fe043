"""The implementation under test, as the checking side sees it: a handle that ships calls to it and brings back data.

Properties call ``impl(seed, x_batch, num_layers, features)`` and get a :class:`Returned` (the output as a NumPy array
with its original type name, or the reason it is not a numeric array), or an :class:`ImplementationError` when the
implementation raised (its class, bases and message as a :class:`RemoteError`), misbehaved (changed process-wide
state, wrote too much), crashed or hung. ``impl.run(op, **kwargs)`` asks for an operation of
:mod:`properties.sandbox.ops` (trace, shard, ...).

Two handles with that interface:

* :class:`ProcessCandidate` (the default): the SPEC is loaded and called only in a separate candidate process
  (:mod:`properties.sandbox.server`), in its own session, with a memory budget, killed with everything it started
  (:mod:`properties.harness.processes`) after a crash or a hang, when a property leaves processes behind, and at the
  end. The deadline of a call is enforced from here: the process is killed when no reply came in time, whatever it
  was doing (in C code, with signals blocked, converting a lazy result). This process never imports or calls the
  implementation, so nothing the implementation does can change the oracle, the tolerance or the verdict.
* :class:`InProcessCandidate` (``--in-process``, and plain callables given to :mod:`properties.api`): the same
  guard in this process, for debugging (pdb into the implementation). Not tamper-proof; a crash ends the run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any, Callable

import numpy as np

from properties.harness import isolation, processes
from properties.harness.runstate import RunState
from properties.sandbox import guard, ops, wire
from properties.sandbox.loader import DEFAULT_SPEC, SpecError, is_bundled_spec, load

DEFAULT_TIMEOUT = 120.0
DEFAULT_MAX_OUTPUT = guard.DEFAULT_MAX_OUTPUT
#: Seconds a candidate process may take to start (import the implementation) on top of the call timeout.
STARTUP_GRACE = 60.0
#: After this many timed-out calls in a run, with no call ever returning an output, an implementation "hangs
#: everywhere": later calls are not made (their properties are reported as not run).
HANG_LIMIT = 3
#: After a timeout, a call's deadline is HANG_FACTOR x the slowest call that returned in the run, at least HANG_FLOOR
#: seconds (and never more than the timeout).
HANG_FACTOR = 4.0
HANG_FLOOR = 10.0
#: Host CPU devices a candidate process asks XLA for by default (the sharding property needs a mesh of 4).
DEFAULT_HOST_DEVICES = 4
HOST_DEVICE_FLAG = "--xla_force_host_platform_device_count"
ENV_CACHE = "COMPOSED_JAX_CACHE"


def default_cache_dir() -> str | None:
    """The persistent JAX compilation cache: ``$COMPOSED_JAX_CACHE`` ('off' disables), else
    ``$XDG_CACHE_HOME/composed/jax`` (``~/.cache/composed/jax``)."""
    value = os.environ.get(ENV_CACHE)
    if value and value.lower() in ("off", "0", "none", "false", "no"):
        return None
    if value:
        return value
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "composed", "jax")


def cache_settings(path: str | None) -> dict:
    """JAX settings of a persistent compilation cache at ``path`` that keeps every program (none for None)."""
    if not path:
        return {}
    return {
        "jax_compilation_cache_dir": path,
        "jax_persistent_cache_min_compile_time_secs": 0,
        "jax_persistent_cache_min_entry_size_bytes": 0,
    }


def candidate_environment(base: dict | None = None, *, cache_dir: str | None = "default",
                          matmul_precision: str | None = "highest", host_devices: int = DEFAULT_HOST_DEVICES,
                          run: str | None = None) -> dict:
    """The environment of a candidate process: ``base`` (this process's), plus the compilation cache, the matmul
    precision (``JAX_DEFAULT_MATMUL_PRECISION``; None or 'keep' leaves it), ``host_devices`` CPU devices for the
    sharding property (unless ``XLA_FLAGS`` already sets a count), no GPU preallocation, and the run's marker."""
    env = dict(os.environ if base is None else base)
    path = default_cache_dir() if cache_dir == "default" else cache_dir
    for key, value in cache_settings(path).items():
        env[key.upper()] = str(value)
    if matmul_precision and matmul_precision != "keep":
        env["JAX_DEFAULT_MATMUL_PRECISION"] = matmul_precision
    flags = env.get("XLA_FLAGS", "")
    if host_devices > 1 and HOST_DEVICE_FLAG not in flags:
        env["XLA_FLAGS"] = f"{flags} {HOST_DEVICE_FLAG}={host_devices}".strip()
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    env[processes.ENV_RUN] = run or env.get(processes.ENV_RUN) or uuid.uuid4().hex
    for key in (processes.ENV_CANDIDATE, "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST", "PYTEST_ADDOPTS"):
        env.pop(key, None)
    return env

__all__ = ["Candidate", "ProcessCandidate", "InProcessCandidate", "Returned", "RemoteError", "ImplementationError",
           "CallTimeout", "NotRun", "SpecError", "IsolationMissing", "as_output", "describe_args", "DEFAULT_TIMEOUT", "DEFAULT_SPEC", "open_candidate"]


class ImplementationError(Exception):
    """The implementation misbehaved during a call (raised, hung, crashed, was noisy, changed process-wide state)."""

    def __init__(self, message: str, cause: "RemoteError | None" = None):
        super().__init__(message)
        self.cause = cause


class CallTimeout(ImplementationError):
    """A call ran past its deadline."""


class NotRun(Exception):
    """The property cannot be checked, for a reason that is not its own (the implementation hangs in every call):
    the runner reports it as not run, saying why."""


class RemoteError:
    """An exception the implementation raised, as data: ``type`` (class name), ``module``, ``mro`` (qualified names
    of its class and every base), ``message``; ``exception`` is the object itself, in process only."""

    __slots__ = ("type", "module", "mro", "message", "exception")

    def __init__(self, type: str, module: str, mro: tuple, message: str, exception: BaseException | None = None):
        self.type, self.module, self.mro, self.message, self.exception = type, module, tuple(mro), message, exception

    def __repr__(self) -> str:
        return f"RemoteError({self.module}.{self.type}: {self.message[:80]!r})"

    @classmethod
    def of(cls, error: dict) -> "RemoteError":
        return cls(error["type"], error["module"], tuple(error["mro"]), error["message"], error.get("exception"))

    def is_a(self, *classes: type) -> bool:
        """Whether the exception is an instance of one of ``classes``, judged by the names of its class hierarchy."""
        names = set(self.mro)
        return any(f"{c.__module__}.{c.__qualname__}" in names for c in classes)

    def __str__(self) -> str:
        return self.message


class Returned:
    """What one call returned: ``array`` (a NumPy array) and ``type`` (the original type's qualified name), or
    ``problem`` saying why the result is not a numeric array. Converts with ``np.asarray``."""

    __slots__ = ("array", "type", "is_jax", "problem")

    def __init__(self, info: dict):
        self.array = info.get("array")
        self.type = info.get("type", "?")
        self.is_jax = bool(info.get("is_jax"))
        self.problem = info.get("problem")
        if self.array is not None and not isinstance(self.array, np.ndarray):  # a wire.Opaque
            self.problem, self.array = f"the output is not an array the wire carries: {self.array}", None

    @property
    def type_name(self) -> str:
        return self.type.rpartition(".")[2]

    @property
    def shape(self):
        return None if self.array is None else self.array.shape

    @property
    def dtype(self):
        return None if self.array is None else self.array.dtype

    def __array__(self, dtype=None, copy=None):
        arr = as_output(self)
        return arr if dtype is None else arr.astype(dtype)

    def __repr__(self) -> str:
        if self.problem:
            return f"Returned({self.type_name}: {self.problem})"
        return f"Returned({self.type_name} {self.array.dtype}{self.array.shape})"


def as_output(out: Any) -> np.ndarray:
    """The implementation's result as a NumPy array, or an AssertionError saying why it is not a numeric array."""
    if isinstance(out, Returned):
        if out.problem:
            raise AssertionError(out.problem)
        return out.array
    info = guard.convert_output(out)  # a raw value (check_case with a plain callable's result, tests)
    if info["problem"]:
        raise AssertionError(info["problem"])
    return info["array"]


describe_args = guard.describe_args

#: How an operation is named in messages.
_OP_WORDS = {"call": "", "trace": "jax.make_jaxpr of ", "sharded": "a sharded call of "}


class Candidate:
    """The interface properties use. Subclasses implement :meth:`_execute` (and may start/stop a process)."""

    def __init__(self, spec: str = "<callable>", *, timeout: float | None = DEFAULT_TIMEOUT,
                 max_output: int = DEFAULT_MAX_OUTPUT, bundled: bool | None = None):
        self.spec = spec
        self.timeout = timeout
        self.max_output = max_output
        self.is_bundled = is_bundled_spec(spec) if bundled is None else bundled
        self.calls: list = []  # the calls of the current example (for reproductions)
        self.hung: str | None = None  # after a timeout, crash or MemoryError: later calls of the test fail at once
        self.hung_error: type = CallTimeout
        self.last: dict = {}  # the last reply: "mutated", "seconds", "notes", ...
        self.notes: list[str] = []  # notes of the current test (threads left running, ...)
        self.run_seconds = 0.0  # issue 17: the implementation's run time so far, compiles excluded (harness.budget)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"

    # -- what properties use ---------------------------------------------------------------------------------------
    def __call__(self, seed, x_batch, num_layers, features) -> Returned:
        """Call the implementation once. Returns a :class:`Returned`; raises :class:`ImplementationError`."""
        self.calls.append((seed, x_batch, num_layers, features))
        reply = self._request("call", dict(seed=seed, x_batch=x_batch, num_layers=num_layers, features=features))
        return Returned(reply["value"])

    def run(self, op: str, **kwargs) -> Any:
        """Perform operation ``op`` of :mod:`properties.sandbox.ops` on the implementation; returns its data."""
        return self._request(op, kwargs)["value"]

    @property
    def last_mutated(self) -> bool:
        """Whether the last call modified an array (or list) it was given."""
        return bool(self.last.get("mutated"))

    def reset(self) -> None:
        """Forget the calls, notes and hang of the previous test."""
        self.calls.clear()
        self.notes.clear()
        self.hung = None
        self.hung_error = CallTimeout

    def end_test(self) -> None:
        """After each property: release what the implementation left behind (a process candidate: its processes)."""

    def start(self) -> None:
        """Get ready for the first call (a process candidate starts its process in the background)."""

    def wait_loaded(self) -> None:
        """Wait until the implementation is loaded; raise :class:`SpecError` saying why it cannot be."""

    def close(self) -> None:
        """Release everything (a process candidate: kill its process tree)."""

    # -- the common part of a request -------------------------------------------------------------------------------
    def _where(self, op: str, kwargs: dict) -> str:
        keys = ("seed", "x_batch", "num_layers", "features")
        args = describe_args(*(kwargs.get(k) for k in keys)) if all(k in kwargs for k in keys) else "(...)"
        return f"{_OP_WORDS.get(op, op + ' of ')}composed_transforms{args}"

    def _mark(self, message: str, error: type = ImplementationError) -> None:
        """Record a hang, crash or MemoryError: this call and the later calls of the same test fail with it."""
        self.hung = message + " (later calls in this test fail at once)"
        self.hung_error = error

    def _request(self, op: str, kwargs: dict) -> dict:
        if not self.hung:
            where = self._where(op, kwargs)
            reply = self._execute(op, kwargs, where)
            if reply is not None:
                reply = self._judge(op, reply, where)
                if reply is not None:
                    return reply
        # One raise site and no exception context, so Hypothesis sees one failure (not a "flaky" or second one)
        # while it shrinks, and each of its retries costs nothing.
        raise self.hung_error(self.hung)

    def _judge(self, op: str, reply: dict, where: str) -> dict | None:
        self.last = reply
        self.run_seconds += _run_time(reply)
        self.notes += [n for n in reply.get("notes") or () if n not in self.notes]
        if reply.get("status") == "internal":
            raise RuntimeError(f"the candidate process could not serve {op!r}: {reply.get('message')}")
        if reply.get("misbehaviour"):
            raise ImplementationError(f"{reply['misbehaviour']}\n  in {where}")
        if reply["status"] == "raised":
            err = RemoteError.of(reply["error"])
            if err.is_a(MemoryError):
                self._mark(f"implementation raised MemoryError: {err.message[:300]}\n  in {where}")
                return None
            raise ImplementationError(f"implementation raised {err.type}: {err.message[:500]}\n  in {where}"
                                      + self._notes(), err)
        return reply

    def _notes(self) -> str:
        return "".join(f"\n  note: {n}" for n in self.notes)

    def _execute(self, op: str, kwargs: dict, where: str) -> dict | None:  # pragma: no cover - abstract
        """The reply to one request, or None after :meth:`_mark` recorded a hang or crash."""
        raise NotImplementedError


# -- the candidate process ----------------------------------------------------------------------------------------------


class _Process:
    """One running candidate process: its Popen, its socket, its log, its marker."""

    def __init__(self, spec: str, env: dict, config: dict, cwd: str | None):
        processes.become_subreaper()
        self.marker = uuid.uuid4().hex
        self.log = tempfile.TemporaryFile(prefix="composed-candidate-")
        self.sock, child = wire.socket_pair()
        self.arena = wire.Arena()
        env = dict(env)
        env[processes.ENV_CANDIDATE] = self.marker
        config = dict(config, spec=spec, parent=os.getpid(), arena_fd=self.arena.fd, arena_size=self.arena.size)
        cmd = [sys.executable, "-m", "properties.sandbox.server", str(child.fileno()), json.dumps(config)]
        try:
            self.popen = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                          pass_fds=(child.fileno(), self.arena.fd), env=env, cwd=cwd,
                                          start_new_session=True, close_fds=True)
        finally:
            child.close()
        self.ready = False
        self.isolation: dict | None = None
        self.started = time.monotonic()

    def wait_ready(self, deadline: float) -> None:
        reply = wire.recv(self.sock, deadline, self.arena)
        if type(reply) is not dict:
            raise wire.WireError(f"a first message that is not a dict: {type(reply).__name__}")
        self.isolation = reply.get("isolation")  # isolation (issue 14): what the process put in force
        if reply.get("status") == "isolation_missing":
            raise IsolationMissing(reply["message"], self.isolation)
        if reply.get("status") == "load_error":
            raise SpecError(reply["message"])
        self.ready = True

    def exit_status(self, wait: float = 2.0) -> int | None:
        try:
            return self.popen.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return None

    def log_tail(self, limit: int = 1500) -> str:
        try:
            self.log.flush()
            size = os.fstat(self.log.fileno()).st_size
            self.log.seek(max(0, size - limit))
            return self.log.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def kill(self) -> int:
        killed = processes.kill_tree(self.popen.pid, marker=(processes.ENV_CANDIDATE, self.marker), popen=self.popen)
        for closeable in (self.sock, self.log, self.arena):
            try:
                closeable.close()
            except Exception:  # noqa: BLE001
                pass
        return killed

    def leftovers(self) -> set[int]:
        """Live processes of this candidate other than the server itself (the implementation's children)."""
        return processes.members(self.popen.pid, marker=(processes.ENV_CANDIDATE, self.marker)) - {self.popen.pid}


#: The key under which the checking side records how long a reply took by its own clock.
ELAPSED = "elapsed_here"


def _seconds(value) -> float:
    return float(value) if type(value) in (int, float) and value == value and value >= 0 else 0.0


def _run_time(reply: dict) -> float:
    """The implementation's run time in one reply, for the example budget (:mod:`properties.harness.budget`): the
    time the call took by the checking side's clock (the guard's own ``seconds`` in process), less the compile time
    the reply claims, at most all of it. A candidate can lower it by claiming compiles (its examples are then not
    cut), never raise it: a cut needs real seconds."""
    total = _seconds(reply[ELAPSED] if ELAPSED in reply else reply.get("seconds"))
    return total - min(total, _seconds(reply.get("compile_s")))


class IsolationMissing(SpecError):
    """``require_isolation``: the candidate process could not put every protection in force, so it did not load the
    implementation. ``record`` is what it had in force."""

    def __init__(self, message: str, record: dict | None = None):
        super().__init__(message)
        self.record = record


class ProcessCandidate(Candidate):
    """The implementation in its own process (see the module docstring)."""

    def __init__(self, spec: str, *, timeout: float | None = DEFAULT_TIMEOUT, max_output: int = DEFAULT_MAX_OUTPUT,
                 max_memory: int | None = None, env: dict | None = None, cwd: str | None = None,
                 bundled: bool | None = None, require_isolation: bool = False):
        super().__init__(spec, timeout=timeout, max_output=max_output, bundled=bundled)
        self.max_memory = max_memory
        self.env = candidate_environment() if env is None else dict(env)
        self.cwd = cwd
        self._proc: _Process | None = None
        self.restarts = 0
        self._lock = threading.Lock()
        self.runstate = RunState(self.env.get(processes.ENV_RUN))
        self.require_isolation = require_isolation
        self.isolation: dict | None = None  # the record of the last candidate process started
        self._isolate()

    def _config(self) -> dict:
        return {"max_output": self.max_output, "max_memory": self.max_memory, "confine": self._confine}

    def start(self) -> None:
        if self._proc is None:
            self._confine["tmpdir"] = isolation.candidate_tmpdir(self.env[processes.ENV_RUN], self._key)
            for key in ("TMPDIR", "TEMP", "TMP"):
                self.env[key] = self._confine["tmpdir"]
            self._proc = _Process(self.spec, self.env, self._config(), self.cwd)

    # -- isolation (issue 14): where the candidate process may write (see properties.harness.isolation) -------------
    def _isolate(self) -> None:
        """A JAX cache of this implementation's own instead of the shared one; the confinement the candidate process
        puts in force before it loads the implementation."""
        self.env.setdefault(processes.ENV_RUN, uuid.uuid4().hex)  # an env given without one: a run of its own
        self._key = isolation.implementation_key(self.spec, self.cwd)
        cache = isolation.candidate_cache_dir(self.env.get("JAX_COMPILATION_CACHE_DIR"), self._key)
        if cache:
            self.env["JAX_COMPILATION_CACHE_DIR"] = cache
        else:
            self.env.pop("JAX_COMPILATION_CACHE_DIR", None)
        self._confine = {"tmpdir": None, "writable": [cache] if cache else [], "require": self.require_isolation}
        self._owns_tmp = os.environ.get(processes.ENV_RUN) != self.env.get(processes.ENV_RUN)

    def _remove_tmp(self) -> None:
        """Remove the temporary directory of this run's candidates when no run owner above will."""
        if self._owns_tmp:
            isolation.remove_tmpdirs(self.env.get(processes.ENV_RUN))
    # -- end of isolation -----------------------------------------------------------------------------------------

    def wait_loaded(self) -> None:
        self.start()
        proc = self._proc
        if proc.ready:
            return
        budget = (self.timeout or DEFAULT_TIMEOUT) + STARTUP_GRACE
        try:
            proc.wait_ready(proc.started + budget)
            self.isolation = proc.isolation
            return
        except SpecError:
            self.isolation = proc.isolation
            self._drop()
            raise
        except wire.WireError as exc:
            why = f"the candidate process broke the wire protocol while importing the implementation: {exc}"
        except wire.WireTimeout:
            why = f"the candidate process did not finish importing the implementation within {budget:g} s"
        except wire.WireClosed:
            status, tail = proc.exit_status(), proc.log_tail()
            why = f"the candidate process {processes.describe_exit(status)} while importing the implementation" \
                  f"{_tail(tail)}"
        self._drop()
        raise SpecError(f"implementation SPEC {self.spec!r}: {why}")

    def _ready_process(self) -> _Process | None:
        try:
            self.wait_loaded()
        except SpecError as exc:
            self._mark(f"the implementation could not be loaded in the candidate process: {exc}")
            return None
        return self._proc

    def deadline(self) -> float | None:
        """Seconds the next call may take: the timeout, until a call of the run timed out; then HANG_FACTOR x the
        slowest call of the run that returned, at least HANG_FLOOR (an implementation that hangs costs the full
        timeout once, not once per property)."""
        if not self.timeout or not self.runstate.timeouts():
            return self.timeout
        return min(self.timeout, max(HANG_FLOOR, HANG_FACTOR * self.runstate.slowest()))

    def _hangs_everywhere(self) -> str | None:
        count = self.runstate.timeouts()
        if count >= HANG_LIMIT and not self.runstate.returned():
            return (f"not run: the implementation hangs ({count} calls of this run timed out and none has returned an "
                    "output)")
        return None

    def _execute(self, op: str, kwargs: dict, where: str) -> dict | None:
        hangs = self._hangs_everywhere()
        if hangs:
            raise NotRun(hangs)
        with self._lock:
            proc = self._ready_process()
            if proc is None:
                return None
            limit = self.deadline()
            start = time.monotonic()
            try:
                wire.send(proc.sock, {"op": op, "kwargs": wire.encode(kwargs)}, proc.arena)
                reply = wire.recv(proc.sock, None if not limit else start + limit, proc.arena)
                if type(reply) is not dict:
                    raise wire.WireError(f"a reply that is not a dict: {type(reply).__name__}")
            except wire.WireError as exc:
                self._mark(f"the candidate process broke the wire protocol (its reply is refused: {exc}) during the "
                           f"call {where}")
            except wire.WireTimeout:
                self.runstate.note_timeout()
                self._mark(f"call timed out after {limit:g} s: {where}", CallTimeout)
            except wire.WireClosed:
                status, tail = proc.exit_status(), proc.log_tail()
                self._mark(f"the candidate process {processes.describe_exit(status)} during the call {where}"
                           f"{self._notes()}{_tail(tail)}")
            else:
                reply[ELAPSED] = time.monotonic() - start  # this side's clock, whatever the reply says
                if reply.get("status") == "ok" and not reply.get("misbehaviour"):
                    self.runstate.note_returned(reply[ELAPSED])
                reply["value"] = wire.decode(reply.get("value"), jax_arrays=False)
                return reply
            self._drop()
            return None

    def _drop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            self.restarts += 1

    def end_test(self) -> None:
        """Kill the candidate's process tree if the implementation left processes running (it restarts on demand)."""
        proc = self._proc
        if proc is not None and proc.ready and proc.leftovers():
            self._drop()

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
        self._remove_tmp()

    def __del__(self):  # best effort; the fixture and atexit close explicitly
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass


def _tail(text: str) -> str:
    if not text:
        return ""
    lines = text.splitlines()[-12:]
    return "\n  its output ended with:\n" + "\n".join("    | " + line[:300] for line in lines)


# -- in process ---------------------------------------------------------------------------------------------------------


class _CallAlarm(BaseException):
    """Raised by the SIGALRM handler (in-process mode); a BaseException so ``except Exception`` cannot eat it."""


class _Diverted:
    """In process: send fds 1 and 2 to a temporary file for the duration of a call; count what was written."""

    def start(self):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        self.file = tempfile.TemporaryFile()
        self.saved = []
        for fd in (1, 2):
            try:
                self.saved.append((fd, os.dup(fd)))
                os.dup2(self.file.fileno(), fd)
            except OSError:
                pass
        self.py = (sys.stdout, sys.stderr)
        self.text = open(os.dup(self.file.fileno()), "w", encoding="utf-8", errors="replace", closefd=True)
        sys.stdout = sys.stderr = self.text

    def stop(self):
        try:
            self.text.flush()
        except Exception:  # noqa: BLE001
            pass
        sys.stdout, sys.stderr = self.py
        for fd, saved in self.saved:
            os.dup2(saved, fd)
            os.close(saved)
        try:
            self.text.close()
        except Exception:  # noqa: BLE001
            pass
        size = os.fstat(self.file.fileno()).st_size
        self.file.seek(0)
        head = self.file.read(200).decode("utf-8", "replace")
        self.file.close()
        return size, head


class InProcessCandidate(Candidate):
    """The implementation called in this process, through the same guard (not tamper-proof; for debugging)."""

    def __init__(self, func: Callable | str, spec: str | None = None, *, timeout: float | None = DEFAULT_TIMEOUT,
                 max_output: int = DEFAULT_MAX_OUTPUT, bundled: bool | None = None):
        if isinstance(func, str):
            spec, func = func, load(func)
        if bundled is None and spec is None:
            try:
                import composed

                bundled = any(func is f for f in composed.IMPLEMENTATIONS.values())
            except Exception:  # noqa: BLE001
                bundled = False
        super().__init__(spec or getattr(func, "__qualname__", repr(func)), timeout=timeout, max_output=max_output,
                         bundled=bundled)
        self.func = func

    def _execute(self, op: str, kwargs: dict, where: str) -> dict:
        fn = ops.OPS[op]
        alarm = self.timeout and threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM")

        def thunk():
            if not alarm:
                return fn(self.func, **kwargs)

            def on_alarm(signum, frame):
                raise _CallAlarm()

            previous = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, self.timeout)
            try:
                return fn(self.func, **kwargs)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)

        reply = guard.run(thunk, args=list(kwargs.values()), meter=_Diverted(), max_output=self.max_output)
        error = reply.get("error") or {}
        if isinstance(error.get("exception"), _CallAlarm):
            self._mark(f"call timed out after {self.timeout:g} s: {where}", CallTimeout)
            return None
        return reply


def open_candidate(impl, *, in_process: bool = False, **kwargs) -> Candidate:
    """A SPEC string, a callable or a :class:`Candidate` as a :class:`Candidate`: a SPEC runs in a candidate process
    (``in_process=True``: here); a callable can only run here."""
    if isinstance(impl, Candidate):
        return impl
    if isinstance(impl, str):
        if in_process:
            return InProcessCandidate(impl, timeout=kwargs.get("timeout", DEFAULT_TIMEOUT))
        return ProcessCandidate(impl, **kwargs)
    return InProcessCandidate(impl, timeout=kwargs.get("timeout", DEFAULT_TIMEOUT))
