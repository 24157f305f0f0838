"""End to end through nbgrader's own commands: collect, autograde, feedback and export in a temp course.

Three submissions of the real assignment: the solutions (every autograded point), the untouched
release (0 points, no crash) and a partial one (the solutions with ONE solution cell put back to
its release stub; exactly the test cells listed in PARTIAL fail). A fourth, synthetic course checks
that feedback hides hidden tests even in the traceback of a hidden assert that fails.
"""

from __future__ import annotations

import csv
import html
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the autograder package lives at the repository root

from autograder.instructor.feedback import HIDDEN_FAILURE  # noqa: E402
from autograder.instructor.layout import ASSIGNMENT, source_notebooks  # noqa: E402
from autograder.instructor.nbgrader_run import nbgrader_env  # noqa: E402
from autograder.instructor.regions import hidden_test_lines, public_lines, solution_lines  # noqa: E402

# The partial submission: in PARTIAL's notebook, the solution cell PARTIAL["break"] is the release
# stub (raise NotImplementedError); the test cells PARTIAL["fails"] (notebook, grade_id) use it and
# must score 0; every other autograded test cell of the assignment must score full points. Part 3
# loads part 1 from the submission, so its MLP target (which needs Tanh) fails too.
PARTIAL = {
    "notebook": "01_modules.ipynb",
    "break": "tanh",
    "fails": {("01_modules", "test_tanh_fprop"), ("01_modules", "test_tanh_bprop"),
              ("01_modules", "test_tanh_gradcheck"), ("03_training", "test_targets")},
}


def course_cli(course: Path, *args: str, solutions: Path | None = None) -> str:
    command = [sys.executable, "-m", "autograder.course", "--quiet", "--course", str(course)]
    command += ["--solutions", str(solutions)] if solutions else []
    result = subprocess.run([*command, *args], cwd=REPO, env=nbgrader_env(), capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def graded_test_cells(path: Path) -> dict[tuple[str, str], float]:
    """(notebook, grade_id) -> points of the autograded test cells of a source notebook."""
    cells = {}
    for cell in nbformat.read(path, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            cells[path.stem, meta["grade_id"]] = float(meta["points"])
    return cells


def replace_cell(path: Path, grade_id: str, donor: Path) -> None:
    """Put ``donor``'s cell ``grade_id`` in place of the same cell of the notebook at ``path``."""
    nb, source = nbformat.read(path, as_version=4), nbformat.read(donor, as_version=4)
    stub = next(c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    nb.cells[index] = stub
    nbformat.write(nb, path)


class _Text(HTMLParser):
    """The text of an HTML page (syntax highlighting splits code lines into many tags)."""

    def __init__(self):
        super().__init__()
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


def html_text(path: Path) -> str:
    parser = _Text()
    parser.feed(path.read_text())
    return html.unescape("".join(parser.parts))


def grades(course: Path, student: str) -> dict[tuple[str, str], tuple[float | None, float | None, float]]:
    """(notebook, grade_id) -> (auto_score, manual_score, score) of each autograded test cell."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for notebook in gb.find_submission(ASSIGNMENT, student).notebooks:
            for grade in notebook.grades:
                if grade.cell.cell_type == "code" and grade.auto_score is not None:
                    out[notebook.name, grade.name] = (grade.auto_score, grade.manual_score, grade.score)
    return out


def auto_scores(course: Path, student: str) -> dict[tuple[str, str], float]:
    """(notebook, grade_id) -> score of each autograded test cell of the student's submission: the one
    totals, feedback and export use (``Grade.score``: the hidden suite's derived score when imported)."""
    return {key: score for key, (_, _, score) in grades(course, student).items()}


def grade_submissions(course: Path, subs: Path, csv_path: Path) -> tuple[str, dict[str, dict[str, str]]]:
    """The instructor's round on ``subs`` (one folder per student): collect, autograde (hidden scores
    imported, ``--no-mnist``), feedback, export. Returns the autograde log and the CSV rows by student."""
    course_cli(course, "collect", str(subs))
    log = course_cli(course, "autograde", "--no-mnist")
    course_cli(course, "feedback")
    course_cli(course, "export", "--to", str(csv_path))
    with open(csv_path, newline="") as f:
        return log, {row["student_id"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A temp course after collect, autograde, feedback and export of the three submissions."""
    tmp = tmp_path_factory.mktemp("course")
    course, release, subs = tmp / "course", tmp / "release", tmp / "submissions"
    course_cli(course, "release", "--out", str(release))
    sources = source_notebooks()
    for student, folder in (("solution", None), ("untouched", release), ("partial", None)):
        (subs / student).mkdir(parents=True)
        for path in sources:
            donor = folder / path.name if folder else path
            (subs / student / path.name).write_bytes(donor.read_bytes())
    replace_cell(subs / "partial" / PARTIAL["notebook"], PARTIAL["break"], release / PARTIAL["notebook"])
    # The hidden suite's scores are imported (without MNIST: test_targets keeps nbgrader's score;
    # tests/test_hidden_gradebook.py covers the import itself); they must agree with nbgrader's here.
    autograde_log, grades = grade_submissions(course, subs, tmp / "grades.csv")
    return {"course": course, "grades": grades, "log": autograde_log, "sources": sources}


def test_partial_mapping_names_real_cells():
    cells = {key for path in source_notebooks() for key in graded_test_cells(path)}
    assert PARTIAL["fails"] <= cells, f"PARTIAL names test cells {PARTIAL['fails'] - cells} that do not exist"
    source = REPO / "solutions" / PARTIAL["notebook"]
    ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nbformat.read(source, as_version=4).cells}
    assert PARTIAL["break"] in ids


def test_autograde_scores_every_test_cell(graded):
    tests = {key: pts for path in graded["sources"] for key, pts in graded_test_cells(path).items()}
    full = sum(tests.values())
    assert full > 0
    expected = {
        "solution": dict(tests),
        "untouched": dict.fromkeys(tests, 0.0),
        "partial": {gid: (0.0 if gid in PARTIAL["fails"] else pts) for gid, pts in tests.items()},
    }
    for student, cells in expected.items():
        assert auto_scores(graded["course"], student) == cells, f"{student}: unexpected per-cell scores"
        row = graded["grades"][student]
        assert float(row["score"]) == sum(cells.values()), f"{student}: exported score"
    assert float(graded["grades"]["partial"]["score"]) == full - sum(tests[g] for g in PARTIAL["fails"])
    max_scores = {float(row["max_score"]) for row in graded["grades"].values()}
    assert len(max_scores) == 1 and max_scores.pop() >= full  # manually graded answers count in max_score
    print(graded["log"])  # per-submission autograde seconds, shown with -s


def test_feedback_hides_hidden_tests(graded):
    hidden, shown = set(), set()  # lines of hidden tests; lines that feedback may show (solutions included)
    for path in graded["sources"]:
        for cell in nbformat.read(path, as_version=4).cells:
            hidden |= hidden_test_lines(cell.source)
            shown |= {line.strip() for line in public_lines(cell.source)} | solution_lines(cell.source)
    hidden -= shown
    assert hidden, "no hidden tests to look for"
    pages = sorted((graded["course"] / "feedback").rglob("*.html"))
    assert len(pages) == 3 * len(graded["sources"])
    for page in pages:
        lines = {line.strip() for line in html_text(page).splitlines()}
        leaked = sorted(hidden & lines)
        assert not leaked, f"{page.name} shows hidden tests: {leaked[:3]}"


def _tiny_notebook(solution: bool) -> nbformat.NotebookNode:
    def cell(kind, grade_id, source, **extra):
        meta = {"grade": kind == "tests", "solution": kind == "solution", "locked": kind == "tests",
                "grade_id": grade_id, "schema_version": 3, **extra}
        new = nbformat.v4.new_code_cell(source, metadata={"nbgrader": meta})
        new["id"] = grade_id
        return new

    body = "    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION" if solution else "    return 2"
    return nbformat.v4.new_notebook(cells=[
        cell("solution", "add", f"def add(a, b):\n{body}"),
        cell("tests", "test_add", "assert add(1, 1) == 2\n### BEGIN HIDDEN TESTS\n"
             "secret_total = add(20, 22)\nassert secret_total == 42, 'add is wrong on larger numbers'\n"
             "### END HIDDEN TESTS", points=2),
    ], metadata={"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}})


def test_feedback_hides_the_traceback_of_a_failed_hidden_test(tmp_path):
    solutions, subs, course = tmp_path / "solutions", tmp_path / "subs" / "lucky", tmp_path / "course"
    solutions.mkdir()
    subs.mkdir(parents=True)
    nbformat.write(_tiny_notebook(solution=True), solutions / "tiny.ipynb")
    nbformat.write(_tiny_notebook(solution=False), subs / "tiny.ipynb")  # passes the visible test only
    for step in (["collect", str(tmp_path / "subs")], ["autograde"], ["feedback"]):
        course_cli(course, *step, solutions=solutions)
    autograded = nbformat.read(course / "autograded" / "lucky" / ASSIGNMENT / "tiny.ipynb", as_version=4)
    traceback = "\n".join(autograded.cells[1].outputs[0]["traceback"])
    assert "secret_total" in traceback  # what nbgrader alone would show in the feedback
    text = html_text(course / "feedback" / "lucky" / ASSIGNMENT / "tiny.html")
    assert "secret" not in text and "add(20, 22)" not in text
    assert HIDDEN_FAILURE in text and "assert add(1, 1) == 2" in text
    assert "add is wrong on larger numbers" in text  # the message written for the student stays
    assert auto_scores(course, "lucky") == {("tiny", "test_add"): 0.0}
