"""The user docs stay true: every link points inside the repository, every Python sample runs, every command parses.

Docs: README.md, CONTRIBUTING.md, CHANGELOG.md and docs/*.md. A Python block whose first line is ``# NAME.py`` is a
file the reader saves (written to a temporary directory, not run); every other Python block runs there, in a fresh
interpreter, with those files importable. In shell blocks, each ``composed-check`` line is parsed by the CLI's own
parser (an unknown option fails here, not on a reader's terminal).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md")])
DOCS = [p for p in DOCS if p.exists()]
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _blocks(lang: str):
    for doc in DOCS:
        for m in BLOCK.finditer(doc.read_text(encoding="utf-8")):
            if m.group(1) == lang:
                yield doc, m.group(2)


def _rel(doc: Path) -> str:
    return str(doc.relative_to(ROOT))


def test_there_are_docs_to_check():
    """The README and the docs folder are where this test looks (a rename would make every test below vacuous)."""
    names = {_rel(d) for d in DOCS}
    assert {"README.md", "docs/cli.md", "docs/properties.md"} <= names, names
    assert list(_blocks("python")) and list(_blocks("bash"))


@pytest.mark.parametrize("doc", DOCS, ids=_rel)
def test_links_stay_inside_the_repository(doc):
    """Relative links resolve to a file or folder of this repository; none points outside it."""
    bad = []
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            if not target.startswith(("http://", "https://", "mailto:", "#")):
                bad.append(f"{target} (a scheme other than http(s))")
            continue
        path = (doc.parent / target.split("#")[0]).resolve()
        if ROOT not in path.parents and path != ROOT:
            bad.append(f"{target} (outside the repository)")
        elif not path.exists():
            bad.append(f"{target} (no such file)")
    assert not bad, f"{_rel(doc)}: " + "; ".join(bad)


def test_python_samples_run(tmp_path):
    """Every Python sample of the docs runs without error (files first, then the snippets, each in its own process)."""
    snippets = []
    for doc, code in _blocks("python"):
        first = code.splitlines()[0].strip() if code.strip() else ""
        m = re.fullmatch(r"#\s*([\w./-]+\.py)", first)
        if m:
            (tmp_path / m.group(1)).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / m.group(1)).write_text(code, encoding="utf-8")
        else:
            snippets.append((doc, code))
    assert snippets
    failures = []
    for doc, code in snippets:
        proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                              env=_env(tmp_path))
        if proc.returncode != 0:
            failures.append(f"--- {_rel(doc)}:\n{code}\n{proc.stderr[-2000:]}")
    assert not failures, "\n".join(failures)


def _env(tmp_path):
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _command_lines(program: str):
    for doc, code in _blocks("bash"):
        for line in code.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("$ "):
                line = line[2:]
            words = shlex.split(line, comments=True) if line else []
            for i, w in enumerate(words):
                if w.endswith(program) and (i == 0 or words[i - 1] in ("&&", ";")):
                    yield doc, words[i + 1:]


def test_cli_commands_parse():
    """Every ``composed-check`` command in the docs is accepted by the CLI's parser."""
    from properties.runner import cli

    lines = list(_command_lines("composed-check"))
    assert lines
    bad = []
    for doc, argv in lines:
        argv = [a for a in argv if a not in ("&&", ";")]
        argv = argv[:argv.index("--")] if "--" in argv else argv  # what follows goes to pytest
        try:
            cli.build_parser().parse_args(argv)
        except SystemExit:
            bad.append(f"{_rel(doc)}: composed-check {' '.join(argv)}")
    assert not bad, "\n".join(bad)
