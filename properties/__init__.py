"""properties: a Hypothesis conformance suite for any implementation of ``composed_transforms``.

Two ways in:

* pytest: ``pytest --pyargs properties --impl SPEC`` (or ``pytest properties`` in a checkout), or ``composed-check``;
* plain functions: :func:`check_case` runs one property on one case, :func:`properties.api.run_property` runs one
  property with Hypothesis; ``properties.PROPERTIES`` lists them.

The package is laid out by role, with imports pointing one way (runner -> invariants -> harness -> sandbox.wire):

* ``properties.invariants``: the properties themselves, one module per theme, one catalogue;
* ``properties.harness``: what the properties use on the checking side -- strategies, the tolerance policy and
  assertion helpers, Hypothesis profiles, and the handle on the implementation (``proxy``) with its process
  containment;
* ``properties.sandbox``: what runs in the candidate process, next to the implementation (loader, guard, operations,
  the request loop) and the wire both sides share; it imports nothing of the checking side;
* ``properties.runner``: how a run is driven -- the pytest plugin, the CLI, reports, xfails, reproductions, the API.

Nothing heavy is imported here: the pytest plugin imports this package for every pytest run in the environment.
"""

from __future__ import annotations

__all__ = ["check_case", "load_implementation", "PROPERTIES"]


def check_case(impl, prop: str, case: dict, *, in_process: bool = False) -> None:
    """Run property ``prop`` (a name of ``PROPERTIES``, ``"grid"``, or ``"boundary"`` / ``"transforms_boundary"`` with
    ``case={"name": ...}``, a case of the boundary set / the derivative boundary set) on one ``case`` against
    ``impl``: a SPEC string (loaded in a candidate process, unless ``in_process``), a callable (called here) or a
    candidate handle.

    Raises ``AssertionError`` (or ``ImplementationError``) exactly as the suite would.
    """
    from properties.harness.proxy import open_candidate
    from properties.runner.api import get_property

    p = get_property(prop)
    handle = open_candidate(impl, in_process=in_process)
    try:
        p.check(handle, **case)
    finally:
        if handle is not impl:
            handle.close()


def load_implementation(spec: str):
    """The callable a SPEC names, imported into this process (for reproductions and debugging)."""
    from properties.sandbox.loader import load

    return load(spec)


def __getattr__(name):
    if name == "PROPERTIES":
        from properties.invariants import PROPERTIES

        return PROPERTIES
    raise AttributeError(name)
