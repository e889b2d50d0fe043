"""One call of the implementation (or one operation on it), with everything it does to its process observed and undone.

:func:`run` executes a thunk and returns a plain reply (a dict): the value, or the exception it raised described by
name (class, module, the names of its bases, message), plus what the call did besides:

* **process-wide state it changed** -- global JAX configuration (x64, matmul precision, ...), NumPy's error state, the
  working directory, signal handlers, the standard file descriptors -- is restored, and the call is reported as a
  misbehaviour naming the change (a function must not change its caller's process);
* **output**: the bytes it wrote to stdout/stderr (a call writing more than ``max_output`` is a misbehaviour);
* **its arguments**: whether it modified an array it was given (compared with a copy taken before the call);
* **threads** it started and left running (a note, not a failure).

The same function serves the candidate process (:mod:`properties.sandbox.server`) and ``--in-process`` runs, so a
verdict does not depend on where the call ran. Nothing here imports the checking side of the suite.
"""

from __future__ import annotations

import copy
import math
import os
import signal
import sys
import threading
import time
from typing import Any, Callable

import numpy as np

from properties.sandbox import compile_clock

DEFAULT_MAX_OUTPUT = 64 * 1024

#: Global JAX settings a call must leave as it found them.
GUARDED_JAX_CONFIG = (
    "jax_enable_x64",
    "jax_default_matmul_precision",
    "jax_default_prng_impl",
    "jax_numpy_rank_promotion",
    "jax_numpy_dtype_promotion",
    "jax_disable_jit",
    "jax_debug_nans",
    "jax_threefry_partitionable",
)
_STD_FDS = {0: "stdin", 1: "stdout", 2: "stderr"}


def describe_exception(exc: BaseException) -> dict:
    """An exception as data: its class, module, the qualified names of its class hierarchy, and its message."""
    cls = type(exc)
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001 - a hostile __str__
        message = "<str() of the exception failed>"
    mro = []
    for base in cls.__mro__:
        mro.append(f"{getattr(base, '__module__', '?')}.{getattr(base, '__qualname__', base.__name__)}")
    return {"type": cls.__name__, "module": getattr(cls, "__module__", "?"), "mro": mro, "message": message[:4000]}


def describe_args(seed, x_batch, num_layers, features) -> str:
    """``(seed=..., x_batch=<float32 array (B, F)>, ...)`` for messages."""
    shape = getattr(x_batch, "shape", None)
    dtype = getattr(x_batch, "dtype", None)
    if shape is not None:
        xs = f"<{dtype} array {tuple(shape)}>"
    else:
        xs = f"<{type(x_batch).__name__}>" if isinstance(x_batch, (list, tuple)) else _safe_repr(x_batch, 60)
    return f"(seed={_safe_repr(seed, 40)}, x_batch={xs}, num_layers={_safe_repr(num_layers, 30)}, " \
           f"features={_safe_repr(features, 30)})"


def _safe_repr(value, limit: int = 80) -> str:
    try:
        text = repr(value)
    except BaseException:  # noqa: BLE001
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- the output ---------------------------------------------------------------------------------------------------------


def convert_output(out: Any) -> dict:
    """The implementation's result as data: a NumPy array, its original type and whether it was a ``jax.Array``, or
    the reason it is not a numeric array (the messages the checking side reports)."""
    kind = type(out)
    type_name = f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', kind.__name__)}"
    info = {"array": None, "type": type_name, "is_jax": _is_jax(out), "problem": None}
    try:
        has = hasattr(out, "shape") and hasattr(out, "dtype")
    except BaseException:  # noqa: BLE001
        has = False
    if not has:
        info["problem"] = (f"the output must be an array with .shape and .dtype: got {kind.__name__} "
                           f"{_safe_repr(out)}")
        return info
    try:
        arr = np.asarray(out)
    except BaseException as exc:  # noqa: BLE001
        info["problem"] = f"the output ({kind.__name__}) cannot be converted to a NumPy array: {exc}"
        return info
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype.kind == "V"):
        info["problem"] = f"the output must be a numeric array: got dtype {arr.dtype} from {kind.__name__}"
        return info
    info["array"] = np.asarray(arr, order="C")  # not ascontiguousarray: it makes a 0-d array 1-d
    return info


def _is_jax(value) -> bool:
    if "jax" not in sys.modules:
        return False
    try:
        import jax

        return isinstance(value, jax.Array)
    except BaseException:  # noqa: BLE001
        return False


# -- arguments ----------------------------------------------------------------------------------------------------------


def snapshot_args(args) -> list:
    """Copies of the arrays and lists among ``args`` (to detect in-place modification).

    An array that is a view (a strided or reversed slice, a column of a wider array, or any array rebuilt from the
    wire, whose memory is a buffer it does not own) is saved with the memory it lives in, so a write through it
    outside its own items (the padding between strided rows, the rest of the parent) is seen too. A ``jax.Array``
    is saved as its values (it is immutable, but it can be deleted or donated, or written through ``__dlpack__``).
    """
    out = []
    for value in args:
        if isinstance(value, np.ndarray):
            out.append((value, np.array(value, copy=True)))
            owner = _owner(value)
            if owner is not None:
                out.append((owner, bytes(owner)))
        elif isinstance(value, list):
            try:
                out.append((value, copy.deepcopy(value)))
            except BaseException:  # noqa: BLE001
                pass
        elif _is_jax(value):
            try:
                out.append((value, ("jax", np.array(value, copy=True))))
            except BaseException:  # noqa: BLE001 - a deleted or otherwise unreadable array: nothing to compare
                pass
    return out


def _owner(a: np.ndarray) -> memoryview | None:
    """The writable memory ``a`` is a view into, as bytes, when it is larger than ``a``'s own items (None when ``a``
    owns its memory or covers all of it)."""
    base = a
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    if base is a:
        return None
    if isinstance(base, np.ndarray):  # the array that owns the memory (in the caller's process)
        if not (base.flags.c_contiguous or base.flags.f_contiguous):
            return None
        base = base.ravel(order="K").view(np.uint8)  # its bytes, no copy
    try:
        view = memoryview(base).cast("B")  # a buffer (the candidate process: the memory rebuilt from the wire)
    except (TypeError, ValueError, BufferError):
        return None
    if view.readonly or view.nbytes == a.nbytes:
        return None
    return view


def mutated(snapshots) -> bool:
    for original, saved in snapshots:
        if isinstance(saved, np.ndarray):
            if original.shape != saved.shape or original.dtype != saved.dtype:
                return True
            if not _same_bits(original, saved):
                return True
        elif isinstance(saved, bytes):  # the memory a view lives in
            if original != saved:
                return True
        elif isinstance(saved, tuple) and saved[:1] == ("jax",):
            try:
                now = np.asarray(original)
            except BaseException:  # noqa: BLE001 - deleted (jax.Array.delete, a donated buffer)
                return True
            if now.shape != saved[1].shape or now.dtype != saved[1].dtype or not _same_bits(now, saved[1]):
                return True
        elif not _same_nested(original, saved):
            return True
    return False


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit for bit (NaN payloads included); fast for the usual contiguous arrays."""
    if a.dtype.hasobject:
        try:
            return bool(np.all(a == b))
        except Exception:  # noqa: BLE001
            return False
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    return bool(np.array_equal(a.reshape(-1).view(np.uint8), b.reshape(-1).view(np.uint8)))


def _same_nested(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same_nested(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):  # a list of row arrays
        return a.shape == b.shape and a.dtype == b.dtype and _same_bits(a, b)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    try:
        return bool(a == b)
    except BaseException:  # noqa: BLE001
        return False


# -- process-wide state ---------------------------------------------------------------------------------------------------


class ProcessState:
    """Process-wide state a call must not change, captured before it; :meth:`restore` undoes and names changes."""

    def __init__(self, *, signals: bool = True, std_fds: dict | None = None):
        self.jax = _jax_config()
        self.numpy = np.geterr()
        try:
            self.cwd = os.getcwd()
        except OSError:
            self.cwd = None
        self.signals = _signal_handlers() if signals else None
        self.std_fds = std_fds  # {fd: saved duplicate} to compare with and restore from (candidate process only)
        self.fd_ids = {fd: _fd_id(fd) for fd in std_fds} if std_fds else None
        self.threads = {t.ident for t in threading.enumerate()}

    def restore(self) -> tuple[list[str], list[str]]:
        """Undo what changed; return ``(changes, notes)``: changes are misbehaviours, notes are harmless facts."""
        changes: list[str] = []
        if self.jax is not None or "jax" in sys.modules:
            before = self.jax or {}
            now = _jax_config() or {}
            diff = [(k, before.get(k), now.get(k)) for k in GUARDED_JAX_CONFIG if before.get(k) != now.get(k)]
            if self.jax is not None and diff:
                import jax

                for key, old, _ in diff:
                    try:
                        jax.config.update(key, old)
                    except Exception:  # noqa: BLE001
                        pass
                changes.append("global JAX configuration: " + ", ".join(f"{k}: {a!r} -> {b!r}" for k, a, b in diff))
        errs = np.geterr()
        if errs != self.numpy:
            np.seterr(**self.numpy)
            diff = ", ".join(f"{k}: {self.numpy[k]!r} -> {errs[k]!r}" for k in errs if errs[k] != self.numpy.get(k))
            changes.append(f"NumPy's error state (np.seterr): {diff}")
        try:
            cwd = os.getcwd()
        except OSError:
            cwd = "<deleted>"
        if self.cwd is not None and cwd != self.cwd:
            try:
                os.chdir(self.cwd)
            except OSError:
                pass
            changes.append(f"the working directory: {self.cwd!r} -> {cwd!r}")
        if self.signals is not None:
            now = _signal_handlers()
            moved = [s for s, h in now.items() if self.signals.get(s) is not h and self.signals.get(s) != h]
            for sig in moved:
                old = self.signals.get(sig)
                if old is not None:
                    try:
                        signal.signal(sig, old)
                    except (OSError, ValueError, TypeError):
                        pass
            if moved:
                names = ", ".join(signal.Signals(s).name if s in signal.Signals._value2member_map_ else str(s)
                                  for s in sorted(moved))
                changes.append(f"signal handlers: {names}")
        if self.fd_ids is not None:
            for fd, before in self.fd_ids.items():
                now = _fd_id(fd)
                if now != before:
                    what = "closed" if now is None else "replaced (dup2)"
                    try:
                        os.dup2(self.std_fds[fd], fd)
                    except OSError:
                        pass
                    changes.append(f"file descriptor {fd} ({_STD_FDS.get(fd, fd)}): {what}")
        notes = []
        new = [t for t in threading.enumerate() if t.ident not in self.threads and t.is_alive()]
        if new:
            notes.append(f"it left {len(new)} background thread(s) running: "
                         + ", ".join(repr(t.name) for t in new[:5]))
        return changes, notes


def _jax_config():
    if "jax" not in sys.modules:
        return None
    try:
        import jax

        return {name: getattr(jax.config, name, None) for name in GUARDED_JAX_CONFIG}
    except BaseException:  # noqa: BLE001
        return None


#: Signals whose Python-level handlers a call must leave alone (the standard ones a Python program may handle).
_SIGNALS = tuple(int(getattr(signal, name)) for name in (
    "SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGCHLD", "SIGCONT",
    "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGXCPU", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGSEGV", "SIGFPE", "SIGBUS",
    "SIGABRT", "SIGILL") if hasattr(signal, name))


try:  # the C function: signal.getsignal wraps its result in an enum, ten times slower
    from _signal import getsignal as _getsignal
except ImportError:  # pragma: no cover
    _getsignal = signal.getsignal


def _signal_handlers() -> dict:
    out = {}
    for sig in _SIGNALS:
        try:
            out[int(sig)] = _getsignal(sig)
        except (OSError, ValueError):
            pass
    return out


def _fd_id(fd: int):
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


# -- one guarded call ---------------------------------------------------------------------------------------------------


def run(thunk: Callable[[], Any], *, args=(), meter=None, max_output: int = DEFAULT_MAX_OUTPUT,
        convert: Callable[[Any], Any] | None = None, signals: bool = True, std_fds: dict | None = None) -> dict:
    """Run ``thunk()`` (the call, or an operation), observed. Returns the reply dict:

    ``{"status": "ok" | "raised", "value": convert(result), "error": describe_exception(...) | None,
    "misbehaviour": str | None, "notes": [...], "mutated": bool, "seconds": float,
    "compile_s": float}`` (``compile_s``: the part of ``seconds`` JAX spent tracing and compiling)

    ``meter`` (optional) counts what the call writes: ``meter.start()`` before, ``meter.stop() -> (bytes, head)``
    after. ``convert`` turns the result into data inside the measured region (so a lazy result that hangs when it is
    converted hangs the call, where the deadline sees it).
    """
    saved = snapshot_args(args)
    state = ProcessState(signals=signals, std_fds=std_fds)
    if meter is not None:
        meter.start()
    start = time.perf_counter()
    compiled = compile_clock.seconds()  # issue 17: the compile part of the call, for the example budget
    value = error = None
    try:
        result = thunk()
        value = convert(result) if convert is not None else result
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt raised by the implementation too
        error = describe_exception(exc)
        error["exception"] = exc  # dropped before it crosses the wire; in process it is the cause
    seconds = time.perf_counter() - start
    compiled = compile_clock.seconds() - compiled
    written, head = meter.stop() if meter is not None else (0, "")
    changes, notes = state.restore()
    misbehaviour = None
    if changes:
        misbehaviour = "implementation changed process-wide state (restored): " + "; ".join(changes)
        if len(changes) == 1 and changes[0].startswith("global JAX configuration: "):
            misbehaviour = ("implementation changed global JAX configuration (restored): "
                            + changes[0][len("global JAX configuration: "):])
    elif written > max_output:
        misbehaviour = (f"implementation wrote {written} bytes to stdout/stderr in one call (limit {max_output}); "
                        f"it began: {head!r}")
    return {
        "status": "raised" if error is not None else "ok",
        "value": value,
        "error": error,
        "misbehaviour": misbehaviour,
        "notes": notes,
        "mutated": mutated(saved),
        "seconds": seconds,
        "compile_s": compiled,
    }
