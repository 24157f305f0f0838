"""The hidden autograder's verdicts as the scores of nbgrader's test cells (after ``nbgrader autograde``).

For one student: grade ``submitted/<student>/<assignment>/`` with the hidden autograder
(``autograder.grade.grade_submission``, the same grading as ``python -m autograder grade``; in a
worker process, :func:`run_hidden`), then, in the one process that writes the course (:mod:`.commit`),
keep its results in ``<course>/hidden/<student>.json`` and write every autograded test cell's score,
derived from its checks (:mod:`.hidden_map`), as the grade's ``manual_score`` (:func:`write_scores`): nbgrader's
``Grade.score`` prefers it to ``auto_score``, so totals, feedback and export show it. A cell whose
checks were not graded in this run (the MNIST targets without MNIST) is marked as needing a grade
(``needs_manual_grade``) with no score written, so the export shows it pending, never a zero.

A note per cell goes into the comment of the solution cell the test cell follows (nbgrader keeps
comments on solution cells only), after a marker line: the instructor's own comment above the
marker is kept, our block is replaced at each import.

When the grader cannot grade the submission at all (no sandbox, an overloaded machine), nothing
is written and :class:`NotGradedError` says why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .hidden_map import MARKER, cell_map, derive
from .layout import Course, source_notebooks


class NotGradedError(RuntimeError):
    """The hidden autograder could not grade this submission: no score was written."""

    def __init__(self, student: str, reason: dict) -> None:
        super().__init__(f"{student}: not graded: {reason['reason']} {reason.get('detail', '')}".strip())
        self.retry = bool(reason.get("retry"))


@dataclass(frozen=True)
class GradedCell:
    notebook: str
    grade_id: str
    points: float
    solution: str | None  # the solution cell it follows (carries the note), if any


def autograded_cells(solutions: Path) -> list[GradedCell]:
    """The autograded test cells of the source notebooks, in order."""
    cells = []
    for path in source_notebooks(solutions):
        solution = None
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution") and cell.cell_type == "code":
                solution = meta["grade_id"]
            elif meta.get("grade") and not meta.get("solution"):
                cells.append(GradedCell(path.stem, meta["grade_id"], float(meta["points"]), solution))
    return cells


def mapped_cells(course: Course) -> list[GradedCell]:
    """The course's test cells scored from the hidden suite; [] for a course the check table does not
    describe (none of its cells is scored by a check). Raises when some of its cells are not."""
    cells, scored = autograded_cells(course.solutions), cell_map()
    mapped = [c for c in cells if (c.notebook, c.grade_id) in scored]
    if not mapped:
        return []
    missing = [f"{c.notebook}/{c.grade_id}" for c in cells if (c.notebook, c.grade_id) not in scored]
    if missing:
        raise ValueError(f"test cells that no check scores (autograder/checks): {', '.join(missing)}")
    return mapped


def run_hidden(course: Course, student: str, mnist_dir: Path | None, calibration=None) -> dict:
    """The hidden autograder's results for the student's submitted notebooks (Gradescope's format; a
    not-graded result when the grader could not grade). Writes nothing: :mod:`.commit` does."""
    os.environ.setdefault("AUTOGRADER_SOLUTIONS", str(course.solutions))  # the reference the grader loads
    from autograder.grade import grade_submission

    return grade_submission(course.folder("submitted", student), mnist_dir=mnist_dir, calibration=calibration)


def not_graded_error(student: str, results: dict) -> NotGradedError | None:
    """A :class:`NotGradedError` when ``results`` carry no score, else None."""
    from autograder.results import is_graded

    return None if is_graded(results) else NotGradedError(student, results["extra_data"]["not_graded"])


def expected_scores(results: dict, cells: list[GradedCell]) -> dict[tuple[str, str], float | None]:
    """(notebook, grade_id) -> the score the hidden results give the cell; None: not graded in that run
    (its grade is then pending)."""
    scored = cell_map()
    out = {}
    for cell in cells:
        derived = derive(scored[cell.notebook, cell.grade_id], results)
        out[cell.notebook, cell.grade_id] = None if derived is None else derived[0]
    return out


def write_scores(gb, course: Course, student: str, results: dict,
                 cells: list[GradedCell]) -> dict[tuple[str, str], float]:
    """Derived scores and notes into the open gradebook session ``gb`` (committed by the caller);
    returns (notebook, grade_id) -> score written."""
    from nbgrader.api import MissingEntry

    scored = cell_map()
    written, notes = {}, {}
    for cell in cells:
        grade = gb.find_grade(cell.grade_id, cell.notebook, course.assignment, student)
        derived = derive(scored[cell.notebook, cell.grade_id], results)
        if derived is None:  # not graded in this run (MNIST): pending, not a score
            grade.manual_score, grade.needs_manual_grade = None, True
            note = "not graded yet (the MNIST targets need MNIST: run import-hidden with it)"
        else:
            (grade.manual_score, note), grade.needs_manual_grade = derived, False
            written[cell.notebook, cell.grade_id] = derived[0]
        if cell.solution:
            notes.setdefault((cell.notebook, cell.solution), []).append(f"* `{cell.grade_id}`: {note}")
    for (notebook, solution), lines in notes.items():
        try:
            comment = gb.find_comment(solution, notebook, course.assignment, student)
        except MissingEntry:
            continue
        own = (comment.manual_comment or "").split(MARKER)[0].rstrip()  # the instructor's, kept
        block = MARKER + " (nbgrader's test cells do not decide these scores):\n\n" + "\n".join(lines)
        if comment.auto_comment:  # nbgrader's own ("No response."), shown only without a manual comment
            block += "\n\n" + comment.auto_comment
        comment.manual_comment = f"{own}\n\n{block}" if own else block
    return written


def summary(student: str, results: dict, written: dict[tuple[str, str], float], cells: list[GradedCell],
            seconds: float, mnist: bool) -> str:
    """The one line ``import-hidden`` and ``autograde`` print for a student."""
    total = sum(written.values())
    possible = sum(c.points for c in cells if (c.notebook, c.grade_id) in written)
    return (f"{student}: hidden autograder {results['score']:g}/{results['max_score']:g} -> "
            f"{total:g}/{possible:g} points in {len(written)} nbgrader cells "
            f"({seconds:.1f} s){'' if mnist else ', MNIST targets pending'}")
