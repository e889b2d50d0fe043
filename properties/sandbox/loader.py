"""Loading the implementation under test from a SPEC (in the candidate process, or in process with ``--in-process``).

SPEC is a name in ``composed.IMPLEMENTATIONS``, or ``package.module[:attr]``, or ``path/to/file.py[:attr]``;
``attr`` defaults to ``composed_transforms``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Callable

DEFAULT_ATTR = "composed_transforms"
DEFAULT_SPEC = "fast"


class SpecError(Exception):
    """The SPEC cannot be resolved to a callable."""


def bundled_names() -> tuple[str, ...]:
    """The names of the implementations bundled in :mod:`composed` (without importing it: they are fixed)."""
    return ("reference", "fast", "vmap_in_scan", "pure_jax", "numpy_loop")


def is_bundled_spec(spec: str) -> bool:
    """True for a SPEC naming a bundled implementation (those are held to the exact exception classes)."""
    return (spec or "").strip() in bundled_names()


def missing_file(spec: str) -> str | None:
    """The :class:`SpecError` message for a SPEC naming a file that does not exist, else None (no import: the CLI
    answers this usage error at once, before starting anything)."""
    spec = (spec or "").strip()
    if not spec or is_bundled_spec(spec):
        return None
    target = spec.rpartition(":")[0] if _has_attr_part(spec) else spec
    if (target.endswith(".py") or os.sep in target or "/" in target) and not Path(target).expanduser().is_file():
        return f"implementation SPEC {spec!r}: no such file {str(Path(target).expanduser())!r}"
    return None


def load(spec: str) -> Callable:
    """Resolve SPEC to the callable it names, or raise :class:`SpecError` saying why not."""
    spec = (spec or "").strip()
    if not spec:
        raise SpecError("empty implementation SPEC")
    if is_bundled_spec(spec):
        import composed

        return composed.IMPLEMENTATIONS[spec]
    target, _, attr = spec.rpartition(":") if _has_attr_part(spec) else (spec, "", "")
    attr = attr or DEFAULT_ATTR
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = Path(target).expanduser()
        if not path.is_file():
            raise SpecError(f"implementation SPEC {spec!r}: no such file {str(path)!r}")
        name = "_composed_candidate_" + "".join(c if c.isalnum() else "_" for c in str(path.resolve()))
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise SpecError(f"implementation SPEC {spec!r}: cannot import {str(path)!r}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        sys.path.insert(0, str(path.resolve().parent))  # so the file can import its siblings
        try:
            module_spec.loader.exec_module(module)
        except BaseException as exc:  # noqa: BLE001 - a broken file is a usage error, whatever it raises
            sys.modules.pop(name, None)
            raise SpecError(f"implementation SPEC {spec!r}: importing {str(path)!r} failed: {_name(exc)}") from exc
    else:
        try:
            module = importlib.import_module(target)
        except BaseException as exc:  # noqa: BLE001
            raise SpecError(f"implementation SPEC {spec!r}: cannot import module {target!r}: {_name(exc)} "
                            f"(bundled names: {', '.join(sorted(bundled_names()))})") from exc
    try:
        func = getattr(module, attr)
    except AttributeError:
        raise SpecError(f"implementation SPEC {spec!r}: module {target!r} has no attribute {attr!r}") from None
    if not callable(func):
        raise SpecError(f"implementation SPEC {spec!r}: {attr!r} is not callable (got {type(func).__name__})")
    return func


def _has_attr_part(spec: str) -> bool:
    head, sep, tail = spec.rpartition(":")
    # "C:\\dir\\file.py" has a drive colon, not an attribute part.
    return bool(sep) and tail.isidentifier()


def _name(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
