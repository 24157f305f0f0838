"""The grades as CSV: one row per student, one column per notebook, the core and bonus totals, late
penalties, and which grades are still pending.

Read from nbgrader's gradebook after :mod:`.freshness` said every student is current (``export``
refuses otherwise) and :mod:`.late` refreshed the penalties. A grade is *pending* when nbgrader marks
it ``needs_manual_grade``: written answers nobody graded in the formgrader yet, cells nbgrader wants
reviewed, and the MNIST target cells when the hidden suite ran without MNIST. A student with a
pending grade has the status ``pending``, and ``pending_cells`` lists them; a collected submission
that was never graded has the status ``not graded`` and no scores (never a zero).

``grades.csv`` columns: ``student_id, last_name, first_name, email, status, timestamp`` (UTC),
``hours_late``, one column per notebook (its score before any penalty), ``core_raw, core_penalty,
core, bonus_raw, bonus_penalty, bonus`` (totals of the term's parts, after penalties), ``score`` (core
+ bonus), ``core_max, bonus_max``, ``pending_cells``. The LMS variants are in :mod:`.lms`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .freshness import Freshness
from .layout import Course
from .term import Term


@dataclass
class Row:
    """One student's grades, as exported."""

    student: str
    status: str  # "final", "pending" or "not graded"
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    timestamp: datetime | None = None  # aware UTC
    seconds_late: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)  # notebook -> score before its penalty
    penalties: dict[str, float] = field(default_factory=dict)  # notebook -> late penalty
    pending: list[str] = field(default_factory=list)  # "notebook/cell"
    reason: str = ""  # why not graded

    @property
    def graded(self) -> bool:
        return self.status != "not graded"

    def raw(self, notebooks: tuple[str, ...]) -> float:
        return sum(self.scores.get(n, 0.0) for n in notebooks)

    def penalty(self, notebooks: tuple[str, ...]) -> float:
        return sum(self.penalties.get(n, 0.0) for n in notebooks)

    def total(self, notebooks: tuple[str, ...]) -> float:
        return max(0.0, self.raw(notebooks) - self.penalty(notebooks))


@dataclass
class Sheet:
    """Every student's row, with the assignment's notebooks and their maximum scores."""

    rows: list[Row]
    maxima: dict[str, float]  # notebook -> max score

    def maximum(self, notebooks: tuple[str, ...]) -> float:
        return sum(self.maxima.get(n, 0.0) for n in notebooks)


def number(value: float) -> str:
    """A score for a CSV cell: at most two decimals, no trailing zeros."""
    text = f"{round(value + 0.0, 2):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def read_sheet(course: Course, term: Term, freshness: Freshness, students: list[str] | None = None) -> Sheet:
    """The rows of ``students`` (default: everyone collected or in the gradebook), from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    rows, maxima = [], {}
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        assignment = gb.find_assignment(course.assignment)
        for nb in assignment.notebooks:
            maxima[nb.name] = float(nb.max_score)
        term.check_notebooks(list(maxima))
        known = {s.id for s in gb.students}
        everyone = sorted(set(course.students()) | known) if students is None else sorted(students)
        for student in everyone:
            if student in freshness.ungraded or student in freshness.stale:
                why = freshness.ungraded.get(student) or freshness.stale[student]
                rows.append(Row(student, "not graded", reason=why))
                continue
            try:
                submission = gb.find_submission(course.assignment, student)
            except MissingEntry:
                rows.append(Row(student, "not graded", reason="no submission"))
                continue
            row = Row(student, "final", first_name=submission.student.first_name or "",
                      last_name=submission.student.last_name or "", email=submission.student.email or "",
                      timestamp=submission.timestamp.replace(tzinfo=timezone.utc) if submission.timestamp else None,
                      seconds_late=float(submission.total_seconds_late))
            for nb in submission.notebooks:
                row.scores[nb.name] = float(nb.score)
                row.penalties[nb.name] = float(nb.late_submission_penalty or 0.0)
                row.pending += [f"{nb.name}/{g.name}" for g in nb.grades if g.needs_manual_grade]
            row.status = "pending" if row.pending else "final"
            rows.append(row)
    return Sheet(rows, maxima)


COLUMNS = ["student_id", "last_name", "first_name", "email", "status", "timestamp", "hours_late"]


def write_grades(path: Path, sheet: Sheet, term: Term) -> Path:
    """``grades.csv`` (see the module's docstring), written to a temporary file then renamed."""
    notebooks = list(sheet.maxima)
    header = [*COLUMNS, *notebooks, "core_raw", "core_penalty", "core", "bonus_raw", "bonus_penalty", "bonus",
              "score", "core_max", "bonus_max", "pending_cells"]
    lines = []
    for row in sheet.rows:
        base = [row.student, row.last_name, row.first_name, row.email, row.status,
                row.timestamp.isoformat() if row.timestamp else "",
                number(row.seconds_late / 3600) if row.graded else ""]
        if not row.graded:
            lines.append([*base, *[""] * (len(header) - len(base) - 1), row.reason])
            continue
        parts = []
        for notebooks_of in (term.core, term.bonus):
            parts += [number(row.raw(notebooks_of)), number(row.penalty(notebooks_of)), number(row.total(notebooks_of))]
        lines.append([*base, *[number(row.scores.get(n, 0.0)) for n in notebooks], *parts,
                      number(row.total(term.core) + row.total(term.bonus)), number(sheet.maximum(term.core)),
                      number(sheet.maximum(term.bonus)), "; ".join(row.pending)])
    return write_csv(path, header, lines)


def write_csv(path: Path, header: list[str], lines: list[list[str]], extra: list[list[str]] | None = None) -> Path:
    """A CSV (UTF-8, RFC 4180 quoting), through a temporary file renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for line in [*(extra or []), *lines]:
            writer.writerow(line)
    tmp.replace(path)
    return path
