"""Shared machinery of the mutants: a correct, fast implementation with knobs where the bugs go in.

Parameters come from :func:`composed.params` (the spec's own ``make_block``, jitted with the seed traced, cached), the
forward is plain JAX: one ``lax.scan`` over the layers with a (B, F) carry, jitted with the knobs static. A mutant
compiles one small program per (B, F, N, dtype, knobs) -- about 0.1-0.2 s -- and a warm call costs well under 1 ms, so
the meta-tests can afford to run properties against dozens of mutants.

:func:`correct` is the control: the same machinery with no bug. ``tests/test_mutants.py`` checks that it passes every
property, so a mutant dies of its own bug and not of the machinery.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from composed.contract import validate
from composed.params import params as spec_params

ACTIVATIONS = {
    "relu": jax.nn.relu,
    "leaky_relu": lambda z: jax.nn.leaky_relu(z, 0.01),
    "gelu": jax.nn.gelu,
    "softplus": jax.nn.softplus,
    "identity": lambda z: z,
}


@partial(jax.jit, static_argnames=("act", "last_act", "act_first", "reverse", "compute"))
def forward(x, kernel, bias, *, act="relu", last_act=True, act_first=False, reverse=False, compute=None):
    """relu(... relu(x @ K_0 + b_0) ... @ K_{N-1} + b_{N-1}), flattened, in ``compute`` dtype (default x's dtype).

    Knobs: ``act`` the activation; ``last_act=False`` skips it after the last layer; ``act_first`` applies it to the
    layer's input instead of its output; ``reverse`` runs the layers last to first.
    """
    dtype = x.dtype if compute is None else jnp.dtype(compute)
    n = kernel.shape[0]
    f = ACTIVATIONS[act]
    position = jnp.arange(n)[::-1] if reverse else jnp.arange(n)  # 0 for the first layer applied

    def layer(h, step):
        i, k, b = step
        if act_first:
            return f(h) @ k + b, None
        z = h @ k + b
        y = f(z)
        if not last_act:
            y = jnp.where(i == n - 1, z, y)
        return y, None

    h, _ = jax.lax.scan(layer, x.astype(dtype), (position, kernel.astype(dtype), bias.astype(dtype)), reverse=reverse)
    return h.astype(x.dtype).reshape(-1)


def traced_params(seed: int, num_layers: int, features: int):
    """The spec's parameters, concrete even when called under a trace (jax.make_jaxpr, jit, vmap, grad)."""
    with jax.ensure_compile_time_eval():
        return spec_params(seed, num_layers, features)


def scan_layers(x, kernel, bias):
    """The forward scan relu(h @ K_n + b_n), also returning each layer's input and relu mask ``1[z > 0]`` (the
    residuals of a hand-written backward pass)."""

    def layer(h, kb):
        k, b = kb
        z = h @ k + b
        return jax.nn.relu(z), (h, z > 0)

    return jax.lax.scan(layer, x, (kernel, bias))


def run(seed: int, x, num_layers: int, features: int, **knobs):
    """The network on the spec's parameters for an already-cast ``seed`` (any int) and counts."""
    kernel, bias = traced_params(seed, num_layers, features)
    return forward(x, kernel, bias, **knobs)


def correct(seed, x_batch, num_layers, features):
    """Control: no bug (the contract's validation, the spec's parameters, one scan over the layers)."""
    seed, x, n, f = validate(seed, x_batch, num_layers, features)
    return run(seed, x, n, f)


def validated(seed, x_batch, num_layers, features):
    """``composed.contract.validate``: (int seed, canonical 2-D array, int N, int F)."""
    return validate(seed, x_batch, num_layers, features)


def as_numpy_out(out) -> np.ndarray:
    return np.asarray(out)
