"""A folder of submissions -> nbgrader's ``submitted/<student>/<assignment>/`` layout.

Input layout: one subfolder per student, named by the student id, holding that student's notebooks
under their released names::

    SUBMISSIONS/alice/01_modules.ipynb
    SUBMISSIONS/alice/02_gradcheck.ipynb
    SUBMISSIONS/bob/01_modules.ipynb

A student's earlier submission in the course folder is replaced. A notebook the student did not hand
in is replaced by the untouched release (it then scores 0), with a warning; files that are not
released notebooks are ignored, with a warning.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from .layout import Course

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")


def collect(course: Course, submissions: Path) -> list[str]:
    """Copy every student folder of ``submissions`` into the course; the student ids collected."""
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
        handed_in = {p.name: p for p in folder.glob("*.ipynb")}
        for extra in sorted(set(handed_in) - set(released)):
            print(f"warning: {folder.name}: ignoring {extra} (not a notebook of the assignment)", file=sys.stderr)
        dest = course.folder("submitted", folder.name)
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for name, release in released.items():
            if name not in handed_in:
                print(f"warning: {folder.name}: {name} missing, grading the untouched release", file=sys.stderr)
            shutil.copyfile(handed_in.get(name, release), dest / name)
        students.append(folder.name)
    if not students:
        raise RuntimeError(f"{submissions} holds no student folders")
    return students
