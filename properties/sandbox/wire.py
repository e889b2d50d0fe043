"""The wire between the checking process and the candidate process: framed pickles over a Unix socket, with NumPy and
JAX arrays encoded so that what arrives is what was sent.

Both sides import this module; it imports nothing of the suite.

Faithful arrays (:class:`ArrayData`): a NumPy array travels as the bytes of the memory span its strides cover, plus
dtype, shape, strides, offset into that span and the writeable flag, and is rebuilt as a view over a fresh buffer
with exactly those strides. So a Fortran-ordered array arrives Fortran-ordered, every second row of a larger array
arrives as a strided view (not a compact copy), a negatively strided view keeps its negative strides, and a read-only
array stays read-only. A ``jax.Array`` travels as its values and dtype and is rebuilt as a ``jax.Array``; object and
other non-numeric arrays travel by plain pickle. Everything else (nested lists and tuples, Python ints beyond 2**63,
bools, NumPy scalars such as ``np.float32(3.0)``, ``None``, strings) is plain pickle, which keeps types exactly.

Framing: a 12-byte little-endian header ``(pickle length, number of out-of-band buffers)``, the buffer lengths, the
pickle, then the buffers (pickle protocol 5, so array bytes are not copied into the pickle).
"""

from __future__ import annotations

import os
import pickle
import select
import socket
import struct
import time
from typing import Any

import numpy as np

_HEADER = struct.Struct("<QI")  # pickle length, number of out-of-band buffers
_LEN = struct.Struct("<Q")
#: Largest frame accepted (a sanity bound, not a limit anyone should meet: 1 GiB of array data).
MAX_FRAME = 1 << 30


class WireClosed(EOFError):
    """The other side closed the connection (or died)."""


class WireTimeout(TimeoutError):
    """No complete message within the deadline."""


# -- faithful arrays ----------------------------------------------------------------------------------------------------


class ArrayData:
    """A NumPy (or JAX) array as it is laid out in memory; :meth:`rebuild` makes the same array on the other side."""

    __slots__ = ("kind", "dtype", "shape", "strides", "offset", "writeable", "data")

    def __init__(self, kind, dtype, shape, strides, offset, writeable, data):
        self.kind = kind  # "numpy" | "jax"
        self.dtype = dtype
        self.shape = shape
        self.strides = strides
        self.offset = offset
        self.writeable = writeable
        self.data = data  # bytes-like, or pickle.PickleBuffer while sending

    def __reduce__(self):
        return (ArrayData, (self.kind, self.dtype, self.shape, self.strides, self.offset, self.writeable, self.data))

    @classmethod
    def of(cls, a: np.ndarray, kind: str = "numpy") -> "ArrayData":
        itemsize = a.dtype.itemsize
        if a.size == 0 or itemsize == 0:
            return cls(kind, a.dtype, a.shape, None, 0, bool(a.flags.writeable), b"")
        lo = sum(s * (n - 1) for s, n in zip(a.strides, a.shape) if s < 0)
        hi = sum(s * (n - 1) for s, n in zip(a.strides, a.shape) if s > 0) + itemsize
        ptr = a.__array_interface__["data"][0]
        span = np.asarray(_Memory(ptr + lo, hi - lo, a))
        return cls(kind, a.dtype, a.shape, a.strides, -lo, bool(a.flags.writeable), pickle.PickleBuffer(span))

    def rebuild(self):
        data = self.data
        if not (isinstance(data, bytearray) or (isinstance(data, memoryview) and not data.readonly)):
            data = bytearray(data)  # writable, owned by the new array
        if self.strides is None:
            arr = np.zeros(self.shape, self.dtype)
        else:
            arr = np.ndarray(self.shape, self.dtype, buffer=data, offset=self.offset, strides=self.strides)
        if self.kind == "jax":
            import jax.numpy as jnp

            return jnp.asarray(arr)
        arr.flags.writeable = self.writeable
        return arr

    def numpy(self) -> np.ndarray:
        """The array as NumPy whatever its kind (for the checking side, which never builds JAX arrays it was sent)."""
        kind, self.kind = self.kind, "numpy"
        try:
            return self.rebuild()
        finally:
            self.kind = kind


class _Memory:
    """``hi - lo`` bytes at an address, as an array interface (keeps the owner alive while it is being sent)."""

    def __init__(self, address: int, size: int, owner):
        self.owner = owner
        self.__array_interface__ = {"data": (address, True), "shape": (size,), "typestr": "|u1", "version": 3}


def _is_jax_array(value) -> bool:
    mod = type(value).__module__ or ""
    if not (mod.startswith("jax") or mod.startswith("jaxlib")):
        return False
    try:
        import jax

        return isinstance(value, jax.Array) and not isinstance(value, jax.core.Tracer)
    except Exception:  # noqa: BLE001
        return False


def encode(value: Any) -> Any:
    """``value`` with every array replaced by its :class:`ArrayData` (recursing into lists, tuples and dicts)."""
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject or value.dtype.kind not in "biufcSUV" or value.dtype.fields is not None:
            return value  # plain pickle
        return ArrayData.of(value)
    if _is_jax_array(value):
        return ArrayData.of(np.asarray(value), kind="jax")
    if type(value) in (list, tuple):
        items = [encode(v) for v in value]
        return items if type(value) is list else tuple(items)
    if type(value) is dict:
        return {k: encode(v) for k, v in value.items()}
    return value


def decode(value: Any, *, jax_arrays: bool = True) -> Any:
    """The inverse of :func:`encode`. With ``jax_arrays=False`` JAX arrays arrive as NumPy arrays."""
    if isinstance(value, ArrayData):
        return value.rebuild() if jax_arrays else value.numpy()
    if type(value) in (list, tuple):
        items = [decode(v, jax_arrays=jax_arrays) for v in value]
        return items if type(value) is list else tuple(items)
    if type(value) is dict:
        return {k: decode(v, jax_arrays=jax_arrays) for k, v in value.items()}
    return value


# -- framing -------------------------------------------------------------------------------------------------------------


def send(sock: socket.socket, obj: Any) -> None:
    buffers: list[pickle.PickleBuffer] = []
    payload = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    views = [b.raw() for b in buffers]
    head = _HEADER.pack(len(payload), len(views)) + b"".join(_LEN.pack(v.nbytes) for v in views)
    try:
        sock.sendall(head + payload)
        for v in views:
            sock.sendall(v)
    except OSError as exc:
        raise WireClosed(f"connection closed while sending ({exc})") from None
    finally:
        for v in views:
            v.release()


def recv(sock: socket.socket, deadline: float | None = None) -> Any:
    """The next message; ``deadline`` is a ``time.monotonic()`` value (None: wait for ever)."""
    length, count = _HEADER.unpack(_read(sock, _HEADER.size, deadline))
    sizes = [_LEN.unpack(_read(sock, _LEN.size, deadline))[0] for _ in range(count)]
    if length + sum(sizes) > MAX_FRAME:
        raise WireClosed(f"refusing a frame of {length + sum(sizes)} bytes")
    payload = _read(sock, length, deadline)
    buffers = [_read(sock, size, deadline) for size in sizes]
    return pickle.loads(payload, buffers=buffers)


def _read(sock: socket.socket, size: int, deadline: float | None) -> bytearray:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        if deadline is not None:
            # What already arrived counts even when the deadline has passed (a reply sent long before it was read).
            ready, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise WireTimeout("no reply before the deadline")
        try:
            n = sock.recv_into(view[got:], size - got)
        except InterruptedError:  # pragma: no cover - PEP 475 retries, but be safe
            continue
        except (ConnectionResetError, OSError) as exc:
            raise WireClosed(f"connection lost ({exc})") from None
        if n == 0:
            raise WireClosed("the other side closed the connection")
        got += n
    return buf


def socket_pair() -> tuple[socket.socket, socket.socket]:
    """A connected pair of Unix stream sockets; the second is inheritable (for the child)."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    os.set_inheritable(child.fileno(), True)
    return parent, child
