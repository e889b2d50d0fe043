"""``composed-check`` and the pytest plugin's reports, from outside: exit codes, the report's schema and completeness,
the xfails file, the repro snippet, the same verdicts through ``pytest --pyargs properties``, and the pytest habits
(``-k``, ``--junitxml``, ``--seed``, ``--max-examples``, ``--lf``, a live line on a terminal, ``NO_COLOR``, nothing
written to the working directory).

The subprocess runs start at once (``cli_support.run_all``); the unit tests at the end cover the report, xfails and
process helpers in process.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import pytest

from cli_support import CANDIDATES, CLI, HOSTILE, ROOT, Run, check_report_schema, env, execute, run_all

from properties.harness import processes
from properties.runner import options, xfails
from properties.runner.exitcodes import MEANING, Exit
from properties.runner.report import build, markdown, property_id, provenance, text_table

MUTANT = str(CANDIDATES / "no_final_relu.py")
MUTANT_K = "nonnegative_and_finite or output_shape"
FOUR = "output_shape or nonnegative_and_finite or zero_input_gives_zero or zero_layers_is_identity"
QUICK = ["--tier", "core", "--profile", "quick", "-n", "1"]
#: The mutant runs use Hypothesis's derandomized ``ci`` profile: the same examples, the same minimal counterexample.
CI = ["--tier", "core", "--profile", "ci", "-n", "1"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    outside = tmp_path_factory.mktemp("outside")  # a working directory with no pytest config, no conftest
    xf = tmp / "xfails.txt"
    xf.write_text("# known failures of no_final_relu\nnonneg   # prefix of nonnegative_and_finite\n\n"
                  "output_shape  # passes: reported as passed, XPASS\nno_such_property\n", encoding="utf-8")
    r = {name: str(tmp / f"{name}.json") for name in ("default", "mutant", "xfails", "pytest", "exitfirst", "hangs",
                                                      "family", "habits", "lf")}
    empty = tmp_path_factory.mktemp("empty")  # the working directory of "habits": nothing may appear there unasked
    state = str(tmp / "state")
    todo = {
        # no SPEC: the bundled default
        "default": Run(CLI + QUICK + ["--report", r["default"], "--markdown", str(tmp / "default.md"),
                                      "-k", "output_shape or matches_oracle or (test_grid and B2)"], str(ROOT), r["default"]),
        # shrinking to the end in both "mutant" and "pytest" (its budget is wall-clock): their counterexamples must agree
        "mutant": Run(CLI + [MUTANT, *CI, "--shrink-budget", "120", "--report", r["mutant"], "-k", MUTANT_K],
                      str(ROOT), r["mutant"]),
        # pytest's own options after '--' still reach it
        "xfails": Run(CLI + [MUTANT, *CI, "--no-shrink", "--xfails-file", str(xf), "--report", r["xfails"], "--",
                             "-k", MUTANT_K], str(ROOT), r["xfails"]),
        # the plugin without the CLI, from a directory outside the checkout, in process (no xdist)
        # (--conformance-markdown: an old name, still accepted)
        "pytest": Run([sys.executable, "-m", "pytest", "--pyargs", "properties", "-p", "no:cacheprovider",
                       "--impl", MUTANT, "--tier", "core", "-k", MUTANT_K, "--hypothesis-profile", "ci",
                       "--shrink-budget", "120",
                       "--report", r["pytest"], "--conformance-markdown", str(tmp / "pytest.md"),
                       "--xfails-file", str(tmp / "unmatched.txt")], str(outside), r["pytest"]),
        "nothing_selected": Run(CLI + ["--tier", "core", "--profile", "quick", "-n", "1", "-k",
                                       "no_property_has_this_name"], str(ROOT)),
        # an option pytest does not know, after '--': its whole complaint, not just its usage line
        "bad_passthrough": Run(CLI + ["--", "--no-such-pytest-option"], str(ROOT)),
        "bad_module": Run(CLI + ["no_such_module_xyz:composed_transforms"], str(ROOT)),
        "bad_file": Run(CLI + ["tests/candidates/does_not_exist.py"], str(ROOT)),
        # fail fast: stop at the first failing property, the rest reported as not run
        "exitfirst": Run(CLI + [MUTANT, *CI, "-x", "--report", r["exitfirst"], "-k", FOUR], str(ROOT),
                         r["exitfirst"]),
        # an implementation that hangs in every call: the full timeout a few times, then the rest not run
        "hangs": Run(CLI + [str(HOSTILE / "hang.py"), *CI, "--call-timeout", "2", "--report", r["hangs"], "-k",
                            FOUR + " or deterministic"], str(ROOT), r["hangs"]),
        # one bug, shrunk once: the grid cells after matches_oracle report their first failing example
        "family": Run(CLI + [MUTANT, *CI, "--report", r["family"], "-k", "matches_oracle or grid"], str(ROOT),
                      r["family"]),
        # the habits, in an empty working directory, on a terminal (NO_COLOR): the live line, the seed, the example
        # count, JUnit XML; then --lf (below) runs what failed here
        "habits": Run(CLI + [MUTANT, "--tier", "core", "--profile", "quick", "-n", "1", "--no-shrink", "-k", MUTANT_K,
                             "--seed", "1234", "--max-examples", "7", "--junitxml", "junit.xml", "--report",
                             r["habits"], "--state-dir", state], str(empty), r["habits"], tty=True,
                      extra_env={"NO_COLOR": "1", "TERM": "xterm"}),
    }
    (tmp / "unmatched.txt").write_text("# nothing listed matches\nno_such_property  # typo\n", encoding="utf-8")
    done = run_all(todo)
    done["lf"] = execute(Run(CLI + [MUTANT, "--tier", "core", "--profile", "quick", "-n", "1", "--no-shrink", "-k",
                                    MUTANT_K, "--lf", "--report", r["lf"], "--state-dir", state], str(empty), r["lf"]))
    done["tmp"], done["empty"] = tmp, empty
    return done


# -- the bundled default passes ---------------------------------------------------------------------------------------


def test_default_spec_passes(runs):
    run = runs["default"]
    assert run.returncode == 0, run.explain()
    check_report_schema(run.report, "fast")
    ids = set(run.by_id())
    assert {"output_shape", "matches_oracle"} <= ids and any(i.startswith("grid[B2-") for i in ids), ids
    assert all(p["outcome"] == "passed" for p in run.report["properties"])
    assert run.report["tiers"] == ["core"]
    assert run.report["summary"]["examples"] >= len(ids)
    # a progress line per property, the verdict line, the run's profile and seed (the table only with -v)
    assert len(re.findall(r"^\[\s*\d+/\d+\] PASSED ", run.stdout, re.M)) == len(ids), run.stdout
    assert not re.search(r"^property\s+tier\s+verdict\s+examples\s+time$", run.stdout, re.M), run.stdout
    assert "PASSED: %d passed, 0 failed" % len(ids) in run.stdout
    assert re.search(r"^run: profile quick, seed ", run.stdout, re.M), run.stdout
    assert run.report["findings"] == [] and run.report["provenance"]["profile"] == "quick"
    md = (runs["tmp"] / "default.md").read_text()
    assert "| property | tier | verdict | examples | time |" in md
    assert md.count("| `") == len(ids)


# -- a wrong implementation: exit 1, minimal counterexample, a repro that reproduces -------------------------------


def test_mutant_fails_with_counterexample(runs):
    run = runs["mutant"]
    assert run.returncode == 1, run.explain()
    check_report_schema(run.report, MUTANT)
    props = run.by_id()
    assert props["output_shape"]["outcome"] == "passed"
    bad = props["nonnegative_and_finite"]
    assert bad["outcome"] == "failed" and "negative output entries" in bad["message"], bad
    cx = bad["counterexample"]
    assert set(cx) == {"seed", "x_batch", "num_layers", "features"}, cx
    assert cx["x_batch"]["dtype"] == "float32"
    # minimal: Hypothesis shrank it to one row of one feature through one layer
    assert cx["x_batch"]["shape"] == [1, 1] and int(cx["num_layers"]) == 1, cx
    assert "FAILED  nonnegative_and_finite" in run.stdout and run.stdout.count("reproduce with:") == 1
    # one bug, one finding: named by the property that says what is wrong
    assert [f["id"] for f in run.report["findings"]] == ["nonnegative_and_finite"], run.report["findings"]
    assert "finding 1/1: nonnegative_and_finite" in run.stdout and "FAILED: 1 finding;" in run.stdout


def test_repro_snippet_reproduces(runs, tmp_path):
    repro = runs["mutant"].by_id()["nonnegative_and_finite"]["repro"]
    proc = subprocess.run([sys.executable, "-c", repro], cwd=tmp_path, capture_output=True, text=True, env=env(),
                          timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "AssertionError" in proc.stderr and "negative output entries" in proc.stderr, proc.stderr
    printed = [float(v) for v in re.findall(r"-?\d+\.\d*(?:e[-+]\d+)?", proc.stdout)]
    assert printed and min(printed) < 0, proc.stdout  # the snippet prints the offending output first


# -- time to a verdict -------------------------------------------------------------------------------------------------


def test_properties_run_cheapest_and_most_discriminating_first(runs):
    ids = [p["id"] for p in runs["default"].report["properties"]]
    assert ids[:2] == ["matches_oracle", "output_shape"] and all(i.startswith("grid[") for i in ids[2:]), ids


def test_exitfirst_stops_at_the_first_failure_and_reports_the_rest_as_not_run(runs):
    run = runs["exitfirst"]
    assert run.returncode == 1, run.explain()
    check_report_schema(run.report, MUTANT)
    props = run.by_id()
    assert len(props) == 4, props
    failed = [p for p in props.values() if p["outcome"] == "failed"]
    assert [p["id"] for p in failed] == ["nonnegative_and_finite"], props
    not_run = [p for p in props.values() if p["message"].startswith("not run: the run stopped early")]
    assert not_run and all(p["outcome"] == "skipped" for p in not_run), props
    assert all(p["outcome"] == "passed" for p in props.values() if p not in failed and p not in not_run), props


def test_an_implementation_that_hangs_everywhere_costs_the_timeout_a_few_times(runs):
    from properties.harness.proxy import HANG_LIMIT

    run = runs["hangs"]
    assert run.returncode == 1, run.explain()
    check_report_schema(run.report, str(HOSTILE / "hang.py"))
    props = run.by_id()
    timed_out = [p for p in props.values() if "call timed out after 2 s" in p["message"]]
    not_run = [p for p in props.values() if p["message"].startswith("not run: the implementation hangs")]
    assert len(timed_out) == HANG_LIMIT and all(p["outcome"] == "failed" for p in timed_out), props
    assert len(not_run) == len(props) - HANG_LIMIT and all(p["outcome"] == "skipped" for p in not_run), props
    assert run.seconds < 60, run.explain()


def test_a_bug_is_shrunk_once(runs):
    run = runs["family"]
    assert run.returncode == 1, run.explain()
    props = run.by_id()
    assert props["matches_oracle"]["outcome"] == "failed" and "not shrunk" not in props["matches_oracle"]["message"]
    cells = [p for pid, p in props.items() if pid.startswith("grid[") and p["outcome"] == "failed"]
    assert cells and all("not shrunk: the same check (matches_oracle) already failed" in p["message"] for p in cells)


# -- the xfails file ---------------------------------------------------------------------------------------------------


def test_xfails_file(runs):
    run = runs["xfails"]
    assert run.returncode == 0, run.explain()
    check_report_schema(run.report, MUTANT)
    props = run.by_id()
    assert props["nonnegative_and_finite"]["outcome"] == "xfailed"
    assert "negative output entries" in props["nonnegative_and_finite"]["message"]
    assert props["nonnegative_and_finite"]["repro"], "an xfailed property keeps its repro"
    assert props["output_shape"]["outcome"] == "passed"
    assert props["output_shape"]["message"].startswith("XPASS"), props["output_shape"]
    assert "warning" in run.stderr and "'no_such_property' matches no property" in run.stderr, run.stderr
    assert "nonneg'" not in run.stderr and "output_shape' matches" not in run.stderr


# -- the same through pytest --pyargs ----------------------------------------------------------------------------------


def test_pytest_plugin_gives_the_same_verdicts(runs):
    run, cli = runs["pytest"], runs["mutant"]
    assert run.returncode == 1, run.explain()
    check_report_schema(run.report, MUTANT)
    assert {i: p["outcome"] for i, p in run.by_id().items()} == {i: p["outcome"] for i, p in cli.by_id().items()}
    assert run.by_id()["nonnegative_and_finite"]["counterexample"] == cli.by_id()["nonnegative_and_finite"][
        "counterexample"]
    assert "no_such_property" in run.stdout and "matches no property" in run.stdout, run.stdout
    md = (runs["tmp"] / "pytest.md").read_text()
    assert md.count("**failed**") == 1 and "### Finding 1: `nonnegative_and_finite`" in md
    assert "Failing explicit example" not in md and "ProcessCandidate(" not in md
    # a seed was chosen, given to Hypothesis (the header shows Hypothesis's own), and recorded in the report
    header = re.search(r"^composed: implementation under test: .*\bseed (\d+)", run.stdout, re.M)
    assert header and int(header.group(1)) == run.report["seed"] == run.report["provenance"]["seed"], run.stdout[:2000]


# -- pytest, Hypothesis and CI habits -----------------------------------------------------------------------------------


def test_habits_seed_max_examples_junitxml_live_line_no_color(runs):
    run = runs["habits"]
    assert run.returncode == Exit.FAILED, run.explain()
    check_report_schema(run.report, MUTANT)
    props = run.by_id()
    assert set(props) == {"output_shape", "nonnegative_and_finite"}, props  # -k, without '--'
    assert props["output_shape"]["outcome"] == "passed" and props["output_shape"]["examples"] >= 7, props
    assert "seed 1234)" in run.stdout.splitlines()[0] and run.report["seed"] == 1234, run.explain()
    junit = (runs["empty"] / "junit.xml").read_text()
    assert "<testsuite" in junit and 'name="test_nonnegative_and_finite"' in junit and "<failure" in junit
    # on a terminal: the live line (rewritten in place), no colour under NO_COLOR
    assert re.search(r"\r\x1b\[K\[\d+/2\] \d+ s", run.stdout), repr(run.stdout[:3000])
    assert "\x1b[3" not in run.stdout, repr(run.stdout[:3000])
    # nothing in the working directory but what was asked for (no .hypothesis, no .pytest_cache)
    found = sorted(str(p.relative_to(runs["empty"])) for p in runs["empty"].rglob("*"))
    assert found == ["junit.xml"], found


def test_last_failed_runs_what_failed_last_time(runs):
    run = runs["lf"]
    assert run.returncode == Exit.FAILED, run.explain()
    assert set(run.by_id()) == {"nonnegative_and_finite"}, run.by_id()
    assert "\r" not in run.stdout and re.search(r"^\[1/1\] FAILED ", run.stdout, re.M), run.stdout  # plain lines
    assert isinstance(run.report["seed"], int)
    assert sorted(p.name for p in runs["empty"].iterdir()) == ["junit.xml"]


def test_color_on_a_terminal_unless_no_color(monkeypatch):
    from properties.runner.cli import paint, use_color

    class Tty:
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert use_color(Tty()) and paint("FAILED", "failed", True) == "\x1b[31mFAILED\x1b[0m"
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Tty())
    monkeypatch.delenv("NO_COLOR")
    assert not use_color(io.StringIO())  # not a terminal


def test_state_dir_is_per_spec_and_outside_the_working_directory(monkeypatch, tmp_path):
    from properties.runner.cli import state_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    here = state_dir("mine.py")
    assert here.parent == tmp_path / "xdg" / "composed" / "state"
    monkeypatch.chdir(ROOT)
    assert state_dir(str(tmp_path / "mine.py")) == here  # a file SPEC counts by its absolute path
    assert state_dir("fast") != here and state_dir("mine.py:other") != here


# -- one definition of each thing: the option table, the tiers, the check plan ------------------------------------------


def test_every_option_in_both_parsers_and_in_the_docs():
    from properties.runner.cli import build_parser

    parser = build_parser()
    flags = {f for action in parser._actions for f in action.option_strings}
    for opt in options.OPTIONS:
        assert (opt.name in flags) == (opt.where != options.PLUGIN), opt.name
    docs = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert options.markdown() in docs, "docs/cli.md is stale: python -m properties.runner.options --write docs/cli.md"
    assert isinstance(parser.parse_args(["--timeout", "3"]).call_timeout, float)  # the old name


def test_plugin_options_come_from_the_table(pytestconfig):
    for opt in options.OPTIONS:
        if opt.where != options.CLI:
            assert pytestconfig.getoption(opt.dest, default="absent") != "absent", opt.name


def test_exit_codes_documented():
    docs = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for code, meaning in MEANING.items():
        assert f"| {int(code)} | {meaning} |" in docs


def test_the_plan_models_grid_and_boundary_as_phases():
    from properties.harness.tiers import TIERS
    from properties.runner import plan
    from properties.runner.report import tier_of

    checks = plan.plan("quick")
    ids = [c.id for c in checks]
    assert len(ids) == len(set(ids))
    assert {c.phase for c in checks} == set(plan.Phase)
    assert all(c.family == ("transforms_boundary" if c.id.startswith("transforms_boundary[") else "matches_oracle")
               for c in checks if c.phase is not plan.Phase.RANDOM)
    assert ids[:3] == ["matches_oracle", "output_shape", ids[2]] and ids[2].startswith("boundary[")
    assert plan.family("grid[B1-F2-N3]") == "matches_oracle" and plan.family("batch_locality") == "batch_locality"
    assert tier_of("boundary[B1-F1-N1-mag1]") == "core" and tier_of("grid[B1-F1-N0]") == "core"
    assert [c.tier for c in checks if c.phase is plan.Phase.RANDOM] and {c.tier for c in checks} <= set(TIERS)
    assert [rank for rank in (plan.rank(i) for i in ids)] == sorted(plan.rank(i) for i in ids)


# -- usage errors: exit 4, nothing selected: exit 5 ---------------------------------------------------------------------


@pytest.mark.parametrize("name, code, text", [
    ("bad_module", Exit.USAGE, "cannot import module 'no_such_module_xyz'"),
    ("bad_file", Exit.USAGE, "no such file"),
    ("bad_passthrough", Exit.USAGE, "unrecognized arguments: --no-such-pytest-option"),
    ("nothing_selected", Exit.NO_PROPERTIES, "no property was selected"),
])
def test_usage_errors_from_pytest(runs, name, code, text):
    run = runs[name]
    assert run.returncode == code, run.explain()
    assert text in run.stderr, run.explain()


@pytest.mark.parametrize("args, text", [
    (["--tier", "nope"], "invalid choice"),
    (["--profile", "nope"], "invalid choice"),
    (["--timeout", "0"], "--call-timeout"),  # the old name, still accepted
    (["-n", "-1"], "-n"),
    (["--max-memory", "banana"], "--max-memory"),
    (["--max-examples", "0"], "--max-examples"),
    (["--xfails-file", "/nonexistent/xfails.txt"], "no such xfails file"),
    (["--no-such-option"], "unrecognized arguments"),
])
def test_usage_errors_from_options(args, text):
    proc = subprocess.run(CLI + args, cwd=ROOT, capture_output=True, text=True, env=env(), timeout=60)
    assert proc.returncode == Exit.USAGE, (proc.stdout, proc.stderr)
    assert text in proc.stderr, proc.stderr


@pytest.mark.parametrize("entry", [["-m", "composed"], ["-m", "properties"], ["composed-check"]])
def test_entry_points_help(entry):
    if entry == ["composed-check"]:
        exe = shutil.which("composed-check", path=os.path.dirname(sys.executable)) or shutil.which("composed-check")
        if exe is None:
            pytest.skip("the console script is not installed in this environment")
        cmd = [exe, "--help"]
    else:
        cmd = [sys.executable, *entry, "--help"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    for opt in options.OPTIONS:
        if opt.where != options.PLUGIN:
            assert opt.name in proc.stdout, opt.name
    assert "5  no property selected" in proc.stdout


# -- in process: report, xfails and process helpers - -----------------------------------------------------------------


def test_property_ids():
    assert property_id("properties/test_properties.py::test_matches_oracle") == "matches_oracle"
    assert property_id("test_grid.py::test_grid[B1-F2-N3]") == "grid[B1-F2-N3]"


def _entry(pid, outcome, examples=3, seconds=0.5, tier="core"):
    return {"id": pid, "tier": tier, "outcome": outcome, "examples": examples, "examples_cut": 0, "seconds": seconds,
            "message": "", "counterexample": None, "repro": None, "raised": False, "oracle_mismatch": None,
            "finding": None}


def test_build_counts_every_outcome():
    entries = [_entry("a", "passed"), dict(_entry("b", "failed"), message="AssertionError: no"),
               _entry("c", "xfailed", tier="strict"),
               _entry("d", "skipped", 0)]
    report = build("spec", entries, 2.0, provenance())
    check_report_schema(report, "spec")
    assert report["summary"] == {"passed": 1, "failed": 1, "error": 0, "xfailed": 1, "skipped": 1, "total": 4,
                                 "findings": 1, "examples": 9, "examples_cut": 0, "seconds": 2.0, "wall_seconds": 2.0}
    assert report["tiers"] == ["core", "strict"]
    table = text_table(report).splitlines()
    assert table[0].split() == ["property", "tier", "verdict", "examples", "time"] and len(table) == 6
    md = markdown(report)
    assert "| `b` | core | **failed** | 3 | 0.50 s |" in md
    json.dumps(report)
    empty = build("spec", [])
    assert empty["summary"]["total"] == 0 and empty["tiers"] == []


def test_xfails_parsing(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("# comment\n\n  grid   # all cells\nseed_semantics\nnope\n", encoding="utf-8")
    entries = xfails.read(path)
    assert [(e.pattern, e.line) for e in entries] == [("grid", 3), ("seed_semantics", 4), ("nope", 5)]
    ids = ["grid[B1-F1-N0]", "seed_semantics", "matches_oracle"]
    assert xfails.first_match(entries, "grid[B1-F1-N0]").pattern == "grid"
    assert xfails.first_match(entries, "matches_oracle") is None
    assert [e.pattern for e in xfails.unmatched(entries, ids)] == ["nope"]
    with pytest.raises(xfails.XfailsFileError):
        xfails.read(tmp_path / "missing.txt")


def test_process_helpers():
    assert processes.parse_size("4G") == 4 << 30 and processes.parse_size("512MiB") == 512 << 20
    assert processes.parse_size("off") is None and processes.parse_size("1000") == 1000
    with pytest.raises(ValueError):
        processes.parse_size("banana")
    assert "SIGSEGV (segmentation fault)" in processes.describe_exit(-11)
    assert "status 0" in processes.describe_exit(0)
    assert "SIGKILL (the kernel's OOM killer" in processes.describe_exit(-9)
    assert "unknown" in processes.describe_exit(None)
