"""Operations of the ``transforms`` tier: the implementation under ``jax.jit``, ``jax.vmap`` and differentiation.

They run next to the implementation (candidate process, or in process for plain callables), like
:mod:`properties.sandbox.ops`, which registers them (:data:`TRANSFORM_OPS`). Each returns plain data: NumPy arrays
converted *inside* the operation (so the guard's clock and deadline see a lazy result being computed), in dicts and
lists. The checking side (``properties.invariants.transforms``) judges them against the oracle.

Every operation applies to JAX implementations only -- those that return a ``jax.Array`` when given a ``jax.Array``
``x_batch`` (issue 11's rule). When the implementation is not one, an operation returns ``{"skip": reason}`` instead of
its result, and the property is skipped with that reason. When it is one, whatever JAX or the implementation raises
under the transform propagates: the property fails with it (it is not skipped).

How "is it a JAX implementation?" is decided (:func:`not_jax`): call it with the batch as a ``jax.Array``; it is one
when the result is a ``jax.Array``. If that call raises, the batch is passed as a NumPy array instead: an implementation
that returns a ``jax.Array`` then is a JAX implementation (that fails on ``jax.Array`` input: a failure); one that
returns something else (NumPy, PyTorch) is not; one that raises either way fails (it raised on a valid call). The
operations that need the eager result anyway (``jit``, ``vmap``) decide first; the differentiating ones run the
transform first and decide only if it raised (a function that ``jax.vjp`` traced to the end is a JAX function), which
saves a call per example.

Operations (``x_batch`` (B, F), cotangents ``w`` (B*F,), tangents ``t`` (B, F); stacks carry a leading K):

* ``is_jax``: whether the output for a ``jax.Array`` batch is a ``jax.Array`` (and why not);
* ``jit``: the eager output and ``jax.jit(lambda x: f(seed, x, N, F))(x)`` (the jitted function is built once per
  (seed, N, F) in a process and called on every new batch, :func:`_jitted`);
* ``vmap``: K eager calls on the stacked batches and ``jax.vmap`` of the call over the stack;
* ``vjp``: ``out, pullback = jax.vjp(call, x)`` and ``pullback(w)``: ``d<out, w>/dx``;
* ``jvp``: ``jax.jvp(call, (x,), (t,))``; for a ``jax.custom_vjp`` implementation, on which ``jax.jvp`` always raises
  (JAX's design: "can't apply forward-mode autodiff (jvp) to a custom_vjp function"), the JVP is computed as the
  transpose of its VJP (``jax.linear_transpose`` of ``w -> pullback(w)``), and ``via`` says so;
* ``grad``: ``jax.grad(x -> sum(f(seed, x, N, F) * w))(x)``;
* ``jit_grad``: that gradient, and ``jax.jit`` of it (built once per (seed, N, F), as ``jit``);
* ``vmap_grad``: K gradients on the stacked (x, w), and ``jax.vmap`` of it over the stack.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from properties.sandbox.guard import convert_output

#: The message of the TypeError ``jax.jvp`` raises on any ``jax.custom_vjp`` function (jax 0.4 - 0.10).
CUSTOM_VJP_NO_JVP = "can't apply forward-mode autodiff (jvp) to a custom_vjp function"
#: The start of every skip reason.
NOT_JAX = "not a JAX implementation (the tier applies to those that return a jax.Array when given a jax.Array x_batch)"
#: ``via`` of a JVP computed as the transposed VJP.
VIA_TRANSPOSED_VJP = "transposed VJP (jax.jvp raises on a jax.custom_vjp function)"


def _jax():
    import jax
    import jax.numpy as jnp

    return jax, jnp


def _type_name(value) -> str:
    kind = type(value)
    return f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', kind.__name__)}"


def _numpy(value) -> np.ndarray:
    return np.asarray(value, order="C")  # not ascontiguousarray: it makes a 0-d array 1-d


def not_jax(func: Callable, seed, x_batch, num_layers, features) -> str | None:
    """None when ``func`` is a JAX implementation (module docstring), else the reason it is not one."""
    jax, jnp = _jax()
    try:
        out = func(seed, jnp.asarray(x_batch), num_layers, features)
    except Exception as exc:  # noqa: BLE001 - deciding what kind of implementation this is
        first = f"raised {type(exc).__name__}: {str(exc)[:200]}"
        try:
            out = func(seed, np.asarray(x_batch), num_layers, features)
        except Exception:  # noqa: BLE001 - it fails either way: let the caller's error stand
            return None
        if isinstance(out, jax.Array):
            return None
        return f"{NOT_JAX}: given a jax.Array x_batch it {first}; given a NumPy x_batch it returns {_type_name(out)}"
    if isinstance(out, jax.Array):
        return None
    return f"{NOT_JAX}: given a jax.Array x_batch it returns {_type_name(out)}"


def _skip(reason: str) -> dict:
    return {"skip": reason}


def _eager(func, seed, x, num_layers, features):
    """The eager call on a ``jax.Array`` batch: ``(converted output, None)``, or ``(None, skip reply)``."""
    jax, jnp = _jax()
    try:
        out = func(seed, jnp.asarray(x), num_layers, features)
    except Exception:
        reason = not_jax(func, seed, x, num_layers, features)
        if reason is not None:
            return None, _skip(reason)
        raise
    if not isinstance(out, jax.Array):
        return None, _skip(f"{NOT_JAX}: given a jax.Array x_batch it returns {_type_name(out)}")
    return convert_output(out), None


def _or_skip(func, seed, x, num_layers, features, thunk):
    """``thunk()``; if it raises and the implementation is not a JAX one, the skip reply instead (else re-raise)."""
    try:
        return thunk()
    except Exception:
        reason = not_jax(func, seed, x, num_layers, features)
        if reason is not None:
            return _skip(reason)
        raise


def _call(func, seed, num_layers, features):
    return lambda x: func(seed, x, num_layers, features)


def _loss(func, seed, num_layers, features):
    import jax.numpy as jnp

    return lambda x, w: jnp.sum(func(seed, x, num_layers, features) * w)


#: Jitted functions by (what, implementation, seed, N, F), at most _JITTED_MAX (see :func:`_jitted`).
_JITTED: dict = {}
_JITTED_MAX = 64


def _jitted(what: str, func, seed, num_layers, features):
    """``jax.jit`` of the call (``what == "call"``) or of the gradient of the loss (``"grad"``), built once per
    (implementation, seed, N, F) in this process and then called on each new batch, as a user jits a function once
    and calls it many times. Under jit the seed is a compile-time constant of the implementation's trace, so without
    this every example would trace, lower and compile (or load from the persistent cache) a program again: 0.5-4 s a
    call for ``fast``."""
    jax, _ = _jax()
    make = {"call": lambda: jax.jit(_call(func, seed, num_layers, features)),
            "grad": lambda: jax.jit(jax.grad(_loss(func, seed, num_layers, features)))}[what]
    key = (what, func, type(seed), seed, num_layers, features)
    try:
        return _JITTED[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable callable object: no cache
        return make()
    if len(_JITTED) >= _JITTED_MAX:
        _JITTED.clear()
    fn = _JITTED[key] = make()
    return fn


# -- the operations ---------------------------------------------------------------------------------------------------


def is_jax(func: Callable, seed, x_batch, num_layers, features) -> dict:
    reason = not_jax(func, seed, x_batch, num_layers, features)
    return {"is_jax": reason is None, "reason": reason}


def jit(func: Callable, seed, x_batch, num_layers, features) -> dict:
    jax, jnp = _jax()
    eager, skip = _eager(func, seed, x_batch, num_layers, features)
    if skip:
        return skip
    jitted = convert_output(_jitted("call", func, seed, num_layers, features)(jnp.asarray(x_batch)))
    return {"eager": eager, "jit": jitted}


def vmap(func: Callable, seed, x_stack, num_layers, features) -> dict:
    jax, jnp = _jax()
    first, skip = _eager(func, seed, x_stack[0], num_layers, features)
    if skip:
        return skip
    stacked = [first] + [convert_output(func(seed, jnp.asarray(x), num_layers, features)) for x in x_stack[1:]]
    mapped = convert_output(jax.vmap(lambda x: func(seed, x, num_layers, features))(jnp.asarray(x_stack)))
    return {"stacked": stacked, "vmapped": mapped}




def vjp(func: Callable, seed, x_batch, num_layers, features, cotangent) -> dict:
    jax, jnp = _jax()

    def run():
        out, pullback = jax.vjp(_call(func, seed, num_layers, features), jnp.asarray(x_batch))
        w = np.asarray(cotangent)
        if out.shape != w.shape:  # the output's form is checked on the other side; no pullback of another shape
            return {"out": convert_output(out), "vjp": None}
        (g,) = pullback(jnp.asarray(w, out.dtype))
        return {"out": convert_output(out), "vjp": _numpy(g)}

    return _or_skip(func, seed, x_batch, num_layers, features, run)


def jvp(func: Callable, seed, x_batch, num_layers, features, tangent) -> dict:
    jax, jnp = _jax()
    call = _call(func, seed, num_layers, features)
    x = jnp.asarray(x_batch)
    t = jnp.asarray(tangent, x.dtype)

    def run():
        try:
            out, jt = jax.jvp(call, (x,), (t,))
            via = "jax.jvp"
        except TypeError as exc:
            if CUSTOM_VJP_NO_JVP not in str(exc):
                raise
            # J t as the transpose of t' -> J^T t' (the implementation's own reverse mode).
            out, pullback = jax.vjp(call, x)
            (jt,) = jax.linear_transpose(lambda w: pullback(w)[0], jax.ShapeDtypeStruct(out.shape, out.dtype))(t)
            via = VIA_TRANSPOSED_VJP
        return {"out": convert_output(out), "jvp": _numpy(jt), "via": via}

    return _or_skip(func, seed, x_batch, num_layers, features, run)


def grad(func: Callable, seed, x_batch, num_layers, features, cotangent) -> dict:
    jax, jnp = _jax()
    loss = _loss(func, seed, num_layers, features)
    x = jnp.asarray(x_batch)
    return _or_skip(func, seed, x_batch, num_layers, features,
                    lambda: {"grad": _numpy(jax.grad(loss)(x, jnp.asarray(cotangent, x.dtype)))})


def jit_grad(func: Callable, seed, x_batch, num_layers, features, cotangent) -> dict:
    jax, jnp = _jax()
    loss = _loss(func, seed, num_layers, features)
    x = jnp.asarray(x_batch)
    w = jnp.asarray(cotangent, x.dtype)
    plain = _or_skip(func, seed, x_batch, num_layers, features, lambda: _numpy(jax.grad(loss)(x, w)))
    if isinstance(plain, dict):
        return plain
    return {"grad": plain, "jit_grad": _numpy(_jitted("grad", func, seed, num_layers, features)(x, w))}


def vmap_grad(func: Callable, seed, x_stack, num_layers, features, cotangents) -> dict:
    jax, jnp = _jax()
    loss = _loss(func, seed, num_layers, features)
    xs = jnp.asarray(x_stack)
    ws = jnp.asarray(cotangents, xs.dtype)
    g = jax.grad(loss)
    first = _or_skip(func, seed, x_stack[0], num_layers, features, lambda: _numpy(g(xs[0], ws[0])))
    if isinstance(first, dict):
        return first
    plain = [first] + [_numpy(g(xs[k], ws[k])) for k in range(1, xs.shape[0])]
    return {"grads": plain, "vmap_grad": _numpy(jax.vmap(g)(xs, ws))}


TRANSFORM_OPS: dict[str, Callable] = {
    "is_jax": is_jax,
    "jit": jit,
    "vmap": vmap,
    "vjp": vjp,
    "jvp": jvp,
    "grad": grad,
    "jit_grad": jit_grad,
    "vmap_grad": vmap_grad,
}
