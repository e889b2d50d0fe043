"""The tiers of the suite, defined once: name, rank (run and report order) and what each one checks.

Read by the catalogue (``properties.invariants.base``), the pytest markers and ``--tier`` (``properties.runner``), the
report and the docs. Importing it costs nothing (no NumPy, no JAX): the CLI builds its ``--help`` from it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tier:
    name: str
    rank: int  # 0 first: the order tiers run and are reported in
    description: str


#: Every tier, in rank order. Adding a tier: one entry here (and its properties, ``@prop(NAME, ...)``).
TIER_TABLE = (
    Tier("core", 0, "what the problem itself demands (float32, valid arguments)"),
    Tier("strict", 1, "the production contract of composed (errors, dtypes, B=0, ...)"),
    Tier("transforms", 2, "jax.jit, jax.vmap and derivatives vs the oracle (JAX implementations only)"),
)
TIERS = tuple(t.name for t in TIER_TABLE)
BY_NAME = {t.name: t for t in TIER_TABLE}
CORE, STRICT, TRANSFORMS = TIERS


def rank(name: str | None) -> int:
    """The rank of tier ``name`` (an unknown or missing tier ranks last)."""
    tier = BY_NAME.get(name or "")
    return tier.rank if tier is not None else len(TIER_TABLE)
