"""A student's grading into the course: the one place that writes autograded notebooks, gradebook scores,
hidden results and fingerprints, in the main process only, one student at a time.

Order, so that a failure at any step leaves the student visibly stale (:mod:`.freshness`), never
silently wrong:

1. check that nbgrader and the hidden suite graded the same submission, and that it is still the
   one in ``submitted/`` (else nothing is written);
2. install the new autograded notebooks (the whole folder, or the one regraded notebook);
3. one gradebook transaction (:func:`.gradebook.open_gradebook`, retried while another program holds
   the lock): what nbgrader autograde wrote, merged field by field (:mod:`.workspace` lists them;
   ``needs_manual_grade`` by nbgrader's own rule against the manual score now in the gradebook), the
   submission's time from ``timestamp.txt``, the hidden suite's scores and notes, the due date and
   every notebook's late penalty from the new scores;
4. ``hidden/<student>.json``;
5. the fingerprint, last: digests of the submitted files, of each autograded notebook with the
   submitted notebook it came from, and of the hidden results.
"""

from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from dlcore.data.fetch import sha256_file

from . import timestamps
from .freshness import digests, hidden_path, read_fingerprint, write_fingerprint
from .gradebook import open_gradebook
from .hidden_scores import GradedCell, write_scores
from .late import apply_penalties, set_due_date
from .layout import Course
from .term import Term
from .workspace import NbgraderRun


class CommitRefused(RuntimeError):
    """The runs cannot be committed (they graded different files, or the submission changed since)."""


@dataclass
class Committed:
    """What was written for a student."""

    student: str
    written: dict[tuple[str, str], float] = field(default_factory=dict)  # hidden scores written
    penalties: dict[str, float] = field(default_factory=dict)  # notebook -> late penalty


def install_autograded(course: Course, run: NbgraderRun) -> None:
    """The run's autograded notebooks into ``autograded/<student>/``: the whole folder replaced (a
    rename, so readers see the old or the new folder), or only the regraded notebooks."""
    assert run.output is not None
    dest = course.folder("autograded", run.student)
    if run.only is None or not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        old = dest.with_name(f".{dest.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        staged = dest.with_name(f".{dest.name}.new")
        shutil.rmtree(staged, ignore_errors=True)
        shutil.copytree(run.output, staged)
        if dest.exists():
            os.replace(dest, old)
        os.replace(staged, dest)
        shutil.rmtree(old, ignore_errors=True)
        return
    for name in run.notebooks:
        staged = dest / f".{name}.ipynb.new"
        shutil.copyfile(run.output / f"{name}.ipynb", staged)
        os.replace(staged, dest / f"{name}.ipynb")


def merge_nbgrader(gb, course: Course, run: NbgraderRun) -> None:
    """What ``nbgrader autograde`` wrote in the private gradebook, into the course's (open session)."""
    from nbgrader.api import MissingEntry
    from sqlalchemy.exc import SAWarning

    gb.update_or_create_student(run.student)
    try:
        gb.find_submission(course.assignment, run.student)
    except MissingEntry:  # the skeleton of every notebook, grade and comment (nbgrader commits it)
        with warnings.catch_warnings():  # nbgrader's add_submission warns about its own autoflush
            warnings.simplefilter("ignore", SAWarning)
            gb.add_submission(course.assignment, run.student)
    for (notebook, cell), score in run.auto_scores.items():
        grade = gb.find_grade(cell, notebook, course.assignment, run.student)
        grade.auto_score = score
        # nbgrader's SaveAutoGrades: a cell with a manual score, or without an automatic one, is for review
        grade.needs_manual_grade = grade.manual_score is not None or score is None
    for (notebook, cell), text in run.auto_comments.items():
        gb.find_comment(cell, notebook, course.assignment, run.student).auto_comment = text


def set_timestamp(gb, course: Course, student: str) -> None:
    """The submission's time in the gradebook: the one in ``submitted/.../timestamp.txt`` (None without)."""
    when = timestamps.read_file(course.folder("submitted", student))
    submission = gb.find_submission(course.assignment, student)
    value = when.replace(tzinfo=None) if when else None  # nbgrader stores naive UTC
    if submission.timestamp != value:
        submission.timestamp = value


def commit_student(course: Course, term: Term, student: str, run: NbgraderRun | None, hidden: dict | None,
                   cells: list[GradedCell], hidden_submitted: dict[str, str] | None = None) -> Committed:
    """Write one student's grading (see the module's docstring). ``run``: nbgrader's result (None when
    only the hidden scores are imported); ``hidden``: the hidden suite's results (None for a course
    without mapped cells); ``hidden_submitted``: the digests of the files the hidden suite graded.

    Raises:
        CommitRefused: the runs graded different files, or the submission changed since.
        GradebookBusy: another program held the gradebook's lock through every retry.
    """
    from autograder.results import write_atomic

    submitted = digests(course.folder("submitted", student))
    for what, seen in (("nbgrader", run.submitted if run else None), ("the hidden suite", hidden_submitted)):
        if seen is not None and seen != submitted:
            raise CommitRefused(f"{student}: the submission changed while {what} graded it: run autograde again")
    if run is not None:
        install_autograded(course, run)
    committed = Committed(student)

    def write(gb) -> None:
        from nbgrader.api import MissingEntry

        if run is not None:
            merge_nbgrader(gb, course, run)
        try:
            set_timestamp(gb, course, student)
        except MissingEntry:
            never = f"{student} was never autograded by nbgrader: run `autograde --student {student}`"
            raise CommitRefused(never) from None
        if hidden is not None:
            committed.written = write_scores(gb, course, student, hidden, cells)
        set_due_date(gb, course, term)
        committed.penalties = apply_penalties(gb, course, term, student)

    open_gradebook(course, write)
    record = None
    if hidden is not None:
        write_atomic(hidden_path(course, student), hidden)
        record = {"submitted": submitted, "results": sha256_file(hidden_path(course, student))}
    write_fingerprint(course, student, _autograded_record(course, student, run, submitted), record)
    return committed


def _autograded_record(course: Course, student: str, run: NbgraderRun | None,
                       submitted: dict[str, str]) -> dict[str, dict[str, str]]:
    """Notebook -> digests of its autograded file and of the submitted notebook it was made from: the
    regraded notebooks now; the others as recorded before (a hidden-only import takes the autograded
    notebooks on disk as they are: nbgrader was run by hand)."""
    folder = course.folder("autograded", student)
    old = (read_fingerprint(course, student) or {}).get("autograded", {})
    regraded = set(run.notebooks) if run is not None else None
    record = {}
    for name in sorted(n[:-6] for n in submitted if n.endswith(".ipynb")):
        path = folder / f"{name}.ipynb"
        if not path.is_file():
            continue
        if regraded is None or name in regraded or name not in old:
            record[name] = {"submitted": submitted[f"{name}.ipynb"], "autograded": sha256_file(path)}
        else:
            record[name] = old[name]
    return record


def read_hidden(course: Course, student: str) -> dict | None:
    """The student's saved hidden results, or None."""
    import json

    path: Path = hidden_path(course, student)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
