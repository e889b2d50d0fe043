"""The derivative boundary set: fixed cases at the edges where backward and forward-mode kernels break, for the
``transforms`` tier.

Each case is one deterministic derivative of the implementation compared with the float64 oracle's explicit backward
or forward-mode pass (:mod:`properties.harness.derivatives`, ``C_GRAD sigma`` per row), reported as its own test id
``transforms_boundary[<name>]`` (``properties/test_phases.py``). The name is the case:
``<transform>-B<rows>-F<features>-N<layers>[-K<stack>]-<magnitude>``, the transform one of

* ``vjp``: ``jax.vjp`` and its pullback at a cotangent w;
* ``jvp``: ``jax.jvp`` along a tangent t (a ``jax.custom_vjp`` implementation: its transposed VJP);
* ``jit_grad``: ``jax.grad`` of ``sum(f(x) * w)`` and ``jax.jit`` of it, both against the oracle;
* ``vmap_grad``: that gradient under ``jax.vmap`` over a stack of K batches, each against the oracle.

**Every run** checks :data:`EVERY_RUN` (the cases marked ``every_run``: each transform at a wide batch, a wide layer
past a tile width and a deep network, on two shapes shared between the transforms); the ``exhaustive`` profile checks
all of :data:`CASES`.

Edge classes, as the forward boundary set's (:mod:`properties.invariants.boundary`):

* **batch sizes** 2^k - 1, 2^k, 2^k + 1 up to B = 257 (a backward pass that processes rows in chunks of 64 or 256 and
  loses the tail);
* **feature widths** around 32, 64, 128 and 256, up to F = 257 (a tiled contraction ``g @ K^T`` or ``t @ K`` whose
  last partial tile is dropped);
* **depths** 2^k - 1, 2^k, 2^k + 1 up to N = 129 (a backward pass that stops masking, or stops, past a depth; a
  remat segment of 64 layers);
* **stacks** K = 9 and 17 under vmap (a batching rule that handles stacks in groups);
* **magnitudes**: every row of the derivative scaled (an exact power of two: the derivative is linear in w and t) to a
  target ``max|derivative|``: ``mag1e-30`` .. ``mag1e30``, and ``mix`` (rows 1e-30 .. 1e30 in one batch); the input
  rows are scaled to the same output magnitude within 1e-10 .. 1e20 (positive homogeneity: the masks do not change).
  Deep shapes stop at 1e20: a cotangent for a derivative of 1e30 there would overflow float32.

Shapes are shared: each (B, F, N) carries one seed, so each transform compiles each shape once, whatever the
magnitudes (under ``jax.jit`` the seed is a compile-time constant). Relu kinks: input rows with a unit near its kink
(:func:`properties.harness.derivatives.near_kink_rows`) are redrawn, so every row is compared; the build asserts it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from properties.harness.derivatives import (
    assert_derivative,
    compare_jvp,
    compare_vjp,
    near_kink_rows,
    vacuous_rows,
)
from properties.harness.magnitudes import scale_rows
from properties.invariants.base import TRANSFORMS, Property

TRANSFORM_NAMES = ("vjp", "jvp", "jit_grad", "vmap_grad")
#: The input rows' output magnitudes follow the case's targets within this range (near 1e-30 the forward's absolute
#: rounding floor puts units near their kink; the derivative carries the extreme magnitudes).
X_RANGE = (1e-10, 1e20)
#: Row targets of the ``mix`` magnitude.
MIX = (1e-30, 1e-20, 1e-10, 1.0, 1e10, 1e20, 1e30)


@dataclass(frozen=True)
class DerivativeCase:
    transform: str  # one of TRANSFORM_NAMES
    rows: int
    features: int
    layers: int
    magnitude: str  # "1e-30" .. "1e30", "mix"
    every_run: bool
    why: str
    stack: int = 1  # K batches under vmap (vmap_grad)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.rows, self.features, self.layers

    @property
    def seed(self) -> int:
        return SEEDS[self.shape]

    @property
    def name(self) -> str:
        mag = "mix" if self.magnitude == "mix" else f"mag{self.magnitude}"
        k = f"-K{self.stack}" if self.transform == "vmap_grad" else ""
        return f"{self.transform}-B{self.rows}-F{self.features}-N{self.layers}{k}-{mag}"

    def targets(self) -> np.ndarray:
        """The target max|derivative| (and max|output|) of each row."""
        if self.magnitude == "mix":
            return np.array([MIX[i % len(MIX)] for i in range(self.rows)])
        return np.full(self.rows, float(self.magnitude))


#: The shapes of the set, each with its one seed (seeds at their edges, as the forward set's).
SEEDS: dict[tuple[int, int, int], int] = {
    (257, 129, 2): 2**31,  # B = 2^8 + 1 (a 64/256-row chunk's tail of one row), F = 2^7 + 1 (a partial tile of 128)
    (5, 33, 65): -(2**62),  # N = 2^6 + 1 (a depth cap, a remat segment of 64 layers), F = 2^5 + 1
    (65, 64, 4): 2**32 + 7,  # B = 2^6 + 1 > F = 2^6 (vmap stacks)
    (9, 257, 2): 2**63 - 1,  # F = 2^8 + 1
    (255, 31, 2): -1,  # B = 2^8 - 1, F = 2^5 - 1
    (256, 128, 1): 0,  # B = 2^8, F = 2^7: full chunks and tiles
    (17, 127, 8): 2**32 - 1,  # F = 2^7 - 1
    (33, 32, 33): -(2**31),  # B = 2^5 + 1, N = 2^5 + 1
    (4, 33, 129): 12345,  # N = 2^7 + 1
    (2, 16, 64): 2**62,  # N = 2^6, B = 2
    (3, 16, 63): 77,  # N = 2^6 - 1
}


def _c(t, shape, magnitude, why, every_run=False, stack=1):
    b, f, n = shape
    return DerivativeCase(t, b, f, n, magnitude, every_run, why, stack)


_WIDE = (257, 129, 2)
_DEEP = (5, 33, 65)
_STACKED = (65, 64, 4)
_SWEEP = ("1e-30", "1e-10", "1e10", "1e30", "mix")
_DEEP_SWEEP = ("1e-30", "1e-10", "1e10", "1e20", "mix")

#: The whole derivative boundary set, the ``every_run`` cases first.
CASES: tuple[DerivativeCase, ...] = (
    # --- every run: one shape per edge class, each transform on it ---------------------------------------------------
    _c("vjp", _WIDE, "1", "B = 2^8 + 1, F = 2^7 + 1: row-chunk tails and the contraction's partial last tile", True),
    _c("vjp", _DEEP, "1e10", "N = 2^6 + 1: masking or stopping past a depth of 64 layers", True),
    _c("jvp", _WIDE, "mix", "B = 2^8 + 1, F = 2^7 + 1 in forward mode; rows 1e-30 .. 1e30", True),
    _c("jvp", _DEEP, "1e-10", "N = 2^6 + 1 in forward mode", True),
    _c("jit_grad", _DEEP, "1", "N = 2^6 + 1, gradient staged out by jax.jit", True),
    _c("vmap_grad", _DEEP, "1", "K = 9 stacked gradients (a batching rule in groups of 8), N = 2^6 + 1", True,
       stack=9),
    # --- magnitude sweeps on the every-run shapes (exhaustive) -------------------------------------------------------
    *(_c("vjp", _WIDE, m, "magnitude sweep") for m in _SWEEP),
    *(_c("jvp", _DEEP, m, "magnitude sweep") for m in _DEEP_SWEEP if m != "1e-10"),
    *(_c("vjp", _DEEP, m, "magnitude sweep") for m in _DEEP_SWEEP if m != "1e10"),
    *(_c("jvp", _WIDE, m, "magnitude sweep") for m in _SWEEP if m != "mix"),
    *(_c("jit_grad", _WIDE, m, "B = 2^8 + 1, F = 2^7 + 1 under jit, magnitude sweep") for m in ("1", "1e-30", "1e30")),
    *(_c("vmap_grad", _STACKED, m, "K = 17 stacked gradients, magnitude sweep", stack=17) for m in ("1e-20", "mix")),
    _c("vmap_grad", _STACKED, "1", "K = 9 stacked gradients of B = 2^6 + 1 rows", stack=9),
    # --- more shapes, every transform --------------------------------------------------------------------------------
    *(_c(t, (9, 257, 2), m, "F = 2^8 + 1") for t, m in (("vjp", "1"), ("jvp", "1e20"), ("jit_grad", "1e-20"))),
    _c("vmap_grad", (9, 257, 2), "1", "F = 2^8 + 1, K = 9", stack=9),
    *(_c(t, (255, 31, 2), m, "B = 2^8 - 1, F = 2^5 - 1") for t, m in (("vjp", "1e-20"), ("jvp", "1"),
                                                                      ("jit_grad", "mix"))),
    *(_c(t, (256, 128, 1), m, "B = 2^8, F = 2^7: full chunks and tiles") for t, m in (("vjp", "mix"), ("jvp", "1"))),
    *(_c(t, (17, 127, 8), m, "F = 2^7 - 1, N = 8") for t, m in (("vjp", "1e20"), ("jvp", "1e-20"), ("jit_grad", "1"))),
    *(_c(t, (33, 32, 33), m, "B = 2^5 + 1, N = 2^5 + 1") for t, m in (("vjp", "mix"), ("jvp", "1e10"))),
    _c("vmap_grad", (33, 32, 33), "1", "B = 2^5 + 1, N = 2^5 + 1, K = 9", stack=9),
    *(_c(t, (4, 33, 129), m, "N = 2^7 + 1") for t, m in (("vjp", "1"), ("jvp", "1"), ("jit_grad", "1e-10"))),
    *(_c(t, (2, 16, 64), m, "N = 2^6") for t, m in (("vjp", "1e-10"), ("jvp", "1e10"))),
    *(_c(t, (3, 16, 63), m, "N = 2^6 - 1") for t, m in (("vjp", "1e20"), ("jvp", "1e-30"))),
)

CASE_BY_NAME: dict[str, DerivativeCase] = {case.name: case for case in CASES}
if len(CASE_BY_NAME) != len(CASES):  # pragma: no cover - a duplicate in the table above
    raise ValueError("two derivative boundary cases have the same name")
assert {c.shape for c in CASES} == set(SEEDS)
#: The cases every run checks (the profile ``exhaustive`` checks all of CASES).
EVERY_RUN: tuple[DerivativeCase, ...] = tuple(c for c in CASES if c.every_run)


def cases(full: bool) -> tuple[DerivativeCase, ...]:
    """The derivative boundary cases a run checks: all of them when ``full`` (``exhaustive``), else EVERY_RUN."""
    return CASES if full else EVERY_RUN


# -- building a case's arrays ------------------------------------------------------------------------------------------


def _rng(*parts) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("-".join(map(str, parts)).encode()))


def _unit_rows(seed, rows, features, layers, rng) -> np.ndarray:
    """Rows uniform in (-1, 1), float32; rows near a relu kink or with a zero Jacobian are redrawn (up to 60 times)."""
    unit = rng.uniform(-1.0, 1.0, size=(rows, features)).astype(np.float32)
    for _ in range(60):
        bad = near_kink_rows(seed, unit, layers, features) | vacuous_rows(seed, unit, layers, features)
        if not bad.any():
            break
        unit[bad] = rng.uniform(-1.0, 1.0, size=(int(bad.sum()), features)).astype(np.float32)
    return unit


def _direction(seed, x, layers, features, transform, targets, rng) -> np.ndarray:
    """A cotangent (vjp, grads) or tangent (jvp): entries +-[1/16, 1], each row scaled by a power of two so that its
    oracle derivative's max magnitude is within sqrt(2) of ``targets``."""
    from composed.oracle import jvp, vjp

    rows = x.shape[0]
    unit = (rng.uniform(0.0625, 1.0, (rows, features)) * rng.choice((-1.0, 1.0), (rows, features))).astype(np.float32)
    ref = jvp(seed, x, layers, features, unit) if transform == "jvp" else vjp(seed, x, layers, features, unit)
    mags = np.max(np.abs(np.reshape(ref, (rows, features))), axis=1)
    k = np.round(np.log2(targets / np.where(mags > 0, mags, 1.0)))
    return (unit.astype(np.float64) * np.exp2(k)[:, None]).astype(np.float32)


def _one(case: DerivativeCase, index: int):
    """One (x, direction) of the case (``index`` > 0: further batches of a stack)."""
    seed, (b, f, n) = case.seed, case.shape
    unit = _unit_rows(seed, b, f, n, _rng("x", b, f, n, index))
    x, _, mags = scale_rows(seed, unit, n, f, np.clip(case.targets(), X_RANGE[0], X_RANGE[1]))
    direction = _direction(seed, x, n, f, case.transform, case.targets(), _rng("d", case.name, index))
    # bugs of the suite, not of the implementation: errors, never a vacuous or partly excluded comparison
    excluded = near_kink_rows(seed, x, n, f) | vacuous_rows(seed, x, n, f)
    if excluded.any() or not np.all(mags > 0) or not np.all(np.isfinite(direction)):
        raise RuntimeError(f"derivative boundary case {case.name}: {int(excluded.sum())} rows near a kink or with a "
                           "zero Jacobian after redrawing; change its shape's seed")
    return x, direction


@lru_cache(maxsize=8)
def _built(name: str):
    case = CASE_BY_NAME[name]
    pairs = [_one(case, i) for i in range(case.stack)]
    xs, ds = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
    xs.flags.writeable = ds.flags.writeable = False
    return xs, ds


def build(name: str) -> dict:
    """The call of case ``name``: ``dict(seed, x_batch, num_layers, features, direction)``, x_batch (B, F) and the
    cotangent or tangent (B, F); for ``vmap_grad`` both carry a leading K (the stack). Fresh arrays each time."""
    case = CASE_BY_NAME[name]
    xs, ds = _built(name)
    if case.transform != "vmap_grad":
        xs, ds = xs[0], ds[0]
    return dict(seed=case.seed, x_batch=np.array(xs), num_layers=case.layers, features=case.features,
                direction=np.array(ds))


# -- the check ---------------------------------------------------------------------------------------------------------


def _flat(a) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, np.float32).reshape(-1))


def _against_oracle(got, seed, x, n, f, w, label):
    assert got is not None, f"{label}: the derivative does not have the shape (B*F,) of the cotangent"
    assert_derivative(compare_vjp(got, seed, x, n, f, w), label=label, what="the oracle's float64 backward pass")


def _check(impl, name):
    """The derivative of one boundary case equals the float64 oracle's within ``C_GRAD`` times its rounding scale, row
    by row (the case is named ``<transform>-B<rows>-F<features>-N<layers>[-K<stack>]-<magnitude>``; its arrays:
    ``properties.invariants.transforms_boundary.build(name)``).

    Catches: a hand-written backward or forward-mode pass that drops the last partial tile of a contraction, loses
    the tail of a row chunk, stops masking past a depth, is wrong only for wide layers, or a batching rule of the
    gradient that is wrong only for larger stacks; derivatives that overflow, flush or saturate at extreme magnitudes.
    """
    from properties.invariants.transforms import _op

    if name not in CASE_BY_NAME:
        raise KeyError(f"no derivative boundary case {name!r}; known: {', '.join(CASE_BY_NAME)}")
    case = CASE_BY_NAME[name]
    call = build(name)
    seed, x, n, f, d = call["seed"], call["x_batch"], call["num_layers"], call["features"], call["direction"]
    kw = dict(seed=seed, num_layers=n, features=f)
    if case.transform == "vjp":
        reply = _op(impl, "vjp", x_batch=x, cotangent=_flat(d), **kw)
        _against_oracle(reply["vjp"], seed, x, n, f, _flat(d), f"the VJP on case {name}")
    elif case.transform == "jvp":
        reply = _op(impl, "jvp", x_batch=x, tangent=np.ascontiguousarray(d), **kw)
        how = "" if reply["via"] == "jax.jvp" else f" (computed as the {reply['via']})"
        assert_derivative(compare_jvp(reply["jvp"], seed, x, n, f, d), label=f"the JVP on case {name}",
                          what="the oracle's float64 forward-mode pass", context=how)
    elif case.transform == "jit_grad":
        reply = _op(impl, "jit_grad", x_batch=x, cotangent=_flat(d), **kw)
        _against_oracle(reply["grad"], seed, x, n, f, _flat(d), f"jax.grad(loss) on case {name}")
        _against_oracle(reply["jit_grad"], seed, x, n, f, _flat(d), f"jax.jit(jax.grad(loss)) on case {name}")
    else:
        ws = np.ascontiguousarray(d.reshape(case.stack, -1))
        reply = _op(impl, "vmap_grad", x_stack=np.ascontiguousarray(x), cotangents=ws, **kw)
        mapped = np.asarray(reply["vmap_grad"])
        assert mapped.shape == x.shape, f"jax.vmap(jax.grad(loss)) returned shape {mapped.shape}, expected {x.shape}"
        for i in range(case.stack):  # the gradients one by one are the vjp and jit_grad cases' business
            _against_oracle(mapped[i], seed, x[i], n, f, ws[i], f"jax.vmap(jax.grad(loss))(xs)[{i}] on case {name}")


#: One derivative boundary case, by name (``check(impl, name=...)``); ``properties/test_phases.py`` runs
#: each as its own test.
TRANSFORMS_BOUNDARY = Property("transforms_boundary", TRANSFORMS, _check, None)

__all__ = ["TRANSFORMS_BOUNDARY", "DerivativeCase", "CASES", "CASE_BY_NAME", "EVERY_RUN", "SEEDS", "MIX",
           "TRANSFORM_NAMES", "cases", "build"]
