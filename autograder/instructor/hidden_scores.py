"""Import the hidden autograder's verdicts into nbgrader's gradebook (after ``nbgrader autograde``).

For one student: run the hidden autograder (``autograder.grade.grade_submission``) on
``submitted/<student>/<assignment>/``, keep its results in ``<course>/hidden/<student>.json``, and
for every test cell of ``hidden_map.HIDDEN_MAP`` write the derived score as the grade's
``manual_score`` (nbgrader's ``Grade.score`` prefers it to ``auto_score``, so totals, feedback and
export show it). A note per cell goes into the comment of the solution cell the test cell follows
(nbgrader keeps comments on solution cells only), after a marker line: the instructor's own comment
above the marker is kept, our block is replaced at each import.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .hidden_map import HIDDEN_MAP, MARKER, NBGRADER_ONLY, derive
from .layout import Course, source_notebooks


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
    """The course's test cells scored from the hidden suite; [] for a course the map does not
    describe (no cell of it mapped). Raises when the map misses some of the course's cells."""
    cells = autograded_cells(course.solutions)
    mapped = [c for c in cells if (c.notebook, c.grade_id) in HIDDEN_MAP]
    if not mapped:
        return []
    missing = [f"{c.notebook}/{c.grade_id}" for c in cells
               if (c.notebook, c.grade_id) not in HIDDEN_MAP and (c.notebook, c.grade_id) not in NBGRADER_ONLY]
    if missing:
        raise ValueError(f"test cells missing from autograder/instructor/hidden_map.py: {', '.join(missing)}")
    return mapped


def run_hidden(course: Course, student: str, mnist_dir: Path | None, timeout: float = 20.0) -> dict:
    """The hidden autograder's results for the student's submitted notebooks, also saved as JSON."""
    os.environ.setdefault("AUTOGRADER_SOLUTIONS", str(course.solutions))  # the reference the grader loads
    from autograder.grade import grade_submission
    from autograder.results import write_atomic

    results = grade_submission(course.folder("submitted", student), timeout=timeout, mnist_dir=mnist_dir)
    write_atomic(course.root / "hidden" / f"{student}.json", results)
    return results


def write_scores(course: Course, student: str, results: dict, cells: list[GradedCell]) -> dict[tuple[str, str], float]:
    """Derived scores into the gradebook; returns (notebook, grade_id) -> score written."""
    from nbgrader.api import Gradebook, MissingEntry

    written, notes = {}, {}
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        for cell in cells:
            grade = gb.find_grade(cell.grade_id, cell.notebook, course.assignment, student)
            derived = derive(grade.max_score, HIDDEN_MAP[cell.notebook, cell.grade_id], results)
            if derived is None:  # not graded in this run (MNIST with --no-mnist): nbgrader's score stands
                grade.manual_score = None
                note = f"not graded by the hidden autograder in this run; nbgrader's score {grade.auto_score:g} stands"
            else:
                grade.manual_score, note = derived
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
        gb.db.commit()
    return written


def import_hidden(course: Course, student: str, mnist_dir: Path | None, timeout: float = 20.0) -> str:
    """Run the hidden suite for one student and write its scores; a one-line summary."""
    cells = mapped_cells(course)
    if not cells:
        return f"{student}: no test cell of this course is in hidden_map.py, nbgrader's scores stand"
    start = time.perf_counter()
    results = run_hidden(course, student, mnist_dir, timeout)
    written = write_scores(course, student, results, cells)
    total = sum(written.values())
    possible = sum(c.points for c in cells if (c.notebook, c.grade_id) in written)
    return (f"{student}: hidden autograder {results['score']:g}/{results['max_score']:g} -> "
            f"{total:g}/{possible:g} points in {len(written)} nbgrader cells "
            f"({time.perf_counter() - start:.1f} s){'' if mnist_dir else ', MNIST not graded'}")
