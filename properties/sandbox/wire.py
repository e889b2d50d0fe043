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

Framing: a 12-byte little-endian header ``(pickle length, number of out-of-band buffers)``, ``(length, offset)`` of
each buffer, the pickle, then the buffers (pickle protocol 5, so array bytes are not copied into the pickle). With an
:class:`Arena` (shared memory both processes map), buffers of :data:`ARENA_MIN` bytes or more are copied into it
instead of through the socket (``offset`` says where; the socket carries only the small rest): for a 64k-float array,
two memory copies instead of a kernel round trip of the bytes. Messages strictly alternate (request, reply), so each
message may use the whole arena; the receiver copies its buffers out at once.
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
_LEN = struct.Struct("<QQ")  # buffer length, offset in the arena (ON_SOCKET: it follows on the socket)
ON_SOCKET = 2**64 - 1
#: Buffers at least this large go through the arena when there is one.
ARENA_MIN = 16 * 1024
#: Default arena size (a sparse mapping: only the pages used cost memory).
ARENA_SIZE = 256 << 20
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


class Arena:
    """Shared memory for the bytes of large buffers: an anonymous file (``memfd``) mapped by both processes; the child
    gets its descriptor (``fd``) and maps it with ``Arena(fd=..., size=...)``."""

    def __init__(self, size: int = ARENA_SIZE, fd: int | None = None):
        import mmap

        if fd is None:
            fd = os.memfd_create("composed-wire", os.MFD_CLOEXEC) if hasattr(os, "memfd_create") else _tempfile_fd()
            os.ftruncate(fd, size)
        self.fd = fd
        self.size = size
        self.map = mmap.mmap(fd, size)
        self.view = memoryview(self.map)

    def close(self) -> None:
        try:
            self.view.release()
            self.map.close()
            os.close(self.fd)
        except (OSError, ValueError, BufferError):
            pass


def _tempfile_fd() -> int:
    import tempfile

    fd, path = tempfile.mkstemp(prefix="composed-wire-")
    os.unlink(path)
    return fd


def send(sock: socket.socket, obj: Any, arena: Arena | None = None) -> None:
    buffers: list[pickle.PickleBuffer] = []
    payload = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    views = [b.raw() for b in buffers]
    places, tail, at = [], [], 0
    for v in views:
        if arena is not None and v.nbytes >= ARENA_MIN and at + v.nbytes <= arena.size:
            arena.view[at:at + v.nbytes] = v.cast("B")
            places.append(_LEN.pack(v.nbytes, at))
            at += v.nbytes
        else:
            places.append(_LEN.pack(v.nbytes, ON_SOCKET))
            tail.append(v)
    head = _HEADER.pack(len(payload), len(views)) + b"".join(places)
    try:
        sock.sendall(head + payload)
        for v in tail:
            sock.sendall(v)
    except OSError as exc:
        raise WireClosed(f"connection closed while sending ({exc})") from None
    finally:
        for v in views:
            v.release()


def recv(sock: socket.socket, deadline: float | None = None, arena: Arena | None = None) -> Any:
    """The next message; ``deadline`` is a ``time.monotonic()`` value (None: wait for ever)."""
    length, count = _HEADER.unpack(_read(sock, _HEADER.size, deadline))
    places = [_LEN.unpack(_read(sock, _LEN.size, deadline)) for _ in range(count)]
    if length + sum(size for size, _ in places) > MAX_FRAME:
        raise WireClosed(f"refusing a frame of {length + sum(size for size, _ in places)} bytes")
    payload = _read(sock, length, deadline)
    buffers = []
    for size, offset in places:
        if offset == ON_SOCKET:
            buffers.append(_read(sock, size, deadline))
        elif arena is None or offset + size > arena.size:
            raise WireClosed("a buffer in shared memory, but no arena to read it from")
        else:
            buffers.append(bytearray(arena.view[offset:offset + size]))  # a private copy, at once
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
