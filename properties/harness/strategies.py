"""All Hypothesis strategies of the suite, in one module.

Domain covered (the contract's, not the comfortable middle):

* seeds: integers over the whole ``[-2**63, 2**63)`` with the edges (0, -1, +-2**31, 2**32 +- 1, +-2**62, the ends)
  weighted in, and fractional floats (``int`` truncates toward zero);
* shapes: drawn from :data:`SHAPE_BUCKETS`, a documented list of (B, F, N) triples with B in 1..16, F in 1..16 and
  N in 0..8, so a jitted candidate compiles a bounded number of programs (one per bucket and dtype); the small-scope
  grid (:func:`grid_cells`) enumerates every (B, F, N) in B, F in 1..4, N in 0..4;
* counts: ``num_layers`` and ``features`` are drawn as ints or as floats with a fractional part (``int`` truncates);
* values: each row has its own magnitude ``10**k``, ``k`` in -3..3, and is a plain row, a zero row, a copy of an
  earlier row, or an all-negative row.

Non-collapse: with lecun-normal kernels and relu, a narrow layer kills a row with probability about ``2**-F``, so the
buckets keep depth modest where F is small (F = 1 only with N <= 2). How often the oracle output is all zero is
reported with ``event()`` (run with ``--hypothesis-show-statistics``) and asserted by ``tests/test_strategies.py``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

#: (B, F, N) triples a case's shape is drawn from. Every B in {1,2,3,5,8,16}, F in {1,2,3,4,7,8,16} and N in 0..8
#: occurs; F = 1 appears only with N <= 2 and F = 2 only with N <= 4 (see "Non-collapse" above).
SHAPE_BUCKETS: tuple[tuple[int, int, int], ...] = (
    (1, 1, 1),
    (5, 1, 2),
    (2, 2, 2),
    (8, 2, 4),
    (3, 3, 3),
    (1, 4, 0),
    (4, 4, 5),
    (16, 4, 1),
    (5, 7, 6),
    (2, 8, 7),
    (3, 8, 3),
    (8, 16, 4),
    (16, 16, 8),
    (1, 16, 8),
    (16, 3, 2),
    (5, 16, 0),
)

#: Buckets with B >= 2 (for properties that compare rows).
MULTI_ROW_BUCKETS = tuple(s for s in SHAPE_BUCKETS if s[0] >= 2)
#: Buckets with N >= 1 (for properties of the layers themselves).
DEEP_BUCKETS = tuple(s for s in SHAPE_BUCKETS if s[2] >= 1)

SEED_EDGES = (0, 1, -1, 2**31 - 1, 2**31, -(2**31), 2**32 - 1, 2**32, 2**32 + 7, -(2**32), 2**62, -(2**62),
              2**63 - 1, -(2**63))

ROW_KINDS = ("plain", "zero", "repeat", "negative")
#: How often each row kind is drawn (plain rows dominate, so whole outputs are rarely all zero).
_ROW_KIND_DRAW = ("plain",) * 5 + ("zero", "repeat", "negative")

GRID_B = (1, 2, 3, 4)
GRID_F = (1, 2, 3, 4)
GRID_N = (0, 1, 2, 3, 4)


def int_seeds() -> st.SearchStrategy[int]:
    """Integer seeds over the whole contract range, edges weighted in."""
    return st.one_of(
        st.sampled_from(SEED_EDGES),
        st.integers(-(2**63), 2**63 - 1),
        st.integers(-1000, 1000),
    )


def seeds() -> st.SearchStrategy[int | float]:
    """Seeds as the problem gives them: ints, or floats with a fractional part (|seed| < 2**52)."""
    fractional = st.floats(-(2.0**52), 2.0**52, allow_nan=False).filter(lambda s: s != int(s))
    return st.one_of(int_seeds(), fractional, st.sampled_from((3.7, -0.5, -2.9, 0.5, 2.0**40 + 0.5)))


def as_count(n: int) -> st.SearchStrategy[int | float]:
    """``n`` itself, or a float whose ``int()`` is ``n`` (n + frac, or -frac when n == 0)."""
    frac = st.floats(0.0, 1.0, exclude_max=True, exclude_min=True)
    fractional = frac.map(lambda f: float(n) + f) if n > 0 else frac.map(lambda f: -f)
    # n + f can round up to n + 1 for f close to 1: keep only values that truncate to n.
    return st.one_of(st.just(n), st.just(float(n)), fractional.filter(lambda v: int(v) == n))


@st.composite
def batches(draw, rows: int, features: int, dtype=np.float32) -> np.ndarray:
    """A (rows, features) array: per-row magnitude 10**-3..10**3, rows plain, zero, repeated or all-negative."""
    base = draw(
        hnp.arrays(
            np.float32,
            (rows, features),
            elements=st.floats(-1.0, 1.0, width=32, allow_subnormal=False),
            fill=st.nothing(),  # draw every element: Hypothesis's default fill makes mostly-constant (often 0) arrays
        )
    )
    x = base.astype(np.float64)
    for i in range(rows):
        kind = draw(st.sampled_from(_ROW_KIND_DRAW)) if rows > 1 else draw(st.sampled_from(("plain", "negative")))
        scale = 10.0 ** draw(st.integers(-3, 3))
        if kind == "zero":
            x[i] = 0.0
        elif kind == "repeat" and i > 0:
            x[i] = x[draw(st.integers(0, i - 1))]
            continue
        elif kind == "negative":
            x[i] = -np.abs(x[i])
        x[i] *= scale
    return x.astype(dtype)


@st.composite
def cases(draw, buckets=SHAPE_BUCKETS, dtype=np.float32, fractional: bool = True) -> dict:
    """A valid call: ``dict(seed, x_batch, num_layers, features)`` with the shape from ``buckets``."""
    b, f, n = draw(st.sampled_from(buckets))
    return dict(
        seed=draw(seeds() if fractional else int_seeds()),
        x_batch=draw(batches(b, f, dtype)),
        num_layers=draw(as_count(n)) if fractional else n,
        features=draw(as_count(f)) if fractional else f,
    )


@st.composite
def cell_cases(draw, b: int, f: int, n: int) -> dict:
    """Cases of one small-scope grid cell (B, F, N) fixed, seed and values drawn.

    Every entry has magnitude in [1/8, 1] times the row's scale (no zero entries): Hypothesis starts from its
    simplest example, which for the general strategy is an all-zero batch, and a cell checked on a few examples must
    not spend them on f(0) = 0.
    """
    magnitude = st.floats(0.125, 1.0, width=32)
    entry = st.tuples(magnitude, st.booleans()).map(lambda t: -t[0] if t[1] else t[0])
    x = draw(hnp.arrays(np.float32, (b, f), elements=entry, fill=st.nothing()))
    scales = np.array([10.0 ** draw(st.integers(-3, 3)) for _ in range(b)]).reshape(b, 1)
    return dict(seed=draw(seeds()), x_batch=(x * scales).astype(np.float32), num_layers=draw(as_count(n)),
                features=draw(as_count(f)))


def grid_cells(full: bool) -> list[tuple[int, int, int]]:
    """Every (B, F, N) of the small-scope grid when ``full``, else a fixed sample of a quarter of it."""
    cells = [(b, f, n) for b in GRID_B for f in GRID_F for n in GRID_N]
    if full:
        return cells
    return cells[::4] + [cells[-1]] if cells[-1] not in cells[::4] else cells[::4]


def permutations(n: int) -> st.SearchStrategy[list[int]]:
    """A permutation of range(n) that moves at least one row when n >= 2."""
    perm = st.permutations(list(range(n)))
    return perm.filter(lambda p: n < 2 or list(p) != list(range(n)))
