"""The wire between the checking process and the candidate process: framed messages of plain data over a Unix socket,
with NumPy and JAX arrays encoded so that what arrives is what was sent.

Both sides import this module; it imports nothing of the suite.

**Data only.** A message is a JSON header plus raw array buffers. Decoding one builds only ``None``, bools, ints,
floats, strings, lists, tuples, dicts with string keys, NumPy scalars, NumPy arrays (and ``jax.Array`` where asked),
and :class:`Opaque` descriptions: it never imports, looks up or calls anything the sender names (the one import,
``ml_dtypes`` when a bfloat16-like dtype first arrives, is a fixed name). Why not a restricted unpickler: pickle is a
program for a stack machine, and its safety rests on every allowed callable staying harmless with every argument, in
every NumPy version; a JSON header is inert by construction, each value it holds is checked by one short function
here, and it costs about 20 us more per call than pickle (request and reply, measured side by side).

Values (header, JSON): ``None``, bools, strings, ints in the int64 range and finite floats as themselves; lists as
arrays; every other value as a one-key object naming its tag: ``{"t": [...]}`` a tuple, ``{"d": {...}}`` a dict (string
keys), ``{"i": "-0x1f"}`` an int outside int64 (hex), ``{"f": "<16 hex digits>"}`` a non-finite float by its bits (NaN
payloads and signs kept), ``{"n": [dtype, hex bytes]}`` a NumPy scalar, ``{"a": [...]}`` an array (below), ``{"O":
[shape, items, writeable]}`` an object array by its elements, ``{"o": [type, repr]}`` an :class:`Opaque`. Anything else
the sender has (an arbitrary object an implementation returned, a dict with other keys, a datetime array, nesting
deeper than :data:`MAX_DEPTH`) travels as an :class:`Opaque`: its type's name and the start of its repr, never the
object. A subclass of str, int or float travels as its base type's value.

Faithful arrays (:class:`ArrayData`): ``[kind, dtype, shape, strides, offset, writeable, buffer]``, kind ``numpy`` or
``jax``, dtype an allow-listed name (bool, int, uint, float16/32/64/128, complex, fixed-width bytes and text, and the
``ml_dtypes`` types such as bfloat16; never object, void or structured), and the index of a buffer holding exactly the
memory span the strides cover. It is rebuilt as a view over a fresh buffer with exactly those strides: a
Fortran-ordered array arrives Fortran-ordered, every second row of a larger array arrives as a strided view (not a
compact copy), a negatively strided view keeps its negative strides, a read-only array stays read-only, and a
``jax.Array`` is rebuilt as a ``jax.Array`` (``decode(..., jax_arrays=False)``: as NumPy, for the checking side).

Framing: ``"CWR1"``, the header's length and the number of buffers (``<4sII``), ``(length, arena offset)`` of each
buffer (``<QQ``), the header, then the buffers that travel on the socket. With an :class:`Arena` (shared memory both
processes map), buffers of :data:`ARENA_MIN` bytes or more are copied into it instead (for a 64k-float array, two
memory copies instead of a kernel round trip). Messages strictly alternate (request, reply), so each may use the whole
arena; the receiver copies its buffers out at once (the other side can rewrite the arena at any time).

Decoding checks everything before it trusts it, and refuses a frame with :class:`WireError`: lengths against
:data:`MAX_HEADER`, :data:`MAX_BUFFERS` and :data:`MAX_FRAME` before anything is allocated (bytes are allocated as
they arrive), arena offsets against the arena, the header's lists and objects against :data:`MAX_CONTAINERS`, nesting
against :data:`MAX_DEPTH`, every tag and dtype against its allow-list, and every array descriptor against its buffer
(strides and offset multiples of the item size, the view's extent exactly the buffer, each buffer used by one array,
text code points valid). The checking side reports a ``WireError`` as the candidate breaking the protocol: the call
fails, the process is replaced.
"""

from __future__ import annotations

import json
import math
import os
import re
import select
import socket
import struct
import sys
import time
from typing import Any

import numpy as np

MAGIC = b"CWR1"
_PREFIX = struct.Struct("<4sII")  # magic, header length, number of buffers
_PLACE = struct.Struct("<QQ")  # buffer length, offset in the arena (ON_SOCKET: it follows on the socket)
ON_SOCKET = 2**64 - 1
#: Buffers at least this large go through the arena when there is one.
ARENA_MIN = 16 * 1024
#: Default arena size (a sparse mapping: only the pages used cost memory).
ARENA_SIZE = 256 << 20
#: Largest frame accepted (a sanity bound, not a limit anyone should meet: 1 GiB of array data).
MAX_FRAME = 1 << 30
#: Largest JSON header accepted (the largest real one, a jaxpr summary of a deep network, is well under 1 MiB).
MAX_HEADER = 8 << 20
#: Most buffers (arrays) in one message.
MAX_BUFFERS = 4096
#: Most lists and objects in a header (bounds the memory parsing it takes, with MAX_HEADER).
MAX_CONTAINERS = 1 << 18
#: Deepest nesting of lists, tuples and dicts.
MAX_DEPTH = 64
#: Most dimensions of an array.
MAX_NDIM = 32
#: Most hex digits of an int outside int64 (65536 bits).
MAX_INT_DIGITS = 16384
#: Longest repr an :class:`Opaque` keeps.
OPAQUE_REPR = 300
_READ_CHUNK = 1 << 20
_INT64 = (-(2**63), 2**63)


class WireClosed(EOFError):
    """The other side closed the connection (or died)."""


class WireTimeout(TimeoutError):
    """No complete message within the deadline."""


class WireError(WireClosed):
    """A frame that breaks the protocol (malformed, out of bounds, or naming a tag or dtype the wire does not carry).
    The stream cannot be trusted after it: the receiver drops the connection (hence a :class:`WireClosed`)."""


# -- dtypes ------------------------------------------------------------------------------------------------------------


def _numpy_dtypes() -> dict[str, np.dtype]:
    """NumPy's numeric dtypes the wire carries in raw buffers, by ``dtype.str`` (both byte orders)."""
    table: dict[str, np.dtype] = {}
    for code in ("b1", "i1", "u1", "i2", "i4", "i8", "u2", "u4", "u8", "f2", "f4", "f8", "f16", "c8", "c16", "c32"):
        for order in ("<", ">", "|"):
            try:
                dt = np.dtype(order + code)
            except TypeError:  # float128 does not exist everywhere
                continue
            table[dt.str] = dt
    return table


#: Allow-listed dtypes by wire name (the ``ml_dtypes`` ones are added when first used: importing it takes seconds).
_DTYPES = _numpy_dtypes()
#: The ``ml_dtypes`` types the wire carries, by name.
ML_DTYPES = ("bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3b11fnuz", "float8_e4m3fnuz", "float8_e5m2fnuz",
             "float8_e3m4", "float8_e4m3", "float8_e8m0fnu", "float4_e2m1fn", "float6_e2m3fn", "float6_e3m2fn",
             "int4", "uint4", "int2", "uint2")
_TEXT_DTYPE = re.compile(r"(?:[<>]U|\|S)[1-9][0-9]{0,5}")


def _ml_dtype(name: str) -> np.dtype | None:
    """``ml_dtypes.<name>`` for a name of :data:`ML_DTYPES` (a fixed list: never a name the sender chose)."""
    if name not in ML_DTYPES:
        return None
    dt = _DTYPES.get(name)
    if dt is None:
        try:
            import ml_dtypes
        except ImportError:  # pragma: no cover - a JAX installation has it
            return None
        kind = getattr(ml_dtypes, name, None)
        if kind is None:  # an older ml_dtypes
            return None
        dt = _DTYPES[name] = np.dtype(kind)
    return dt


def dtype_name(dt: np.dtype) -> str | None:
    """The wire name of ``dt``, or None when the wire does not carry it in a raw buffer."""
    try:
        return _NAMES[dt]
    except KeyError:
        pass
    if len(_NAMES) > 1024:
        _NAMES.clear()
    name = _NAMES[dt] = _dtype_name(dt)
    return name


_NAMES: dict = {}


def _dtype_name(dt: np.dtype) -> str | None:
    if dt.fields is not None or dt.subdtype is not None:
        return None
    if "ml_dtypes" in sys.modules and dt.name in ML_DTYPES:  # (not imported: no such dtype can exist here)
        known = _ml_dtype(dt.name)
        return dt.name if known is not None and known == dt else None
    name = dt.str
    known = _DTYPES.get(name)  # (``np.dtype(None)`` is float64: compare with a dtype only)
    if known is not None and known == dt:
        return name
    if dt.kind in "SU" and _TEXT_DTYPE.fullmatch(name):
        return name
    return None


def _dtype(name) -> np.dtype:
    if type(name) is str:
        dt = _DTYPES.get(name)
        if dt is None:
            dt = _ml_dtype(name)
        if dt is not None:
            return dt
        if _TEXT_DTYPE.fullmatch(name):
            return np.dtype(name)
    raise WireError(f"a dtype the wire does not carry: {_short(name)}")


# -- values that do not travel -----------------------------------------------------------------------------------------


class Opaque:
    """A value the wire does not carry, as data: ``type`` (its type's qualified name) and ``text`` (the start of its
    repr). The receiver gets this description, never the object."""

    __slots__ = ("type", "text")

    def __init__(self, type: str, text: str):
        self.type, self.text = type, text

    @classmethod
    def of(cls, value, why: str = "") -> "Opaque":
        """Describe ``value`` (a hostile ``__repr__`` runs here, on the sending side, and cannot stop it)."""
        kind = type(value)
        try:
            name = f"{kind.__module__}.{kind.__qualname__}"
        except BaseException:  # noqa: BLE001
            name = "?"
        try:
            text = repr(value)
            text = text if type(text) is str else "?"
        except BaseException:  # noqa: BLE001
            text = f"<repr of {name} failed>"
        if len(text) > OPAQUE_REPR:
            text = text[: OPAQUE_REPR - 3] + "..."
        return cls(name, why + text)

    def __eq__(self, other) -> bool:
        return type(other) is Opaque and (self.type, self.text) == (other.type, other.text)

    def __hash__(self) -> int:
        return hash((self.type, self.text))

    def __repr__(self) -> str:
        return f"<{self.type} (not sent): {self.text}>"

    __str__ = __repr__


# -- faithful arrays ---------------------------------------------------------------------------------------------------


class ArrayData:
    """A NumPy (or JAX) array as it is laid out in memory; :meth:`rebuild` makes the same array on the other side.
    ``data`` holds exactly the memory span the strides cover, ``offset`` is the first element's place in it."""

    __slots__ = ("kind", "dtype", "shape", "strides", "offset", "writeable", "data")

    def __init__(self, kind, dtype, shape, strides, offset, writeable, data):
        self.kind = kind  # "numpy" | "jax"
        self.dtype = dtype
        self.shape = shape
        self.strides = strides  # None for an empty array
        self.offset = offset
        self.writeable = writeable
        self.data = data  # bytes-like

    @classmethod
    def of(cls, a: np.ndarray, kind: str = "numpy") -> "ArrayData":
        """``a`` by reference to its memory (not copied until it is sent). Strides that are not multiples of the item
        size (rare hand-made views) travel as a C-contiguous copy."""
        itemsize = a.dtype.itemsize
        if a.size == 0:
            return cls(kind, a.dtype, a.shape, None, 0, bool(a.flags.writeable), b"")
        if any(s % itemsize for s in a.strides):
            writeable = bool(a.flags.writeable)
            a = np.ascontiguousarray(a)
            a.flags.writeable = writeable
        lo = sum(s * (n - 1) for s, n in zip(a.strides, a.shape) if s < 0)
        hi = sum(s * (n - 1) for s, n in zip(a.strides, a.shape) if s > 0) + itemsize
        ptr = a.__array_interface__["data"][0]
        span = np.asarray(_Memory(ptr + lo, hi - lo, a))
        return cls(kind, a.dtype, a.shape, a.strides, -lo, bool(a.flags.writeable), memoryview(span))

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
    """``size`` bytes at an address, as an array interface (keeps the owner alive while it is being sent)."""

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
        if dtype_name(value.dtype) is None:
            return value  # described element by element, or as an Opaque, when it is sent
        return ArrayData.of(value)
    if _is_jax_array(value):
        try:
            arr = np.asarray(value)
        except Exception:  # noqa: BLE001 - a PRNG key array, ...
            return Opaque.of(value, "a jax.Array with no NumPy form: ")
        if dtype_name(arr.dtype) is None:
            return Opaque.of(value, f"a jax.Array of dtype {arr.dtype}: ")
        return ArrayData.of(arr, kind="jax")
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
    if type(value) is np.ndarray and value.dtype == object:
        out = np.empty(value.shape, object)
        flat, items = out.reshape(-1), value.reshape(-1)
        for i in range(items.size):
            flat[i] = decode(items[i], jax_arrays=jax_arrays)
        out.flags.writeable = value.flags.writeable
        return out
    return value


# -- values to JSON and back -------------------------------------------------------------------------------------------


def _to_json(value, buffers: list, depth: int):
    """The header form of ``value``; the buffers of its arrays are appended to ``buffers``."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        return value if _INT64[0] <= value < _INT64[1] else _big_int(value)
    if kind is float:
        return value if math.isfinite(value) else {"f": struct.pack("<d", value).hex()}
    if kind is list or kind is tuple or kind is dict:
        if depth >= MAX_DEPTH:
            return _opaque(value, f"nested deeper than {MAX_DEPTH}: ")
        if kind is list:
            return [_to_json(v, buffers, depth + 1) for v in value]
        if kind is tuple:
            return {"t": [_to_json(v, buffers, depth + 1) for v in value]}
        if all(type(k) is str for k in value):
            return {"d": {k: _to_json(v, buffers, depth + 1) for k, v in value.items()}}
        return _opaque(value, "a dict with keys that are not all strings: ")
    if kind is ArrayData:
        return _array_to_json(value, buffers)
    if isinstance(value, np.ndarray):
        return _ndarray_to_json(value, buffers, depth)
    if isinstance(value, np.generic):
        name = dtype_name(value.dtype)
        if name is None and value.dtype.str in _EMPTY_TEXT:
            return {"n": [value.dtype.str, ""]}
        return _opaque(value) if name is None else {"n": [name, value.tobytes().hex()]}
    if kind is Opaque:
        return {"o": [value.type, value.text]}
    if _is_jax_array(value):
        return _to_json(encode(value), buffers, depth)
    if isinstance(value, bool):  # pragma: no cover - bool cannot be subclassed
        return bool(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return _to_json(int.__int__(value), buffers, depth)
    if isinstance(value, float):
        return _to_json(float.__float__(value), buffers, depth)
    return _opaque(value)


def _opaque(value, why: str = "") -> dict:
    o = Opaque.of(value, why)
    return {"o": [o.type, o.text]}


def _big_int(value: int):
    text = hex(value)
    if len(text) > MAX_INT_DIGITS + 3:
        return {"o": ["builtins.int", f"an int of {value.bit_length()} bits"]}
    return {"i": text}


def _ndarray_to_json(a: np.ndarray, buffers: list, depth: int):
    if dtype_name(a.dtype) is not None:
        return _array_to_json(ArrayData.of(a), buffers)
    if a.dtype == object and a.ndim <= MAX_NDIM and depth < MAX_DEPTH:
        items = [_to_json(v, buffers, depth + 1) for v in a.reshape(-1).tolist()]
        return {"O": [list(a.shape), items, bool(a.flags.writeable)]}
    return _opaque(a, f"an array of dtype {a.dtype}: ")


def _array_to_json(d: ArrayData, buffers: list):
    index = None
    if d.strides is not None:
        index = len(buffers)
        buffers.append(d.data)
    return {"a": [d.kind, dtype_name(d.dtype), list(d.shape), None if d.strides is None else list(d.strides),
                  d.offset, d.writeable, index]}


#: The empty NumPy strings, whose dtypes have no bytes (so no raw buffer).
_EMPTY_TEXT = {"<U0": np.str_(""), ">U0": np.str_(""), "|S0": np.bytes_(b"")}
_HEX = re.compile(r"(?:[0-9a-f]{2})*")
_HEX_INT = re.compile(r"-?0x[0-9a-f]+")


_CONTAINERS = ("l", "t", "d", "O")  # "l": a JSON array (a list)


def _from_json(node, buffers: list, used: list, depth: int):
    """The value of a header node (:func:`_to_json`'s inverse), checked; arrays come back as :class:`ArrayData`."""
    kind = type(node)
    if kind is str or kind is int or kind is float or kind is bool or node is None:
        return node
    if kind is dict and len(node) == 1:  # a tagged value
        (tag, body), = node.items()
    elif kind is list:
        tag, body = "l", node
    else:
        raise WireError(f"a tagged value with {len(node)} keys")
    if tag in _CONTAINERS and depth >= MAX_DEPTH:
        raise WireError(f"values nested deeper than {MAX_DEPTH}")
    if tag == "l":
        return [_from_json(v, buffers, used, depth + 1) for v in body]
    if tag == "t" and type(body) is list:
        return tuple(_from_json(v, buffers, used, depth + 1) for v in body)
    if tag == "d" and type(body) is dict:
        return {k: _from_json(v, buffers, used, depth + 1) for k, v in body.items()}
    if tag == "i" and type(body) is str and len(body) <= MAX_INT_DIGITS + 3 and _HEX_INT.fullmatch(body):
        return int(body, 16)
    if tag == "f" and type(body) is str and len(body) == 16 and _HEX.fullmatch(body):
        return struct.unpack("<d", bytes.fromhex(body))[0]
    if tag == "n" and type(body) is list and len(body) == 2:
        return _scalar(*body)
    if tag == "a" and type(body) is list and len(body) == 7:
        return _array(body, buffers, used)
    if tag == "O" and type(body) is list and len(body) == 3:
        return _object_array(body, buffers, used, depth)
    if tag == "o" and type(body) is list and len(body) == 2 and all(type(v) is str for v in body):
        return Opaque(*body)
    raise WireError(f"a tagged value the wire does not know: {_short(tag)}: {_short(body)}")


def _scalar(name, data):
    if type(name) is str and name in _EMPTY_TEXT and data == "":
        return _EMPTY_TEXT[name]
    dt = _dtype(name)
    if type(data) is not str or len(data) != 2 * dt.itemsize or not _HEX.fullmatch(data):
        raise WireError(f"a {name} scalar of {_short(data)}")
    raw = bytes.fromhex(data)
    _check_text(dt, raw)
    return np.frombuffer(raw, dt, count=1)[0]


def _check_text(dt: np.dtype, data) -> None:
    """NumPy text (``U``) holds code points: one past U+10FFFF would make reading it raise SystemError."""
    if dt.kind == "U" and data and np.frombuffer(data, dt.str[0] + "u4").max() > 0x10FFFF:
        raise WireError(f"{dt.str} text with a code point past U+10FFFF")


def _is_int(value, lo: int = 0, hi: int = MAX_FRAME) -> bool:
    return type(value) is int and lo <= value <= hi


def _shape(shape, itemsize: int) -> tuple[tuple, int]:
    """The shape and its element count, checked: at most MAX_NDIM non-negative sizes, the bytes bounded."""
    if type(shape) is not list or len(shape) > MAX_NDIM or not all(_is_int(n) for n in shape):
        raise WireError(f"an array shape of {_short(shape)}")
    bound = 1
    for n in shape:
        bound *= max(n, 1)
        if bound * itemsize > MAX_FRAME:
            raise WireError(f"an array of shape {shape} (more than {MAX_FRAME} bytes)")
    return tuple(shape), math.prod(shape)


def _array(body: list, buffers: list, used: list) -> ArrayData:
    """An array descriptor, checked against its buffer."""
    kind, name, shape, strides, offset, writeable, index = body
    if kind not in ("numpy", "jax") or type(writeable) is not bool:
        raise WireError(f"an array descriptor of {_short(body)}")
    dt = _dtype(name)
    itemsize = dt.itemsize
    shape, size = _shape(shape, itemsize)
    if size == 0:
        if strides is not None or offset != 0 or index is not None:
            raise WireError(f"an empty array with a buffer: {_short(body)}")
        return ArrayData(kind, dt, shape, None, 0, writeable, b"")
    if (type(strides) is not list or len(strides) != len(shape)
            or not all(_is_int(s, -MAX_FRAME, MAX_FRAME) and s % itemsize == 0 for s in strides)):
        raise WireError(f"array strides {_short(strides)} for shape {shape} and item size {itemsize}")
    if not _is_int(index, 0, len(buffers) - 1) or used[index]:
        raise WireError(f"an array in buffer {_short(index)} of {len(buffers)} (or in one already used)")
    data = buffers[index]
    lo = sum(s * (n - 1) for s, n in zip(strides, shape) if s < 0)
    hi = sum(s * (n - 1) for s, n in zip(strides, shape) if s > 0) + itemsize
    if not _is_int(offset) or offset % itemsize or offset + lo != 0 or offset + hi != len(data):
        raise WireError(f"an array view (shape {shape}, strides {strides}, offset {_short(offset)}) that does not "
                        f"span its buffer of {len(data)} bytes exactly")
    _check_text(dt, data)
    used[index] = True
    return ArrayData(kind, dt, shape, tuple(strides), offset, writeable, data)


def _object_array(body: list, buffers: list, used: list, depth: int) -> np.ndarray:
    shape, items, writeable = body
    shape, size = _shape(shape, 1)
    if type(items) is not list or len(items) != size or type(writeable) is not bool:
        raise WireError(f"an object array of shape {shape} with {_short(items)}")
    arr = np.empty(shape, object)
    flat = arr.reshape(-1)
    for i, item in enumerate(items):
        flat[i] = _from_json(item, buffers, used, depth + 1)
    arr.flags.writeable = writeable
    return arr


def _short(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reject_constant(name: str):
    raise WireError(f"a non-standard JSON constant in the header: {name}")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def _parse(header: bytes | bytearray, buffers: list):
    """The message of a header and its buffers."""
    containers = header.count(b"[") + header.count(b"{")  # an upper bound (brackets in strings count too)
    if containers > MAX_CONTAINERS:
        raise WireError(f"a header of {containers} lists and objects (at most {MAX_CONTAINERS})")
    try:
        tree = _DECODER.decode(header.decode("ascii"))
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, WireError):
            raise
        raise WireError(f"a header that is not JSON ({type(exc).__name__}: {str(exc)[:100]})") from None
    used = [False] * len(buffers)
    try:
        value = _from_json(tree, buffers, used, 0)
    except RecursionError:  # pragma: no cover - MAX_DEPTH is far below the interpreter's limit
        raise WireError("values nested too deep") from None
    if not all(used):
        raise WireError(f"{used.count(False)} buffer(s) that no array uses")
    return value


# -- framing -----------------------------------------------------------------------------------------------------------


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


def frame(obj: Any, arena: Arena | None = None, arena_min: int | None = None) -> list:
    """The frame of ``obj``: a list of byte strings to send in order (the prefix, table and header first); buffers of
    ``arena_min`` bytes or more are written into ``arena`` when there is one and they fit."""
    arena_min = ARENA_MIN if arena_min is None else arena_min
    buffers: list = []
    tree = _to_json(obj, buffers, 0)
    header = _ENCODER.encode(tree).encode("ascii")
    views = [memoryview(b).cast("B") if not isinstance(b, memoryview) or b.format != "B" else b for b in buffers]
    places, tail, at = [], [], 0
    for v in views:
        if arena is not None and v.nbytes >= arena_min and at + v.nbytes <= arena.size:
            arena.view[at:at + v.nbytes] = v
            places.append(_PLACE.pack(v.nbytes, at))
            at += v.nbytes
        else:
            places.append(_PLACE.pack(v.nbytes, ON_SOCKET))
            tail.append(v)
    return [_PREFIX.pack(MAGIC, len(header), len(views)) + b"".join(places) + header, *tail]


def dumps(obj: Any, arena: Arena | None = None, arena_min: int | None = None) -> bytes:
    """The frame of ``obj`` as one byte string (tests; :func:`send` writes the parts)."""
    return b"".join(bytes(part) for part in frame(obj, arena, arena_min))


def send(sock: socket.socket, obj: Any, arena: Arena | None = None) -> None:
    parts = frame(obj, arena)
    try:
        for part in parts:
            sock.sendall(part)
    except OSError as exc:
        raise WireClosed(f"connection closed while sending ({exc})") from None


def recv(sock: socket.socket, deadline: float | None = None, arena: Arena | None = None) -> Any:
    """The next message; ``deadline`` is a ``time.monotonic()`` value (None: wait for ever)."""
    return _receive(lambda size: _read(sock, size, deadline), arena)


def loads(data: bytes, arena: Arena | None = None) -> Any:
    """The message in the frame ``data`` (tests): :class:`WireError` for anything but exactly one valid frame."""
    view, at = memoryview(data), 0

    def read(size: int) -> bytearray:
        nonlocal at
        if size > len(view) - at:
            raise WireError(f"a frame cut short: {size} bytes wanted, {len(view) - at} left")
        at += size
        return bytearray(view[at - size:at])

    message = _receive(read, arena)
    if at != len(view):
        raise WireError(f"{len(view) - at} bytes after the frame")
    return message


def _receive(read, arena: Arena | None) -> Any:
    """One frame through ``read(size) -> bytearray``, every size checked before it is read."""
    magic, length, count = _PREFIX.unpack(read(_PREFIX.size))
    if magic != MAGIC:
        raise WireError(f"a frame that does not start with {MAGIC!r} (it starts with {bytes(magic)!r})")
    if length > MAX_HEADER or count > MAX_BUFFERS:
        raise WireError(f"a frame with a header of {length} bytes (at most {MAX_HEADER}) and {count} buffers "
                        f"(at most {MAX_BUFFERS})")
    table = read(_PLACE.size * count)
    places = [_PLACE.unpack_from(table, i * _PLACE.size) for i in range(count)]
    total = length + sum(size for size, _ in places)
    if total > MAX_FRAME:
        raise WireError(f"refusing a frame of {total} bytes (at most {MAX_FRAME})")
    for size, offset in places:
        if offset != ON_SOCKET and (arena is None or offset > arena.size or size > arena.size - offset):
            raise WireError(f"a buffer of {size} bytes at {offset} in shared memory "
                            + ("but no arena" if arena is None else f"outside the arena of {arena.size} bytes"))
    header = read(length)
    buffers = []
    for size, offset in places:
        if offset == ON_SOCKET:
            buffers.append(read(size))
        else:
            buffers.append(bytearray(arena.view[offset:offset + size]))  # a private copy, at once
    return _parse(header, buffers)


def _read(sock: socket.socket, size: int, deadline: float | None) -> bytearray:
    """``size`` bytes from the socket; memory is taken as the bytes arrive (a frame that announces a gigabyte and
    stops costs what it sent)."""
    if size <= _READ_CHUNK:
        return _read_exactly(sock, size, deadline)
    buf = bytearray()
    while len(buf) < size:
        buf += _read_exactly(sock, min(_READ_CHUNK, size - len(buf)), deadline)
    return buf


def _read_exactly(sock: socket.socket, size: int, deadline: float | None) -> bytearray:
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
