"""The argument contract of ``composed_transforms``, in one place.

Every implementation bundled in :mod:`composed` calls :func:`validate` first, so the rules below hold for all of them:

* ``seed``: a real number (``int``, ``float``, NumPy/JAX real scalar or 0-d array), finite, with
  ``int(seed)`` (truncation toward zero) in ``[-2**63, 2**63)``. ``bool`` is not a seed.
* ``num_layers``: a real number, finite, ``int(num_layers) >= 0``. ``0`` is the identity.
* ``features``: a real number, finite, ``int(features) >= 1``.
* ``x_batch``: array-like, exactly 2-D, ``x_batch.shape[1] == int(features)``, any ``B >= 0``.
  float32 is the core case; float16, bfloat16 and float64 are accepted and computed in the dtype JAX canonicalises them
  to (float64 becomes float32 unless x64 is enabled); integer and bool arrays are promoted to float32; complex, object
  and string arrays, floats wider than 64 bits (``np.longdouble`` where it is 80/128-bit) and the float8 family are
  rejected. Any byte order is accepted: a non-native one (``np.dtype('>f4')`` on a little-endian machine, as FITS and
  many binary formats give it) is read by value, as NumPy reads it (``x.astype(x.dtype.newbyteorder('='))``).

A violation raises :class:`ContractError` (a ``ValueError``); a wrong *type* raises :class:`ContractTypeError`, which
is both a ``ContractError`` and a ``TypeError``. Messages name the argument and what was received. The input array is
never modified: when a conversion is needed a new array is made.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["ContractError", "ContractTypeError", "Args", "validate", "SEED_MIN", "SEED_MAX"]

SEED_MIN = -(2**63)
SEED_MAX = 2**63  # exclusive
#: The float dtypes x_batch may have (anything else floating is a ContractTypeError).
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


class ContractError(ValueError):
    """An argument of ``composed_transforms`` violates the contract."""


class ContractTypeError(ContractError, TypeError):
    """An argument of ``composed_transforms`` has the wrong type."""


class Args(NamedTuple):
    """Validated, normalised arguments."""

    seed: int
    x_batch: Any  # np.ndarray or jax.Array, 2-D, of a floating dtype JAX accepts as is
    num_layers: int
    features: int


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    extra = f" (shape {tuple(shape)}, dtype {dtype})" if shape is not None and dtype is not None else ""
    return f"{type(value).__name__} {text}{extra}"


def _to_int(name: str, value: Any) -> int:
    """``int(value)`` for a finite real number, with the contract's errors."""
    if isinstance(value, (bool, np.bool_)):
        raise ContractTypeError(f"{name} must be a real number, not a bool: got {_describe(value)}")
    if isinstance(value, (np.ndarray, jax.Array)) and np.ndim(value) == 0:
        kind = np.dtype(value.dtype).kind
        if kind not in "iuf" and not jnp.issubdtype(value.dtype, jnp.floating):
            raise ContractTypeError(f"{name} must be a real number: got {_describe(value)}")
        value = value.item()
    elif not isinstance(value, numbers.Real):
        raise ContractTypeError(f"{name} must be a real number (int or float): got {_describe(value)}")
    if isinstance(value, numbers.Integral):
        return int(value)
    as_float = float(value)
    if not math.isfinite(as_float):
        raise ContractError(f"{name} must be finite: got {_describe(value)}")
    return int(value)


def _check_x(x_batch: Any, features: int) -> Any:
    if isinstance(x_batch, (str, bytes)) or x_batch is None:
        raise ContractTypeError(f"x_batch must be a 2-D array of numbers: got {_describe(x_batch)}")
    if not isinstance(x_batch, (np.ndarray, jax.Array)):
        try:
            x_batch = np.asarray(x_batch)
        except (TypeError, ValueError) as exc:  # ragged lists and the like
            raise ContractTypeError(f"x_batch must be array-like: got {_describe(x_batch)} ({exc})") from None
    dtype = np.dtype(x_batch.dtype)
    if jnp.issubdtype(dtype, jnp.floating) and dtype.name not in FLOAT_DTYPES:
        # long double / float128 (JAX has no such type: a cryptic jit-argument error later) and the float8 family
        # (not part of the contract: too coarse for a 16-bit-or-wider network).
        raise ContractTypeError(
            f"x_batch floats must be one of {', '.join(FLOAT_DTYPES)} (or ints/bools): got dtype {dtype} "
            f"({_describe(x_batch)})"
        )
    if jnp.issubdtype(dtype, jnp.floating):
        # '>f4' on a little-endian machine: JAX has no such type (and canonicalises it to itself); the values count
        canonical = jax.dtypes.canonicalize_dtype(dtype.newbyteorder("="))
    elif dtype.kind in "biu":
        canonical = np.dtype(np.float32)
    else:
        raise ContractTypeError(
            f"x_batch must hold real numbers (float, int or bool): got dtype {dtype} ({_describe(x_batch)})"
        )
    if x_batch.ndim != 2:
        raise ContractError(f"x_batch must be 2-D (B, F): got {x_batch.ndim}-D, shape {tuple(x_batch.shape)}")
    if x_batch.shape[1] != features:
        raise ContractError(
            f"x_batch.shape[1] must equal int(features) = {features}: got shape {tuple(x_batch.shape)}"
        )
    if dtype != canonical:
        x_batch = x_batch.astype(canonical)  # a new array: the caller's is never modified
    return x_batch


def validate(seed: Any, x_batch: Any, num_layers: Any, features: Any) -> Args:
    """Check every argument against the contract and return them normalised (ints, a canonical-dtype array)."""
    seed_int = _to_int("seed", seed)
    if not SEED_MIN <= seed_int < SEED_MAX:
        raise ContractError(f"int(seed) must lie in [-2**63, 2**63): got {_describe(seed)}")
    n = _to_int("num_layers", num_layers)
    if n < 0:
        raise ContractError(f"int(num_layers) must be >= 0: got {_describe(num_layers)} -> {n}")
    f = _to_int("features", features)
    if f < 1:
        raise ContractError(f"int(features) must be >= 1: got {_describe(features)} -> {f}")
    return Args(seed_int, _check_x(x_batch, f), n, f)
