"""The grades in the CSV layouts Canvas and Moodle import: two grade columns per student, the core and
the bonus (``<name> core``, ``<name> bonus``, ``[lms] name`` of the term file), after late penalties.

**Canvas** (Grades > Import): the layout of Canvas's own gradebook export, which its import reads
back: the columns ``Student, ID, SIS User ID, SIS Login ID, Section``, then one column per
assignment; a second row ``Points Possible`` gives each assignment's points (Canvas's export writes
it; its import takes it as the row of points, not as a student). Canvas matches students by
``ID`` (its own user id), else ``SIS User ID``, else the name: this file leaves ``ID`` empty and
puts the course's student id in ``SIS User ID``, so name the submissions by SIS user id (or fill
``ID`` before importing). A column whose name matches no assignment creates one with that name.

**Moodle** (Grades > Import > CSV file): any header; on the import page map ``ID number`` to the
user field ``idnumber`` (or ``Email address`` to ``email``), each grade column to a grade item
("new grade item" creates it) and each ``(feedback)`` column to that item's feedback. Moodle takes
an empty grade as "no grade".

Pending grades: a part (core or bonus) with a pending grade, or a student never graded, gets an
**empty** grade cell, so that the LMS records no grade rather than a provisional total; Moodle's
feedback column says what is pending, and ``export`` lists those students. A late penalty is named in the feedback too.
"""

from __future__ import annotations

from pathlib import Path

from .export import Row, Sheet, number, write_csv
from .term import Term


def _pending(row: Row, notebooks: tuple[str, ...]) -> list[str]:
    return [p for p in row.pending if p.split("/")[0] in notebooks]


def _grade(row: Row, notebooks: tuple[str, ...]) -> str:
    """The part's total, or empty when it is not final (never graded, or a grade of it pending)."""
    return number(row.total(notebooks)) if row.graded and not _pending(row, notebooks) else ""


def _feedback(row: Row, notebooks: tuple[str, ...]) -> str:
    if not row.graded:
        return "not graded yet"
    notes = []
    pending = _pending(row, notebooks)
    if pending:
        notes.append(f"pending: {', '.join(pending)}")
    penalty = row.penalty(notebooks)
    if penalty:
        notes.append(f"late {number(row.seconds_late / 3600)} h: -{number(penalty)} points")
    return "; ".join(notes)


def write_canvas(path: Path, sheet: Sheet, term: Term) -> Path:
    """The Canvas gradebook import CSV (see the module's docstring)."""
    core, bonus = f"{term.lms_name} core", f"{term.lms_name} bonus"
    header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", core, bonus]
    points = ["Points Possible", "", "", "", "", number(sheet.maximum(term.core)), number(sheet.maximum(term.bonus))]
    lines = []
    for row in sheet.rows:
        name = f"{row.last_name}, {row.first_name}" if row.last_name and row.first_name else row.student
        lines.append([name, "", row.student, "", "", _grade(row, term.core), _grade(row, term.bonus)])
    return write_csv(path, header, lines, extra=[points])


def write_moodle(path: Path, sheet: Sheet, term: Term) -> Path:
    """The Moodle grade import CSV (see the module's docstring)."""
    core, bonus = f"{term.lms_name} core", f"{term.lms_name} bonus"
    header = ["First name", "Last name", "ID number", "Email address", core, f"{core} (feedback)", bonus,
              f"{bonus} (feedback)"]
    lines = [[row.first_name, row.last_name, row.student, row.email, _grade(row, term.core),
              _feedback(row, term.core), _grade(row, term.bonus), _feedback(row, term.bonus)] for row in sheet.rows]
    return write_csv(path, header, lines)
