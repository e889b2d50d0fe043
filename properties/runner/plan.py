"""The check plan: what a run checks, in which phase and in which order. The pytest items, the API, the report and the
reproductions all read it.

A run has three phases (as Schemathesis has its examples, coverage and fuzzing phases):

* ``BOUNDARY``: fixed cases at the edges of the domain, one deterministic call each (no Hypothesis);
* ``GRID``: every cell of a small scope, Hypothesis drawing the values inside each cell;
* ``RANDOM``: Hypothesis drawing the cases of each property of the catalogue over its whole domain.

A check is one test: a property of the catalogue (phase ``RANDOM``, id its name) or one case of a *case set* (id
``<set>[<case>]``). A case set runs one check function (a :class:`~properties.invariants.base.Property` without a
strategy) on each of its cases; its failures count as failures of its *family*, the catalogue property whose check it
is (so a bug is shrunk once: ``matches_oracle``, then each grid cell reports its first failing example).

Adding a case set (a plain case list and a check function, like :mod:`properties.invariants.boundary`) is one entry
in :data:`CASE_SETS`: its tests (``properties/test_phases.py``), its place in the report, its reproductions and
``properties.api.run_property(impl, NAME)`` follow.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable

from properties.harness import profiles
from properties.harness import strategies as S
from properties.harness.tiers import rank as tier_rank
from properties.invariants import BOUNDARY, GRID, PROPERTIES, TRANSFORMS_BOUNDARY, Property


class Phase(enum.Enum):
    """How a check's cases come about."""

    BOUNDARY = "boundary"  # fixed cases, one deterministic call each
    GRID = "grid"  # one cell of a small scope a test, Hypothesis draws inside it
    RANDOM = "random"  # Hypothesis draws over the property's whole domain


@dataclass(frozen=True)
class CaseSet:
    """A set of cases checked by one function, each case its own test ``test_<name>[<case id>]``."""

    name: str
    phase: Phase
    prop: Property  # check(impl, **case); its tier is the set's
    family: str  # the catalogue property whose check this is
    #: full -> [(case id, case)]: a case dict (phase BOUNDARY) or a strategy of case dicts (phase GRID). ``full``:
    #: every case (the profiles in ``full_profiles``), else the every-run subset.
    cases: Callable[[bool], list]
    full_profiles: frozenset = frozenset({"exhaustive"})
    #: "module:function": ``function(**case)`` gives the case's call arguments (seed, x_batch, num_layers, features),
    #: for reproductions that print the implementation's output; None: the reproduction only runs the check.
    build: str | None = None

    @property
    def tier(self) -> str:
        return self.prop.tier

    def case_list(self, profile: str | None = None) -> list:
        """The ``(case id, case)`` pairs the profile (default: the active one) runs."""
        return list(self.cases((profile or profiles.profile_name()) in self.full_profiles))

    def case(self, case_id: str):
        """One case by id (looked up in the whole set)."""
        found = dict(self.cases(True)).get(case_id)
        if found is None:
            raise KeyError(f"{self.name}: no case {case_id!r}")
        return found


def _boundary_cases(full: bool) -> list:
    from properties.invariants.boundary import cases

    return [(case.name, {"name": case.name}) for case in cases(full=full)]


def _transforms_boundary_cases(full: bool) -> list:
    from properties.invariants.transforms_boundary import cases

    return [(case.name, {"name": case.name}) for case in cases(full=full)]


def _grid_cells(full: bool) -> list:
    return [(f"B{b}-F{f}-N{n}", S.cell_cases(b, f, n)) for b, f, n in S.grid_cells(full=full)]


#: Every case set, by name. Registering one: an entry here.
CASE_SETS: dict[str, CaseSet] = {s.name: s for s in (
    CaseSet("boundary", Phase.BOUNDARY, BOUNDARY, "matches_oracle", _boundary_cases,
            frozenset(profiles.FULL_BOUNDARY_PROFILES), build="properties.invariants.boundary:build"),
    CaseSet("grid", Phase.GRID, GRID, "matches_oracle", _grid_cells, frozenset(profiles.FULL_GRID_PROFILES)),
    CaseSet("transforms_boundary", Phase.BOUNDARY, TRANSFORMS_BOUNDARY, "transforms_boundary",
            _transforms_boundary_cases, frozenset(profiles.FULL_BOUNDARY_PROFILES)),
)}

#: The order the suite's checks run in: cheap, discriminating ones first (a broken implementation is found in the
#: first seconds), expensive ones last. A case set's name stands for all its cases. Ids not listed run after these,
#: by tier.
ORDER = (
    "matches_oracle", "output_shape", "boundary", "zero_layers_is_identity", "nonnegative_and_finite",
    "zero_input_gives_zero", "grid", "deterministic", "input_forms", "seed_truncates_toward_zero",
    "layers_truncate_toward_zero", "features_truncate_toward_zero", "seed_semantics", "seeds_wrap_modulo_2_32",
    "positive_homogeneity", "batch_permutation_equivariance", "batch_locality", "float32_in_float32_out",
    "empty_batch", "input_not_mutated", "array_like_inputs", "rejects_invalid_arguments",
    "nonfinite_rows_stay_in_their_row", "dtypes", "rejects_every_violation",
    "jaxpr_constant_in_depth", "scan_body_is_batched_matmul", "sharded_batch",
)


@dataclass(frozen=True)
class Check:
    """One check of the plan: one test."""

    id: str  # "matches_oracle", "grid[B1-F2-N3]", "boundary[B1025-F16-N2-mag1]"
    phase: Phase
    family: str
    tier: str
    prop: Property
    case_set: CaseSet | None = None
    case: object = None  # the case (BOUNDARY), the cell's strategy (GRID), None (RANDOM)


def base(check_id: str) -> str:
    """``grid[B1-F2-N3]`` -> ``grid``; a property's id is its own base."""
    return check_id.split("[", 1)[0]


def family(check_id: str) -> str:
    """The check a test runs: ``grid[B1-F2-N3]`` -> ``matches_oracle``; a property -> its own name."""
    found = CASE_SETS.get(base(check_id))
    return found.family if found is not None else base(check_id)


def phase(check_id: str) -> Phase:
    found = CASE_SETS.get(base(check_id))
    return found.phase if found is not None else Phase.RANDOM


def tier(check_id: str) -> str | None:
    found = CASE_SETS.get(base(check_id)) or PROPERTIES.get(base(check_id))
    return found.tier if found is not None else None


def rank(check_id: str, tier_name: str | None = None) -> tuple:
    """The sort key of a check: its place in :data:`ORDER`, else after those, by tier."""
    if base(check_id) in ORDER:
        return (0, ORDER.index(base(check_id)))
    return (1, tier_rank(tier_name or tier(check_id)))


def get(name: str) -> Property:
    """The check function of a property or of a case set (``check(impl, **case)``)."""
    if name in CASE_SETS:
        return CASE_SETS[name].prop
    if name not in PROPERTIES:
        raise KeyError(f"no property {name!r}; known: {', '.join(sorted(PROPERTIES))}, {', '.join(CASE_SETS)}")
    return PROPERTIES[name]


def plan(profile: str | None = None, tiers=None) -> list[Check]:
    """Every check a run makes under ``profile`` (default: the active one), of ``tiers`` (default: all), in run
    order."""
    checks = [Check(p.name, Phase.RANDOM, p.name, p.tier, p) for p in PROPERTIES.values()]
    for s in CASE_SETS.values():
        checks += [Check(f"{s.name}[{cid}]", s.phase, s.family, s.tier, s.prop, s, case)
                   for cid, case in s.case_list(profile)]
    checks = [c for c in checks if tiers is None or c.tier in tiers]
    return sorted(checks, key=lambda c: rank(c.id, c.tier))
