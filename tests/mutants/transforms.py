"""Mutants: forward-correct implementations that break under jax.jit or jax.vmap (transforms tier).

Called eagerly on NumPy or JAX arrays every one returns the spec's output; under a transformation the input is a tracer,
and each of these trips over that in its own way.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.interpreters import partial_eval as pe

try:
    from mutants._base import forward, run, scan_layers, traced_params, validated
except ImportError:  # loaded by file path
    from _base import forward, run, scan_layers, traced_params, validated


def python_branch_on_values(seed, x_batch, num_layers, features):
    """Python `if` on the input's values (a zero-batch shortcut): ConcretizationTypeError under jit, vmap, autodiff."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    if float(jnp.max(jnp.abs(x), initial=0.0)) == 0.0:  # relu(0 @ K + 0) = 0: the network maps 0 to 0
        return jnp.zeros(x.shape[0] * f, x.dtype)
    return run(seed, x, n, f)


def numpy_inplace(seed, x_batch, num_layers, features):
    """Copies the input to NumPy and clears signed zeros in place (h += 0): fails on tracers (jit, vmap, autodiff)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    h = np.array(x)  # a copy: the caller's array is never touched
    h += h.dtype.type(0)  # -0.0 + 0.0 == +0.0
    return run(seed, h, n, f)


# --- a NumPy host callback, differentiable through a custom_jvp, that cannot be batched -------------------------------


def _numpy_forward(x, kernel, bias):
    x = np.asarray(x)
    dtype = x.dtype
    h = x.copy()
    for layer in range(kernel.shape[0]):
        h = np.maximum(h @ np.asarray(kernel[layer], dtype) + np.asarray(bias[layer], dtype), 0).astype(dtype)
    return h.reshape(-1)


@jax.custom_jvp
def _callback_net(x, kernel, bias):
    out = jax.ShapeDtypeStruct((x.shape[0] * x.shape[1],), x.dtype)
    return jax.pure_callback(_numpy_forward, out, x, kernel, bias)  # no vmap_method: vmap raises


@_callback_net.defjvp
def _callback_rule(primals, tangents):
    return jax.jvp(forward, primals, tangents)  # derivatives (and their primal) in JAX: vmap(grad) works


def vmap_breaks(seed, x_batch, num_layers, features):
    """Forward as a NumPy jax.pure_callback without vmap_method (custom_jvp for autodiff): raises under vmap only."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    kernel, bias = traced_params(seed, n, f)
    return _callback_net(x, jnp.asarray(kernel, x.dtype), jnp.asarray(bias, x.dtype))


# --- a custom batching rule that mixes up the stacked batches ---------------------------------------------------------


@jax.custom_batching.custom_vmap
def _vmapped_net(x, kernel, bias):
    return forward(x, kernel, bias)


@_vmapped_net.def_vmap
def _vmapped_rule(axis_size, in_batched, x, kernel, bias):
    # "Run the K stacked batches as one big batch" -- but merges the axes as (B, K) and splits the result as (K, B).
    stacked = x if in_batched[0] else jnp.broadcast_to(x, (axis_size,) + x.shape)
    k, b, f = stacked.shape
    merged = jnp.swapaxes(stacked, 0, 1).reshape(k * b, f)
    out = forward(merged, kernel, bias).reshape(k, b * f)
    return out, True


@jax.custom_jvp
def _batched_rule_net(x, kernel, bias):
    return _vmapped_net(x, kernel, bias)


@_batched_rule_net.defjvp
def _batched_rule_jvp(primals, tangents):
    return jax.jvp(forward, primals, tangents)  # custom_vmap has no reverse mode; the derivative goes around it


def vmap_mixes_batches(seed, x_batch, num_layers, features):
    """A custom_vmap rule that merges the stacked batches as (B, K) but splits them as (K, B): rows move under vmap."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    kernel, bias = traced_params(seed, n, f)
    return _batched_rule_net(x, jnp.asarray(kernel, x.dtype), jnp.asarray(bias, x.dtype))


# --- jit-only ---------------------------------------------------------------------------------------------------------


def jit_changes_result(seed, x_batch, num_layers, features):
    """Computes in bfloat16 when staged out by jax.jit (its input a DynamicJaxprTracer): jit differs from eager."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    if isinstance(x, pe.DynamicJaxprTracer) and x.dtype == jnp.float32:
        return run(seed, x, n, f, compute="bfloat16")
    return run(seed, x, n, f)


# --- derivatives that break only when composed with jit or vmap -------------------------------------------------------


def _input_cotangent(g, masks, kernel):
    """The backward pass for x: g_{n-1} = (g_n * m_n) @ K_n^T, last layer first."""

    def back(g, layer):
        mask, k = layer
        return jnp.where(mask, g, jnp.zeros_like(g)) @ k.T, None

    return jax.lax.scan(back, g, (masks, kernel), reverse=True)[0]


@jax.custom_batching.custom_vmap
def _input_cotangent_batchable(g, masks, kernel):
    return _input_cotangent(g, masks, kernel)


@_input_cotangent_batchable.def_vmap
def _input_cotangent_rule(axis_size, in_batched, g, masks, kernel):
    # "Run the K stacked backward passes as one": merges (K, B) as (B, K) but splits the result as (K, B).
    g = g if in_batched[0] else jnp.broadcast_to(g, (axis_size,) + g.shape)
    masks = masks if in_batched[1] else jnp.broadcast_to(masks, (axis_size,) + masks.shape)
    k, b, f = g.shape
    merged_g = jnp.swapaxes(g, 0, 1).reshape(b * k, f)
    merged_masks = jnp.swapaxes(masks, 0, 2).swapaxes(0, 1).reshape(masks.shape[1], b * k, f)  # (N, B*K, F)
    return _input_cotangent(merged_g, merged_masks, kernel).reshape(k, b, f), True


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def _grad_net(x, kernel, bias, bug):
    return scan_layers(x, kernel, bias)[0]


def _grad_net_fwd(x, kernel, bias, bug):
    h, (inputs, masks) = scan_layers(x, kernel, bias)
    return h, (inputs, masks, kernel)


def _grad_net_bwd(bug, residuals, g):
    inputs, masks, kernel = residuals
    if bug == "jit_bfloat16" and isinstance(g, pe.DynamicJaxprTracer):  # staged out by jit: "fast" bfloat16 path
        gx = _input_cotangent(g.astype(jnp.bfloat16), masks, kernel.astype(jnp.bfloat16)).astype(g.dtype)
    elif bug == "vmap_mix":
        gx = _input_cotangent_batchable(g, masks, kernel)
    else:
        gx = _input_cotangent(g, masks, kernel)

    def back(g, layer):  # the parameters' cotangents, correct in every variant
        h_in, mask, k = layer
        gz = jnp.where(mask, g, jnp.zeros_like(g))
        return gz @ k.T, (h_in.T @ gz, gz.sum(axis=0))

    _, (gk, gb) = jax.lax.scan(back, g, (inputs, masks, kernel), reverse=True)
    return gx, gk, gb


_grad_net.defvjp(_grad_net_fwd, _grad_net_bwd)


def _with_grad_bug(seed, x_batch, num_layers, features, bug):
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    kernel, bias = traced_params(seed, n, f)
    out = _grad_net(x, jnp.asarray(kernel, x.dtype), jnp.asarray(bias, x.dtype), bug)
    return out.reshape(-1)


def jit_grad_changes_result(seed, x_batch, num_layers, features):
    """custom_vjp whose backward pass runs in bfloat16 when staged out (jit of grad): jit(grad) differs from grad."""
    return _with_grad_bug(seed, x_batch, num_layers, features, "jit_bfloat16")


def vmap_grad_mixes_batches(seed, x_batch, num_layers, features):
    """custom_vjp whose backward pass has a custom_vmap rule that mixes up the stacked batches: vmap(grad) differs."""
    return _with_grad_bug(seed, x_batch, num_layers, features, "vmap_mix")
