"""The data-only wire (issue 14, item 1): every value the two processes exchange round-trips exactly, arrays keep their
layout, nothing else travels but a description, and the decoder refuses every malformed frame with a ``WireError``
-- never another exception, code execution, an import or a big allocation. Last, the cheat whose replies are pickles
that would run code in the checking process fails, and its code never runs here."""

from __future__ import annotations

import glob
import json
import math
import os
import pickle
import struct
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cli_support import CHEATS, ROOT
from properties.sandbox import wire

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None)
TRIPS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)


# -- exact comparison -----------------------------------------------------------------------------------------------


def same(a, b) -> bool:
    """``b`` is ``a``: the same types all the way down, floats and arrays bit for bit, arrays with the same strides
    (empty ones excepted) and writeable flag."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        if (a.dtype, a.shape, a.flags.writeable) != (b.dtype, b.shape, b.flags.writeable):
            return False
        if a.dtype == object:
            return all(same(x, y) for x, y in zip(a.reshape(-1).tolist(), b.reshape(-1).tolist()))
        return (a.size == 0 or a.strides == b.strides) and _bits(a) == _bits(b)
    if isinstance(a, np.generic):
        return a.dtype == b.dtype and a.tobytes() == b.tobytes()
    return a == b


def _bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


def trip(value, arena=None, arena_min=None, jax_arrays=True):
    return wire.decode(wire.loads(wire.dumps(wire.encode(value), arena, arena_min), arena), jax_arrays=jax_arrays)


# -- values -----------------------------------------------------------------------------------------------------------

NUMPY_DTYPES = [np.dtype(c) for c in ("?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "g",
                                      "c8", "c16", "G", ">f4", ">i8", ">c16", "<U3", ">U2", "S4")]
ML_DTYPES = [np.dtype(t) for t in (ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2,
                                   ml_dtypes.int4)]


def _raw(dtype: np.dtype, shape):
    """Any bit patterns (NaN payloads, subnormals, non-canonical bools) of ``dtype`` in ``shape`` (text: any code
    point up to U+10FFFF)."""
    if dtype.kind == "U":
        return hnp.arrays(np.dtype(dtype.str[0] + "u4"), tuple(shape) + (dtype.itemsize // 4,),
                          elements=st.integers(0, 0x10FFFF)).map(
            lambda c: np.ascontiguousarray(c).view(dtype).reshape(shape))
    return hnp.arrays(np.uint8, tuple(shape) + (dtype.itemsize,)).map(
        lambda b: np.ascontiguousarray(b).view(dtype).reshape(shape))


@st.composite
def arrays(draw):
    """An array of an allow-listed dtype, then a view of it: slices with any steps (negative ones too), a transpose,
    Fortran order, a broadcast; read-only or not."""
    dtype = draw(st.sampled_from(NUMPY_DTYPES + ML_DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
    base = draw(_raw(dtype, shape))
    how = draw(st.sampled_from(("plain", "index", "transpose", "fortran", "broadcast")))
    if how == "index" and base.ndim:
        base = base[draw(hnp.basic_indices(base.shape, allow_ellipsis=False))]
    elif how == "transpose":
        base = base.T
    elif how == "fortran":
        base = np.asfortranarray(base)
    elif how == "broadcast" and base.ndim:
        base = np.broadcast_to(base, (2,) + base.shape)
    if isinstance(base, np.ndarray) and draw(st.booleans()):
        base.flags.writeable = False
    return base


floats = st.floats(allow_nan=True, allow_infinity=True) | st.integers(0, 2**64 - 1).map(
    lambda bits: struct.unpack("<d", struct.pack("<Q", bits))[0])
scalars = st.sampled_from(NUMPY_DTYPES + ML_DTYPES).flatmap(lambda dt: _raw(dt, ()).map(lambda a: a[()]))
atoms = (st.none() | st.booleans() | st.integers() | st.integers(-(2**300), 2**300) | floats | st.text(max_size=20)
         | scalars | arrays())
values = st.recursive(atoms, lambda inner: st.lists(inner, max_size=4) | st.lists(inner, max_size=4).map(tuple)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@TRIPS
@given(values)
def test_every_value_round_trips(value):
    assert same(value, trip(value))


@TRIPS
@given(st.lists(arrays(), min_size=1, max_size=3), st.integers(0, 64))
def test_arrays_round_trip_through_the_arena(items, arena_min):
    """Buffers at least ``arena_min`` bytes go through shared memory; the rest on the socket; all arrive alike."""
    arena = wire.Arena(size=1 << 20)
    try:
        assert same(items, trip(items, arena, arena_min))
    finally:
        arena.close()


def test_faithful_forms():
    """The forms of ``properties.invariants.forms`` keep their layout: F order, strided and negatively strided views
    (as views into the span they cover), read-only; an empty array keeps its shape."""
    a = np.arange(40, dtype=np.float32).reshape(8, 5)
    ro = a.copy()
    ro.flags.writeable = False
    for form in (np.asfortranarray(a), a[::2], a[:, 1::2], a[::-1], a[::-1, ::-1], ro, a[:, :0]):
        got = trip(form)
        assert same(form, got)
        assert got.flags.f_contiguous == form.flags.f_contiguous and got.flags.c_contiguous == form.flags.c_contiguous
        if form.size and not form.flags.c_contiguous:
            assert got.base is not None and np.asarray(got.base).nbytes >= form.nbytes


def test_jax_arrays_arrive_as_jax_arrays_or_numpy_on_request():
    import jax
    import jax.numpy as jnp

    sent = {"x": jnp.arange(6.0, dtype=jnp.float32).reshape(2, 3), "n": jnp.asarray(3, jnp.int32),
            "h": jnp.ones(4, jnp.bfloat16)}
    got = trip(sent)
    for key, value in sent.items():
        assert isinstance(got[key], jax.Array) and got[key].dtype == value.dtype
        assert np.array_equal(np.asarray(got[key]), np.asarray(value))
    plain = trip(sent, jax_arrays=False)
    assert all(type(plain[k]) is np.ndarray and plain[k].dtype == sent[k].dtype for k in sent)
    key = trip(jax.random.key(0))  # no NumPy form: described
    assert type(key) is wire.Opaque and "no NumPy form" in key.text


def test_python_numbers_exactly():
    """Ints of any size (seeds beyond 2**63), floats by their bits (NaN payloads, -0.0, infinities)."""
    odd_nan = struct.unpack("<d", struct.pack("<Q", 0xFFF8_0000_DEAD_BEEF))[0]
    numbers = [2**63, -(2**63) - 1, 2**64 + 5, 2**4000, -0.0, math.inf, -math.inf, odd_nan, 5e-324, 0.1]
    got = trip(numbers)
    assert same(numbers, got)
    assert type(trip(True)) is bool and type(trip(np.True_)) is np.bool_


def test_what_does_not_travel_is_described():
    """An arbitrary object, a dict with other keys, a structured or datetime array, and nesting past MAX_DEPTH
    arrive as a wire.Opaque (type name and repr), never as the object; str/int/float subclasses as their values."""

    class Thing:
        def __repr__(self):
            return "Thing()"

    deep: list = []
    node = deep
    for _ in range(wire.MAX_DEPTH + 5):
        node.append([])
        node = node[0]

    class Name(str):
        pass

    got = trip({"thing": Thing(), "keys": {1: 2}, "rec": np.zeros(2, [("a", "f4")]),
                "when": np.zeros(2, "M8[ns]"), "deep": deep, "name": Name("x"), "flag": np.void(b"ab")})
    assert got["thing"] == wire.Opaque(f"{__name__}.test_what_does_not_travel_is_described.<locals>.Thing", "Thing()")
    assert all(type(got[k]) is wire.Opaque for k in ("keys", "rec", "when", "flag"))
    assert "not all strings" in got["keys"].text and "dtype" in got["rec"].text
    node, depth = got["deep"], 0
    while type(node) is list:
        node, depth = node[0], depth + 1
    assert type(node) is wire.Opaque and depth == wire.MAX_DEPTH - 1  # the dict around it is the first level
    assert type(got["name"]) is str and got["name"] == "x"


def test_object_arrays_travel_by_their_elements():
    """The contract's ``x_batch object``: an object array of floats arrives as one (its elements decoded as data)."""
    x = np.arange(6, dtype=np.float32).reshape(2, 3).astype(object)
    x[0, 0] = np.arange(2.0)  # an array inside: decoded too
    got = trip(x)
    assert got.dtype == object and got.shape == (2, 3) and same(x, got)
    x.flags.writeable = False
    assert same(x, trip(x))


def test_an_opaque_output_is_a_problem_not_a_pass():
    from properties.harness.proxy import Returned

    out = Returned({"array": wire.Opaque("numpy.ndarray", "array([(0.,)], dtype=[('a', '<f4')])"), "type": "x"})
    assert out.array is None and "not an array the wire carries" in out.problem


# -- the real messages ------------------------------------------------------------------------------------------------


def _real_messages() -> list:
    """Requests and replies as the checking side and the candidate process build them (in this process)."""
    import composed
    from properties.invariants.contract import VIOLATIONS
    from properties.invariants.forms import CORE_FORMS, STRICT_FORMS
    from properties.sandbox import guard, ops

    fast = composed.IMPLEMENTATIONS["fast"]
    x = (np.arange(12, dtype=np.float32).reshape(3, 4) - 5.0) / 4.0
    case = dict(seed=2**62 + 12345, x_batch=x, num_layers=2, features=4)
    requests = [{"op": "call", "kwargs": dict(seed=s, x_batch=x, num_layers=n, features=4)}
                for s, n in ((0, 2), (2**64 + 5, 2), (-(2**63), 2), (3.75, 2.5), (np.int64(7), np.float32(2)))]
    for build in list(CORE_FORMS.values()) + list(STRICT_FORMS.values()):
        xb, n, f = build(x, 2, 4)
        requests.append({"op": "call", "kwargs": dict(seed=1, x_batch=xb, num_layers=n, features=f)})
    c = dict(case)
    for _, _, build in VIOLATIONS.values():
        requests.append({"op": "call", "kwargs": dict(zip(("seed", "x_batch", "num_layers", "features"), build(c)))})
    requests.append({"op": "vjp", "kwargs": dict(case, cotangent=np.ones(12, np.float32))})
    requests.append({"op": "vmap", "kwargs": dict(case, x_stack=np.stack([x, x, x]))})
    requests.append({"op": "sharded", "kwargs": dict(case, devices=4)})

    def reply(thunk):
        r = guard.run(thunk, args=list(case.values()))
        if r["error"] is not None:
            r["error"].pop("exception", None)
        return r

    replies = [{"status": "ready", "pid": os.getpid()}, {"status": "load_error", "message": "no module named 'x'"},
               {"status": "internal", "message": "unknown operation 'x'"}]
    for name, kwargs in (("call", case), ("trace", case), ("jit", case), ("is_jax", case),
                         ("vjp", dict(case, cotangent=np.ones(12, np.float32))),
                         ("jvp", dict(case, tangent=np.ones((3, 4), np.float32))),
                         ("vmap_grad", dict(case, x_stack=np.stack([x, x]), cotangents=np.ones((2, 12), np.float32)))):
        replies.append(reply(lambda: ops.OPS[name](fast, **kwargs)))
    replies.append(reply(lambda: fast(True, x, 2, 4)))  # raised: an error described as data
    replies.append(reply(lambda: {"skip": "not a JAX implementation"}))
    replies.append(reply(lambda: {"plain": guard.convert_output(np.ones((3, 4))), "sharded": guard.convert_output(
        np.ones((3, 4))), "where": "4 cpu devices"}))
    replies.append(reply(lambda: guard.convert_output(np.zeros(3, [("a", "f4")]))))  # a structured output
    for r in replies:
        if "value" in r:
            r["value"] = wire.encode(r["value"])
    for r in requests:
        r["kwargs"] = wire.encode(r["kwargs"])
    return requests + replies


@pytest.fixture(scope="module")
def messages():
    return _real_messages()


def test_real_messages_round_trip(messages):
    """Every request and reply of the protocol arrives as sent (a structured output as an Opaque)."""
    for message in messages:
        got = wire.loads(wire.dumps(message))
        want = wire.decode(message, jax_arrays=False)
        if type(want.get("value")) is dict and isinstance(want["value"].get("array"), np.ndarray) \
                and want["value"]["array"].dtype.fields:
            assert type(got["value"]["array"]) is wire.Opaque
            continue
        assert same(want, wire.decode(got, jax_arrays=False)), message


def test_trace_summaries_stay_far_below_the_header_bound(messages):
    sizes = [len(wire.dumps(m)) for m in messages]
    assert max(sizes) < wire.MAX_HEADER // 64, sizes


def test_round_trip_over_a_socket_with_an_arena(messages):
    """send/recv as both sides use them: a large array through the arena, the rest on the socket, with a deadline."""
    big = {"op": "call", "kwargs": wire.encode(dict(seed=1, x_batch=np.ones((256, 256), np.float32)[::-1],
                                                    num_layers=1, features=256))}
    left, right = wire.socket_pair()
    arena = wire.Arena(size=1 << 22)
    try:
        for message in [big] + messages[:5]:
            sender = threading.Thread(target=wire.send, args=(left, message, arena))
            sender.start()
            got = wire.recv(right, time.monotonic() + 10, arena)
            sender.join()
            assert same(wire.decode(message, jax_arrays=False), wire.decode(got, jax_arrays=False))
    finally:
        arena.close()
        left.close()
        right.close()


# -- the decoder under fuzzing ----------------------------------------------------------------------------------------

#: A decode of these small frames may take this much memory at most (the frames are a few kB; the bounds allow GBs).
MEMORY_BOUND = 16 << 20


def _split(frame: bytes):
    """(header, [buffers]) of a socket-only frame."""
    magic, length, count = wire._PREFIX.unpack_from(frame)
    at = wire._PREFIX.size
    places = [wire._PLACE.unpack_from(frame, at + i * wire._PLACE.size) for i in range(count)]
    at += count * wire._PLACE.size
    header = frame[at:at + length]
    at += length
    buffers = []
    for size, _ in places:
        buffers.append(frame[at:at + size])
        at += size
    return header, buffers


def _join(header: bytes, buffers: list, places=None) -> bytes:
    places = places or [(len(b), wire.ON_SOCKET) for b in buffers]
    return (wire._PREFIX.pack(wire.MAGIC, len(header), len(places))
            + b"".join(wire._PLACE.pack(*p) for p in places) + header + b"".join(buffers))


def _nodes(tree, path=()):
    """Every (path, node) of a JSON tree."""
    yield path, tree
    if isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _nodes(v, path + (i,))
    elif isinstance(tree, dict):
        for k, v in tree.items():
            yield from _nodes(v, path + (k,))


def _replace(tree, path, new):
    if not path:
        return new
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    return tree


BAD_DTYPES = ["|O", "|V8", "object", "<M8[ns]", "<m8", "float32", "<f4", ">f8", "bfloat16", "<U0", "|S0", "<U9999999",
              "numpy.dtype", "os.system", "[('a', '<f4')]", "|b1", "int4", 3, None, ["<f4"], "<f4 ", "|u1"]
json_atoms = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.sampled_from([0, 1, -1, 2**63, 2**64 - 1])
              | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=6)
              | st.sampled_from(["t", "d", "i", "f", "n", "a", "O", "o", "numpy", "jax", "-0x10", "0x", "7ff8"]))
json_values = st.recursive(json_atoms, lambda inner: st.lists(inner, max_size=7)
                           | st.dictionaries(st.sampled_from(["t", "d", "i", "f", "n", "a", "O", "o", "x"]), inner,
                                             max_size=2), max_leaves=16)


#: NumPy scalar nodes, right or wrong: text past U+10FFFF, wrong lengths, odd hex.
scalar_nodes = st.builds(lambda name, raw, upper: {"n": [name, raw.hex().upper() if upper else raw.hex()]},
                         st.sampled_from(["<U1", ">U2", "|S1", "<U0", "|S0", "bfloat16", "int4", "<f4", "|b1", "<c8"]
                                         + BAD_DTYPES[:6]),
                         st.binary(max_size=9) | st.sampled_from([b"\x00\x00\x11\x00", b"\x00\x11\x00\x00",
                                                                  b"\xff\xff\xff\xff"]),
                         st.booleans())


def _descriptor(draw):
    """An array descriptor with some fields drawn from the nasty ones."""
    ints = st.integers(-(2**40), 2**40) | st.sampled_from([0, 1, 2, 4, 8, -4, -8, 2**31, 2**62, -(2**63)])
    fields = {
        0: st.sampled_from(["numpy", "jax", "torch", 1, None]),
        1: st.sampled_from(BAD_DTYPES),
        2: st.lists(ints, max_size=4) | st.sampled_from([[2**30, 2**30], [0, 2**62], [-1], [], None, 3]),
        3: st.none() | st.lists(ints, max_size=4) | st.just([True, 4]),
        4: ints | st.none() | st.just(True),
        5: st.booleans() | st.sampled_from([0, 1, None, "yes"]),
        6: st.none() | st.integers(-2, 4) | st.just(True),
    }
    body = ["numpy", "<f4", [2, 3], [12, 4], 0, True, 0]
    for i in draw(st.sets(st.integers(0, 6), min_size=1)):
        body[i] = draw(fields[i])
    return {"a": body}


@st.composite
def mutated_frames(draw, frames):
    """A valid frame of a real message, then broken: bytes flipped, inserted or deleted; the prefix's or the buffer
    table's numbers changed; or a node of its JSON header replaced (a random value, an array descriptor with nasty
    fields, a node of an array descriptor changed) with the lengths kept consistent, so the frame reaches the
    checks behind the framing."""
    data = bytearray(draw(st.sampled_from(frames)))
    how = draw(st.sampled_from(("flip", "insert", "delete", "prefix", "table", "header", "descriptor", "trail")))
    if how == "flip":
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
    elif how == "insert":
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(min_size=1, max_size=64))
    elif how == "delete":
        at = draw(st.integers(0, len(data) - 1))
        del data[at:at + draw(st.integers(1, 64))]
    elif how == "prefix":
        _, length, count = wire._PREFIX.unpack_from(data)
        length = draw(st.sampled_from([length - 1, length + 1, 0, wire.MAX_HEADER + 1, 2**32 - 1]) | st.just(length))
        count = draw(st.sampled_from([count + 1, max(count - 1, 0), wire.MAX_BUFFERS + 1, 2**32 - 1]) | st.just(count))
        data[:wire._PREFIX.size] = wire._PREFIX.pack(wire.MAGIC, length, count)
    elif how == "table":
        _, _, count = wire._PREFIX.unpack_from(data)
        if count:
            i = draw(st.integers(0, count - 1))
            size = draw(st.sampled_from([0, 1, 2**29, wire.MAX_FRAME, wire.MAX_FRAME + 1, 2**64 - 1])
                        | st.integers(0, 4096))
            offset = draw(st.sampled_from([wire.ON_SOCKET, 0, 1, 2**20, 2**63]))
            at = wire._PREFIX.size + i * wire._PLACE.size
            data[at:at + wire._PLACE.size] = wire._PLACE.pack(size, offset)
    elif how in ("header", "descriptor"):
        header, buffers = _split(bytes(data))
        tree = json.loads(header)
        nodes = list(_nodes(tree))
        if how == "descriptor":
            arrays = [p for p, n in nodes if isinstance(n, dict) and "a" in n]
            if arrays:
                path = draw(st.sampled_from(arrays))
                if draw(st.booleans()):
                    node = _descriptor(draw)
                else:
                    node = json.loads(json.dumps(_get(tree, path)))
                    node["a"][draw(st.integers(0, 6))] = draw(json_values)
                tree = _replace(tree, path, node)
        else:
            path, _ = draw(st.sampled_from(nodes))
            tree = _replace(tree, path, draw(json_values | scalar_nodes))
        if draw(st.booleans()) and buffers:
            buffers[draw(st.integers(0, len(buffers) - 1))] += b"\0" * draw(st.sampled_from([1, 4, 8]))
        data = bytearray(_join(json.dumps(tree).encode(), buffers))
    else:
        data += draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


def _get(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def decodes_or_refuses(data: bytes, arena=None):
    """``loads`` then ``decode`` of ``data``: a value or a WireError; no other exception, no module imported, and
    at most MEMORY_BOUND bytes allocated on the way."""
    modules = set(sys.modules)
    tracemalloc.start()
    try:
        try:
            value = wire.loads(data, arena)
        except wire.WireError:
            value = refused = wire.WireError
        else:
            refused = None
            wire.decode(value, jax_arrays=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"{peak} bytes allocated decoding a frame of {len(data)} bytes"
    assert set(sys.modules) == modules, set(sys.modules) - modules
    return refused or value


@pytest.fixture(scope="module")
def frames(messages):
    return [wire.dumps(m) for m in messages]


def test_fuzzed_frames_give_a_wire_error_or_a_value(frames):
    @FUZZ
    @given(mutated_frames(frames))
    def check(data):
        decodes_or_refuses(data)

    check()


def test_random_bytes_give_a_wire_error():
    @FUZZ
    @given(st.binary(max_size=256) | st.binary(max_size=256).map(lambda b: wire.MAGIC + b)
           | st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.binary(max_size=256)).map(
               lambda t: wire._PREFIX.pack(wire.MAGIC, t[0], t[1]) + t[2]))
    def check(data):
        assert decodes_or_refuses(data) is wire.WireError

    check()


def test_random_headers_give_a_wire_error_or_data():
    """Any JSON at all as the header (with the real frames' buffers): a WireError or plain data, never more."""
    @FUZZ
    @given(json_values, st.lists(st.binary(max_size=32), max_size=3))
    def check(tree, buffers):
        decodes_or_refuses(_join(json.dumps(tree).encode(), buffers))

    check()


def test_arena_offsets_are_checked():
    arena = wire.Arena(size=1 << 16)
    try:
        @FUZZ
        @given(st.integers(0, 2**64 - 2), st.integers(1, 2**17))
        def check(offset, size):
            header = json.dumps({"a": ["numpy", "|u1", [size], [1], 0, True, 0]}).encode()
            data = _join(header, [], [(size, offset)])
            result = decodes_or_refuses(data, arena)
            if offset + size > arena.size:
                assert result is wire.WireError
            else:
                assert type(result) is wire.ArrayData and len(result.data) == size
                with pytest.raises(wire.WireError, match="no arena"):
                    wire.loads(data)

        check()
    finally:
        arena.close()


def test_announced_sizes_cost_nothing_until_the_bytes_arrive():
    """A frame announcing a buffer of almost MAX_FRAME bytes, then the connection closes: WireClosed, and the
    receiver allocated about what was sent, not what was announced."""
    left, right = wire.socket_pair()
    try:
        header = json.dumps({"a": ["numpy", "|u1", [wire.MAX_FRAME - 100], [1], 0, True, 0]}).encode()
        left.sendall(wire._PREFIX.pack(wire.MAGIC, len(header), 1) + wire._PLACE.pack(wire.MAX_FRAME - 100,
                                                                                      wire.ON_SOCKET)
                     + header + b"\0" * 1000)
        left.close()
        tracemalloc.start()
        try:
            with pytest.raises(wire.WireClosed):
                wire.recv(right, time.monotonic() + 5)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 4 * wire._READ_CHUNK, peak
    finally:
        right.close()


def test_text_past_the_last_code_point_is_refused():
    """A ``U`` scalar or array holding U+110000 (reading it would raise SystemError): a WireError."""
    bad = np.array([0x41, 0x110000], "<u4").view("<U2")
    for frame in (wire.dumps(bad), wire.dumps(np.array(["AB"])[0])):
        frame = frame.replace(b"\x42\x00\x00\x00", b"\x00\x00\x11\x00").replace(b"42000000", b"00001100")
        with pytest.raises(wire.WireError, match="code point"):
            wire.loads(frame)


def test_pickles_are_refused_and_never_run(tmp_path):
    """A frame whose header is a pickle (any protocol) that would run code: a WireError; the code never runs."""
    marker = tmp_path / "ran"

    class Boom:
        def __reduce__(self):
            return exec, (f"open({str(marker)!r}, 'w').write('x')",)

    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        payload = pickle.dumps({"status": "ok", "value": Boom()}, protocol=protocol)
        with pytest.raises(wire.WireError):
            wire.loads(wire._PREFIX.pack(wire.MAGIC, len(payload), 0) + payload)
    assert not marker.exists()


# -- the cheat --------------------------------------------------------------------------------------------------------


def test_cheat_smuggling_a_pickle_fails_and_its_code_never_runs_here():
    """``tests/cheats/pickles_reply.py`` (wrong, and every reply a pickle that would write a marker file here and point
    the proxy at the bundled default): each property fails naming the wire error; no marker of this process."""
    from properties.api import run_property
    from properties.harness.proxy import ProcessCandidate, candidate_environment

    run = uuid.uuid4().hex
    handle = ProcessCandidate(str(CHEATS / "pickles_reply.py"), timeout=60, env=candidate_environment(run=run),
                              cwd=str(ROOT))
    try:
        outcomes = {p: run_property(handle, p, profile="quick", shrink=False) for p in ("matches_oracle",
                                                                                         "output_shape")}
    finally:
        handle.close()
    for prop, outcome in outcomes.items():
        assert outcome.kind == "failed", (prop, outcome.kind, outcome.message)
        assert "broke the wire protocol" in outcome.message and "not JSON" in outcome.message, outcome.message
    assert not glob.glob(os.path.join(tempfile.gettempdir(), f"composed-unpickled-{run}-*"))
