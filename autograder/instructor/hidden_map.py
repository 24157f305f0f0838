"""Which hidden checks score which nbgrader test cell: derived from the check table, never typed twice.

Every check of ``autograder/checks`` names the nbgrader test cell it scores (``Check.cell``), and
a test cell's points are the sum of its checks' points (the build writes them into the
notebooks). So the score of every autograded cell is simply the points its checks earned in the
hidden suite's results (joined on the checks' stable ids), and nbgrader's gradebook gives the same
total as the headless grader. nbgrader's own test cells (the visible tests) still run for the
student's feedback, but never decide a score.
"""

from __future__ import annotations

from autograder.results import check_id

Cell = tuple[str, str]
MARKER = "**Scores from the hidden autograder**"


def cell_map() -> dict[Cell, tuple[str, ...]]:
    """(notebook, grade_id) -> the ids of the checks that score the cell."""
    from autograder.checks import all_checks

    cells: dict[Cell, list[str]] = {}
    for check in all_checks():
        cells.setdefault(check.cell, []).append(check.id)
    return {cell: tuple(ids) for cell, ids in cells.items()}


def cell_points() -> dict[Cell, float]:
    from autograder.instructor.build import cell_points as points

    return points()


def derive(ids: tuple[str, ...], results: dict) -> tuple[float, str] | None:
    """The cell's score and a one-line note, from the hidden results; None when none of ``ids`` was
    graded in this run (the MNIST targets without MNIST): the cell's grade is then pending."""
    tests = [t for t in results["tests"] if check_id(t) in ids]
    if not tests:
        return None
    earned = round(sum(t["score"] for t in tests), 6)
    possible = sum(t["max_score"] for t in tests)
    passed = sum(t["status"] == "passed" for t in tests)
    # What the hidden suite checked for this cell, test by test: the cell's credit follows its code.
    lines = [f"    - {'✓' if t['status'] == 'passed' else '✗'} {t['name']} ({t['score']:g}/{t['max_score']:g})"
             + ("" if t["status"] == "passed" else f": {_short(t.get('output', ''))}") for t in tests]
    return earned, f"{earned:g}/{possible:g}, {passed} of {len(tests)} hidden tests passed:\n" + "\n".join(lines)


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
