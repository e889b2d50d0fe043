"""Mutants: forward-correct implementations whose derivatives with respect to x_batch are wrong (transforms tier).

Every mutant here returns the spec's output (the same ``lax.scan`` forward as :mod:`mutants._base`, float32 in the core
case) and passes every forward property; only ``jax.vjp`` / ``jax.jvp`` / ``jax.grad`` see the bug.

Two pieces of machinery:

* :func:`_vjp_net`, a ``jax.custom_vjp`` network whose hand-written backward pass has a ``bug`` knob (static). Note that
  ``jax.jvp`` of any ``custom_vjp`` function raises ``TypeError`` by JAX's design, correct or not; these mutants are
  meant to die in reverse mode.
* :func:`_jvp_net`, a ``jax.custom_jvp`` network whose hand-written forward-mode rule has a ``bug`` knob. ``jax.vjp``
  of a ``custom_jvp`` function *transposes the rule* (linearize, then transpose), so a rule that is wrong but linear
  in the tangent gives a wrong JVP *and* a wrong VJP that is exactly its adjoint (``<w, J t> == <J^T w, t>``: an
  adjoint-consistency check cannot see it, only the oracle can), while a rule that routes the tangent through a
  non-linear or non-transposable operation gives the right JVP and a VJP that raises.
"""

from functools import partial

import jax
import jax.numpy as jnp

try:
    from mutants._base import run, scan_layers, traced_params, validated
except ImportError:  # loaded by file path
    from _base import run, scan_layers, traced_params, validated


@partial(jax.jit, static_argnames=("net", "bug"))
def _jitted(x, kernel, bias, net, bug):
    return net(x, kernel.astype(x.dtype), bias.astype(x.dtype), bug).reshape(-1)


def _with(net, seed, x_batch, num_layers, features, bug):
    """``net`` (the custom_vjp or the custom_jvp network) on the spec's parameters, jitted, with its ``bug`` knob."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    kernel, bias = traced_params(seed, n, f)
    return _jitted(x, jnp.asarray(kernel), jnp.asarray(bias), net=net, bug=bug)


# --- custom_vjp machinery: a hand-written backward pass with a bug knob -----------------------------------------------


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def _vjp_net(x, kernel, bias, bug):
    return scan_layers(x, kernel, bias)[0]


def _vjp_fwd(x, kernel, bias, bug):
    h, (inputs, masks) = scan_layers(x, kernel, bias)
    return h, (inputs, masks, kernel)


def _vjp_bwd(bug, residuals, g):
    inputs, masks, kernel = residuals

    def back(g, layer):
        h_in, mask, k = layer
        gz = g if bug == "no_mask" else jnp.where(mask, g, jnp.zeros_like(g))
        g_in = gz @ (k if bug == "untransposed" else k.T)
        return g_in, (h_in.T @ gz, gz.sum(axis=0))

    gx, (gk, gb) = jax.lax.scan(back, g, (inputs, masks, kernel), reverse=True)
    if bug == "scaled":
        gx = gx * jnp.asarray(1.5, gx.dtype)
    return gx, gk, gb


_vjp_net.defvjp(_vjp_fwd, _vjp_bwd)


def _with_custom_vjp(seed, x_batch, num_layers, features, bug):
    return _with(_vjp_net, seed, x_batch, num_layers, features, bug)


def vjp_no_relu_mask(seed, x_batch, num_layers, features):
    """custom_vjp whose backward pass forgets the relu mask: g_{n-1} = g_n @ K_n^T at every unit, active or not."""
    return _with_custom_vjp(seed, x_batch, num_layers, features, "no_mask")


def vjp_scaled(seed, x_batch, num_layers, features):
    """custom_vjp whose backward pass returns 1.5 times the gradient with respect to x_batch."""
    return _with_custom_vjp(seed, x_batch, num_layers, features, "scaled")


def vjp_untransposed_kernel(seed, x_batch, num_layers, features):
    """custom_vjp whose backward pass multiplies by K_n instead of K_n^T (the untransposed kernel)."""
    return _with_custom_vjp(seed, x_batch, num_layers, features, "untransposed")


# --- stop_gradient ----------------------------------------------------------------------------------------------------


def input_stop_gradient(seed, x_batch, num_layers, features):
    """Wraps the input in lax.stop_gradient: every derivative with respect to x_batch is zero."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, jax.lax.stop_gradient(x), n, f)


# --- custom_jvp machinery: a hand-written forward-mode rule with a bug knob -------------------------------------------


@partial(jax.custom_jvp, nondiff_argnums=(3,))
def _jvp_net(x, kernel, bias, bug):
    return scan_layers(x, kernel, bias)[0]


@_jvp_net.defjvp
def _jvp_rule(bug, primals, tangents):
    x, kernel, bias = primals
    tx, tkernel, tbias = tangents

    def layer(carry, params):
        h, t = carry
        k, b, tk, tb = params
        z = h @ k + b
        tz = t @ k + h @ tk + tb
        mask = (h > 0) if bug == "mask_of_input" else (z > 0)
        t_out = jnp.where(mask, tz, jnp.zeros_like(tz))
        if bug == "clipped":  # a "safety" clip of the tangent: right values, but not transposable
            t_out = jnp.clip(t_out, -jnp.finfo(t_out.dtype).max, jnp.finfo(t_out.dtype).max)
        return (jax.nn.relu(z), t_out), None

    (h, t), _ = jax.lax.scan(layer, (x, tx), (kernel, bias, tkernel, tbias))
    return h, t


def _with_custom_jvp(seed, x_batch, num_layers, features, bug):
    return _with(_jvp_net, seed, x_batch, num_layers, features, bug)


def custom_jvp_disagrees_with_vjp(seed, x_batch, num_layers, features):
    """custom_jvp whose rule masks each layer's tangent by its input's sign (h_{n-1} > 0) instead of z_n > 0."""
    return _with_custom_jvp(seed, x_batch, num_layers, features, "mask_of_input")


def custom_jvp_not_transposable(seed, x_batch, num_layers, features):
    """custom_jvp whose (right) tangent goes through jnp.clip: jax.jvp is right, jax.vjp and jax.grad raise."""
    return _with_custom_jvp(seed, x_batch, num_layers, features, "clipped")


def custom_jvp_correct(seed, x_batch, num_layers, features):
    """Control: a custom_jvp with the right rule (must pass every transforms property)."""
    return _with_custom_jvp(seed, x_batch, num_layers, features, None)


def custom_vjp_correct(seed, x_batch, num_layers, features):
    """Control: a custom_vjp with the right backward pass (must pass every transforms property but forward mode)."""
    return _with_custom_vjp(seed, x_batch, num_layers, features, None)
