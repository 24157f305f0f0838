"""When each student submitted: recorded at collection, in nbgrader's own place for it.

nbgrader reads a submission's time from ``submitted/<student>/<assignment>/timestamp.txt`` when it
autogrades (``CourseDirectory.get_existing_timestamp``) and compares it with the due date. ``collect``
writes that file from, in this order:

1. ``collect --timestamps FILE``: a CSV with the header ``student,timestamp`` (an LMS's submission
   report, say), one row per student;
2. the upload's own time: a ``timestamp.txt`` in the student's folder of the submissions, nbgrader's
   format and the file ``gradescope-import`` writes from Gradescope's ``:created_at:``;
3. with ``collect --mtime``, the newest modification time of the student's notebooks (only when the
   files kept their upload times: a copy or a checkout resets them, so it is not the default).

Otherwise the submission has no time and is never late (a warning says so when the term has a due date).
Times are ISO 8601 with a UTC offset (``2025-03-14T23:59:00+01:00``, ``...Z``); a time without one
is refused, being ambiguous.
"""

from __future__ import annotations

import csv
import os
import stat
from datetime import datetime, timezone
from pathlib import Path

from .term import parse_time

FILE = "timestamp.txt"


def read_csv(path: Path) -> dict[str, datetime]:
    """student -> time, from a CSV with the columns ``student`` and ``timestamp``.

    Raises:
        ValueError: a missing column, a bad time or a student listed twice (naming the row).
    """
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"student", "timestamp"} <= {n.strip() for n in reader.fieldnames}:
            raise ValueError(f"{path}: expected the header 'student,timestamp', got {reader.fieldnames}")
        out: dict[str, datetime] = {}
        for line, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            student = row["student"]
            if not student:
                continue
            if student in out:
                raise ValueError(f"{path}, line {line}: {student} is listed twice")
            out[student] = parse_time(row["timestamp"], f"{path}, line {line}")
    return out


def read_file(folder: Path) -> datetime | None:
    """The time in ``folder/timestamp.txt`` (a regular file, not a link), or None when there is none.

    Raises:
        ValueError: the file holds no valid time.
    """
    path = Path(folder) / FILE
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(mode):
        raise ValueError(f"{path}: not a regular file")
    text = path.read_text(errors="replace").strip()
    if not text:
        return None
    try:
        return parse_time(text, str(path))
    except ValueError:
        pass
    from nbgrader.utils import parse_utc

    try:  # what nbgrader itself accepts there (a time without an offset is UTC to nbgrader)
        return parse_utc(text).replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError):
        raise ValueError(f"{path}: {text[:60]!r} is not a time") from None


def newest_mtime(paths: list[Path]) -> datetime | None:
    """The newest modification time of ``paths`` (not following links), as an aware UTC time."""
    times = [os.lstat(p).st_mtime for p in paths]
    return datetime.fromtimestamp(max(times), tz=timezone.utc) if times else None


def write_file(folder: Path, when: datetime) -> Path:
    """``folder/timestamp.txt`` holding ``when`` in UTC, ISO 8601 (what nbgrader and this module read)."""
    path = Path(folder) / FILE
    path.write_text(when.astimezone(timezone.utc).isoformat() + "\n")
    return path


def show(when: datetime | None) -> str:
    """A time for people: ``2025-03-14 22:59 UTC``."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if when else "no time"
