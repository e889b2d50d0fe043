"""Seconds JAX spent tracing, lowering and compiling in this process, from ``jax.monitoring`` duration events.

The guard reads it around each call (``compile_s`` in the reply), so the checking side can tell an implementation's
run time from the programs it compiled: the example budget (``properties.harness.budget``) counts run time only.
Nothing is measured until JAX is imported (an implementation without JAX compiles nothing).
"""

from __future__ import annotations

import sys

#: The duration events that are compile work (jax 0.4 - 0.10).
EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
          "/jax/core/compile/backend_compile_duration")
_state = {"seconds": 0.0, "installed": False}


def _listen(event: str, duration: float, **_kwargs) -> None:
    if event in EVENTS:
        _state["seconds"] += duration


def seconds() -> float:
    """The compile seconds of this process so far (0 before JAX is imported)."""
    if not _state["installed"] and "jax" in sys.modules:
        try:
            from jax import monitoring

            monitoring.register_event_duration_secs_listener(_listen)
        except Exception:  # noqa: BLE001 - a JAX without monitoring: nothing is excluded from the budget
            pass
        _state["installed"] = True
    return _state["seconds"]
