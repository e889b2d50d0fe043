"""All Hypothesis strategies of the suite, in one module.

Domain covered (the contract's, not the comfortable middle):

* seeds: integers over the whole ``[-2**63, 2**63)`` with the edges (0, -1, +-2**31, 2**32 +- 1, +-2**62, the ends)
  weighted in, and fractional floats (``int`` truncates toward zero);
* shapes: mostly drawn from :data:`SHAPE_BUCKETS`, a documented list of (B, F, N) triples with B in 1..16, F in 1..16
  and N in 0..8, so a jitted candidate compiles a bounded number of programs (one per bucket and dtype); the
  small-scope grid (:func:`grid_cells`) enumerates every (B, F, N) in B, F in 1..4, N in 0..4;
* the wide domain (:func:`cases` only, by default): in about one general case in :data:`WIDE_ONE_IN`, one axis is
  large -- B up to :data:`MAX_B`, F up to :data:`MAX_F` or N up to :data:`MAX_N`, drawn from :data:`WIDE_B`,
  :data:`WIDE_F`, :data:`WIDE_N` (2^k - 1, 2^k, 2^k + 1 around tile widths) or, one time in four, any integer in
  range -- never all at once (the other two come from a bucket); in about one in :data:`EXTREME_ONE_IN` a bucket's
  shape gets extreme magnitudes instead (cheap: no new shape to compile). Every new shape costs a compile of a
  jitted candidate and a larger oracle, so the shares are small and the sizes mostly come from the edge lists (their
  compiled programs are reused from the persistent compilation cache on the next run);
* counts: ``num_layers`` and ``features`` are drawn as ints or as floats with a fractional part (``int`` truncates);
* values: each row has its own magnitude and is a plain row, a zero row, a copy of an earlier row, or an all-negative
  row. Bucket shapes: input magnitude ``10**k``, ``k`` in -3..3. Wide and extreme draws set the row's *output*
  magnitude instead (:func:`properties.harness.magnitudes.scale_rows`: an exact power of two per row, so a deep row's
  input is scaled up by its own decay and does not collapse): ``10**k`` with ``k`` in -3..3 for the wide shapes,
  ``k`` in -30..30, the row's max safe scale (the largest at which no correct float32 evaluation can overflow) or
  16x float32's smallest normal number for the extreme magnitudes.

Non-collapse: with lecun-normal kernels and relu, a narrow layer kills a row with probability about ``2**-F``, so the
buckets keep depth modest where F is small (F = 1 only with N <= 2) and deep wide draws have F >= 16. How often the
oracle output is all zero, and how often each wide and extreme kind is drawn, is reported with ``event()`` (run with
``--hypothesis-show-statistics``) and asserted by ``tests/test_strategies.py``.
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

#: The wide domain: edge sizes of each axis (2^k - 1, 2^k, 2^k + 1 around tile widths), and the largest of each.
WIDE_B = (17, 31, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 513, 1023, 1024, 1025)
WIDE_F = (17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 513)
WIDE_N = (9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129)
MAX_B, MAX_F, MAX_N = 1100, 520, 130
#: F of a deep wide draw (N > 8): wide enough that a row survives a hundred layers.
DEEP_F = (16, 17, 24, 31, 32, 33)
#: Above this F a wide draw keeps N <= 4, and N <= 2 above twice this (the error model's cost grows like B * N * F**3
#: from N = 3 on: ~0.1 s at B = 16, F = 256, N = 4).
WIDE_F_DEEP_LIMIT = 128
#: One general case in about this many has one large axis; one in about EXTREME_ONE_IN has extreme magnitudes.
WIDE_ONE_IN = 20
EXTREME_ONE_IN = 8
#: Output magnitudes of the extreme draws: 10**k for k in this range, the row's max safe scale, or FLOOR_OUTPUT.
EXTREME_DECADES = (-30, 30)
FLOOR_OUTPUT = 2.0**-122

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


def _event(text: str) -> None:
    from hypothesis import event
    from hypothesis.control import currently_in_test_context

    if currently_in_test_context():
        event(text)


def _one_in(k: int) -> st.SearchStrategy[bool]:
    """True about once in ``k`` draws (False is the simplest example: Hypothesis starts from, and shrinks toward, the
    ordinary draw)."""
    return st.sampled_from((False,) * (k - 1) + (True,))


def _size(edges, lo: int, hi: int) -> st.SearchStrategy[int]:
    """A size from ``edges`` (smallest first, so shrinking goes down the list), or one time in four any in [lo, hi]."""
    return st.one_of(st.sampled_from(edges), st.sampled_from(edges), st.sampled_from(edges), st.integers(lo, hi))


@st.composite
def wide_shapes(draw, base=SHAPE_BUCKETS) -> tuple[int, int, int, str]:
    """``(B, F, N, axis)``: a bucket of ``base`` with one axis (``axis``: "B", "F" or "N") replaced by a large size.

    Drawn from the run's :func:`wide_pool` (the entries made from a bucket of ``base``) when the pool is on, so every
    property reuses the same few large shapes (a jitted implementation compiles each once a run)."""
    pool = [entry for bucket, entry in wide_pool() if bucket in base]
    if pool:
        return draw(st.sampled_from(pool))
    return draw(fresh_wide_shapes(base))


@st.composite
def fresh_wide_shapes(draw, base=SHAPE_BUCKETS) -> tuple[int, int, int, str]:
    """A wide shape drawn afresh (:func:`wide_shapes` with the pool off; the pool's entries follow the same rules)."""
    b, f, n = draw(st.sampled_from(base))
    axis = draw(st.sampled_from(("B", "F", "N")))
    if axis == "B":
        b = draw(_size(WIDE_B, 17, MAX_B))
        n = n if f > 2 else min(n, 2)
    elif axis == "F":
        f = draw(_size(WIDE_F, 17, MAX_F))
        n = min(n, 2) if f > 2 * WIDE_F_DEEP_LIMIT else min(n, 4) if f > WIDE_F_DEEP_LIMIT else n
    else:
        n = draw(_size(WIDE_N, 9, MAX_N))
        f = draw(st.sampled_from(DEEP_F))
    return b, f, n, axis


# -- the run's pool of wide shapes (issue 17) ----------------------------------------------------------------------------
#
# Every new (B, F, N) is a new program for a jitted implementation to trace and compile (about a second), and a wide
# draw is nearly always new: 16 buckets x ~16 edge sizes x 3 axes, plus a quarter of arbitrary sizes. Drawn afresh by
# each property, the wide shapes were most of a jitted implementation's first run. So a run draws 12 wide shapes
# once (same distribution: a bucket, an axis, an edge size or one time in four any size in range), and every
# property's wide draws pick from them. A run sees fewer distinct large shapes, each checked by every property; the
# pool changes from run to run (a new random pool per run, as Hypothesis's own draws do), except under a derandomized
# profile (CI), where it is the fixed pool of seed 0; COMPOSED_SHAPE_POOL=off draws every wide shape afresh, =SEED
# picks a pool. The boundary set's fixed edge cases run every run regardless.

POOL_ENV = "COMPOSED_SHAPE_POOL"
_pool_cache: dict = {}


def _pool_seed() -> int | None:
    """The pool's seed: COMPOSED_SHAPE_POOL, 0 under a derandomized profile, else the run id; None when off."""
    import os
    import zlib

    value = os.environ.get(POOL_ENV, "").strip().lower()
    if value in ("off", "none", "no"):
        return None
    if value:
        return int(value)
    from hypothesis import settings

    if settings.default.derandomize:
        return 0
    run = os.environ.get("COMPOSED_RUN") or str(os.getpid())  # one pool for the run's workers
    return zlib.crc32(run.encode())


#: The size ranges of a pool's entries on each axis: one entry in each (B and F: the events' classes, then anywhere).
SIZE_CLASSES = {"B": ((17, 64), (65, 256), (257, MAX_B), (17, MAX_B)),
                "F": ((17, 64), (65, 256), (257, MAX_F), (17, MAX_F)),
                "N": ((9, 32), (33, 64), (65, MAX_N), (9, MAX_N))}


def _pick_size(rng, edges, lo: int, hi: int) -> int:
    """An edge size in [lo, hi], or one time in four any size in it."""
    inside = [e for e in edges if lo <= e <= hi]
    if not inside or rng.random() < 0.25:
        return int(rng.integers(lo, hi + 1))
    return int(inside[rng.integers(len(inside))])


def _pool_entry(rng, axis: str, lo: int, hi: int):
    bucket = SHAPE_BUCKETS[rng.integers(len(SHAPE_BUCKETS))]
    b, f, n = bucket
    if axis == "B":
        b = _pick_size(rng, WIDE_B, lo, hi)
        n = n if f > 2 else min(n, 2)
    elif axis == "F":
        f = _pick_size(rng, WIDE_F, lo, hi)
        n = min(n, 2) if f > 2 * WIDE_F_DEEP_LIMIT else min(n, 4) if f > WIDE_F_DEEP_LIMIT else n
    else:
        n = _pick_size(rng, WIDE_N, lo, hi)
        f = int(DEEP_F[rng.integers(len(DEEP_F))])
    return bucket, (b, f, n, axis)


def wide_pool() -> list[tuple[tuple[int, int, int], tuple[int, int, int, str]]]:
    """The run's wide shapes: ``[(bucket, (B, F, N, axis)), ...]``, for each axis one size in each of
    :data:`SIZE_CLASSES`, smallest first (Hypothesis shrinks toward the start); ``[]`` when
    the pool is off."""
    seed = _pool_seed()
    if seed is None:
        return []
    if seed not in _pool_cache:
        rng = np.random.default_rng(seed)
        entries = [_pool_entry(rng, axis, lo, hi) for axis in "BFN" for lo, hi in SIZE_CLASSES[axis]]
        _pool_cache[seed] = sorted(entries, key=lambda e: e[1][0] * e[1][1] * max(1, e[1][2]))
    return _pool_cache[seed]


def _row_kinds(draw, rows: int) -> list[str]:
    return [draw(st.sampled_from(_ROW_KIND_DRAW)) if rows > 1 else draw(st.sampled_from(("plain", "negative")))
            for _ in range(rows)]


@st.composite
def scaled_batches(draw, seed, rows: int, features: int, num_layers: int, extreme: bool,
                   headroom_log2: int = 0) -> np.ndarray:
    """A float32 (rows, features) batch whose rows have target *output* magnitudes (see the module docstring): plain,
    zero, repeated or all-negative rows, each scaled by a power of two (``magnitudes.scale_rows``).

    Large batches draw one magnitude per block of rows (a Hypothesis draw per row of a 1025-row batch is slow), and
    their values come from a NumPy generator seeded by a draw (Hypothesis still controls, replays and shrinks it)."""
    from properties.harness.magnitudes import scale_rows

    if rows * features <= 256:
        unit = draw(hnp.arrays(np.float32, (rows, features), fill=st.nothing(),
                               elements=st.floats(-1.0, 1.0, width=32, allow_subnormal=False)))
    else:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        unit = rng.uniform(-1.0, 1.0, size=(rows, features)).astype(np.float32)
    blocks = min(rows, 16)
    if extreme:
        lo, hi = EXTREME_DECADES  # sampled_from: near uniform (Hypothesis's integers favour small |k|)
        target = st.one_of(st.sampled_from(range(lo, hi + 1)).map(lambda k: 10.0**k),
                           st.sampled_from((np.inf, FLOOR_OUTPUT)))
    else:
        target = st.integers(-3, 3).map(lambda k: 10.0**k)
    block = np.arange(rows) * blocks // max(rows, 1)  # the block of each row
    targets = np.array([draw(target) for _ in range(blocks)])[block]
    kinds = _row_kinds(draw, blocks)
    # a repeated block copies the row just before it (rows <= 16: one row a block, copying any earlier row)
    sources = {i: (draw(st.integers(0, i - 1)) if rows <= 16 else int(np.argmax(block == block[i])) - 1)
               for i in range(1, rows) if kinds[block[i]] == "repeat" and block[i] > 0}
    for i in range(rows):
        if kinds[block[i]] == "zero":
            unit[i] = 0.0
        elif kinds[block[i]] == "negative":
            unit[i] = -np.abs(unit[i])
    x, _, mags = scale_rows(seed, unit, num_layers, features, targets, headroom_log2=headroom_log2)
    for i, j in sorted(sources.items()):
        x[i] = x[j]
    if extreme:
        live = mags[mags > 0]
        if live.size:
            _event(f"extreme magnitudes: largest output > 65504: {bool(live.max() > 65504)}")
            _event(f"extreme magnitudes: smallest output < 1e-20: {bool(live.min() < 1e-20)}")
        _event(f"extreme magnitudes: a row at its max safe scale: {bool(np.isinf(targets).any())}")
    return x


@st.composite
def cases(draw, buckets=SHAPE_BUCKETS, dtype=np.float32, fractional: bool = True, wide: bool | None = None,
          headroom_log2: int = 0) -> dict:
    """A valid call: ``dict(seed, x_batch, num_layers, features)`` with the shape from ``buckets``.

    ``wide`` (default: True for the general ``buckets``, False when a property passes its own): one case in about
    :data:`WIDE_ONE_IN` has one large axis, one in about :data:`EXTREME_ONE_IN` extreme magnitudes (module
    docstring). ``headroom_log2``: extreme rows stay ``2**headroom_log2`` under their max safe scale (for properties
    that scale the input further). Wide and extreme draws are float32 (other dtypes keep the buckets' values).
    """
    if wide is None:
        wide = buckets is SHAPE_BUCKETS
    wide = wide and np.dtype(dtype) == np.float32
    kind = "bucket"
    if wide and draw(_one_in(WIDE_ONE_IN)):
        b, f, n, axis = draw(wide_shapes(buckets))
        kind = f"wide {axis}"
        size = {"B": b, "F": f, "N": n}[axis]
        _event(f"wide {axis} size: " + ("<= 64" if size <= 64 else "65..256" if size <= 256 else "> 256"))
    else:
        b, f, n = draw(st.sampled_from(buckets))
        if wide and draw(_one_in(EXTREME_ONE_IN - 1)):
            kind = "extreme magnitudes"
    seed = draw(seeds() if fractional else int_seeds())
    if kind == "bucket":
        x = draw(batches(b, f, dtype))
    else:
        x = draw(scaled_batches(seed, b, f, n, extreme=kind == "extreme magnitudes", headroom_log2=headroom_log2))
    if wide:
        _event(f"case kind: {kind}")
    return dict(
        seed=seed,
        x_batch=x,
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


# -- the degenerate corner, in every run -------------------------------------------------------------------------------

#: Shapes (B, F, N) that every property taking a shape checks as explicit examples (``@example``), in every run
#: whatever the profile and the grid's share: B = 1 and F = 1 with N = 0 and N = 1; the properties that compare rows
#: take B = 2 (:data:`MULTI_ROW_CORNERS`), those of the layers N = 1 only. The random draws reach (1, 1, 1) as one
#: bucket among sixteen, which a short derandomized run can miss (a result squeezed to a 0-d array at B = F = 1 once
#: passed the default run).
CORNERS = ((1, 1, 0), (1, 1, 1))
MULTI_ROW_CORNERS = ((2, 1, 0), (2, 1, 1))
#: The seed of every corner example: its 1x1 kernel is positive (0.74), so a positive x gives a non-zero output at
#: N = 1 (no corner example passes vacuously); with F = 3 the row (1/3, 2/3, 1) gives two non-zero outputs of three.
CORNER_SEED = 8


def corner(b: int, f: int, n: int, **extra) -> dict:
    """The corner case (B, F, N): seed :data:`CORNER_SEED`, x the positive values 1/(B F), 2/(B F), ..., 1 row by
    row (read-only: the same array serves every run in a process, and nothing may write to it), int counts, and
    ``extra`` (a property's own arguments)."""
    x = (np.arange(1, b * f + 1, dtype=np.float32) / max(b * f, 1)).reshape(b, f)
    x.flags.writeable = False
    return dict(seed=CORNER_SEED, x_batch=x, num_layers=n, features=f, **extra)


def corners(shapes=CORNERS, **extra) -> tuple[dict, ...]:
    """:func:`corner` for each of ``shapes`` (explicit examples for :func:`properties.invariants.base.prop`)."""
    return tuple(corner(b, f, n, **extra) for b, f, n in shapes)


# -- the transforms tier's shapes (issue 15) ----------------------------------------------------------------------------
#
# The transforms tier draws (B, F, N) from its own buckets (``properties.invariants.transforms.TRANSFORM_BUCKETS``) and,
# in about one case in TRANSFORM_WIDE_ONE_IN, a large shape instead, from the shapes of the derivative boundary set
# (the tier passes them): every new shape compiles a new program per transform (jit, vjp, jvp, grad, vmap), and those
# shapes are compiled by the boundary set's cases anyway (measured on the default CI run: wide shapes from edge lists
# tripled the tier's time, 31 s -> 89 s).

TRANSFORM_WIDE_ONE_IN = 20


@st.composite
def transform_shapes(draw, buckets, wide) -> tuple[int, int, int]:
    """``(B, F, N)``: a bucket of ``buckets``, or about one time in :data:`TRANSFORM_WIDE_ONE_IN` one of the large
    shapes ``wide`` (recorded with ``event``: the kind, and which axis is large)."""
    if not wide or not draw(_one_in(TRANSFORM_WIDE_ONE_IN)):
        _event("transforms case kind: bucket")
        return draw(st.sampled_from(buckets))
    b, f, n = draw(st.sampled_from(wide))
    axes = "".join(a for a, big in (("B", b > 16), ("F", f > 16), ("N", n > 8)) if big)
    _event(f"transforms case kind: wide {axes}")
    return b, f, n
