"""Isolation, as the checking side sees it: the places a candidate process may write, the checking processes' own
protection, and the records of :mod:`properties.sandbox.confine` merged into the one a run reports.

* Where a candidate may write: a temporary directory of its run and implementation (:func:`candidate_tmpdir`, shared
  by the candidate processes of one run, removed by :func:`remove_tmpdirs` when the run ends) and a JAX compilation
  cache of its own, ``BASE/candidates/KEY`` (:func:`candidate_cache_dir`): KEY hashes what it runs (the bundled name,
  or the bytes of its SPEC's source file and the ``.py`` files beside it) and the suite's version. The checking
  processes use ``BASE/checker`` (:func:`checker_cache_dir`), which no confined candidate can write: an entry a
  candidate poisons is loaded only by later runs of the same code.
* The checking processes make themselves non-dumpable (:func:`protect_checker`): no process of the user may ptrace
  them or open their ``/proc/PID/mem`` (Landlock already forbids it to a confined candidate).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

from properties.sandbox import confine
from properties.sandbox.loader import is_bundled_spec

#: The checking processes' own protection, reported beside the candidate's.
CHECKER = "checker_non_dumpable"
PROTECTIONS = {**confine.PROTECTIONS,
               CHECKER: "the checking processes cannot be ptraced or have their memory opened (PR_SET_DUMPABLE 0)"}
#: Source bytes read to key a candidate's cache (past this, only the SPEC's own file counts).
MAX_KEY_BYTES = 32 << 20

_checker: tuple[bool, str] | None = None


def protect_checker() -> tuple[bool, str]:
    """Make this checking process non-dumpable (once); ``(in force, reason)``."""
    global _checker
    if _checker is None:
        _checker = confine.non_dumpable()
    return _checker


def checker_state() -> tuple[bool, str]:
    """This process's protection, without changing anything."""
    return _checker if _checker is not None else (False, "this checking process did not make itself non-dumpable")


# -- records ------------------------------------------------------------------------------------------------------------


def with_checker(rec: dict | None, state: tuple[bool, str] | None = None) -> dict:
    """``rec`` (a candidate's record) plus the checking process's own protection."""
    rec = dict(rec or confine.none_in_force("no candidate process reported"))
    rec["protections"] = dict(rec.get("protections") or {})
    rec["protections"][CHECKER] = confine._state(*(state or checker_state()))
    return rec


def merge(records) -> dict | None:
    """One record for many processes: a protection is in force only where it is in force in every record (the reason
    given is the first that says it is not)."""
    records = [r for r in records if r]
    if not records:
        return None
    out = {k: v for k, v in records[0].items() if k != "protections"}
    out["landlock_abi"] = min(int(r.get("landlock_abi") or 0) for r in records)
    merged: dict = {}
    for rec in records:
        for name, state in (rec.get("protections") or {}).items():
            if name not in merged or (merged[name]["in_force"] and not state.get("in_force")):
                merged[name] = {"in_force": bool(state.get("in_force")), "reason": str(state.get("reason", ""))}
    out["protections"] = {name: merged.get(name, {"in_force": False, "reason": "not reported"}) for name in
                          PROTECTIONS}
    return out


def missing(rec: dict | None) -> dict[str, str]:
    """``{protection: reason}`` for each protection of :data:`PROTECTIONS` not in force in ``rec``."""
    got = (rec or {}).get("protections") or {}
    return {name: (got.get(name) or {}).get("reason", "not reported") for name in PROTECTIONS
            if not (got.get(name) or {}).get("in_force")}


def summary(rec: dict | None) -> str:
    """One line: how many protections are in force, and which are not."""
    if not rec:
        return "isolation: unknown (no record)"
    lacking = missing(rec)
    head = f"isolation: {len(PROTECTIONS) - len(lacking)}/{len(PROTECTIONS)} protections in force " \
           f"(Landlock ABI {rec.get('landlock_abi', 0)}, {rec.get('platform', '?')} {rec.get('kernel', '')})".rstrip()
    return head if not lacking else head + "; not in force: " + ", ".join(lacking)


def require_message(rec: dict | None) -> str | None:
    """The ``--require-isolation`` error for ``rec``, naming each missing protection and why; None if all hold."""
    lacking = missing(rec)
    if not lacking:
        return None
    lines = [f"  {name}: {PROTECTIONS[name]} -- not in force: {why}" for name, why in lacking.items()]
    return "--require-isolation: these protections are not in force here, so no verdict is given:\n" + "\n".join(lines)


# -- where a candidate may write ----------------------------------------------------------------------------------------


def suite_version() -> str:
    try:
        from importlib.metadata import version

        return version("composed")
    except Exception:  # noqa: BLE001 - not installed (a checkout on PYTHONPATH)
        return "unknown"


def source_file(spec: str, cwd: str | None = None) -> Path | None:
    """The file a SPEC's code comes from, found without importing anything: ``path.py[:attr]`` itself, or
    ``package.module[:attr]`` looked up in the candidate's working directory and ``sys.path``."""
    head, sep, tail = spec.rpartition(":")
    target = head if sep and tail.isidentifier() else spec
    base = Path(cwd or os.getcwd())
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = (base / Path(target).expanduser())
        return path if path.is_file() else None
    parts = target.split(".")
    for entry in [str(base), *os.environ.get("PYTHONPATH", "").split(os.pathsep), *sys.path]:
        root = Path(entry or ".")
        root = root if root.is_absolute() else base / root
        for candidate in (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")):
            if candidate.is_file():
                return candidate
    return None


def implementation_key(spec: str, cwd: str | None = None) -> str:
    """A hash of what a candidate runs: the bundled name, or its source file and the ``.py`` files beside it (the
    code it can import without naming a path), with the suite's version."""
    spec = spec.strip()
    source = None if is_bundled_spec(spec) else source_file(spec, cwd)
    head, sep, attr = spec.rpartition(":")
    name = spec if source is None else (attr if sep and attr.isidentifier() else "")  # a copy elsewhere: same key
    h = hashlib.sha256(f"composed {suite_version()}\0{name}\0".encode())
    if source is not None:
        total = 0
        for path in [source] + sorted(p for p in source.parent.glob("*.py") if p != source):
            try:
                data = path.read_bytes()
            except OSError:
                continue
            total += len(data)
            if total > MAX_KEY_BYTES and path != source:
                break
            h.update(path.name.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()[:24]


#: Bytes of the bundled default's cache copied into a new implementation's cache at most.
MAX_SEED_BYTES = 256 << 20


def candidate_cache_dir(base: str | None, key: str) -> str | None:
    """The JAX cache the candidates running ``key`` (:func:`implementation_key`) may write, under ``base`` (created;
    None when ``base`` is None or it cannot be created).

    A new one starts as a copy of the bundled default's (:func:`_seed`): an implementation the suite has not seen
    then compiles only its own programs, not the suite's and JAX's small eager ones. A copy, never a link: the
    candidate may rewrite its own entries, and those are read by no other implementation's runs."""
    if not base:
        return None
    path = os.path.join(base, "candidates", key)
    if not os.path.isdir(path):
        _seed(base, key, path)
    return _makedirs(path)


def _seed(base: str, key: str, path: str) -> None:
    """Create ``path`` as a copy of the bundled default's cache (only ever written by candidates running the bundled
    default), atomically: a temporary directory renamed into place (another process may win the race: then its copy
    stays)."""
    from properties.sandbox.loader import DEFAULT_SPEC

    source = os.path.join(base, "candidates", implementation_key(DEFAULT_SPEC))
    if key == os.path.basename(source) or not os.path.isdir(source):
        return
    tmp = f"{path}.seed-{os.getpid()}"
    try:
        os.makedirs(tmp, mode=0o700)
        total = 0
        for entry in os.scandir(source):
            if not entry.is_file(follow_symlinks=False):
                continue
            total += entry.stat(follow_symlinks=False).st_size
            if total > MAX_SEED_BYTES:
                break
            shutil.copyfile(entry.path, os.path.join(tmp, entry.name), follow_symlinks=False)
        os.rename(tmp, path)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)


def checker_cache_dir(base: str | None) -> str | None:
    """The JAX cache of the checking processes (no confined candidate can write it)."""
    return os.path.join(base, "checker") if base else None


def _makedirs(path: str) -> str | None:
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError:
        return None
    return path


def candidate_tmpdir(run: str, key: str) -> str:
    """The private temporary directory of the candidates of ``run`` running ``key`` (created, mode 0700; a name that
    exists but is not this user's own directory gives a fresh random one instead)."""
    path = os.path.join(tempfile.gettempdir(), f"composed-{run}-{key[:12]}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            return tempfile.mkdtemp(prefix=f"composed-{run}-")
    return path


def remove_tmpdirs(run: str | None) -> None:
    """Remove the temporary directories of ``run``'s candidates (after they were killed)."""
    if not run:
        return
    root = tempfile.gettempdir()
    try:
        names = [n for n in os.listdir(root) if n.startswith(f"composed-{run}-")]
    except OSError:
        return
    for name in names:
        shutil.rmtree(os.path.join(root, name), ignore_errors=True)
