"""The float64 oracle: the explicit Python loop over layers, in NumPy, on :func:`composed.params`.

This is what "equality to an explicit Python loop" compares to. It shares nothing with the implementations but the
parameters (and those are checked against the eager reference separately).
"""

import numpy as np

from composed.contract import validate
from composed.params import params


def preactivations(seed, x_batch, num_layers, features):
    """The float64 pre-activations ``z_n = h_{n-1} @ K_n + b_n`` of every layer, a list of N arrays (B, F).

    ``h_0`` is the input and ``h_n = relu(z_n)``. Used to scale tolerances (see ``properties.assertions``).
    """
    seed, x, n, f = validate(seed, x_batch, num_layers, features)
    kernel, bias = params(seed, n, f)
    h = np.asarray(x, dtype=np.float64)
    zs = []
    for layer in range(n):
        z = h @ kernel[layer].astype(np.float64) + bias[layer].astype(np.float64)
        zs.append(z)
        h = np.maximum(z, 0.0)
    return zs


def oracle(seed, x_batch, num_layers, features):
    """``composed_transforms`` in float64: a 1-D array of length B*F (the identity on the input when N = 0)."""
    zs = preactivations(seed, x_batch, num_layers, features)
    _, x, _, _ = validate(seed, x_batch, num_layers, features)
    out = np.maximum(zs[-1], 0.0) if zs else np.asarray(x, dtype=np.float64)
    return out.reshape(-1)


# --- Derivatives with respect to x_batch (float64, explicit loops on the same parameters) ----------------------------
#
# The network is piecewise linear in x_batch and row-local: row i of the output depends on row i of the input only,
# through  J_i = diag(m_N) K_N^T ... diag(m_1) K_1^T  (as a map on row vectors: t -> ((t K_1) * m_1) K_2 ... * m_N),
# where m_n = 1[z_n > 0] are the relu masks of that row. The biases enter the masks only. So the derivatives below
# depend on the parameters and the masks, never on the activations' values.


def relu_masks(seed, x_batch, num_layers, features):
    """The float64 relu masks ``m_n = 1[z_n > 0]`` of every layer, a list of N boolean arrays (B, F).

    Convention at the kink: ``z == 0`` gives 0 (JAX's ``jax.nn.relu`` has derivative 0 at 0; ``jnp.maximum(z, 0)``
    would give 1/2 there). NaN gives 0 too. Comparisons of a float32 derivative with these masks are only meaningful
    away from the kink: a unit whose pre-activation is within rounding of 0 may have either mask in float32.
    """
    return [z > 0 for z in preactivations(seed, x_batch, num_layers, features)]


def _direction(name, value, rows, features):
    """A cotangent/tangent as a float64 (B, F) array; accepts the flattened output's shape (B*F,) or (B, F)."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape not in ((rows * features,), (rows, features)):
        raise ValueError(f"{name} must have shape ({rows * features},) or ({rows}, {features}): got {arr.shape}")
    return arr.reshape(rows, features)


def vjp(seed, x_batch, num_layers, features, cotangent):
    """Reverse mode: ``d<out, w>/dx_batch`` in float64, a (B, F) array, for a cotangent ``w`` of shape (B*F,) or (B, F).

    The explicit backward pass, last layer first: ``g_N = w``, ``g_{n-1} = (g_n * m_n) @ K_n^T`` with the masks of
    :func:`relu_masks` (0 at ``z == 0``; the masking is a select, so a non-finite ``g`` at a masked unit gives 0, as
    JAX's relu derivative does). N = 0 is the identity: the result is ``w`` itself (reshaped to (B, F)).
    """
    seed, x, n, f = validate(seed, x_batch, num_layers, features)
    rows = x.shape[0]
    g = _direction("cotangent", cotangent, rows, f)
    if n == 0:
        return g.copy()
    kernel, _ = params(seed, n, f)
    masks = relu_masks(seed, x, n, f)
    for layer in reversed(range(n)):
        g = np.where(masks[layer], g, 0.0) @ kernel[layer].astype(np.float64).T
    return g


def jvp(seed, x_batch, num_layers, features, tangent):
    """Forward mode: the derivative of ``composed_transforms`` at ``x_batch`` along ``tangent`` (shape (B*F,) or
    (B, F)), in float64, flattened like the output: a 1-D array of length B*F.

    The explicit forward-mode pass: ``t_0 = t``, ``t_n = m_n * (t_{n-1} @ K_n)`` (a select with the masks of
    :func:`relu_masks`; the biases are constants and drop out). N = 0 is the identity: the result is ``t``.
    """
    seed, x, n, f = validate(seed, x_batch, num_layers, features)
    rows = x.shape[0]
    t = _direction("tangent", tangent, rows, f)
    if n == 0:
        return t.reshape(-1).copy()
    kernel, _ = params(seed, n, f)
    masks = relu_masks(seed, x, n, f)
    for layer in range(n):
        t = np.where(masks[layer], t @ kernel[layer].astype(np.float64), 0.0)
    return t.reshape(-1)
