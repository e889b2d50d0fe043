"""Copy-pasteable reproductions of a failing case: exact arrays, dtypes and arguments."""

from __future__ import annotations

import math

import numpy as np


def _float(v: float) -> str:
    if math.isnan(v):
        return "float('nan')"
    if math.isinf(v):
        return "float('inf')" if v > 0 else "-float('inf')"
    return repr(float(v))


def _nested(a: np.ndarray) -> str:
    if a.ndim == 0:
        v = a.item()
        return repr(v) if isinstance(v, (bool, int)) else _float(v)
    return "[" + ", ".join(_nested(sub) for sub in a) + "]"


def source(value) -> str:
    """Python source that rebuilds ``value`` exactly (NumPy arrays with their dtype, floats round-tripping)."""
    if isinstance(value, np.ndarray) or (hasattr(value, "shape") and hasattr(value, "dtype")):
        a = np.asarray(value)
        dtype = a.dtype.name
        if dtype == "bfloat16":
            return f"np.array({_nested(a.astype(np.float64))}, dtype=np.float64).reshape({a.shape}).astype(ml_dtypes.bfloat16)"
        if a.dtype.kind in "fc":
            return f"np.array({_nested(a.astype(np.float64))}, dtype=np.float64).reshape({a.shape}).astype(np.{dtype})"
        return f"np.array({_nested(a)}, dtype=np.{dtype}).reshape({a.shape})"
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {source(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(source(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


def counterexample(case: dict) -> dict:
    """A JSON-friendly description of the case (arrays as nested lists with dtype and shape)."""
    out = {}
    for k, v in case.items():
        if hasattr(v, "shape") and hasattr(v, "dtype"):
            a = np.asarray(v)
            out[k] = {"dtype": a.dtype.name, "shape": list(a.shape), "values": a.astype(np.float64).tolist()
                      if a.dtype.kind in "fV" else a.tolist()}
        elif isinstance(v, dict):
            out[k] = counterexample(v)
        elif isinstance(v, float) and not math.isfinite(v):
            out[k] = repr(v)
        else:
            out[k] = v if isinstance(v, (int, float, str, bool, type(None), list)) else repr(v)
    return out


def _builder(name: str) -> str | None:
    """How a case of the case set ``name`` builds its call (``CaseSet.build``), if it is one that does."""
    from properties.runner.plan import CASE_SETS

    found = CASE_SETS.get(name)
    return found.build if found is not None else None


def repro(spec: str, prop: str, case: dict) -> str:
    """A snippet that loads the implementation, makes the call(s) of the minimal failing case and raises the
    property's assertion, showing the discrepancy."""
    lines = [
        "import numpy as np",
        "import ml_dtypes  # noqa: F401 (bfloat16)",
        "from properties import check_case",
        "",
        f"case = {source(case)}",
        f"check_case({spec!r}, {prop!r}, case)  # raises AssertionError describing the discrepancy",
    ]
    keys = {"seed", "x_batch", "num_layers", "features"}
    builder = _builder(prop)
    if builder is not None and not keys <= set(case):  # a named case of a fixed set: its arrays are built
        module, function = builder.split(":")
        lines[3:3] = [
            "from properties import load_implementation",
            f"from {module} import {function}",
            f"impl = load_implementation({spec!r})",
        ]
        lines.insert(-1, f"call = {function}(**case)  # dict(seed, x_batch, num_layers, features)")
        lines.insert(-1, "print(np.asarray(impl(call['seed'], call['x_batch'], call['num_layers'], call['features'])))")
    elif keys <= set(case):
        lines[3:3] = [
            "from properties import load_implementation",
            f"impl = load_implementation({spec!r})",
        ]
        lines.append(
            "print(np.asarray(impl(case['seed'], case['x_batch'], case['num_layers'], case['features'])))"
        )
        # the print comes after check_case; move it before so the output is seen even though check_case raises
        lines.insert(-1, lines.pop())  # after `case = ...`, before check_case
    return "\n".join(lines) + "\n"
