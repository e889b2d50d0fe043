"""Strict tier: the result does not change when the batch is sharded over several devices.

The property places ``x_batch`` as a ``jax.Array`` with ``NamedSharding(mesh, P('batch', None))`` over a 1-D mesh of
:data:`MESH_SIZE` devices (B divisible by the mesh size: the cases come from :data:`SHARD_BUCKETS`) and compares the
output with the call on the plain NumPy batch.

Where the devices come from
---------------------------
* A machine with >= 4 devices of its default backend (GPUs, TPU cores) uses those.
* Otherwise the CPU backend's devices. On a CPU-only machine there is one unless XLA is told to split the host:
  ``XLA_FLAGS=--xla_force_host_platform_device_count=4``, read once, when JAX initialises its backends. The pytest
  plugin appends that flag to ``XLA_FLAGS`` at configuration, before anything initialises JAX (``--host-devices``,
  ``$COMPOSED_HOST_DEVICES``; ``0`` opts out). The mesh's devices then run on the same cores: the property checks the
  partitioned program, not a speed-up.
* When fewer than 4 devices are available anyway (JAX was initialised before the plugin could set the flag: a
  notebook using :mod:`properties.api`, a conftest that ran JAX first, ``--host-devices 0``), the check runs in a
  helper subprocess started once with the flag set and ``JAX_PLATFORMS=cpu``; it loads the implementation from its
  SPEC, makes the two calls (guarded, as here) and returns both outputs; the assertions are made here. An
  implementation known only as a Python object (no SPEC to re-load it by) cannot be moved to another process: the
  property is then skipped, saying why.

Measured (CPU, 4 forced host devices, jax 0.10.2, the six SHARD_BUCKETS and random seeds): the bundled JAX
implementations and a verbatim copy of the problem's code return a ``NamedSharding``-ed output, bit-identical to the
unsharded one in about 60% of cases only (XLA emits a different dot for a per-device batch of B/4 rows, e.g. all of
B=16, F=4 and B=4, F=16 differ in the last bits), so the property compares within the suite's row tolerance, the
``2 C sigma`` of two evaluations of the implementation (``properties.assertions.assert_rows_close``); the worst
difference seen was 1.7 sigma (pure_jax; 1.6 vmap_in_scan, 0.97 reference, 0.96 fast), against a bound of 64 sigma.
``numpy_loop`` gathers the array to the host and is bit-identical.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

from properties import strategies as S
from properties.assertions import assert_rows_close, assert_some_nonzero, computation_dtype, error_scale, output_matrix
from properties.candidate import DEFAULT_TIMEOUT, Candidate, ImplementationError, as_output, load
from properties.registry import STRICT, prop

#: Devices in the mesh (the issue asks for at least 4).
MESH_SIZE = 4
#: Name of the mesh axis the batch is sharded along.
AXIS = "batch"
#: The XLA flag that splits the host CPU into several devices (must be set before JAX initialises its backends).
HOST_DEVICE_FLAG = "--xla_force_host_platform_device_count"
#: Buckets whose B is a (non-zero) multiple of the mesh size.
SHARD_BUCKETS = tuple(s for s in S.SHAPE_BUCKETS if s[0] and s[0] % MESH_SIZE == 0)
#: Environment variable that forces the subprocess path (for tests of the fallback).
ENV_FORCE_SUBPROCESS = "COMPOSED_SHARDING_SUBPROCESS"


def with_host_devices(flags: str | None, count: int = MESH_SIZE) -> str:
    """``flags`` (an ``XLA_FLAGS`` value) with the host device count flag appended, unless it already names one."""
    flags = (flags or "").strip()
    if HOST_DEVICE_FLAG in flags:
        return flags
    return f"{flags} {HOST_DEVICE_FLAG}={int(count)}".strip()


def mesh_devices(size: int = MESH_SIZE):
    """``size`` devices for the mesh, from the default backend if it has enough, else from the CPU backend; or
    ``None`` when neither has ``size`` devices in this process."""
    import jax

    if os.environ.get(ENV_FORCE_SUBPROCESS) == "1":
        return None
    devices = jax.devices()
    if len(devices) >= size:
        return devices[:size]
    try:
        cpu = jax.devices("cpu")
    except RuntimeError:
        return None
    return cpu[:size] if len(cpu) >= size else None


def shard_batch(x_batch, devices):
    """``x_batch`` as a ``jax.Array`` split along axis 0 over a 1-D mesh of ``devices`` (axis name ``'batch'``)."""
    import jax
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    mesh = Mesh(np.asarray(devices), (AXIS,))
    placed = jax.device_put(np.asarray(x_batch), NamedSharding(mesh, PartitionSpec(AXIS, None)))
    shards = {tuple(s.index[0].indices(placed.shape[0])[:2]) for s in placed.addressable_shards}
    assert len(shards) == len(devices), f"the batch was not split over {len(devices)} devices: {shards}"
    return placed


def sharded_calls(impl, devices, seed, x_batch, num_layers, features):
    """``(plain, sharded, where)``: the outputs of ``impl`` on the NumPy batch and on the sharded batch (as NumPy)."""
    import jax

    plain = as_output(impl(seed, x_batch, num_layers, features))
    placed = shard_batch(x_batch, devices)
    # Devices of another backend than the default one (CPU devices on a 1-GPU machine): run the call there, so an
    # implementation creating its parameters on the default device does not mix backends.
    default = jax.devices()[0]
    on = contextlib.nullcontext() if devices[0].platform == default.platform else jax.default_device(devices[0])
    with on:
        sharded = as_output(impl(seed, placed, num_layers, features))
    return plain, sharded, f"{len(devices)} {devices[0].platform} devices"


@prop(STRICT, S.cases(buckets=SHARD_BUCKETS), weight=0.5)
def sharded_batch(impl, seed, x_batch, num_layers, features):
    """Sharding the batch over a mesh of 4 devices (``x_batch`` placed with ``NamedSharding(mesh, P('batch', None))``,
    B a multiple of 4) gives the same output as the unsharded call: same shape and dtype, every row within the
    suite's tolerance for two evaluations (``2 C sigma``, ``properties.assertions``), NaN where it has NaN.

    Not bitwise: XLA may emit a different dot for the per-device block of B/4 rows (measured: ~40% of cases differ in
    the last bits for the bundled JAX implementations). On a CPU-only machine the suite provides the devices with
    ``--xla_force_host_platform_device_count`` (see ``properties/sharding.py`` for how, and for the subprocess
    fallback when JAX was initialised before the flag could be set).

    Catches: code that breaks or changes on a committed multi-device array (batch statistics computed per shard,
    a reshape that interleaves shards, ``device_put`` to one device dropping rows, host round trips that reorder).
    """
    b, f = np.shape(x_batch)
    devices = mesh_devices()
    if devices is not None:
        plain, sharded, where = sharded_calls(impl, devices, seed, x_batch, num_layers, features)
        where += " in this process"
    else:
        plain, sharded, where = _in_subprocess(impl, dict(seed=seed, x_batch=x_batch, num_layers=num_layers,
                                                          features=features))
    label = f"sharded over {where} vs unsharded"
    assert sharded.shape == plain.shape and sharded.dtype == plain.dtype, (
        f"{label}: output {sharded.dtype}{sharded.shape} vs {plain.dtype}{plain.shape}"
    )
    got, want = output_matrix(sharded, b, f), output_matrix(plain, b, f)
    nan = np.isnan(got) != np.isnan(want)
    assert not nan.any(), f"{label}: NaN in one output and not the other in rows {np.where(nan.any(1))[0].tolist()}"
    assert_some_nonzero(want, "sharded_batch")
    scale = error_scale(seed, x_batch, num_layers, features, computation_dtype(x_batch))
    assert_rows_close(np.nan_to_num(got), np.nan_to_num(want), scale=scale, label=label)


# --- the subprocess fallback -----------------------------------------------------------------------------------------

_WORKER: "_Worker | None" = None
_VERIFIED: dict = {}
#: Seconds a fresh worker may take to import JAX and the implementation, on top of the per-call timeouts.
STARTUP_GRACE = 120.0


def _reloadable_spec(impl) -> tuple[str | None, str]:
    """The SPEC that re-creates ``impl`` in another process, or ``(None, why not)``."""
    if not isinstance(impl, Candidate):
        return None, f"the implementation is a bare {type(impl).__name__}, not a Candidate with a SPEC"
    key = (impl.spec, id(impl.func))
    if key not in _VERIFIED:
        try:
            again = load(impl.spec)
        except Exception as exc:  # noqa: BLE001 - a qualname given by properties.api, not a SPEC
            _VERIFIED[key] = f"its name {impl.spec!r} is not a SPEC that loads it ({type(exc).__name__})"
        else:
            same = again is impl.func or (
                getattr(again, "__qualname__", None) == getattr(impl.func, "__qualname__", 0)
                and getattr(getattr(again, "__code__", None), "co_filename", None)
                == getattr(getattr(impl.func, "__code__", None), "co_filename", 0)
            )
            _VERIFIED[key] = None if same else f"SPEC {impl.spec!r} loads another object than the one under test"
    why = _VERIFIED[key]
    return (impl.spec, "") if why is None else (None, why)


def _in_subprocess(impl, case):
    import pytest

    spec, why = _reloadable_spec(impl)
    if spec is None:
        pytest.skip(f"sharded_batch needs {MESH_SIZE} devices; this process has fewer (JAX was initialised before "
                    f"XLA_FLAGS={HOST_DEVICE_FLAG}={MESH_SIZE} could apply) and the implementation cannot be re-loaded "
                    f"in a subprocess: {why}. Run under pytest (the plugin sets the flag) or set XLA_FLAGS first.")
    global _WORKER
    if _WORKER is None or not _WORKER.alive():
        _WORKER = _Worker()
    timeout = impl.timeout or DEFAULT_TIMEOUT
    reply = _WORKER.request((spec, impl.timeout, _precision(), case), 2 * timeout + STARTUP_GRACE)
    status = reply[0]
    if status == "ok":
        _, plain, sharded, where = reply
        return plain, sharded, where + " in a helper subprocess"
    if status == "impl":
        raise ImplementationError(f"{reply[1]}\n  (in the sharding helper subprocess)")
    if status == "assert":
        raise AssertionError(f"{reply[1]}\n  (in the sharding helper subprocess)")
    raise RuntimeError(f"sharding helper subprocess failed: {reply[1]}")


def _precision():
    try:
        import jax

        return jax.config.jax_default_matmul_precision
    except Exception:  # noqa: BLE001
        return None


def _worker_env() -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = with_host_devices(
        " ".join(t for t in env.get("XLA_FLAGS", "").split() if not t.startswith(HOST_DEVICE_FLAG)), MESH_SIZE)
    env["JAX_PLATFORMS"] = "cpu"
    env.pop(ENV_FORCE_SUBPROCESS, None)
    try:  # the parent's compilation cache, whether it was configured by env or by jax.config.update
        import jax

        path = jax.config.jax_compilation_cache_dir
        if path:
            env["JAX_COMPILATION_CACHE_DIR"] = str(path)
            env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = str(jax.config.jax_persistent_cache_min_compile_time_secs)
            env["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = str(jax.config.jax_persistent_cache_min_entry_size_bytes)
    except Exception:  # noqa: BLE001
        pass
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


class _Worker:
    """A long-lived ``python`` child running :func:`_worker_main`: length-prefixed pickles over its stdin/stdout."""

    def __init__(self):
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from properties.sharding import _worker_main; _worker_main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, env=_worker_env(), cwd=os.getcwd(),
        )
        import atexit

        atexit.register(self.close)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def request(self, message, timeout: float):
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.proc.stdin.write(struct.pack("<Q", len(data)) + data)
            self.proc.stdin.flush()
            header = self._read(8, timeout)
            return pickle.loads(self._read(struct.unpack("<Q", header)[0], timeout))
        except (OSError, EOFError, TimeoutError) as exc:
            self.close()
            raise ImplementationError(f"the sharding helper subprocess {exc}; its stderr ended with:\n"
                                      f"{self._tail()}") from None

    def _read(self, size: int, timeout: float) -> bytes:
        fd = self.proc.stdout.fileno()
        end = time.monotonic() + timeout
        chunks, left = [], size
        while left:
            ready, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
            if not ready:
                raise TimeoutError(f"did not answer within {timeout:g} s")
            chunk = os.read(fd, left)
            if not chunk:
                raise EOFError(f"exited (status {self.proc.wait()})")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _tail(self) -> str:
        try:
            self.log.seek(0, os.SEEK_END)
            self.log.seek(max(0, self.log.tell() - 2000))
            return self.log.read().decode("utf-8", "replace")
        except Exception:  # noqa: BLE001
            return "<unavailable>"

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001
                self.proc.kill()
                self.proc.wait()


def _worker_main() -> None:  # pragma: no cover - runs in the helper subprocess
    """Serve ``(spec, timeout, precision, case)`` requests: load the implementation, make both calls, reply."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever else writes to stdout must not corrupt the replies
    requests = sys.stdin.buffer
    import jax

    devices = mesh_devices()
    candidates: dict = {}
    while True:
        header = requests.read(8)
        if len(header) < 8:
            return
        spec, timeout, precision, case = pickle.loads(requests.read(struct.unpack("<Q", header)[0]))
        try:
            if devices is None:
                raise RuntimeError(f"the helper has {len(jax.devices())} devices; XLA_FLAGS={os.environ.get('XLA_FLAGS')!r}")
            if precision:
                jax.config.update("jax_default_matmul_precision", precision)
            if spec not in candidates:
                candidates[spec] = Candidate.from_spec(spec, timeout=timeout)
            impl = candidates[spec]
            impl.reset()
            plain, sharded, where = sharded_calls(impl, devices, **case)
            reply = ("ok", np.asarray(plain), np.asarray(sharded), where)
        except ImplementationError as exc:
            reply = ("impl", str(exc))
        except AssertionError as exc:
            reply = ("assert", str(exc))
        except Exception as exc:  # noqa: BLE001
            reply = ("internal", f"{type(exc).__name__}: {exc}")
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        replies.write(struct.pack("<Q", len(data)) + data)
        replies.flush()
