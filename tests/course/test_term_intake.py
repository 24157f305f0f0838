"""A term on a one-notebook course, from Gradescope's export to the LMS files: gradescope-import (upload
times kept) -> collect -> autograde in parallel -> formgrader-style manual grade -> feedback -> export.

The course is synthetic (one notebook, a test cell with a hidden-test region, a written answer), so
nbgrader takes seconds and no hidden suite runs (the check table scores none of its cells): what is
checked is the late policy through nbgrader's own mechanism, the "checksum has changed" summary of
upstream jupyter/nbgrader#1961, and the exports.
"""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from helpers.course import cell, course_cli, html_text

from autograder.instructor.layout import ASSIGNMENT
from autograder.instructor.nbgrader_run import nbgrader_env

pytestmark = [pytest.mark.grading]
TERM = """[assignment]
due = 2025-03-14T23:59:00+01:00
[late]
policy = "per-day"
percent_per_day = 10
[parts]
core = ["01_tiny"]
bonus = []
[lms]
name = "Tiny"
"""
# s1: before the due date; s2: 30 h after it (two started days: 20 %); s3: on time, but it edited
# the locked test cell (nbgrader restores it and the summary names it): s3.
UPLOADS = {"s1": "2025-03-14 20:00:00.000000000 +01:00", "s2": "2025-03-16 04:59:00.000000000 +00:00",
           "s3": "2025-03-14 12:00:00.000000000 +00:00"}


def _meta(**nbgrader) -> dict:
    return {"nbgrader": {"schema_version": 3, "grade": False, "solution": False, "locked": False, **nbgrader}}


def source_notebook() -> nbformat.NotebookNode:
    cells = [
        nbformat.v4.new_markdown_cell("# A tiny assignment"),
        nbformat.v4.new_code_cell("def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
                                  metadata=_meta(solution=True, grade_id="square")),
        nbformat.v4.new_code_cell("assert square(3) == 9\n### BEGIN HIDDEN TESTS\nassert square(-2) == 4\n"
                                  "### END HIDDEN TESTS", metadata=_meta(grade=True, locked=True, points=2,
                                                                         grade_id="test_square")),
        nbformat.v4.new_markdown_cell("### BEGIN SOLUTION\nx times x.\n### END SOLUTION",
                                      metadata=_meta(grade=True, solution=True, points=1, grade_id="explain")),
    ]
    for index, c in enumerate(cells):
        c["id"] = f"cell-{index}"
    return nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"display_name": "Python 3",
                                                                          "language": "python", "name": "python3"}})


def _export_zip(path: Path, release: Path) -> Path:
    metadata, files = [], {}
    for number, (sid, when) in enumerate(UPLOADS.items(), start=1):
        nb = nbformat.read(release / "01_tiny.ipynb", as_version=4)
        cell(nb, "square").source = "def square(x):\n    return x * x"
        cell(nb, "explain").source = "Because squaring multiplies x by itself."  # for the formgrader
        if sid == "s3":
            cell(nb, "test_square").source = "assert True  # the student's own 'test'"
        files[f"submission_{number}/01_tiny.ipynb"] = nbformat.writes(nb)
        metadata.append(f"submission_{number}:\n  :submitters:\n  - :name: Student {sid}\n    :sid: '{sid}'\n"
                        f"  :created_at: {when}\n")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("assignment_7_export/submission_metadata.yml", "".join(metadata))
        for name, text in files.items():
            zf.writestr(f"assignment_7_export/{name}", text)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tiny")
    src, course, release = tmp / "src", tmp / "course", tmp / "release"
    src.mkdir()
    nbformat.write(source_notebook(), src / "01_tiny.ipynb")
    term = tmp / "term.toml"
    term.write_text(TERM)

    def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return course_cli(course, *args, check=check, term=term, solutions=src)

    cli("release", "--out", str(release))
    imported = cli("gradescope-import", str(_export_zip(tmp / "export.zip", release)), "--out", str(tmp / "subs"))
    collected = cli("collect", str(tmp / "subs"))
    graded = cli("autograde", "--workers", "2")
    return {"tmp": tmp, "course": course, "cli": cli, "imported": imported, "collected": collected,
            "graded": graded}


def _penalties(course: Path) -> dict[str, float | None]:
    db = sqlite3.connect(course / "gradebook.db")
    rows = db.execute("select a.student_id, n.late_submission_penalty from submitted_notebook n "
                      "join submitted_assignment a on n.assignment_id = a.id").fetchall()
    return dict(rows)


def test_upload_times_reach_nbgrader(tiny):
    course = tiny["course"]
    assert "s1: uploaded 2025-03-14 19:00 UTC" in tiny["imported"].stdout
    assert "s2 -> " in tiny["collected"].stdout and "30.0 h late" in tiny["collected"].stdout
    assert (course / "submitted" / "s2" / ASSIGNMENT / "timestamp.txt").read_text().startswith("2025-03-16T04:59:00")
    db = sqlite3.connect(course / "gradebook.db")
    stamps = dict(db.execute("select student_id, timestamp from submitted_assignment").fetchall())
    assert stamps["s2"].startswith("2025-03-16 04:59:00") and stamps["s1"].startswith("2025-03-14 19:00:00")
    assert db.execute("select duedate from assignment").fetchone()[0].startswith("2025-03-14 22:59:00")


def test_checksum_warnings_are_summarised_and_kept_in_the_log(tiny):
    out, course = tiny["graded"].stdout, tiny["course"]
    # The test cell had a hidden-test region: nbgrader#1961 makes every untouched copy 'change'.
    assert "s1: nbgrader warned that 1 locked cell(s) 'changed' although they are as released" in out
    assert "jupyter/nbgrader#1961" in out
    assert "s3: nbgrader restored locked cells that differ from the release" in out and "01_tiny/test_square" in out
    assert "has changed!" not in out + tiny["graded"].stderr  # nbgrader's raw lines stay in the log
    log = (course / "logs" / "s1.autograde.log").read_text()
    assert "Attribute 'checksum' for cell test_square has changed!" in log


def test_a_late_notebook_is_penalised_by_the_term_policy(tiny):
    assert "s2: late: -0.4 points (01_tiny -0.4)" in tiny["graded"].stdout  # 20 % of 2 points
    penalties = _penalties(tiny["course"])
    assert penalties["s2"] == pytest.approx(0.4) and not penalties["s1"] and not penalties["s3"]


def test_nbgrader_by_hand_applies_the_same_policy_through_its_plugin(tiny):
    course, cli = tiny["course"], tiny["cli"]
    env = {**nbgrader_env(), "DLCORE_TERM": str(tiny["tmp"] / "term.toml")}
    db = sqlite3.connect(course / "gradebook.db")
    db.execute("update submitted_notebook set late_submission_penalty = null")
    db.commit()
    subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--student=s2", "--force"],
                   cwd=course, env=env, check=True, capture_output=True)
    assert _penalties(course)["s2"] == pytest.approx(0.4)  # nbgrader's AssignLatePenalties asked LatePolicy
    status = cli("status", check=False)
    assert status.returncode == 1 and "s2" in status.stdout and "STALE" in status.stdout
    cli("autograde", "--student", "s2")
    assert cli("status").returncode == 0


def test_penalties_follow_manual_grades_into_feedback_and_export(tiny):
    course, cli, tmp = tiny["course"], tiny["cli"], tiny["tmp"]
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:  # what the formgrader does with a typed score
        grade = gb.find_grade("explain", "01_tiny", ASSIGNMENT, "s2")
        grade.manual_score, grade.needs_manual_grade = 1.0, False
        gb.db.commit()
    cli("feedback")
    page = html_text(course / "feedback" / "s2" / ASSIGNMENT / "01_tiny.html")
    assert "Late submission penalty (Score: -0.6)" in page  # 20 % of 3 points, recomputed
    out = cli("export", "--canvas", str(tmp / "canvas.csv"), "--moodle", str(tmp / "moodle.csv")).stdout
    assert "core out of 3" in out
    with open(course / "grades.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert (rows["s2"]["core_raw"], rows["s2"]["core_penalty"], rows["s2"]["core"]) == ("3", "0.6", "2.4")
    assert rows["s2"]["status"] == "final" and rows["s2"]["hours_late"] == "30"
    assert rows["s1"]["status"] == "pending" and rows["s1"]["pending_cells"] == "01_tiny/explain"
    with open(tmp / "canvas.csv", newline="") as f:
        canvas = list(csv.reader(f))
    assert canvas[1][:6] == ["Points Possible", "", "", "", "", "3"]
    assert {r[2]: r[5] for r in canvas[2:]} == {"s1": "", "s2": "2.4", "s3": ""}  # pending: no grade sent
    with open(tmp / "moodle.csv", newline="") as f:
        moodle = {r["ID number"]: r for r in csv.DictReader(f)}
    assert moodle["s2"]["Tiny core"] == "2.4" and moodle["s2"]["Tiny core (feedback)"] == "late 30 h: -0.6 points"
    assert moodle["s1"]["Tiny core (feedback)"] == "pending: 01_tiny/explain"


def test_the_command_line_refuses_a_bad_timestamps_file(tiny, tmp_path):
    bad = tmp_path / "times.csv"
    bad.write_text("student,timestamp\ns1,2025-03-14 10:00\n")
    result = tiny["cli"]("collect", str(tiny["tmp"] / "subs"), "--timestamps", str(bad), check=False)
    assert result.returncode == 1 and "no UTC offset" in result.stderr
