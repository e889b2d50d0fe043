"""properties: a Hypothesis conformance suite for any implementation of ``composed_transforms``.

Two ways in:

* pytest: ``pytest --pyargs properties --impl SPEC`` (or ``pytest properties`` in a checkout);
* plain functions: :func:`check_case` runs one property on one case; ``properties.registry.PROPERTIES`` lists them.

Nothing heavy is imported here: the pytest plugin imports this package for every pytest run in the environment.
"""

from __future__ import annotations

__all__ = ["check_case", "PROPERTIES"]


def check_case(impl, prop: str, case: dict) -> None:
    """Run property ``prop`` on one ``case`` against ``impl`` (a SPEC string, a callable or a Candidate).

    Raises ``AssertionError`` (or ``ImplementationError``) exactly as the suite would.
    """
    from properties.candidate import Candidate
    from properties.registry import load_all

    props = load_all()
    if prop == "grid":
        from properties.pytest_support import GRID_PROPERTY as p
    else:
        p = props[prop]
    if isinstance(impl, str):
        impl = Candidate.from_spec(impl)
    elif not isinstance(impl, Candidate):
        impl = Candidate(impl)
    p.check(impl, **case)


def __getattr__(name):
    if name == "PROPERTIES":
        from properties.registry import load_all

        return load_all()
    raise AttributeError(name)
