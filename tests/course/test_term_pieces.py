"""The pieces of a term that need no nbgrader run: the term file and its late policy, submission times,
nbgrader's log summary, the LMS files, the gradebook writer's retries, the course lock and the
Gradescope export's conversion (its unsafe members refused)."""

from __future__ import annotations

import csv
import shutil
import sqlite3
import stat
import threading
import time
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

from autograder.instructor import timestamps
from autograder.instructor.export import Row, Sheet, number, write_grades
from autograder.instructor.gradebook import GradebookBusy, open_gradebook
from autograder.instructor.gradescope_import import ExportRefused, convert
from autograder.instructor.layout import Course
from autograder.instructor.lms import write_canvas, write_moodle
from autograder.instructor.nbgrader_log import summarize
from autograder.instructor.nbgrader_run import nbgrader_env
from autograder.instructor.term import LatePolicy, Term, load_term, parse_time

UTC = timezone.utc


# --- the term file --------------------------------------------------------------------------------

def test_the_repositorys_term_file_loads_and_names_the_course_notebooks():
    from autograder.instructor.layout import TERM, source_notebooks

    term = load_term(TERM)
    term.check_notebooks([p.stem for p in source_notebooks()])
    assert term.core == ("01_modules", "02_gradcheck", "03_training") and term.bonus == ("04_cnn",)


def test_term_file_values(tmp_path):
    path = tmp_path / "term.toml"
    path.write_text('[assignment]\ndue = 2025-03-14T23:59:00+01:00\n[late]\npolicy = "per-day"\n'
                    'percent_per_day = 25\nmax_percent = 60\ngrace_minutes = 15\n[extensions]\nalice = 48\n'
                    '[parts]\ncore = ["a"]\nbonus = ["b"]\n[lms]\nname = "DL 2025"\n')
    term = load_term(path)
    assert term.due == datetime(2025, 3, 14, 22, 59, tzinfo=UTC) and term.due_utc == datetime(2025, 3, 14, 22, 59)
    assert term.extensions == {"alice": 48.0} and term.lms_name == "DL 2025"
    assert term.late == LatePolicy("per-day", 25.0, 60.0, 15.0)
    assert load_term(tmp_path / "missing.toml").due is None  # no file: no due date, nothing late


@pytest.mark.parametrize("text, message", [
    ('[assignment]\ndue = "2025-03-14T23:59:00"\n', "no UTC offset"),
    ('[assignment]\ndue = "next friday"\n', "not an ISO 8601"),
    ('[late]\npolicy = "half"\n', "not one of none, zero, per-day"),
    ('[late]\npercent_per_day = -1\n', "percent_per_day"),
    ('[parts]\ncore = ["a"]\nbonus = ["a"]\n', "in both core and bonus"),
    ('[grading]\n', "unknown section"),
    ('[assignment\n', "term.toml"),
])
def test_a_mistake_in_the_term_file_is_one_line_naming_it(tmp_path, text, message):
    path = tmp_path / "term.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_term(path)


def test_parts_must_cover_the_notebooks_exactly():
    term = Term(core=("a", "b"), bonus=("c",))
    term.check_notebooks(["a", "b", "c"])
    with pytest.raises(ValueError, match="d in neither"):
        term.check_notebooks(["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="c not a notebook"):
        term.check_notebooks(["a", "b"])


@pytest.mark.parametrize("hours, expected", [(0, None), (0.2, None), (0.3, 2.0), (24, 2.0), (24.01, 4.0),
                                             (30, 4.0), (100, 10.0), (1000, 10.0)])
def test_per_day_penalty_counts_started_days_after_the_grace_period(hours, expected):
    policy = LatePolicy("per-day", percent_per_day=10, max_percent=50, grace_minutes=15)
    assert policy.penalty(20.0, hours * 3600) == expected


def test_zero_and_none_policies():
    assert LatePolicy("zero").penalty(7.5, 60) == 7.5
    assert LatePolicy("zero").penalty(7.5, 0) is None
    assert LatePolicy("none").penalty(7.5, 10 * 86400) is None


def test_nbgraders_plugin_reads_the_term_file(tmp_path, monkeypatch):
    from autograder.instructor.late import TERM_ENV
    from autograder.instructor.late import LatePolicy as Plugin

    path = tmp_path / "term.toml"
    path.write_text('[late]\npolicy = "per-day"\npercent_per_day = 30\n')
    monkeypatch.setenv(TERM_ENV, str(path))
    assert Plugin().late_submission_penalty("alice", 10.0, 86400 * 1.5) == 6.0
    assert Plugin().late_submission_penalty("alice", 10.0, 0) is None


# --- submission times -----------------------------------------------------------------------------

def test_times_need_an_offset_and_come_out_in_utc():
    assert parse_time("2025-03-14T23:59:00+01:00") == datetime(2025, 3, 14, 22, 59, tzinfo=UTC)
    assert parse_time("2025-03-14T22:59:00Z") == parse_time("2025-03-14 22:59:00 UTC")
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_time("2025-03-14T23:59:00")


def test_timestamps_csv(tmp_path):
    path = tmp_path / "times.csv"
    path.write_text("student,timestamp\nalice,2025-03-14T23:00:00+01:00\n\nbob,2025-03-15T01:00:00Z\n")
    assert timestamps.read_csv(path) == {"alice": datetime(2025, 3, 14, 22, tzinfo=UTC),
                                         "bob": datetime(2025, 3, 15, 1, tzinfo=UTC)}
    path.write_text("student,timestamp\nalice,2025-03-14T23:00:00+01:00\nalice,2025-03-14T23:00:00+01:00\n")
    with pytest.raises(ValueError, match="line 3: alice is listed twice"):
        timestamps.read_csv(path)
    path.write_text("name,time\nalice,2025\n")
    with pytest.raises(ValueError, match="header"):
        timestamps.read_csv(path)


def test_timestamp_file_round_trip_and_nbgraders_own_format(tmp_path):
    when = datetime(2025, 3, 14, 22, 59, 1, 500000, tzinfo=UTC)
    timestamps.write_file(tmp_path, when)
    assert timestamps.read_file(tmp_path) == when
    (tmp_path / "timestamp.txt").write_text("2025-03-14 22:59:01.500000 UTC")  # what nbgrader's exchange writes
    assert timestamps.read_file(tmp_path) == when
    (tmp_path / "timestamp.txt").unlink()
    (tmp_path / "timestamp.txt").symlink_to("/etc/hostname")
    with pytest.raises(ValueError, match="not a regular file"):
        timestamps.read_file(tmp_path)


# --- nbgrader's log -------------------------------------------------------------------------------

LOG = """[AutogradeApp | INFO] Sanitizing /c/submitted/alice/dlcore/01_modules.ipynb
[AutogradeApp | WARNING] Attribute 'checksum' for cell test_linear_fprop has changed! (should be: aaa, got: bbb)
[AutogradeApp | WARNING] Attribute 'checksum' for cell test_tanh_fprop has changed! (should be: ccc, got: zzz)
[AutogradeApp | WARNING] Attribute 'points' for cell test_tanh_bprop has changed! (should be: 4.0, got: 40.0)
[AutogradeApp | INFO] Sanitizing /c/submitted/alice/dlcore/02_gradcheck.ipynb
[AutogradeApp | WARNING] Attribute 'checksum' for cell test_numerical_jacobian has changed! (should be: d, got: e)
[AutogradeApp | ERROR] There was an error processing assignment: /c/submitted/alice/dlcore
"""


def test_the_log_summary_tells_the_upstream_artefact_from_edited_cells():
    released = {("01_modules", "test_linear_fprop"): "bbb", ("01_modules", "test_tanh_fprop"): "ddd",
                ("02_gradcheck", "test_numerical_jacobian"): "e"}
    summary = summarize(LOG, released)
    assert summary.as_released == ["01_modules/test_linear_fprop", "02_gradcheck/test_numerical_jacobian"]
    assert summary.changed == ["01_modules/test_tanh_fprop (checksum)", "01_modules/test_tanh_bprop (points)"]
    assert summary.errors == ["There was an error processing assignment: /c/submitted/alice/dlcore"]
    lines = summary.lines("alice")
    assert len(lines) == 2 and "2 locked cell(s)" in lines[0] and "nbgrader#1961" in lines[0]
    assert "01_modules/test_tanh_fprop (checksum)" in lines[1]
    assert summarize("[AutogradeApp | INFO] nothing\n", released).lines("bob") == []


# --- exports --------------------------------------------------------------------------------------

TERM = Term(core=("a", "b"), bonus=("c",), lms_name="DL")


def _sheet() -> Sheet:
    done = Row("alice", "final", first_name="Ada", last_name="Lovelace", email="ada@x.org",
               timestamp=datetime(2025, 3, 15, tzinfo=UTC), seconds_late=30 * 3600,
               scores={"a": 10.0, "b": 5.5, "c": 3.0}, penalties={"a": 2.0, "b": 1.1, "c": 0.6})
    pending = Row("bob", "pending", scores={"a": 9.0, "b": 0.0, "c": 1.0}, penalties={},
                  pending=["c/test_target", "c/question"])
    return Sheet([done, pending, Row("carol", "not graded", reason="not graded yet: run autograde")],
                 maxima={"a": 12.0, "b": 8.0, "c": 6.0})


def _read(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_grades_csv_has_a_column_per_notebook_the_totals_and_the_pending_grades(tmp_path):
    rows = _read(write_grades(tmp_path / "grades.csv", _sheet(), TERM))
    table = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    alice, bob, carol = table
    assert (alice["a"], alice["b"], alice["c"]) == ("10", "5.5", "3")
    assert (alice["core_raw"], alice["core_penalty"], alice["core"]) == ("15.5", "3.1", "12.4")
    assert (alice["bonus_raw"], alice["bonus_penalty"], alice["bonus"], alice["score"]) == ("3", "0.6", "2.4", "14.8")
    assert (alice["hours_late"], alice["core_max"], alice["bonus_max"]) == ("30", "20", "6")
    assert alice["status"] == "final" and alice["pending_cells"] == ""
    assert bob["status"] == "pending" and bob["pending_cells"] == "c/test_target; c/question" and bob["core"] == "9"
    assert carol["status"] == "not graded" and carol["core"] == "" and "autograde" in carol["pending_cells"]


def test_canvas_file_leaves_pending_parts_empty(tmp_path):
    rows = _read(write_canvas(tmp_path / "canvas.csv", _sheet(), TERM))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "DL core", "DL bonus"]
    assert rows[1] == ["Points Possible", "", "", "", "", "20", "6"]
    assert rows[2] == ["Lovelace, Ada", "", "alice", "", "", "12.4", "2.4"]
    assert rows[3] == ["bob", "", "bob", "", "", "9", ""]  # the bonus is pending: no grade sent
    assert rows[4] == ["carol", "", "carol", "", "", "", ""]


def test_moodle_file_explains_pending_and_late_in_the_feedback(tmp_path):
    rows = _read(write_moodle(tmp_path / "moodle.csv", _sheet(), TERM))
    assert rows[0] == ["First name", "Last name", "ID number", "Email address", "DL core", "DL core (feedback)",
                       "DL bonus", "DL bonus (feedback)"]
    assert rows[1] == ["Ada", "Lovelace", "alice", "ada@x.org", "12.4", "late 30 h: -3.1 points", "2.4",
                       "late 30 h: -0.6 points"]
    assert rows[2][2:] == ["bob", "", "9", "", "", "pending: c/test_target, c/question"]
    assert rows[3][4:] == ["", "not graded yet", "", "not graded yet"]


def test_numbers():
    assert [number(x) for x in (0.0, -0.0, 2.0, 2.5, 1 / 3, 56.999)] == ["0", "0", "2", "2.5", "0.33", "57"]


# --- the gradebook writer and the course lock ------------------------------------------------------

@pytest.fixture(scope="module")
def empty_gradebook(tmp_path_factory) -> Path:
    """A gradebook with the assignment ``dlcore`` (created once: nbgrader runs `alembic` for a new one)."""
    import os

    from nbgrader.api import Gradebook

    path = tmp_path_factory.mktemp("gradebook") / "gradebook.db"
    old = os.environ["PATH"]
    os.environ["PATH"] = nbgrader_env()["PATH"]
    try:
        with Gradebook(f"sqlite:///{path}") as gb:
            gb.add_assignment("dlcore")
    finally:
        os.environ["PATH"] = old
    return path


@pytest.fixture
def small_course(tmp_path, empty_gradebook):
    course = Course(root=tmp_path / "course")
    course.root.mkdir()
    shutil.copyfile(empty_gradebook, course.gradebook)
    return course


def _hold_exclusive(path: Path, seconds: float, started: threading.Event) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    started.set()
    time.sleep(seconds)
    db.execute("COMMIT")
    db.close()


def test_a_locked_gradebook_is_retried_and_nothing_is_lost(small_course):
    started = threading.Event()
    holder = threading.Thread(target=_hold_exclusive, args=(small_course.gradebook, 6.5, started))
    holder.start()
    started.wait()
    begin = time.perf_counter()
    calls = []

    def write(gb):
        calls.append(1)
        gb.find_assignment("dlcore").duedate = datetime(2025, 1, 2, 3, 4)

    open_gradebook(small_course, write, pause=0.5)
    holder.join()
    assert time.perf_counter() - begin > 5  # it did wait for the other writer
    assert len(calls) >= 1
    db = sqlite3.connect(small_course.gradebook)
    assert db.execute("select duedate from assignment").fetchone()[0].startswith("2025-01-02 03:04")


def test_a_gradebook_locked_for_good_fails_without_writing(small_course):
    started = threading.Event()
    holder = threading.Thread(target=_hold_exclusive, args=(small_course.gradebook, 6, started))
    holder.start()
    started.wait()
    with pytest.raises(GradebookBusy, match="nothing was written"):
        open_gradebook(small_course, lambda gb: setattr(gb.find_assignment("dlcore"), "duedate",
                                                        datetime(2030, 1, 1)), attempts=1)
    holder.join()
    assert sqlite3.connect(small_course.gradebook).execute("select duedate from assignment").fetchone()[0] is None


def test_hidden_scores_of_a_student_nbgrader_never_graded_are_refused(small_course):
    from autograder.instructor.commit import CommitRefused, commit_student

    small_course.folder("submitted", "zoe").mkdir(parents=True)
    with pytest.raises(CommitRefused, match="zoe was never autograded by nbgrader: run `autograde --student zoe`"):
        commit_student(small_course, Term(), "zoe", None, None, [])
    assert not (small_course.root / "fingerprints" / "zoe.json").exists()


def test_one_instructor_command_at_a_time(tmp_path):
    course = Course(root=tmp_path / "course")
    with course.lock():
        with pytest.raises(RuntimeError, match="another instructor command"):
            with course.lock():
                pass
    with course.lock():  # released
        pass


# --- Gradescope's export --------------------------------------------------------------------------

def _notebook(text: str) -> bytes:
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(text)])).encode()


METADATA = """submission_1:
  :submitters:
  - :name: Ada Lovelace
    :sid: '1815'
    :email: ada@example.org
  :created_at: 2025-03-14 22:10:03.123456000 +01:00
  :score: 10.0
submission_2:
  :submitters:
  - :name: Pair One
    :sid: 'p1'
    :email: one@example.org
  - :name: No Sid
    :email: nosid@example.org
  :created_at: 2025-03-16 08:00:00.000000000 -07:00
submission_3:
  :submitters:
  - :name: Ada Lovelace
    :sid: '1815'
  :created_at: 2025-03-13 10:00:00.000000000 +00:00
submission_4:
  :submitters:
  - :name: Linker
    :sid: 'linker'
  :created_at: 2025-03-14 10:00:00.000000000 +00:00
"""


def _export_zip(path: Path) -> Path:
    root = "assignment_99_export/"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(root + "submission_metadata.yml", METADATA)
        zf.writestr(root + "submission_1/01_modules.ipynb", _notebook("ada = 1"))
        zf.writestr(root + "submission_1/notes.txt", "ignored")
        zf.writestr(root + "submission_2/work/01_modules.ipynb", _notebook("pair = 2"))
        zf.writestr(root + "submission_3/01_modules.ipynb", _notebook("ada_old = 0"))
        link = zipfile.ZipInfo(root + "submission_4/01_modules.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/shadow")
        zf.writestr(root + "../escape.ipynb", _notebook("x"))
        zf.writestr("__MACOSX/" + root + "._submission_metadata.yml", "junk")
    return path


def test_gradescope_export_becomes_collects_layout_with_upload_times(tmp_path):
    warnings: list[str] = []
    out = tmp_path / "subs"
    result = convert(_export_zip(tmp_path / "export.zip"), out, warn=warnings.append)
    assert sorted(result.students) == ["1815", "p1"]
    assert sorted(p.name for p in out.iterdir()) == ["1815", "p1"]
    ada = out / "1815"
    assert sorted(p.name for p in ada.iterdir()) == ["01_modules.ipynb", "timestamp.txt"]
    assert b"ada = 1" in (ada / "01_modules.ipynb").read_bytes()  # the newer of Ada's two submissions
    assert timestamps.read_file(ada) == datetime(2025, 3, 14, 21, 10, 3, 123456, tzinfo=UTC)
    assert timestamps.read_file(out / "p1") == datetime(2025, 3, 16, 15, tzinfo=UTC)
    assert b"pair = 2" in (out / "p1" / "01_modules.ipynb").read_bytes()  # found in a subfolder
    text = "\n".join(warnings)
    assert "not a regular file" in text and "submission_4" in text  # the symbolic link member
    assert "not a plain relative path" in text  # ../escape.ipynb
    assert "'No Sid' has no usable sid" in text and "1815 is in several submissions" in text
    assert not (tmp_path / "escape.ipynb").exists()


def test_gradescope_export_as_a_folder_refuses_links_through_intake(tmp_path):
    export = tmp_path / "export"
    (export / "submission_1").mkdir(parents=True)
    (export / "submission_4").mkdir()
    (export / "submission_metadata.yml").write_text(METADATA)
    (export / "submission_1" / "01_modules.ipynb").write_bytes(_notebook("ada = 1"))
    (export / "submission_4" / "01_modules.ipynb").symlink_to("/etc/passwd")
    warnings: list[str] = []
    result = convert(export, tmp_path / "subs", id_field="email", warn=warnings.append)
    assert list(result.students) == ["ada@example.org"]
    assert any("submission_4" in w and "symbolic link" in w for w in warnings)
    assert any("submission_2: listed in the metadata but not in the export" in w for w in warnings)


def test_gradescope_export_without_metadata_or_into_a_full_folder_is_refused(tmp_path):
    bare = tmp_path / "bare.zip"
    with zipfile.ZipFile(bare, "w") as zf:
        zf.writestr("submission_1/a.ipynb", _notebook("x"))
    with pytest.raises(ExportRefused, match="no submission_metadata.yml"):
        convert(bare, tmp_path / "out")
    with pytest.raises(ExportRefused, match="not a zip"):
        (tmp_path / "fake.zip").write_bytes(b"PK nonsense")
        convert(tmp_path / "fake.zip", tmp_path / "out")
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("")
    with pytest.raises(ExportRefused, match="not an empty folder"):
        convert(_export_zip(tmp_path / "e.zip"), full)


def test_an_oversized_notebook_in_the_zip_is_skipped_unread(tmp_path):
    from autograder.intake import MAX_NOTEBOOK_BYTES

    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("submission_metadata.yml", "submission_1:\n  :submitters:\n  - :sid: 'big'\n")
        zf.writestr("submission_1/01_modules.ipynb", b" " * (MAX_NOTEBOOK_BYTES + 1))
    warnings: list[str] = []
    result = convert(path, tmp_path / "out", warn=warnings.append)
    assert result.students == {} and any("over the limit" in w for w in warnings)


def test_created_at_time_zones():
    from autograder.instructor.gradescope_import import _created_at

    assert _created_at("2025-03-14 22:10:03.123456789 -07:00") == datetime(2025, 3, 15, 5, 10, 3, 123456, tzinfo=UTC)
    assert _created_at(datetime(2025, 3, 14, 22, tzinfo=timezone(timedelta(hours=2)))) == \
        datetime(2025, 3, 14, 20, tzinfo=UTC)
    assert _created_at(None) is None
