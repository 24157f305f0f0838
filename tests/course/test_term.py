"""A term on the real course, end to end, in a temporary course folder (without MNIST): parallel
autograde, late penalties that survive the hidden-score import, pending grades in the export, one
notebook of one student regraded, stale hidden scores refused, and no write lost to the formgrader or to
a locked gradebook.

Three release-based students keep nbgrader quick: ``early`` (part 1 answered, on time), ``late`` (the
same answers, 30 hours late: two started days, 20 % per notebook) and ``blank`` (the untouched release,
no submission time). The tests run in order and share the course.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from helpers.course import cell, course_cli, digest, grades, html_text

from autograder.instructor.layout import ASSIGNMENT, Course, source_notebooks
from autograder.instructor.nbgrader_run import nbgrader_env

pytestmark = [pytest.mark.grading]
PART1 = ("linear", "tanh", "softmax", "cross_entropy")
TERM = """[assignment]
due = 2025-03-14T23:59:00+01:00
[late]
policy = "per-day"
percent_per_day = 10
"""
TIMES = "student,timestamp\nearly,2025-03-14T21:00:00+01:00\nlate,2025-03-16T04:59:00Z\n"


def _submission(folder: Path, release: Path, answered: dict[str, tuple[str, ...]]) -> None:
    """The release, with the solution cells ``answered`` (notebook -> grade ids) copied from the solutions."""
    folder.mkdir(parents=True)
    for path in source_notebooks():
        nb = nbformat.read(release / path.name, as_version=4)
        solved = nbformat.read(path, as_version=4)
        for grade_id in answered.get(path.stem, ()):
            cell(nb, grade_id).source = cell(solved, grade_id).source
        if path.stem == "01_modules" and "01_modules" in answered:
            cell(nb, "derive_linear").source = "$\\partial y / \\partial z = W^T$, my derivation."
        nbformat.write(nb, folder / path.name)


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("term")
    course, release, subs = tmp / "course", tmp / "release", tmp / "subs"
    (tmp / "term.toml").write_text(TERM)
    (tmp / "times.csv").write_text(TIMES)

    def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return course_cli(course, *args, check=check, term=tmp / "term.toml")

    cli("release", "--out", str(release))
    for student, answered in (("early", {"01_modules": PART1}), ("late", {"01_modules": PART1}), ("blank", {})):
        _submission(subs / student, release, answered)
    cli("collect", str(subs), "--timestamps", str(tmp / "times.csv"))
    start = time.perf_counter()
    graded = cli("autograde", "--no-mnist", "--workers", "2")
    return {"tmp": tmp, "course": course, "release": release, "cli": cli, "graded": graded,
            "seconds": time.perf_counter() - start}


def _notebooks(course: Path, student: str) -> dict[str, tuple[float, float | None]]:
    """notebook -> (score, late_submission_penalty) from the gradebook."""
    db = sqlite3.connect(course / "gradebook.db")
    rows = db.execute("select n.id, a.student_id, nb.name, n.late_submission_penalty from submitted_notebook n "
                      "join submitted_assignment a on n.assignment_id = a.id join notebook nb on n.notebook_id = "
                      "nb.id where a.student_id = ?", (student,)).fetchall()
    out = {}
    for notebook_id, _, name, penalty in rows:
        score = db.execute("select coalesce(sum(case when manual_score is not null then manual_score when "
                           "auto_score is not null then auto_score else 0 end), 0) from grade where notebook_id = ?",
                           (notebook_id,)).fetchone()[0]
        out[name] = (score, penalty)
    return out


def _export(term) -> dict[str, dict[str, str]]:
    term["cli"]("export", "--canvas", str(term["tmp"] / "canvas.csv"))
    with open(term["course"] / "grades.csv", newline="") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def test_students_are_graded_in_parallel_and_every_write_lands(term):
    course, out = term["course"], term["graded"].stdout
    assert "graded 3 of 3 students" in out and "with 2 worker(s)" in out
    for student in ("early", "late", "blank"):
        assert f"imported {student}: hidden autograder" in out
        assert sorted(p.name for p in (course / "autograded" / student / ASSIGNMENT).glob("*.ipynb")) == \
            [p.name for p in source_notebooks()]
        book = grades(course, student)
        assert book and all(auto is not None for auto, _, _, _ in book.values()), student  # nbgrader's writes
        assert json.loads((course / "fingerprints" / f"{student}.json").read_text())["hidden"]
    assert not list((course / ".work").glob("*")), "private copies are removed"
    early, blank = grades(course, "early"), grades(course, "blank")
    for cell_id in ("test_linear_fprop", "test_tanh_bprop", "test_cross_entropy_gradcheck"):
        assert early["01_modules", cell_id][1] == early["01_modules", cell_id][2] > 0  # the hidden suite's score
        assert blank["01_modules", cell_id][1] == 0
    assert grades(course, "late") == early  # same answers, same scores: the penalty is apart


def test_a_late_submission_is_penalised_and_the_hidden_import_keeps_it(term):
    course, cli = term["course"], term["cli"]
    late, early = _notebooks(course, "late"), _notebooks(course, "early")
    score, penalty = late["01_modules"]
    assert score > 0 and penalty == pytest.approx(0.2 * score)
    assert not any(p for _, p in early.values()) and not any(p for _, p in _notebooks(course, "blank").values())
    assert "late: late: -" in term["graded"].stdout
    log = cli("import-hidden", "--student", "late", "--no-mnist").stdout
    assert log.startswith("imported late: hidden autograder")
    assert _notebooks(course, "late") == late  # the import rewrote the scores; the penalty is still there


def test_the_export_marks_pending_grades_and_subtracts_penalties(term):
    rows = _export(term)
    early, late, blank = rows["early"], rows["late"], rows["blank"]
    assert early["status"] == late["status"] == blank["status"] == "pending"
    pending = early["pending_cells"].split("; ")
    assert "03_training/test_targets" in pending and "04_cnn/test_cnn_target" in pending  # no MNIST
    assert "01_modules/derive_linear" in pending  # a written answer, for the formgrader
    assert "01_modules/derive_tanh" not in pending  # left blank: nbgrader scored it 0 itself
    assert blank["pending_cells"] == "03_training/test_targets; 04_cnn/test_cnn_target"
    assert float(late["core_raw"]) == float(early["core_raw"]) > 0
    assert float(late["core_penalty"]) == pytest.approx(0.2 * float(late["core_raw"]), abs=0.02)  # 20 % each
    assert float(late["core"]) == pytest.approx(float(late["core_raw"]) - float(late["core_penalty"]), abs=0.011)
    assert (early["core_max"], early["bonus_max"], late["hours_late"]) == ("113", "60", "30")
    with open(term["tmp"] / "canvas.csv", newline="") as f:
        canvas = {row[2]: row for row in csv.reader(f)}
    assert canvas[""][5:] == ["113", "60"] and canvas["early"][5:] == ["", ""]  # pending: no LMS grade


def test_manual_grading_in_its_place_then_the_core_is_final(term):
    """After autograde, graders grade in the formgrader: every pending core cell gets a manual score
    (the MNIST target cell too: without MNIST it is the grader's to judge); the export then shows the
    core as final, and the gradebook is still current (the grader's scores are theirs)."""
    from nbgrader.api import Gradebook

    course = term["course"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for nb in gb.find_submission(ASSIGNMENT, "early").notebooks:
            for grade in nb.grades:
                if grade.needs_manual_grade and nb.name != "04_cnn":
                    grade.manual_score, grade.needs_manual_grade = grade.max_score / 2, False
        gb.db.commit()
    rows = _export(term)
    assert rows["early"]["pending_cells"].split("; ")[0].startswith("04_cnn/")
    with open(term["tmp"] / "canvas.csv", newline="") as f:
        canvas = {row[2]: row for row in csv.reader(f)}
    assert canvas["early"][5] == rows["early"]["core"] != "" and canvas["early"][6] == ""


def test_one_notebook_of_one_student_regraded(term, tmp_path):
    course, cli, release = term["course"], term["cli"], term["release"]
    _submission(tmp_path / "again" / "blank", release, {"02_gradcheck": ("numerical_jacobian",)})
    cli("collect", str(tmp_path / "again"))
    status = cli("status", check=False)
    assert status.returncode == 1 and "the submission changed since the hidden suite graded it" in status.stdout
    before = digest(course / "autograded" / "blank" / ASSIGNMENT)
    out = cli("autograde", "--student", "blank", "--notebook", "02_gradcheck", "--no-mnist").stdout
    assert "autograded blank in" in out and "(02_gradcheck only)" in out and "imported blank" in out
    after = digest(course / "autograded" / "blank" / ASSIGNMENT)
    assert {name for name in before if before[name] != after[name]} == {"02_gradcheck.ipynb"}
    book = grades(course, "blank")
    assert book["02_gradcheck", "test_numerical_jacobian"][2] > 0 and book["01_modules", "test_linear_fprop"][2] == 0
    assert cli("status").returncode == 0


def test_stale_hidden_scores_are_refused_until_imported(term):
    course, cli = term["course"], term["cli"]
    subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--student=late",
                    "--notebook=02_gradcheck", "--force"], cwd=course, env=nbgrader_env(), check=True,
                   capture_output=True)
    for command in ("feedback", "export"):
        refused = cli(command, check=False)
        assert refused.returncode == 1, refused.stdout
        assert f"{command} refused" in refused.stderr and "import-hidden --student late" in refused.stderr
    cli("import-hidden", "--student", "late", "--no-mnist")
    cli("feedback")
    page = html_text(course / "feedback" / "late" / ASSIGNMENT / "01_modules.html")
    assert "Late submission penalty" in page


def test_a_grade_typed_in_the_formgrader_during_autograde_is_kept(term):
    """nbgrader runs in a private copy; meanwhile a grader scores two written answers (one in the notebook
    being regraded); the merge writes only what nbgrader autograde writes, so both scores stay."""
    from nbgrader.api import Gradebook

    from autograder.instructor.commit import commit_student, read_hidden
    from autograder.instructor.freshness import check, digests
    from autograder.instructor.hidden_scores import mapped_cells
    from autograder.instructor.term import load_term
    from autograder.instructor.workspace import discard, run_nbgrader_job

    course = Course(root=term["course"], term=term["tmp"] / "term.toml")
    run = run_nbgrader_job(course, "blank", "02_gradcheck")
    assert run.ok, run.error
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        for notebook, grade_id, score in (("02_gradcheck", "step_question", 1.5), ("01_modules", "derive_tanh", 0.5)):
            grade = gb.find_grade(grade_id, notebook, ASSIGNMENT, "blank")
            grade.manual_score, grade.needs_manual_grade = score, False
        gb.db.commit()
    try:
        commit_student(course, load_term(course.term), "blank", run, read_hidden(course, "blank"),
                       mapped_cells(course), digests(course.folder("submitted", "blank")))
    finally:
        discard(run)
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        step = gb.find_grade("step_question", "02_gradcheck", ASSIGNMENT, "blank")
        tanh = gb.find_grade("derive_tanh", "01_modules", ASSIGNMENT, "blank")
        assert (step.manual_score, tanh.manual_score, tanh.needs_manual_grade) == (1.5, 0.5, False)
        assert step.needs_manual_grade  # nbgrader's rule: a regraded cell with a manual score is for review
    assert check(course, ["blank"]).ok


def test_a_commit_waits_for_a_locked_gradebook_and_loses_nothing(term):
    from autograder.instructor.commit import commit_student, read_hidden
    from autograder.instructor.freshness import check, digests
    from autograder.instructor.hidden_scores import mapped_cells
    from autograder.instructor.term import load_term

    course = Course(root=term["course"], term=term["tmp"] / "term.toml")
    started = threading.Event()

    def hold() -> None:  # another program (the formgrader, nbgrader by hand) writing for 7 s
        db = sqlite3.connect(course.gradebook, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        db.execute("update grade set manual_score = null where id in (select g.id from grade g join "
                   "submitted_notebook n on g.notebook_id = n.id join submitted_assignment a on "
                   "n.assignment_id = a.id where a.student_id = 'late')")
        started.set()
        time.sleep(7)
        db.execute("COMMIT")

    holder = threading.Thread(target=hold)
    holder.start()
    started.wait()
    begin = time.perf_counter()
    commit_student(course, load_term(course.term), "late", None, read_hidden(course, "late"), mapped_cells(course),
                   digests(course.folder("submitted", "late")))
    holder.join()
    assert time.perf_counter() - begin > 5
    assert check(course, ["late"]).ok  # the scores the other writer erased are back


def test_one_instructor_command_at_a_time(term):
    with Course(root=term["course"]).lock():
        busy = term["cli"]("export", check=False)
    assert busy.returncode == 1 and "another instructor command" in busy.stderr
