"""Mutants: forward-correct implementations whose hand-written derivatives are right in the transforms tier's small
shapes (B <= 8, F <= 16, N <= 7, stacks of 3) and wrong past an edge -- a tile width of the backward contraction, a
chunk of rows, a depth, a stack size -- as fused kernels break (transforms tier, killed by the derivative boundary
set ``transforms_boundary``).

They share the machinery of :mod:`mutants.derivatives`: the forward is the spec's (one ``lax.scan``), the derivative
is a ``jax.custom_vjp`` backward pass or a ``jax.custom_jvp`` rule with a ``bug`` knob (static).

``vmap_grad_wrong_past_8_stacked`` batches its backward with a ``jax.custom_batching.custom_vmap`` rule, which JAX
cannot transpose: the suite's forward mode of a ``custom_vjp`` (its transposed VJP) raises on it, as on
``mutants.transforms.vmap_grad_mixes_batches``; ``tests/test_transforms.py`` checks that the derivative boundary set
rejects it at its stacked case itself.
"""

from functools import partial

import jax
import jax.numpy as jnp

try:
    from mutants._base import scan_layers
    from mutants.derivatives import _with
except ImportError:  # loaded by file path
    from _base import scan_layers
    from derivatives import _with

TILE = 128  # units per tile of the contraction
CHUNK = 64  # rows per chunk of the batch
DEPTH = 64  # layers masked before the bug
GROUP = 8  # stacked gradients per group under vmap


def _tiled(a, b, wide_bug: bool):
    """``a @ b``; with ``wide_bug``, the contraction is tiled by TILE and a last partial tile is dropped."""
    width = a.shape[-1]
    if wide_bug and width > TILE and width % TILE:
        full = width // TILE * TILE
        return a[..., :full] @ b[:full]
    return a @ b


def _input_cotangent(g, masks, kernel, bug=None):
    """The backward pass with respect to the input: ``g = (g * m_n) @ K_n^T``, last layer first."""
    n = kernel.shape[0]

    def back(g, layer):
        mask, k, i = layer
        live = mask | (i >= DEPTH) if bug == "mask_stops" else mask
        gz = jnp.where(live, g, jnp.zeros_like(g))
        return _tiled(gz, k.T, bug == "tile"), None

    gx = jax.lax.scan(back, g, (masks, kernel, jnp.arange(n)), reverse=True)[0]
    rows = gx.shape[0]
    if bug == "chunk_tail" and rows > CHUNK and rows % CHUNK:
        gx = gx.at[rows // CHUNK * CHUNK:].set(0)
    return gx


@jax.custom_batching.custom_vmap
def _grouped_input_cotangent(g, masks, kernel):
    return _input_cotangent(g, masks, kernel)


@_grouped_input_cotangent.def_vmap
def _grouped_rule(axis_size, in_batched, g, masks, kernel):
    # "Runs the stack in groups of GROUP": a group past the first reads the first group's results.
    g = g if in_batched[0] else jnp.broadcast_to(g, (axis_size,) + g.shape)
    masks = masks if in_batched[1] else jnp.broadcast_to(masks, (axis_size,) + masks.shape)
    out = jax.vmap(lambda gg, mm: _input_cotangent(gg, mm, kernel))(g, masks)
    if axis_size > GROUP:
        out = out.at[GROUP:].set(out[: axis_size - GROUP])
    return out, True


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def _vjp_net(x, kernel, bias, bug):
    return scan_layers(x, kernel, bias)[0]


def _vjp_fwd(x, kernel, bias, bug):
    h, (inputs, masks) = scan_layers(x, kernel, bias)
    return h, (inputs, masks, kernel)


def _vjp_bwd(bug, residuals, g):
    inputs, masks, kernel = residuals
    gx = _grouped_input_cotangent(g, masks, kernel) if bug == "stack_group" else _input_cotangent(g, masks, kernel, bug)

    def back(g, layer):  # the parameters' cotangents, correct in every variant
        h_in, mask, k = layer
        gz = jnp.where(mask, g, jnp.zeros_like(g))
        return gz @ k.T, (h_in.T @ gz, gz.sum(axis=0))

    _, (gk, gb) = jax.lax.scan(back, g, (inputs, masks, kernel), reverse=True)
    return gx, gk, gb


_vjp_net.defvjp(_vjp_fwd, _vjp_bwd)


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
        tz = _tiled(t, k, bug == "tile") + h @ tk + tb
        return (jax.nn.relu(z), jnp.where(z > 0, tz, jnp.zeros_like(tz))), None

    (h, t), _ = jax.lax.scan(layer, (x, tx), (kernel, bias, tkernel, tbias))
    return h, t


def vjp_drops_partial_tile(seed, x_batch, num_layers, features):
    """custom_vjp whose backward g @ K^T is tiled by 128 units and drops a last partial tile (F > 128, F % 128 != 0)."""
    return _with(_vjp_net, seed, x_batch, num_layers, features, "tile")


def vjp_mask_stops_past_64(seed, x_batch, num_layers, features):
    """custom_vjp whose backward pass stops applying the relu mask past layer 64 (layers 65 and deeper, N > 64)."""
    return _with(_vjp_net, seed, x_batch, num_layers, features, "mask_stops")


def vjp_row_chunk_tail_lost(seed, x_batch, num_layers, features):
    """custom_vjp whose backward pass runs rows in chunks of 64 and returns 0 for a last partial chunk (B % 64 != 0)."""
    return _with(_vjp_net, seed, x_batch, num_layers, features, "chunk_tail")


def jvp_wide_layer_tile_dropped(seed, x_batch, num_layers, features):
    """custom_jvp whose tangent t @ K is tiled by 128 units and drops a last partial tile (F > 128, F % 128 != 0)."""
    return _with(_jvp_net, seed, x_batch, num_layers, features, "tile")


def vmap_grad_wrong_past_8_stacked(seed, x_batch, num_layers, features):
    """custom_vjp whose backward's vmap rule runs stacks in groups of 8: batches 9.. get batches 1..'s gradients."""
    return _with(_vjp_net, seed, x_batch, num_layers, features, "stack_group")


def edges_vjp_correct(seed, x_batch, num_layers, features):
    """Control: the same custom_vjp with no bug (passes every transforms property and the derivative boundary set)."""
    return _with(_vjp_net, seed, x_batch, num_layers, features, None)


def edges_jvp_correct(seed, x_batch, num_layers, features):
    """Control: the same custom_jvp with no bug (passes every transforms property and the derivative boundary set)."""
    return _with(_jvp_net, seed, x_batch, num_layers, features, None)
