"""Operations a property may ask the candidate process to perform on the implementation, besides a plain call.

Each operation runs next to the implementation (it has to: tracing, placing arrays on devices and transforming the
function all need the function itself) and returns plain data -- NumPy arrays, numbers, strings, lists -- that the
checking side judges. An operation is ``op(func, **kwargs)``; :data:`OPS` maps names to them. The checking side never
receives a function or a JAX object.

* ``call``: the call itself, its output converted (:func:`properties.sandbox.guard.convert_output`);
* ``trace``: a summary of ``jax.make_jaxpr`` of the call as a function of ``x_batch`` (for the structural
  properties);
* ``sharded``: the call on ``x_batch`` placed over a mesh of devices with ``NamedSharding(mesh, P('batch', None))``,
  and on the plain array (for the sharding property).
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable

import numpy as np

from properties.sandbox.guard import convert_output

#: Name of the mesh axis the batch is sharded along.
AXIS = "batch"


def call(func: Callable, seed, x_batch, num_layers, features) -> dict:
    return convert_output(func(seed, x_batch, num_layers, features))


# -- trace ----------------------------------------------------------------------------------------------------------------


def trace(func: Callable, seed, x_batch, num_layers, features) -> dict:
    """``jax.make_jaxpr(lambda x: func(seed, x, N, F))(x_batch)`` as data: every equation (recursing into sub-jaxprs),
    its primitive, a scan's length, a dot_general's operand shapes, and the lengths of the scans around it."""
    import jax

    closed = jax.make_jaxpr(lambda xb: func(seed, xb, num_layers, features))(x_batch)
    equations: list[dict] = []
    _walk(closed.jaxpr, [], equations)
    return {"equations": equations}


def _walk(jaxpr, scans: list, out: list) -> None:
    from jax.extend import core as jcore

    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        entry: dict[str, Any] = {"primitive": name, "in_scans": list(scans)}
        if name == "scan":
            entry["length"] = int(eqn.params.get("length", -1))
        if name == "dot_general":
            entry["in_shapes"] = [list(getattr(v.aval, "shape", ())) for v in eqn.invars]
        out.append(entry)
        inner = scans + [entry["length"]] if name == "scan" else scans
        for value in eqn.params.values():
            subs = value if isinstance(value, (tuple, list)) else (value,)
            for sub in subs:
                if isinstance(sub, jcore.ClosedJaxpr):
                    _walk(sub.jaxpr, inner, out)
                elif isinstance(sub, jcore.Jaxpr):
                    _walk(sub, inner, out)


# -- sharding -------------------------------------------------------------------------------------------------------------


def mesh_devices(size: int):
    """``size`` devices for the mesh, from the default backend if it has enough, else from the CPU backend; or
    ``None`` when neither has ``size`` devices in this process."""
    import jax

    devices = jax.devices()
    if len(devices) >= size:
        return devices[:size]
    try:
        cpu = jax.devices("cpu")
    except RuntimeError:
        return None
    return cpu[:size] if len(cpu) >= size else None


def device_count_note() -> str:
    try:
        import jax

        return f"{len(jax.devices())} {jax.default_backend()} device(s)"
    except Exception as exc:  # noqa: BLE001
        return f"no JAX devices ({type(exc).__name__})"


class NotEnoughDevices(Exception):
    """The process has fewer devices than the mesh needs (the property does not apply here)."""


def sharded(func: Callable, seed, x_batch, num_layers, features, devices: int = 4) -> dict:
    """The outputs of ``func`` on the NumPy batch and on the batch sharded over ``devices`` devices."""
    import jax
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    found = mesh_devices(devices)
    if found is None:
        raise NotEnoughDevices(f"needs {devices} devices, this process has {device_count_note()}")
    plain = convert_output(func(seed, x_batch, num_layers, features))
    mesh = Mesh(np.asarray(found), (AXIS,))
    placed = jax.device_put(np.asarray(x_batch), NamedSharding(mesh, PartitionSpec(AXIS, None)))
    shards = {tuple(s.index[0].indices(placed.shape[0])[:2]) for s in placed.addressable_shards}
    if len(shards) != len(found):
        raise AssertionError(f"the batch was not split over {len(found)} devices: {shards}")
    # Devices of another backend than the default one (CPU devices on a 1-GPU machine): run the call there, so an
    # implementation creating its parameters on the default device does not mix backends.
    default = jax.devices()[0]
    on = contextlib.nullcontext() if found[0].platform == default.platform else jax.default_device(found[0])
    with on:
        result = convert_output(func(seed, placed, num_layers, features))
    return {"plain": plain, "sharded": result, "where": f"{len(found)} {found[0].platform} devices"}


OPS: dict[str, Callable] = {"call": call, "trace": trace, "sharded": sharded}

from properties.sandbox.transform_ops import TRANSFORM_OPS  # noqa: E402

OPS.update(TRANSFORM_OPS)
