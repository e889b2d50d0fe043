"""Exit codes of ``composed-check`` (and of ``pytest`` runs with the plugin, where pytest lets a plugin choose).

0-5 mean what they mean for pytest (``pytest.ExitCode``); 6 and 7 are the suite's own. One table, read by the CLI,
the plugin, the docs and their tests.
"""

from __future__ import annotations

import enum


class Exit(enum.IntEnum):
    """What a run's exit status says."""

    #: Every selected property passed (xfails allowed).
    OK = 0
    #: A property failed (the implementation does not conform).
    FAILED = 1
    #: The run was interrupted (Ctrl-C); what finished is still reported.
    INTERRUPTED = 2
    #: The suite itself failed: no report was produced (pytest's output is shown).
    INTERNAL = 3
    #: Usage error: a bad option, a SPEC that cannot be loaded.
    USAGE = 4
    #: No property was selected (e.g. ``-k`` matched nothing).
    NO_PROPERTIES = 5
    #: ``--require-isolation`` was given and a protection of the candidate process is not available here.
    ISOLATION_MISSING = 6
    #: The suite's own files changed during the run: the verdict is void.
    SUITE_TAMPERED = 7


MEANING = {
    Exit.OK: "every selected property passed (xfails allowed)",
    Exit.FAILED: "a property failed: the implementation does not conform",
    Exit.INTERRUPTED: "interrupted (Ctrl-C); what finished is still reported",
    Exit.INTERNAL: "internal error: the suite produced no report",
    Exit.USAGE: "usage error (bad option, SPEC that cannot be loaded)",
    Exit.NO_PROPERTIES: "no property selected",
    Exit.ISOLATION_MISSING: "--require-isolation: a protection of the candidate process is not available",
    Exit.SUITE_TAMPERED: "the suite's own files changed during the run: verdict void",
}


def describe() -> str:
    """One line per code, for ``--help`` and the docs."""
    return "; ".join(f"{int(code)} {MEANING[code]}" for code in Exit)
