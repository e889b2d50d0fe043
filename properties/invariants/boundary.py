"""The boundary set: a fixed, documented list of cases at the edges where kernels break, checked before random search.

Each case is one deterministic call compared with the float64 oracle at the suite's tolerance policy
(:func:`properties.harness.tolerance.assert_matches_oracle`), reported as its own test id ``boundary[<name>]``
(``properties/test_phases.py``), so a report says which edge broke. The name is the case:
``B<rows>-F<features>-N<layers>-<magnitude>``.

**Every run** checks :data:`EVERY_RUN` (the cases marked ``every_run``: one or more per edge class below, cheap to
expensive); the ``exhaustive`` profile checks all of :data:`CASES`.

Edge classes (why each is there):

* **batch sizes** 2^k - 1, 2^k, 2^k + 1 around tile and chunk widths, up to B = 1025 (a batch processed in chunks of
  64 or 1024 with a lost or mishandled tail; vector widths 8, 32);
* **feature widths** around 32, 64, 128, 256 and 512, up to F = 513 (a tiled contraction whose last partial tile is
  dropped or padded wrongly; widths that are not multiples of 8, 32 or 128);
* **depths** up to N = 129 (a depth cap or unroll limit at 64 or 128 layers); deep rows are scaled up by their own
  decay (about 2**-0.5 a layer: :mod:`properties.harness.magnitudes`) so the output stays at the target magnitude,
  well inside the normal range, and the build asserts the oracle output is not all zero;
* **B < F, B = F, B > F**, and narrow F (1, 2, 3) under a wide batch;
* **magnitudes**: every row's float64 output scaled (by an exact power of two, positive homogeneity) to a target
  ``max|out|``: ``mag1e-30`` .. ``mag1e30``; ``max``: each row at its max safe scale (the largest at which no correct
  float32 evaluation can overflow, derived per row from the parameters: :mod:`properties.harness.magnitudes`);
  ``mix``: rows of one batch cycling 1e-30, 1e-20, 1e-10, 1, 1e10, 1e20, 1e30 and max (a global rescaling, or a
  precision switch decided on the batch's largest value, shows); ``floor``: outputs near 2**-122 ~ 1.9e-37, 16x
  float32's smallest normal number, where XLA on CPU flushes subnormal products (accepted at the floor of the
  tolerance policy; a relative error cannot be resolved there, see ``tests/test_tolerance.py``). Outputs above
  65504 (float16's largest) in every ``mag1e5`` and larger case; inputs below 1e-20 in every ``mag1e-30`` case;
* **seeds** at their edges (0, -1, +-2**31, 2**32 - 1, 2**32 + 7, +-2**62, +-2**63 ends, fractional) combined with
  the shapes above.

Inputs are built deterministically from the case's name (:func:`build`): rows uniform in (-1, 1) from a generator
seeded by the name, dead rows redrawn, then scaled. Every call is float32 with int counts (the core tier).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from properties.harness.magnitudes import forward64, scale_rows
from properties.harness.tolerance import assert_matches_oracle
from properties.invariants.base import CORE, Property

#: Row targets of the ``mix`` magnitude (inf: the row's max safe scale).
MIX = (1e-30, 1e-20, 1e-10, 1.0, 1e10, 1e20, 1e30, np.inf)
#: The target of the ``floor`` magnitude: 16x float32's smallest normal number.
FLOOR = 2.0**-122
#: Below this output magnitude a case checks acceptance only (a 1e-4 relative error is below the absolute floor of
#: the tolerance policy there); see ``tests/test_tolerance.py``.
ACCEPT_ONLY_BELOW = 1e-32


@dataclass(frozen=True)
class BoundaryCase:
    rows: int
    features: int
    layers: int
    magnitude: str  # "1e-30" .. "1e30", "max", "mix", "floor"
    seed: int | float
    every_run: bool
    why: str

    @property
    def name(self) -> str:
        mag = self.magnitude if self.magnitude in ("max", "mix", "floor") else f"mag{self.magnitude}"
        return f"B{self.rows}-F{self.features}-N{self.layers}-{mag}"

    def targets(self) -> np.ndarray:
        """The target max|output| of each row (inf: the row's max safe scale)."""
        if self.magnitude == "mix":
            return np.array([MIX[i % len(MIX)] for i in range(self.rows)])
        value = {"max": np.inf, "floor": FLOOR}.get(self.magnitude)
        return np.full(self.rows, float(self.magnitude) if value is None else value)

    @property
    def accept_only(self) -> bool:
        """True when no row's output can resolve a relative error (outputs near the normal floor)."""
        return bool(np.all(self.targets() < ACCEPT_ONLY_BELOW))


def _c(b, f, n, magnitude, seed, why, every_run=False):
    return BoundaryCase(b, f, n, magnitude, seed, every_run, why)


_SWEEP = ("1e-30", "1e-20", "1e-10", "1e5", "1e10", "1e20", "1e30", "max", "floor", "mix")

#: The whole boundary set, cheapest first within each group; the ``every_run`` cases first of all.
CASES: tuple[BoundaryCase, ...] = (
    # --- every run: one or more per edge class ------------------------------------------------------------------------
    _c(8, 8, 8, "1e20", -1, "B = F = 8; outputs ~1e20, far above float16's 65504 (saturation, float16 paths)", True),
    _c(7, 9, 2, "floor", 2**31, "outputs ~1.9e-37 near float32's normal floor (flush-to-zero handled)", True),
    _c(5, 33, 3, "1e-30", 2**32 + 7, "outputs 1e-30, inputs far below 1e-20 (tiny values flushed); F = 2^5 + 1", True),
    _c(9, 24, 3, "max", 2**63 - 1, "every row at its max safe scale (overflow, clipping); seed 2**63 - 1", True),
    _c(65, 63, 3, "mix", -(2**63), "rows 1e-30 .. max in one batch; B = 2^6 + 1 > F = 2^6 - 1; seed -2**63", True),
    _c(4, 16, 129, "1", 2**31, "N = 2^7 + 1 (depth cap, unroll limit), input scaled up by the decay", True),
    _c(255, 31, 5, "1e5", 12345, "B = 2^8 - 1, F = 2^5 - 1 (not multiples of 8/32); outputs above 65504", True),
    _c(127, 129, 1, "1e30", -(2**31), "B = 2^7 - 1 < F = 2^7 + 1 (last partial tile of 128); outputs 1e30", True),
    _c(1025, 16, 2, "1", 2**62, "B = 2^10 + 1 (a batch chunked by 64/1024 with a tail of one row); seed 2**62", True),
    _c(3, 513, 2, "1", -(2**62), "F = 2^9 + 1 (a contraction tiled by 128/512 with a partial last tile)", True),
    # --- magnitude sweeps on the extreme shapes (exhaustive) ------------------------------------------------------------
    *(_c(8, 8, 8, m, s, "B = F = 8, magnitude sweep") for m, s in
      zip([m for m in _SWEEP if m != "1e20"] + ["1"], (1, 2**32, -(2**32), 7, 3.7, -2.9, 2**31 - 1, 99, 5, 0))),
    *(_c(1025, 16, 2, m, s, "B = 2^10 + 1, magnitude sweep") for m, s in
      zip(_SWEEP, (0, 11, -(2**63), 2**32 - 1, 2**32 + 7, -1, 2**62 + 1, 4242, 2**31, 17))),
    *(_c(17, 512, 1, m, s, "F = 2^9 (one full tile of 512, 4 of 128), magnitude sweep") for m, s in
      zip(_SWEEP + ("1",), (5, -(2**31), 2**63 - 1, 23, 0, 2**32, 77, -3, 2**40 + 1, -(2**40), 31337))),
    *(_c(3, 513, 4, m, s, "F = 2^9 + 1, N = 4, magnitude sweep") for m, s in
      zip(_SWEEP, (2**63 - 1, 1, 13, -(2**62), 4, 2**33, -0.5, 8, -(2**63), 21))),
    # deep: outputs above ~1e14 (N = 129) or ~1e27 (N = 64) are beyond the max safe scale, so the sweeps stop at "max"
    *(_c(4, 16, 129, m, s, "N = 2^7 + 1, magnitude sweep (input scaled up by ~2^64 of decay)") for m, s in
      zip([m for m in _SWEEP if m not in ("1e20", "1e30")], (3, 2**31, -(2**31), 2**32 + 7, 10, -(2**31), 0, 1))),
    *(_c(16, 32, 64, m, s, "N = 2^6 (a cap at 64 layers), B < F, magnitude sweep") for m, s in
      zip([m for m in _SWEEP if m != "1e30"] + ["1"], (2, -1, 2**32 - 1, 14, -(2**63), 2**31, 19, 2**62, -11, 1234))),
    # --- batch sizes around tile widths, B > F -------------------------------------------------------------------------
    _c(9, 8, 7, "1", 2**32 + 7, "B = 2^3 + 1 > F = 2^3"),
    _c(17, 16, 12, "1e-10", -5, "B = 2^4 + 1 > F = 2^4"),
    _c(33, 32, 8, "1e10", 2**31, "B = 2^5 + 1 > F = 2^5"),
    _c(31, 1, 1, "1", 6, "B = 2^5 - 1, F = 1"),
    _c(129, 16, 16, "max", -(2**62), "B = 2^7 + 1, N = 16"),
    _c(255, 7, 6, "1e20", 2**63 - 1, "B = 2^8 - 1, F = 7"),
    _c(256, 65, 1, "1", 3, "B = 2^8, F = 2^6 + 1"),
    _c(257, 64, 2, "1e-20", 2**32, "B = 2^8 + 1, F = 2^6"),
    _c(511, 15, 8, "1e30", -(2**31), "B = 2^9 - 1, F = 2^4 - 1"),
    _c(512, 33, 4, "mix", 9, "B = 2^9, rows 1e-30 .. max"),
    _c(513, 31, 2, "1", -(2**63), "B = 2^9 + 1, F = 2^5 - 1"),
    _c(1023, 17, 1, "1e5", 2**62, "B = 2^10 - 1, F = 2^4 + 1"),
    _c(1024, 8, 3, "1", 0, "B = 2^10, F = 2^3"),
    _c(1024, 2, 1, "1", 4, "B = 2^10, F = 2"),
    _c(1025, 1, 1, "1e-30", 12, "B = 2^10 + 1, F = 1"),
    _c(1025, 3, 3, "max", 2**31 - 1, "B = 2^10 + 1, F = 3"),
    # --- B = F -----------------------------------------------------------------------------------------------------------
    _c(7, 7, 7, "1", -(2**32), "B = F = N = 7"),
    _c(16, 16, 16, "1e-20", 8, "B = F = N = 2^4"),
    _c(32, 32, 32, "1", 2**63 - 1, "B = F = N = 2^5"),
    _c(64, 64, 4, "1e20", 15, "B = F = 2^6"),
    _c(128, 128, 1, "max", -(2**32), "B = F = 2^7 (full tiles)"),
    # --- B < F, F around tile widths -------------------------------------------------------------------------------------
    _c(2, 33, 2, "1", 2**32 - 1, "F = 2^5 + 1"),
    _c(3, 63, 4, "1e-10", 25, "F = 2^6 - 1"),
    _c(1, 64, 1, "1", -(2**63), "B = 1, F = 2^6"),
    _c(4, 65, 4, "1e30", 2**31, "F = 2^6 + 1"),
    _c(63, 65, 2, "1", 16, "B = 2^6 - 1 < F = 2^6 + 1"),
    _c(17, 127, 2, "1e10", 2**62, "F = 2^7 - 1"),
    _c(8, 128, 4, "1", 29, "F = 2^7, N = 4"),
    _c(1, 129, 3, "1e-30", 2**32 + 7, "B = 1, F = 2^7 + 1"),
    _c(2, 255, 4, "1", -(2**31), "F = 2^8 - 1"),
    _c(16, 256, 4, "max", 30, "F = 2^8"),
    _c(9, 257, 2, "1e20", 2**63 - 1, "F = 2^8 + 1"),
    _c(5, 511, 3, "1", 2**32, "F = 2^9 - 1"),
    # --- deep, F >= 16 ---------------------------------------------------------------------------------------------------
    _c(4, 20, 63, "1", 41, "N = 2^6 - 1"),
    _c(32, 16, 65, "1e-10", 2**31 - 1, "N = 2^6 + 1, B > F"),
    _c(5, 33, 96, "1e10", 2**31 - 1, "N = 96"),
    _c(2, 17, 127, "1", 2**32 - 1, "N = 2^7 - 1"),
    _c(8, 16, 128, "1e10", 2**31, "N = 2^7"),
    _c(1, 16, 129, "1", -(2**31), "B = 1, N = 2^7 + 1"),
    _c(16, 31, 129, "mix", 2**62, "N = 2^7 + 1, rows 1e-30 .. max"),
    _c(3, 32, 129, "1e-20", 63, "N = 2^7 + 1, F = 2^5"),
)

CASE_BY_NAME: dict[str, BoundaryCase] = {case.name: case for case in CASES}
if len(CASE_BY_NAME) != len(CASES):  # pragma: no cover - a duplicate in the table above
    raise ValueError("two boundary cases have the same name")
#: The cases every run checks (the profile ``exhaustive`` checks all of CASES).
EVERY_RUN: tuple[BoundaryCase, ...] = tuple(c for c in CASES if c.every_run)


def cases(full: bool) -> tuple[BoundaryCase, ...]:
    """The boundary cases a run checks: all of them when ``full`` (the ``exhaustive`` profile), else EVERY_RUN."""
    return CASES if full else EVERY_RUN


def _unit_rows(case: BoundaryCase) -> np.ndarray:
    """Rows uniform in (-1, 1), float32, from a generator seeded by the case's name; rows dead in the float64
    network are redrawn (up to 30 times)."""
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    unit = rng.uniform(-1.0, 1.0, size=(case.rows, case.features)).astype(np.float32)
    for _ in range(30):
        out, _ = forward64(case.seed, unit, case.layers, case.features)
        dead = ~np.any(out > 0, axis=1)
        if not dead.any():
            break
        unit[dead] = rng.uniform(-1.0, 1.0, size=(int(dead.sum()), case.features)).astype(np.float32)
    return unit


@lru_cache(maxsize=8)
def _built(name: str):
    case = CASE_BY_NAME[name]
    x, _, mags = scale_rows(case.seed, _unit_rows(case), case.layers, case.features, case.targets())
    # bugs of the suite, not of the implementation: errors, never a vacuous or mislabelled pass
    if not np.any(mags > 0):
        raise RuntimeError(f"boundary case {name}: the oracle output is all zero (every row died); change its seed")
    targets = case.targets()
    capped = np.isfinite(targets) & (mags > 0) & (mags < targets / 2)
    if case.magnitude != "mix" and capped.any():
        raise RuntimeError(f"boundary case {name}: magnitude {case.magnitude} is above the max safe scale of "
                           f"{int(capped.sum())} rows (reached {mags[capped].min():.3g}); drop it from the set")
    x.flags.writeable = False
    return x, mags


def build(name: str) -> dict:
    """The call of boundary case ``name``: ``dict(seed, x_batch, num_layers, features)`` (a fresh array each time)."""
    case = CASE_BY_NAME[name]
    x, _ = _built(name)
    return dict(seed=case.seed, x_batch=np.array(x, copy=True), num_layers=case.layers, features=case.features)


def output_magnitudes(name: str) -> np.ndarray:
    """max|oracle output| of each row of case ``name`` (float64)."""
    return _built(name)[1].copy()


def _check(impl, name):
    """The output on one boundary case equals the float64 oracle within the suite's tolerance policy (the case is
    named ``B<rows>-F<features>-N<layers>-<magnitude>``; its arrays: ``properties.invariants.boundary.build(name)``).

    Catches: a batch processed in chunks with a lost or wrong tail, a tiled matmul that mishandles the last partial
    tile, a depth cap or unroll limit, saturation or clipping at large magnitudes (float16 paths, clipping at 65504),
    tiny values flushed or mishandled, seeds mishandled at their edges in combination with large shapes.
    """
    if name not in CASE_BY_NAME:
        raise KeyError(f"no boundary case {name!r}; known: {', '.join(CASE_BY_NAME)}")
    call = build(name)
    out = impl(call["seed"], call["x_batch"], call["num_layers"], call["features"])
    assert_matches_oracle(out, call["seed"], call["x_batch"], call["num_layers"], call["features"],
                          label=f"boundary case {name}")


#: One boundary case, by name (``check(impl, name=...)``); ``properties/test_phases.py`` runs each as its own test.
BOUNDARY = Property("boundary", CORE, _check, None)

__all__ = ["BOUNDARY", "BoundaryCase", "CASES", "CASE_BY_NAME", "EVERY_RUN", "cases", "build", "output_magnitudes",
           "MIX", "FLOOR", "ACCEPT_ONLY_BELOW"]
