"""The xfails file: properties an implementation is known to fail, so a run can pass while they are being fixed.

Format (like array-api-tests' ``xfails.txt``): one property id or id prefix per line; ``#`` starts a comment; blank
lines are ignored. Ids are the ones in the report (``matches_oracle``, ``grid[B1-F2-N3]``); a line matches every id
equal to it or starting with it (``grid`` matches every grid cell, ``seed_`` both seed properties).

Matching properties are marked ``xfail`` (not strict): a failure is reported as ``xfailed``; a listed property that
passes is reported as ``passed`` with the message ``XPASS ...`` so the line can be removed. A line matching no
collected property of the suite (whatever ``-m``/``-k``/``--tier`` select) gives a :class:`XfailsWarning`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class XfailsWarning(UserWarning):
    """A line of the xfails file matches no property."""


@dataclass(frozen=True)
class Entry:
    pattern: str
    line: int


class XfailsFileError(Exception):
    pass


def read(path: str | Path) -> list[Entry]:
    """The entries of the xfails file at ``path`` (raises :class:`XfailsFileError` if it cannot be read)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise XfailsFileError(f"cannot read xfails file {str(path)!r}: {exc}") from None
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        pattern = raw.split("#", 1)[0].strip()
        if pattern:
            entries.append(Entry(pattern, number))
    return entries


def matches(entry: Entry, prop_id: str) -> bool:
    return prop_id == entry.pattern or prop_id.startswith(entry.pattern)


def first_match(entries: list[Entry], prop_id: str) -> Entry | None:
    for entry in entries:
        if matches(entry, prop_id):
            return entry
    return None


def unmatched(entries: list[Entry], prop_ids) -> list[Entry]:
    ids = list(prop_ids)
    return [e for e in entries if not any(matches(e, i) for i in ids)]


def warning_text(path, entry: Entry) -> str:
    return f"xfails file {str(path)!r} line {entry.line}: {entry.pattern!r} matches no property of the suite"
