"""``composed-check`` and the pytest plugin's reports, from outside: exit codes, the report's schema and completeness,
the xfails file, the repro snippet, and the same verdicts through ``pytest --pyargs properties``.

The subprocess runs start at once (``cli_support.run_all``); the unit tests at the end cover the report, xfails and
process helpers in process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import pytest

from cli_support import CANDIDATES, CLI, HOSTILE, ROOT, Run, check_report_schema, env, run_all

from properties.harness import processes
from properties.runner import xfails
from properties.runner.report import build, markdown, property_id, text_table

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
                                                      "family")}
    todo = {
        # no SPEC: the bundled default
        "default": Run(CLI + QUICK + ["--report", r["default"], "--markdown", str(tmp / "default.md"), "--",
                                      "-k", "output_shape or matches_oracle or (test_grid and B2)"], str(ROOT), r["default"]),
        # shrinking to the end in both "mutant" and "pytest" (its budget is wall-clock): their counterexamples must agree
        "mutant": Run(CLI + [MUTANT, *CI, "--shrink-budget", "120", "--report", r["mutant"], "--", "-k", MUTANT_K],
                      str(ROOT), r["mutant"]),
        "xfails": Run(CLI + [MUTANT, *CI, "--no-shrink", "--xfails-file", str(xf), "--report", r["xfails"], "--",
                             "-k", MUTANT_K], str(ROOT), r["xfails"]),
        # the plugin without the CLI, from a directory outside the checkout, in process (no xdist)
        "pytest": Run([sys.executable, "-m", "pytest", "--pyargs", "properties", "-p", "no:cacheprovider",
                       "--impl", MUTANT, "-m", "core", "-k", MUTANT_K, "--hypothesis-profile", "ci",
                       "--conformance-shrink-budget", "120",
                       "--conformance-report", r["pytest"], "--conformance-markdown", str(tmp / "pytest.md"),
                       "--xfails-file", str(tmp / "unmatched.txt")], str(outside), r["pytest"]),
        "nothing_selected": Run(CLI + ["--tier", "core", "--profile", "quick", "-n", "1", "--", "-k",
                                       "no_property_has_this_name"], str(ROOT)),
        "bad_module": Run(CLI + ["no_such_module_xyz:composed_transforms"], str(ROOT)),
        "bad_file": Run(CLI + ["tests/candidates/does_not_exist.py"], str(ROOT)),
        # fail fast: stop at the first failing property, the rest reported as not run
        "exitfirst": Run(CLI + [MUTANT, *CI, "-x", "--report", r["exitfirst"], "--", "-k", FOUR], str(ROOT),
                         r["exitfirst"]),
        # an implementation that hangs in every call: the full timeout a few times, then the rest not run
        "hangs": Run(CLI + [str(HOSTILE / "hang.py"), *CI, "--timeout", "2", "--report", r["hangs"], "--", "-k",
                            FOUR + " or deterministic"], str(ROOT), r["hangs"]),
        # one bug, shrunk once: the grid cells after matches_oracle report their first failing example
        "family": Run(CLI + [MUTANT, *CI, "--report", r["family"], "--", "-k", "matches_oracle or grid"], str(ROOT),
                      r["family"]),
    }
    (tmp / "unmatched.txt").write_text("# nothing listed matches\nno_such_property  # typo\n", encoding="utf-8")
    done = run_all(todo)
    done["tmp"] = tmp
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
    # a progress line per property, the table, the verdict line
    assert len(re.findall(r"^\[\s*\d+/\d+\] PASSED ", run.stdout, re.M)) == len(ids), run.stdout
    assert re.search(r"^property\s+tier\s+verdict\s+examples\s+time$", run.stdout, re.M), run.stdout
    assert "PASSED: %d passed, 0 failed" % len(ids) in run.stdout
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
    assert "FAILED  nonnegative_and_finite" in run.stdout and "reproduce with:" in run.stdout


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
    assert (runs["tmp"] / "pytest.md").read_text().count("**failed**") == 1


# -- usage errors: exit 2 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, text", [
    ("bad_module", "cannot import module 'no_such_module_xyz'"),
    ("bad_file", "no such file"),
    ("nothing_selected", "no property was selected"),
])
def test_usage_errors_from_pytest(runs, name, text):
    run = runs[name]
    assert run.returncode == 2, run.explain()
    assert text in run.stderr, run.explain()


@pytest.mark.parametrize("args, text", [
    (["--tier", "nope"], "invalid choice"),
    (["--profile", "nope"], "invalid choice"),
    (["--timeout", "0"], "--timeout"),
    (["-n", "-1"], "-n"),
    (["--max-memory", "banana"], "--max-memory"),
    (["--xfails-file", "/nonexistent/xfails.txt"], "no such xfails file"),
    (["--no-such-option"], "unrecognized arguments"),
])
def test_usage_errors_from_options(args, text):
    proc = subprocess.run(CLI + args, cwd=ROOT, capture_output=True, text=True, env=env(), timeout=60)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
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
    for option in ("--tier", "--profile", "--report", "--markdown", "--xfails-file", "--timeout", "-n"):
        assert option in proc.stdout


# -- in process: report, xfails and process helpers - -----------------------------------------------------------------


def test_property_ids():
    assert property_id("properties/test_properties.py::test_matches_oracle") == "matches_oracle"
    assert property_id("test_grid.py::test_grid[B1-F2-N3]") == "grid[B1-F2-N3]"


def _entry(pid, outcome, examples=3, seconds=0.5, tier="core"):
    return {"id": pid, "tier": tier, "outcome": outcome, "examples": examples, "examples_cut": 0, "seconds": seconds,
            "message": "",
            "counterexample": None, "repro": None}


def test_build_counts_every_outcome():
    entries = [_entry("a", "passed"), dict(_entry("b", "failed"), message="AssertionError: no"),
               _entry("c", "xfailed", tier="strict"),
               _entry("d", "skipped", 0)]
    report = build("spec", entries, 2.0)
    check_report_schema(report, "spec")
    assert report["summary"] == {"passed": 1, "failed": 1, "error": 0, "xfailed": 1, "skipped": 1, "total": 4,
                                 "examples": 9, "examples_cut": 0, "seconds": 2.0, "wall_seconds": 2.0}
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
