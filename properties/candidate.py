"""The implementation under test: loading it from a SPEC, and calling it behind a guard.

SPEC is a name in ``composed.IMPLEMENTATIONS``, or ``package.module:attr``, or ``path/to/file.py:attr`` (``:attr`` is
optional and defaults to ``composed_transforms``).

Every call of the implementation made by a property goes through :class:`Candidate`, which

* turns anything it raises (``SystemExit`` included) into :class:`ImplementationError` naming the call,
* stops a call that runs longer than ``timeout`` seconds (SIGALRM, main thread; a call stuck in C code that ignores
  signals is left to the process-level isolation of the runner, ``properties.isolation``); after a timeout or a
  ``MemoryError`` the later calls of the same test fail at once, so Hypothesis's shrinking costs nothing,
* diverts what the call writes to stdout/stderr (file-descriptor level) and fails it past ``max_output`` bytes,
* restores global JAX configuration the call changed (x64, matmul precision, ...) and fails the call for it,
* records the calls of the current example, so a failure can be reproduced (see :mod:`properties.repro`).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

DEFAULT_ATTR = "composed_transforms"
DEFAULT_SPEC = "fast"
DEFAULT_TIMEOUT = 120.0
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


class SpecError(Exception):
    """The SPEC cannot be resolved to a callable."""


class ImplementationError(Exception):
    """The implementation misbehaved during a call (raised, hung, crashed out, was noisy, changed global state)."""

    def __init__(self, message: str, cause: BaseException | None = None):
        super().__init__(message)
        self.cause = cause


class CallTimeout(ImplementationError):
    """A call ran past the per-call timeout."""


def load(spec: str) -> Callable:
    """Resolve SPEC to the callable it names, or raise :class:`SpecError` saying why not."""
    spec = (spec or "").strip()
    if not spec:
        raise SpecError("empty implementation SPEC")
    if ":" not in spec and "/" not in spec and not spec.endswith(".py"):
        import composed

        if spec in composed.IMPLEMENTATIONS:
            return composed.IMPLEMENTATIONS[spec]
    target, _, attr = spec.rpartition(":") if _has_attr_part(spec) else (spec, "", "")
    attr = attr or DEFAULT_ATTR
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = Path(target).expanduser()
        if not path.is_file():
            raise SpecError(f"implementation SPEC {spec!r}: no such file {str(path)!r}")
        name = "_composed_candidate_" + "".join(c if c.isalnum() else "_" for c in str(path.resolve()))
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise SpecError(f"implementation SPEC {spec!r}: cannot import {str(path)!r}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        sys.path.insert(0, str(path.resolve().parent))  # so the file can import its siblings
        try:
            module_spec.loader.exec_module(module)
        except BaseException as exc:  # noqa: BLE001 - a broken file is a usage error, whatever it raises
            sys.modules.pop(name, None)
            raise SpecError(f"implementation SPEC {spec!r}: importing {str(path)!r} failed: {_name(exc)}") from exc
    else:
        try:
            module = importlib.import_module(target)
        except BaseException as exc:  # noqa: BLE001
            known = ""
            try:
                import composed

                known = f" (bundled names: {', '.join(sorted(composed.IMPLEMENTATIONS))})"
            except Exception:  # noqa: BLE001
                pass
            raise SpecError(f"implementation SPEC {spec!r}: cannot import module {target!r}: {_name(exc)}{known}") from exc
    try:
        func = getattr(module, attr)
    except AttributeError:
        raise SpecError(f"implementation SPEC {spec!r}: module {target!r} has no attribute {attr!r}") from None
    if not callable(func):
        raise SpecError(f"implementation SPEC {spec!r}: {attr!r} is not callable (got {type(func).__name__})")
    return func


def _has_attr_part(spec: str) -> bool:
    head, sep, tail = spec.rpartition(":")
    # "C:\\dir\\file.py" has a drive colon, not an attribute part.
    return bool(sep) and tail.isidentifier()


def _name(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def describe_args(seed, x_batch, num_layers, features) -> str:
    shape = getattr(x_batch, "shape", None)
    dtype = getattr(x_batch, "dtype", None)
    xs = f"<{dtype} array {tuple(shape)}>" if shape is not None else repr(x_batch)[:60]
    return f"(seed={seed!r}, x_batch={xs}, num_layers={num_layers!r}, features={features!r})"


@dataclass
class Candidate:
    """A guarded handle on the implementation under test."""

    func: Callable
    spec: str = "<callable>"
    timeout: float | None = DEFAULT_TIMEOUT
    max_output: int = DEFAULT_MAX_OUTPUT
    calls: list = field(default_factory=list)  # the calls of the current example: (args tuple)
    hung: str | None = None  # set after a timeout or MemoryError: later calls in the same test fail at once
    hung_error: type = None  # the class they fail with (CallTimeout, or ImplementationError for memory)
    #: optional process-level watch (``properties.isolation.CallMonitor``): ``begin(where)`` before and ``end()`` after
    #: every call; it records the call in progress and ends the process when a call outlives a hard deadline.
    monitor: Any = None

    def __repr__(self) -> str:
        return f"Candidate({self.spec!r})"

    @classmethod
    def from_spec(cls, spec: str, **kwargs) -> "Candidate":
        return cls(load(spec), spec=spec, **kwargs)

    @property
    def is_bundled(self) -> bool:
        """True for the implementations shipped in :mod:`composed` (held to the exact exception classes)."""
        try:
            import composed
        except Exception:  # noqa: BLE001
            return False
        return any(self.func is f for f in composed.IMPLEMENTATIONS.values())

    def reset(self) -> None:
        """Forget the calls and the hang of the previous test."""
        self.calls.clear()
        self.hung = None
        self.hung_error = None

    def __call__(self, seed, x_batch, num_layers, features):
        """Call the implementation once, guarded. Returns whatever it returns."""
        args = (seed, x_batch, num_layers, features)
        self.calls.append(args)
        if not self.hung:
            with _Guard(self, describe_args(*args)):
                return self.func(*args)
        # This call (the guard swallowed its timeout or MemoryError) or an earlier one of this test hung or ran out of
        # memory. One raise site and no exception context, so Hypothesis sees one failure (not a "flaky" or second
        # one) while it shrinks, and each of its retries costs nothing.
        raise (self.hung_error or CallTimeout)(self.hung)


class _Guard:
    """Timeout, output diversion and JAX-config protection around one call."""

    def __init__(self, candidate: Candidate, where: str):
        self.c = candidate
        self.where = where

    def __enter__(self):
        self.config = _jax_config_snapshot()
        if self.c.monitor is not None:
            self.c.monitor.begin(self.where)
        self.out = _Diverted()
        self.alarm = None
        if self.c.timeout and threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM"):
            def on_alarm(signum, frame):
                raise _Alarm()

            self.alarm = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, self.c.timeout)
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.c.monitor is not None:
            self.c.monitor.end()
        if self.alarm is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.alarm)
        written, head = self.out.close()
        changed = _jax_config_restore(self.config)
        if exc_type is _Alarm:
            msg = f"call timed out after {self.c.timeout:g} s: composed_transforms{self.where}"
            self.c.hung = msg + " (later calls in this test fail at once)"
            self.c.hung_error = CallTimeout
            return True  # Candidate.__call__ raises it
        if isinstance(exc, MemoryError):
            self.c.hung = (f"implementation raised MemoryError: {str(exc)[:300]}\n  in composed_transforms{self.where}"
                           " (later calls in this test fail at once)")
            self.c.hung_error = ImplementationError
            return True  # Candidate.__call__ raises it
        if exc is not None and exc_type is not KeyboardInterrupt and not isinstance(exc, ImplementationError):
            raise ImplementationError(
                f"implementation raised {type(exc).__name__}: {str(exc)[:500]}\n  in composed_transforms{self.where}",
                exc,
            ) from exc
        if changed:
            raise ImplementationError(
                "implementation changed global JAX configuration (restored): "
                + ", ".join(f"{k}: {a!r} -> {b!r}" for k, a, b in changed)
                + f"\n  in composed_transforms{self.where}"
            )
        if written > self.c.max_output:
            raise ImplementationError(
                f"implementation wrote {written} bytes to stdout/stderr in one call (limit {self.c.max_output}); "
                f"it began: {head!r}\n  in composed_transforms{self.where}"
            )
        return False


class _Alarm(BaseException):
    """Raised by the SIGALRM handler; a BaseException so the implementation's own ``except Exception`` can't eat it."""


class _Diverted:
    """Send fds 1 and 2 to a temporary file for the duration of a call; count what was written."""

    def __init__(self):
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
        # Python-level writers that don't go through fds 1/2 (pytest's capture replaces sys.stdout) land here too.
        self.text = open(os.dup(self.file.fileno()), "w", encoding="utf-8", errors="replace", closefd=True)
        sys.stdout = sys.stderr = self.text

    def close(self):
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


def _jax_config_snapshot():
    if "jax" not in sys.modules:
        return None
    import jax

    return {name: getattr(jax.config, name, None) for name in GUARDED_JAX_CONFIG}


def _jax_config_restore(before):
    if before is None:
        return []
    import jax

    changed = []
    for name, old in before.items():
        new = getattr(jax.config, name, None)
        if new != old:
            changed.append((name, old, new))
            try:
                jax.config.update(name, old)
            except Exception:  # noqa: BLE001
                pass
    return changed


def as_output(out: Any) -> np.ndarray:
    """The implementation's result as a NumPy array, or an AssertionError saying why it is not an array."""
    if not (hasattr(out, "shape") and hasattr(out, "dtype")):
        raise AssertionError(f"the output must be an array with .shape and .dtype: got {type(out).__name__} {out!r:.80}")
    try:
        arr = np.asarray(out)
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"the output ({type(out).__name__}) cannot be converted to a NumPy array: {exc}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype.kind == "V"):
        raise AssertionError(f"the output must be a numeric array: got dtype {arr.dtype} from {type(out).__name__}")
    return arr
