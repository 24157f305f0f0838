"""A term through nbgrader, end to end, in a temporary course: collect, autograde (nbgrader in jailed
kernels, then the hidden suite's scores into the gradebook), feedback and export.

The students: the solutions (every point), the untouched release (0), a partial one that also
cheats (part 1's Tanh left as the stub; its Linear halves grad_b and then replaces ``np.allclose``
and ``gradcheck`` so that nbgrader's own test cells pass), an escapist (the release, plus a cell
that tries to read the solutions and the gradebook and to overwrite its own collected submission,
and a cell holding the text of nbgrader's hidden-test marker), and one whose notebook nbgrader
refuses (a flipped nbgrader flag): nbgrader fails on that student alone, every other student is
graded and gets feedback.

One score per part: every autograded cell's score is the hidden suite's, so the gradebook's total
of a student equals what ``python -m autograder grade`` gives the same files (MNIST aside: with
``--no-mnist`` the MNIST target cells stay pending, never 0).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from helpers import REPO
from helpers.course import cell, course_cli, digest, graded_test_cells, grades, html_text

from autograder.instructor.hidden_map import MARKER, cell_map
from autograder.instructor.layout import ASSIGNMENT, source_notebooks
from autograder.instructor.nbgrader_run import nbgrader_env

pytestmark = [pytest.mark.grading]
MNIST_CELLS = {("03_training", "test_targets"), ("04_cnn", "test_cnn_target")}
CHEAT = '''        import types
        np.allclose = lambda *args, **kwargs: True  # nbgrader's value asserts now always pass
        globals()["gradcheck"] = lambda *args, **kwargs: types.SimpleNamespace(passed=True)
        self.grad_W = self.z.T @ grad_output
        self.grad_b = 0.5 * grad_output.sum(axis=0)'''
HONEST = '''        self.grad_W = self.z.T @ grad_output
        self.grad_b = grad_output.sum(axis=0)'''
ESCAPE = '''import glob, os
found = []
for pattern in ["../../../source/*/*.ipynb", "../../../gradebook.db", "../../../submitted/*/*/*.ipynb",
                "/work/*/solutions/*.ipynb", "/root/*", "/etc/shadow"]:
    for path in glob.glob(pattern):
        try:
            found.append((path, open(path, "rb").read(20)))
        except OSError:
            pass
# the jail's /tmp is its own: what counts is whether the host's files change (checked outside)
for target in glob.glob("../../../submitted/escapist/*/01_modules.ipynb") + ["/tmp/escaped"]:
    try:
        open(target, "w").write("overwritten")
    except OSError:
        pass
print("FOUND:", found)
# ### BEGIN HIDDEN TESTS (nbgrader's marker in a student's cell)'''


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("term")
    course, release, subs = tmp / "course", tmp / "release", tmp / "submissions"
    course_cli(course, "release", "--out", str(release))
    sources = source_notebooks()
    for student, folder in (("solution", None), ("untouched", release), ("partial", None), ("escapist", release),
                            ("flipped", None)):
        (subs / student).mkdir(parents=True)
        for path in sources:
            (subs / student / path.name).write_bytes(((folder / path.name) if folder else path).read_bytes())
    partial = nbformat.read(subs / "partial" / "01_modules.ipynb", as_version=4)
    cell(partial, "tanh").source = cell(nbformat.read(release / "01_modules.ipynb", as_version=4), "tanh").source
    linear = cell(partial, "linear")
    assert HONEST in linear.source
    linear.source = linear.source.replace(HONEST, CHEAT)
    nbformat.write(partial, subs / "partial" / "01_modules.ipynb")
    escapist = nbformat.read(subs / "escapist" / "01_modules.ipynb", as_version=4)
    escapist.cells.append(nbformat.v4.new_code_cell(ESCAPE))
    nbformat.write(escapist, subs / "escapist" / "01_modules.ipynb")
    flipped = nbformat.read(subs / "flipped" / "01_modules.ipynb", as_version=4)
    cell(flipped, "linear").metadata["nbgrader"].update(grade=True, points=5)  # nbgrader: inconsistent checksums
    nbformat.write(flipped, subs / "flipped" / "01_modules.ipynb")

    course_cli(course, "collect", str(subs))
    collected = digest(course / "submitted" / "escapist" / ASSIGNMENT)
    autograde = course_cli(course, "autograde", "--no-mnist", check=False)
    feedback = course_cli(course, "feedback", check=False)
    course_cli(course, "export", "--to", str(tmp / "grades.csv"))
    with open(tmp / "grades.csv", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    return {"course": course, "autograde": autograde, "feedback": feedback, "rows": rows, "tmp": tmp, "subs": subs,
            "collected": collected, "points": {k: p for path in sources for k, p in graded_test_cells(path).items()}}


def test_one_refused_notebook_costs_its_student_alone(term):
    assert term["autograde"].returncode != 0  # the flipped notebook is reported ...
    assert "flipped" in term["autograde"].stderr and "1 of 5 submissions not graded" in term["autograde"].stderr
    for student in ("solution", "untouched", "partial", "escapist"):  # ... and everyone else is graded
        assert f"imported {student}: hidden autograder" in term["autograde"].stdout
    assert term["feedback"].returncode == 0, term["feedback"].stderr  # the hidden-test marker in a cell too
    for student in ("solution", "untouched", "partial", "escapist"):
        assert len(list((term["course"] / "feedback" / student).rglob("*.html"))) == 4


def test_every_autograded_cell_takes_the_hidden_suites_score(term):
    course, points = term["course"], term["points"]
    solution = grades(course, "solution")
    for key, pts in points.items():
        auto, manual, score, pending = solution[key]
        if key in MNIST_CELLS:  # --no-mnist: pending, never a zero
            assert pending and manual is None, key
        else:
            assert (manual, score, pending) == (pts, pts, False), key
    untouched = grades(course, "untouched")
    assert all(untouched[key][1] == 0 for key in points if key not in MNIST_CELLS)


def test_a_student_who_fools_nbgraders_cells_gets_the_hidden_suites_score(term):
    course, points = term["course"], term["points"]
    partial = grades(course, "partial")
    results = json.loads((course / "hidden" / "partial.json").read_text())
    by_id = {t["extra_data"]["id"]: t for t in results["tests"]}
    for key, ids in cell_map().items():
        if key in MNIST_CELLS:
            continue
        expected = sum(by_id[i]["score"] for i in ids)
        assert partial[key][2] == pytest.approx(expected), key
        if key[1].startswith("test_tanh"):
            assert expected == 0, key
    auto, manual, score, _ = partial["01_modules", "test_linear_bprop"]
    assert auto == points["01_modules", "test_linear_bprop"], "nbgrader's own test cell was fooled"
    assert score < auto, "the hidden suite's lower score is the cell's score"


@pytest.mark.parametrize("student", ["solution", "untouched", "partial"])
def test_the_gradebook_and_the_headless_grader_give_the_same_score(term, student):
    course = term["course"]
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(term["subs"] / student), "--no-mnist",
                           "--format", "json"], cwd=REPO, env=nbgrader_env(), capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    headless = json.loads(proc.stdout)
    book = grades(course, student)
    total = sum(score for key, (_a, _m, score, _p) in book.items() if key in term["points"] and key not in MNIST_CELLS)
    assert total == pytest.approx(headless["score"])
    assert float(term["rows"][student]["score"]) >= total  # the export adds the manual answers (0 so far)


def test_student_code_in_nbgraders_kernel_is_jailed(term):
    course = term["course"]
    assert digest(course / "submitted" / "escapist" / ASSIGNMENT) == term["collected"], "submitted/ was written"
    nb = nbformat.read(course / "autograded" / "escapist" / ASSIGNMENT / "01_modules.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for o in nb.cells[-1].get("outputs", []))
    # Nothing of the course or the machine was readable; a write into the jail's own /tmp (a private tmpfs
    # that vanishes with the kernel) is not recorded: the host's files are checked below.
    assert "FOUND: []" in printed, printed[:500]
    assert not Path("/tmp/escaped").exists() or Path("/tmp/escaped").read_text() != "overwritten"
    assert json.loads((course / "hidden" / "escapist.json").read_text())["score"] == 0


def test_feedback_shows_the_scores_and_the_note(term):
    course = term["course"]
    book = grades(course, "partial")
    page = html_text(course / "feedback" / "partial" / ASSIGNMENT / "01_modules.html")
    bprop = book["01_modules", "test_linear_bprop"][2]
    assert f"Score: {round(bprop, 2):g}" in page.replace(".0 /", " /") or f"Score: {round(bprop, 2)}" in page
    assert MARKER.strip("*") in page and "test_linear_bprop" in page


def test_import_hidden_alone_is_idempotent(term):
    course = term["course"]
    before = grades(course, "partial")
    log = course_cli(course, "import-hidden", "--student", "partial", "--no-mnist").stdout
    assert log.startswith("imported partial: hidden autograder")
    assert grades(course, "partial") == before
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        comment = gb.find_comment("linear", "01_modules", ASSIGNMENT, "partial").comment
    assert comment.count(MARKER) == 1  # the note is replaced, not appended again
