"""A folder of submissions -> nbgrader's ``submitted/<student>/<assignment>/`` layout.

Input layout: one subfolder per student, named by the student id, holding that student's notebooks
under their released names (read with :func:`autograder.intake.read_submission`: subfolders are
searched, and links, non-regular files, oversized or damaged notebooks are refused with a warning)::

    SUBMISSIONS/alice/01_modules.ipynb
    SUBMISSIONS/alice/02_gradcheck.ipynb
    SUBMISSIONS/bob/01_modules.ipynb

A student's earlier submission in the course folder is replaced. A notebook the student did not hand
in is replaced by the untouched release (it then scores 0), with a warning; files that are not
released notebooks are ignored, with a warning. The submission's time goes into nbgrader's
``timestamp.txt`` (see :mod:`.timestamps` for where it comes from).
"""

from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from autograder.intake import read_submission

from . import timestamps
from .layout import Course

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")


@dataclass(frozen=True)
class Collected:
    """One student's collected submission: when it was submitted, and where that time came from."""

    student: str
    timestamp: datetime | None
    source: str  # "--timestamps", "timestamp.txt", "--mtime" or "none"


def collect(course: Course, submissions: Path, times: dict[str, datetime] | None = None,
            mtime: bool = False) -> list[Collected]:
    """Copy every student folder of ``submissions`` into the course, with its submission time (from
    ``times``, else the folder's ``timestamp.txt``, else with ``mtime`` the newest notebook's
    modification time); what was collected, per student."""
    times = times or {}
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise FileNotFoundError(f"{submissions}: no such folder")
    released = {path.name: path for path in course.released()}
    if not released:
        raise RuntimeError(f"{course.root} has no release yet: generate the assignment first")
    students = []
    for folder in sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not STUDENT_ID.match(folder.name):
            raise ValueError(f"{folder}: a student id may hold letters, digits and _.@- only")
        intake = read_submission(folder)
        for reason in intake.refused:
            print(f"warning: {folder.name}: {reason}", file=sys.stderr)
        handed_in = intake.notebooks
        for extra in sorted(set(handed_in) - set(released)):
            print(f"warning: {folder.name}: ignoring {extra} (not a notebook of the assignment)", file=sys.stderr)
        dest = course.folder("submitted", folder.name)
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for name, release in released.items():
            if name in handed_in:
                (dest / name).write_bytes(handed_in[name])
            else:
                print(f"warning: {folder.name}: {name} missing, grading the untouched release", file=sys.stderr)
                shutil.copyfile(release, dest / name)
        notebooks = [folder / intake.locations[name] for name in handed_in]
        when, source = _submitted_at(folder, times, mtime, notebooks)
        if when is not None:
            timestamps.write_file(dest, when)
        students.append(Collected(folder.name, when, source))
    if not students:
        raise RuntimeError(f"{submissions} holds no student folders")
    for student in sorted(set(times) - {c.student for c in students}):
        print(f"warning: {student} has a time in --timestamps but no submission", file=sys.stderr)
    return students


def _submitted_at(folder: Path, times: dict[str, datetime], mtime: bool,
                  notebooks: list[Path]) -> tuple[datetime | None, str]:
    if folder.name in times:
        return times[folder.name], "--timestamps"
    when = timestamps.read_file(folder)
    if when is not None:
        return when, timestamps.FILE
    if mtime and notebooks:
        return timestamps.newest_mtime(notebooks), "--mtime"
    return None, "none"
