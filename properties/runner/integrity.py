"""The suite checks its own files: a run whose checker changed under it has no verdict.

Before the first candidate process starts, the process that will write the verdict (the ``composed-check`` CLI, and the
pytest process that writes the report: the xdist controller, or the only pytest process) records a :class:`Snapshot`
of the files that decide what the checking side runs:

* every file of the packages ``properties`` and ``composed`` as imported (their directories, walked);
* the compiled ``__pycache__/*.pyc`` of those files that are fresh at the start (Python would load them instead of the
  source);
* every file the ``composed`` distribution's ``RECORD`` lists (its ``dist-info``, the console script, the editable
  install's ``.pth`` and finder); for a wheel install that is the packages themselves, and a file whose content
  differs from its ``RECORD`` hash is reported at once: it was changed before the run;
* the ``.pth`` files of the site directories (they run code and decide what gets imported at every interpreter start).

Before the verdict is written, :meth:`Snapshot.changes` looks again: a file changed, added, removed or rewritten (same
content, new ``ctime``: a module imported lazily may have been loaded in between) voids the verdict
(:data:`properties.runner.exitcodes.Exit.SUITE_TAMPERED`). Files are compared by ``stat`` first and hashed again only
when it differs, so the check costs a few milliseconds.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import site
import sys
from dataclasses import dataclass, field

#: The packages whose files are the suite.
PACKAGES = ("properties", "composed")
#: The distribution whose RECORD lists them in an install.
DISTRIBUTION = "composed"
#: Header of a timestamp-based .pyc: magic, flags, source mtime, source size (PEP 552).
_PYC_HEADER = 16


@dataclass(frozen=True)
class _Seen:
    digest: str
    stat: tuple


def _stat(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


def _package_dir(name: str) -> str | None:
    """The directory of an importable package, without importing it."""
    module = sys.modules.get(name)
    origin = getattr(module, "__file__", None)
    if origin is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        origin = getattr(spec, "origin", None)
    return os.path.dirname(os.path.abspath(origin)) if origin else None


def _fresh_pyc(pyc: str, source: str) -> bool:
    """Whether Python would load ``pyc`` for ``source``: its header names the source's mtime and size."""
    try:
        with open(pyc, "rb") as f:
            header = f.read(_PYC_HEADER)
        st = os.stat(source)
    except OSError:
        return False
    if len(header) < _PYC_HEADER or int.from_bytes(header[4:8], "little") != 0:
        return False  # hash-based pycs are checked against the source by Python itself
    mtime, size = int.from_bytes(header[8:12], "little"), int.from_bytes(header[12:16], "little")
    return mtime == (int(st.st_mtime) & 0xFFFFFFFF) and size == (st.st_size & 0xFFFFFFFF)


def _package_files(root: str) -> list[str]:
    """Every file under a package directory; of ``__pycache__``, the .pyc files fresh for their source."""
    found = []
    for where, dirs, files in os.walk(root):
        dirs.sort()
        if os.path.basename(where) == "__pycache__":
            parent = os.path.dirname(where)
            for name in files:
                source = os.path.join(parent, name.split(".", 1)[0] + ".py")
                if name.endswith(".pyc") and _fresh_pyc(os.path.join(where, name), source):
                    found.append(os.path.join(where, name))
            continue
        found += [os.path.join(where, name) for name in files]
    return found


def _record() -> dict[str, str | None]:
    """Path -> expected sha256 (hex; None when RECORD gives none) of every file the distribution's RECORD lists."""
    try:
        from importlib.metadata import PackageNotFoundError, distribution

        dist = distribution(DISTRIBUTION)
        files = dist.files or []
    except (ImportError, PackageNotFoundError, OSError):
        return {}
    out = {}
    for entry in files:
        path = os.path.normpath(os.path.abspath(str(entry.locate())))
        expected = None
        if entry.hash is not None and entry.hash.mode == "sha256":
            padded = entry.hash.value + "=" * (-len(entry.hash.value) % 4)
            expected = base64.urlsafe_b64decode(padded).hex()
        out[path] = expected
    return out


def _site_hooks() -> list[str]:
    """The .pth files of the site directories (each can run code at interpreter start)."""
    dirs = list(getattr(site, "getsitepackages", lambda: [])())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    found = []
    for d in dict.fromkeys(dirs):
        try:
            found += [os.path.join(d, n) for n in sorted(os.listdir(d)) if n.endswith(".pth")]
        except OSError:
            continue
    return found


def _roots() -> list[str]:
    return [d for d in (_package_dir(name) for name in PACKAGES) if d]


@dataclass
class Snapshot:
    """The suite's files at one moment: path -> content hash and stat; ``mismatched``: files whose content differed
    from the install's RECORD when the snapshot was taken."""

    files: dict = field(default_factory=dict)
    roots: list = field(default_factory=list)
    mismatched: list = field(default_factory=list)

    @classmethod
    def take(cls) -> "Snapshot":
        roots = _roots()
        record = _record()
        paths = [p for root in roots for p in _package_files(root)] + list(record) + _site_hooks()
        snap = cls(roots=roots)
        for path in dict.fromkeys(os.path.normpath(os.path.abspath(p)) for p in paths):
            stat, digest = _stat(path), _digest(path)
            if stat is None or digest is None:
                continue
            snap.files[path] = _Seen(digest, stat)
            if record.get(path) and record[path] != digest:
                snap.mismatched.append(path)
        return snap

    def _now(self) -> list[str]:
        """The paths a snapshot taken now would hold (the package trees and the site's .pth files walked again)."""
        return [os.path.normpath(p) for root in self.roots for p in _package_files(root)] + _site_hooks()

    def changes(self) -> list[str]:
        """What changed since the snapshot, one line per file: ``changed``, ``added``, ``removed``, ``rewritten``
        (same content, written again); the RECORD mismatches found at the start come first."""
        out = [f"differs from the install's RECORD: {p}" for p in self.mismatched]
        for path, seen in self.files.items():
            stat = _stat(path)
            if stat == seen.stat:
                continue
            digest = _digest(path) if stat is not None else None
            if digest is None:
                out.append(f"removed: {path}")
            elif digest != seen.digest:
                out.append(f"changed: {path}")
            elif stat[0] != seen.stat[0] or stat[3] != seen.stat[3]:
                out.append(f"rewritten (same content now): {path}")
        for path in dict.fromkeys(self._now()):
            if path not in self.files and not path.endswith(".pyc"):
                out.append(f"added: {path}")
        return out


def message(changes: list[str]) -> str:
    """The error that voids a verdict."""
    shown = changes[:20] + ([f"... and {len(changes) - 20} more"] if len(changes) > 20 else [])
    return ("suite files changed during the run, so the verdict is void (the implementation under test, or something "
            "else, wrote to the suite):\n" + "\n".join("  " + line for line in shown))


# -- where the runner uses it -------------------------------------------------------------------------------------------


def section(snapshot: "Snapshot | None", changes: list[str]) -> dict | None:
    """The report's ``integrity`` entry: how many files were checked, what changed (a non-empty list voids it); None
    when this process took no snapshot."""
    if snapshot is None:
        return None
    return {"files": len(snapshot.files), "changed": list(changes)}


def is_void(report: dict) -> bool:
    return bool((report.get("integrity") or {}).get("changed"))


def void(report: dict, changes: list[str]) -> dict:
    """``report`` marked void by ``changes`` (added to what it already names)."""
    entry = dict(report.get("integrity") or {"files": 0, "changed": []})
    entry["changed"] = list(dict.fromkeys(list(entry.get("changed") or []) + list(changes)))
    return {**report, "integrity": entry}


def start_session(config) -> None:
    """pytest_configure of the process that writes the verdict: the snapshot, before any candidate process starts."""
    if getattr(config, "_composed_integrity", None) is None:
        config._composed_integrity = Snapshot.take()


def finish_session(session) -> list[str]:
    """pytest_sessionfinish, once the candidate processes are gone: what changed; a change sets the session's exit
    status to ``SUITE_TAMPERED`` and is printed. Kept on the config for the report."""
    from properties.runner.exitcodes import Exit

    config = session.config
    snapshot = getattr(config, "_composed_integrity", None)
    if snapshot is None:
        return []
    changes = getattr(config, "_composed_tampered", None)
    if changes is None:
        changes = config._composed_tampered = snapshot.changes()
    if changes:
        session.exitstatus = int(Exit.SUITE_TAMPERED)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        for line in ("ERROR: " + message(changes)).splitlines():
            reporter.write_line(line, red=True) if reporter is not None else print(line, file=sys.stderr)
    return changes


def cli_verdict(snapshot: Snapshot, returncode: int, report_path: str, keep: str | None) -> int | None:
    """The CLI, once pytest and everything of the run has ended: ``SUITE_TAMPERED`` (and the error printed, the
    report marked void where the user asked for one) when the suite's files changed, as seen from here or by pytest
    (exit status 7, or a report marked void); None otherwise."""
    import json

    from properties.runner.exitcodes import Exit

    changes = snapshot.changes()
    try:
        with open(report_path, encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, ValueError):
        report = None
    if report is not None and is_void(report):
        changes = list(dict.fromkeys(report["integrity"]["changed"] + changes))
    if not changes and returncode != Exit.SUITE_TAMPERED:
        return None
    if not changes:
        changes = ["(pytest exited with status 7: the suite's files changed; it wrote no report naming them)"]
    print(f"composed-check: error: {message(changes)}", file=sys.stderr)
    if report is not None and keep:
        from properties.runner.report import write

        write(void(report, changes), report_path, None)
    print(f"composed-check: VOID: exit status {int(Exit.SUITE_TAMPERED)}", file=sys.stderr)
    return int(Exit.SUITE_TAMPERED)
