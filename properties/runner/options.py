"""Every option of ``composed-check`` and of the pytest plugin, defined once.

:data:`OPTIONS` is the one table: each :class:`Option` has one name, one default, its help, type and metavar, and the
environment variable it falls back to, if any. The CLI's argparse parser (:func:`add_to_argparse`) and the plugin's
pytest options (:func:`add_to_pytest`) are both built from it, and ``docs/cli.md`` lists it (a test checks).

``where`` says who takes the option: ``BOTH`` (the CLI passes it on to pytest under the same name), ``CLI`` (the
CLI's own, or a pytest habit it translates: ``to_pytest``), ``PLUGIN`` (pytest only). Adding an option is one entry
here; the plugin reads it with ``config.getoption(DEST)``, the CLI passes it on by itself when ``where`` is ``BOTH``.

Importing this module costs nothing (no NumPy, no JAX): ``composed-check --help`` is built from it.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Callable

from properties.harness.tiers import TIER_TABLE, TIERS

BOTH, CLI, PLUGIN = "both", "cli", "plugin"
PROFILES = ("quick", "default", "ci", "exhaustive")
#: The per-call timeout (seconds) when ``--call-timeout`` is not given.
DEFAULT_CALL_TIMEOUT = 30.0
#: pytest-timeout's per-property backstop (seconds) when ``--test-timeout`` is not given.
DEFAULT_TEST_TIMEOUT = 900.0
DEFAULT_SHRINK_BUDGET = 5.0  # the same as properties.harness.profiles.DEFAULT_SHRINK_BUDGET (a test checks)
DEFAULT_HOST_DEVICES = 4
ENV_IMPL = "COMPOSED_IMPL"
ENV_CACHE = "COMPOSED_JAX_CACHE"
ENV_HOST_DEVICES = "COMPOSED_HOST_DEVICES"


@dataclass(frozen=True)
class Option:
    """One option: ``name`` is its long flag (``--report``), the same in the CLI and under pytest."""

    name: str
    help: str
    default: object = None
    type: Callable | None = None  # float, int, str; None: a flag (store_true) unless ``choices`` or ``metavar``
    metavar: str | None = None
    choices: tuple | None = None
    env: str | None = None  # read when the option is not given (the plugin reads it; the CLI's child inherits it)
    short: str | None = None  # a one-letter alias ("-n"), CLI only
    where: str = BOTH
    #: CLI options only: the pytest arguments for the value (None: the CLI itself handles it).
    to_pytest: Callable | None = None
    #: Old names still accepted (not shown in the help): (names in the CLI, names under pytest).
    old: tuple = ((), ())
    #: A section of docs/cli.md.
    section: str = "run"

    @property
    def dest(self) -> str:
        return self.name.lstrip("-").replace("-", "_")

    @property
    def flag(self) -> bool:
        return self.type is None and self.choices is None and self.metavar is None

    def describe(self) -> str:
        """The help text with the default and the environment variable, as shown by ``--help`` and the docs."""
        text = self.help
        if self.env:
            text += f" (env ${self.env})"
        return text


def _isolation_help() -> str:
    from properties.runner.isolation import HELP

    return HELP


def _tier_help() -> str:
    return "; ".join(f"{t.name}: {t.description}" for t in TIER_TABLE) + "; all (default)"


OPTIONS: tuple[Option, ...] = (
    # -- what to check -------------------------------------------------------------------------------------------------
    Option("--impl", "implementation under test: a bundled name (fast, reference, ...), package.module[:attr] or "
           "path/to/file.py[:attr] (attr defaults to composed_transforms). Default: fast", metavar="SPEC", env=ENV_IMPL, where=PLUGIN, section="select"),
    Option("--tier", "run the properties of one tier: " + _tier_help(), default="all", choices=(*TIERS, "all"),
           section="select"),
    Option("-k", "only the properties whose id matches EXPR ('matches_oracle or grid', 'not boundary'). Under "
           "pytest: -k EXPR",
           metavar="EXPR", where=CLI, to_pytest=lambda v: ["-k", v] if v else [], section="select"),
    Option("--last-failed", "run only the properties that failed in the last run of this SPEC (all of them when none "
           "failed); the record is kept in the state directory (--state-dir), not in the working directory. Under "
           "pytest: --lf (pytest's cache)", where=CLI, short="--lf", to_pytest=lambda v: ["--lf"] if v else [],
           section="select"),
    Option("--xfails-file", "properties expected to fail: one property id or id prefix per line, '#' comments; they "
           "become xfail (non-strict), a line matching none gives a warning", metavar="PATH", section="select"),
    # -- how much ------------------------------------------------------------------------------------------------------
    Option("--profile", "Hypothesis profile: quick (4 examples a property), default (25), ci (25, derandomized), "
           "exhaustive (150, the whole grid and boundary set). Default: Hypothesis's ('ci' when $CI is set). Under "
           "pytest: --hypothesis-profile NAME", choices=PROFILES, where=CLI,
           to_pytest=lambda v: ["--hypothesis-profile", v] if v else [], section="examples"),
    Option("--seed", "Hypothesis's seed for this run (printed in the header, recorded in the report; the same seed "
           "replays the same examples). Default: a new one each run, unless the profile is derandomized ('ci')",
           type=int, metavar="N", section="examples"),
    Option("--max-examples", "examples a property (a grid cell: examples a cell), instead of the profile's count",
           type=int, metavar="N", section="examples"),
    Option("--shrink-budget", f"seconds spent shrinking one property's failure to a minimal counterexample (default "
           f"{DEFAULT_SHRINK_BUDGET:g}; the report says when it was cut short)", type=float, metavar="SECONDS",
           old=((), ("--conformance-shrink-budget",)), section="examples"),
    Option("--no-shrink", "report the first failing example instead of shrinking it to a minimal one (faster)",
           old=((), ("--conformance-no-shrink",)), section="examples"),
    # -- reports -------------------------------------------------------------------------------------------------------
    Option("--report", "write the JSON report to PATH", metavar="PATH", old=((), ("--conformance-report",)),
           section="report"),
    Option("--markdown", "write the Markdown table to PATH (for CI summaries)", metavar="PATH",
           old=((), ("--conformance-markdown",)), section="report"),
    Option("--junitxml", "write a JUnit XML report to PATH. Under pytest: --junitxml PATH", metavar="PATH", where=CLI,
           to_pytest=lambda v: ["--junitxml", os.path.abspath(v)] if v else [], section="report"),
    Option("--log", "save pytest's complete output to PATH", metavar="PATH", where=CLI, section="report"),
    Option("--quiet", "no progress lines, only the table", short="-q", where=CLI, section="report"),
    Option("--verbose", "also show pytest's own output", short="-v", where=CLI, section="report"),
    Option("--conformance-progress", "print one machine-readable '@@composed@@ {json}' line per started and finished "
           "property (what the CLI reads)", where=PLUGIN, section="report"),
    # -- stopping early ------------------------------------------------------------------------------------------------
    Option("--exitfirst", "stop at the first failing property (the others are reported as not run). Under pytest: "
           "-x", short="-x",
           where=CLI, to_pytest=lambda v: ["--maxfail", "1"] if v else [], section="run"),
    Option("--max-failures", "stop after N failing properties (the others are reported as not run). Under pytest: "
           "--maxfail N", type=int, metavar="N", where=CLI, to_pytest=lambda v: ["--maxfail", str(v)] if v else [],
           section="run"),
    # -- the candidate process -----------------------------------------------------------------------------------------
    Option("--workers", "pytest processes checking in parallel, each with its own candidate process (1: no "
           "pytest-xdist; default min(4, CPUs)). Under pytest: -n N (pytest-xdist)", type=int, metavar="N", short="-n",
           where=CLI, section="run"),
    Option("--call-timeout", "fail a single call of the implementation that takes longer; its candidate process is "
           f"killed and restarted (default {DEFAULT_CALL_TIMEOUT:g})", default=DEFAULT_CALL_TIMEOUT, type=float,
           metavar="SECONDS", old=(("--timeout",), ("--impl-timeout",)), section="run"),
    Option("--test-timeout", f"backstop per property (pytest-timeout, thread method; default "
           f"{DEFAULT_TEST_TIMEOUT:g}, 0: off). Under pytest: -p timeout --timeout", default=DEFAULT_TEST_TIMEOUT,
           type=float, metavar="SECONDS", where=CLI,
           to_pytest=lambda v: ["-p", "timeout", "--timeout", f"{v:g}", "--timeout-method", "thread"] if v and v > 0
           else [], section="run"),
    Option("--max-memory", "memory budget (RLIMIT_DATA) of each candidate process, e.g. 4G, 512M, 'off' (default "
           "auto: RAM / (2 * (workers + 1)), at least 2 GiB, none on a machine with an accelerator)", default="auto",
           metavar="SIZE", old=((), ("--impl-max-memory",)), section="run"),
    Option("--in-process", "call the implementation inside the pytest process instead of a candidate process (for "
           "debugging with pdb; NOT tamper-proof)", section="run"),
    Option("--matmul-precision", "jax_default_matmul_precision while the suite runs (default 'highest': float32 on "
           "GPU/TPU is true float32; 'keep' leaves JAX's setting alone)", default="highest", metavar="PRECISION",
           section="run"),
    Option("--jax-cache-dir", "persistent JAX compilation cache ('off' disables). Default: "
           "$XDG_CACHE_HOME/composed/jax (~/.cache/composed/jax)", metavar="PATH", env=ENV_CACHE, section="run"),
    Option("--host-devices", "split the candidate process's host CPU into N XLA devices for the sharding property "
           f"(0 opts out; default {DEFAULT_HOST_DEVICES}; never when XLA_FLAGS already sets a count)", metavar="N",
           env=ENV_HOST_DEVICES, section="run"),
    Option("--state-dir", "where a run keeps what it learns for the next one: Hypothesis's example database (failing "
           "examples are tried first) and the --last-failed record. Default: composed-check: "
           "$XDG_CACHE_HOME/composed/state/<SPEC>; pytest: Hypothesis's own (.hypothesis)", metavar="PATH",
           section="run"),
    # -- isolation (issue 14) -------------------------------------------------------------------------------------------
    Option("--require-isolation", _isolation_help(), section="run"),
    # -- speed options (branch i17) go here -----------------------------------------------------------------------------
)

BY_DEST = {o.dest: o for o in OPTIONS}
SECTIONS = {"select": "What to check", "examples": "How many examples", "report": "Reports and output",
            "run": "How it runs"}


def default_workers() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    return max(1, min(4, n))


def _kwargs(opt: Option) -> dict:
    if opt.flag:
        return {"action": "store_true", "default": bool(opt.default), "help": opt.describe()}
    kw = {"default": opt.default, "help": opt.describe(), "metavar": opt.metavar}
    if opt.type is not None:
        kw["type"] = opt.type
    if opt.choices is not None:
        kw["choices"] = opt.choices
    return kw


def add_to_argparse(parser: argparse.ArgumentParser) -> None:
    """The CLI's options (``where`` CLI or BOTH), with their old names hidden."""
    for opt in OPTIONS:
        if opt.where == PLUGIN:
            continue
        names = ([opt.short] if opt.short else []) + [opt.name]
        parser.add_argument(*names, dest=opt.dest, **_kwargs(opt))
        for old in opt.old[0]:
            parser.add_argument(old, dest=opt.dest, help=argparse.SUPPRESS,
                                **{k: v for k, v in _kwargs(opt).items() if k not in ("help", "default")})


def add_to_pytest(group) -> None:
    """The plugin's options (``where`` PLUGIN or BOTH) in pytest's option group ``group``; old names as aliases."""
    for opt in OPTIONS:
        if opt.where == CLI:
            continue
        group.addoption(opt.name, *opt.old[1], dest=opt.dest, **_kwargs(opt))


def pytest_args(args: argparse.Namespace) -> list[str]:
    """The pytest arguments for the CLI's parsed ``args``: its BOTH options under their own names (when not at their
    default), its CLI options through ``to_pytest``."""
    out: list[str] = []
    for opt in OPTIONS:
        if opt.where == PLUGIN or not hasattr(args, opt.dest):
            continue
        value = getattr(args, opt.dest)
        if opt.where == CLI:
            if opt.to_pytest is not None:
                out += opt.to_pytest(value)
        elif opt.flag:
            out += [opt.name] if value else []
        elif value is not None and value != opt.default:
            out += [opt.name, f"{value:g}" if isinstance(value, float) else str(value)]
    return out


def env_default(config, dest: str):
    """An option's value under pytest: given, else its environment variable, else None (the caller's default)."""
    value = config.getoption(dest)
    if value is None and BY_DEST[dest].env:
        value = os.environ.get(BY_DEST[dest].env) or None
    return value


# -- docs/cli.md ------------------------------------------------------------------------------------------------------

DOCS_START, DOCS_END = "<!-- generated by: python -m properties.runner.options --write docs/cli.md -->", \
    "<!-- end of generated part -->"


def markdown() -> str:
    """The options (by section) and the exit codes as Markdown tables: the generated part of ``docs/cli.md``."""
    from properties.runner.exitcodes import MEANING

    lines = [DOCS_START, ""]
    for section, title in SECTIONS.items():
        lines += [f"### {title}", "", "| option | under pytest | what it does |", "|---|---|---|"]
        for opt in (o for o in OPTIONS if o.section == section):
            value = f" {opt.metavar}" if opt.metavar else f" {{{','.join(opt.choices)}}}" if opt.choices else ""
            cli = "`SPEC` (argument)" if opt.where == PLUGIN and opt.dest == "impl" else (
                "" if opt.where == PLUGIN else ", ".join(f"`{n}{value}`" for n in ([opt.short] if opt.short else [])
                                                         + [opt.name]))
            under = {BOTH: f"`{opt.name}{value}`", PLUGIN: f"`{opt.name}{value}`", CLI: "(CLI only)"}[opt.where]
            if opt.where == CLI and "Under pytest: " in opt.help:
                first, _, note = opt.help.split("Under pytest: ", 1)[1].partition(" (")
                under = f"`{first}`" + (f" ({note}" if note else "")
            text = opt.describe().split(". Under pytest: ")[0].replace("|", "\\|")
            old = ", ".join(f"`{n}`" for n in (*opt.old[0], *opt.old[1]))
            lines.append(f"| {cli or '(pytest only)'} | {under} | {text}{f' (old name: {old})' if old else ''} |")
        lines.append("")
    lines += ["### Exit status", "", "| code | meaning |", "|---|---|"]
    lines += [f"| {int(code)} | {meaning} |" for code, meaning in MEANING.items()]
    return "\n".join(lines + ["", DOCS_END])


def write_docs(path: str) -> None:
    """Replace the generated part of ``path`` (between :data:`DOCS_START` and :data:`DOCS_END`)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    head, _, rest = text.partition(DOCS_START)
    _, _, tail = rest.partition(DOCS_END)
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + markdown() + tail)


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--write"]:
        write_docs(sys.argv[2])
    else:
        print(markdown())
