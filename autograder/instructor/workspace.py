"""``nbgrader autograde`` for one student in a private copy of the course, so that students can be
autograded in parallel without two processes ever writing the course's gradebook.

The copy (``<course>/.work/<student>-XXXX/``) holds the course's config stub and sources, a
snapshot of the gradebook (SQLite's online backup: consistent even while the course is written),
the student's submitted files and, when one notebook is regraded, the student's other autograded
notebooks (a later notebook loads an earlier one from its own folder). nbgrader runs there exactly as
in the course, its kernels jailed the same way, and writes its scores into the snapshot.
:func:`run_nbgrader_job` then reads back, as plain data, precisely what ``nbgrader autograde`` writes
(:class:`NbgraderRun`: scores and comments; the submission's time is read again from
``timestamp.txt`` at the merge); the one process that writes the course merges it (:mod:`.commit`).

What nbgrader autograde writes, by reading nbgrader 0.9's ``Autograde`` converter and its
preprocessors: the student and the submission (``Student``, ``SubmittedAssignment`` with its
``timestamp``), ``Grade.auto_score`` and ``Grade.needs_manual_grade`` of every graded cell
(``SaveAutoGrades``), ``Comment.auto_comment`` of every solution and task cell, and
``SubmittedNotebook.late_submission_penalty`` (``AssignLatePenalties``; recomputed at the merge, see
:mod:`.late`). Never ``manual_score``, ``extra_credit``, ``manual_comment`` or ``flagged``: what
graders type in the formgrader meanwhile is therefore never overwritten by the merge.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .freshness import digests
from .layout import Course
from .nbgrader_log import LogSummary, release_checksums, summarize
from .nbgrader_run import run_nbgrader


@dataclass
class NbgraderRun:
    """What one ``nbgrader autograde`` of one student gave (all plain data: it crosses processes)."""

    student: str
    notebooks: list[str]  # the notebooks nbgrader autograded in this run
    only: str | None = None  # the one notebook regraded (--notebook), or None for the whole submission
    ok: bool = False
    seconds: float = 0.0
    log: Path | None = None
    error: str = ""
    workdir: Path | None = None  # the private course
    output: Path | None = None  # its autograded/<student>/<assignment>/: the new autograded notebooks
    submitted: dict[str, str] = field(default_factory=dict)  # digests of the submitted files it graded
    auto_scores: dict[tuple[str, str], float | None] = field(default_factory=dict)  # (notebook, grade_id)
    auto_comments: dict[tuple[str, str], str | None] = field(default_factory=dict)  # (notebook, cell)
    warnings: LogSummary = field(default_factory=LogSummary)


def snapshot_gradebook(source: Path, dest: Path) -> None:
    """A consistent copy of the SQLite gradebook ``source`` at ``dest`` (SQLite's backup API)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=60)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def private_course(course: Course, student: str) -> Course:
    """A new private copy of the course for ``student`` (see the module's docstring), without the
    notebooks to grade yet."""
    work = course.root / ".work"
    work.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=f"{student}-", dir=work))
    private = Course(root=root, solutions=course.solutions, assignment=course.assignment, term=course.term)
    private.prepare()
    snapshot_gradebook(course.gradebook, private.gradebook)
    return private


def run_nbgrader_job(course: Course, student: str, notebook: str | None = None) -> NbgraderRun:
    """``nbgrader autograde`` of ``student`` (only ``notebook`` when given) in a private copy of the
    course; never raises for nbgrader's failures (they are in the result)."""
    start = time.perf_counter()
    log = course.root / "logs" / f"{student}.autograde.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    private = private_course(course, student)
    run = NbgraderRun(student=student, notebooks=[], only=notebook, log=log, workdir=private.root,
                      output=private.folder("autograded", student))
    try:
        submitted = private.folder("submitted", student)
        shutil.copytree(course.folder("submitted", student), submitted)
        run.submitted = digests(submitted)
        if notebook:
            _other_autograded(course, private, student, notebook)
        args = ["autograde", course.assignment, "--force", f"--student={student}"]
        if notebook:
            args.append(f"--notebook={notebook}")
        proc = run_nbgrader(private, *args, quiet=True, check=False)
        text = (proc.stdout or "") + (proc.stderr or "")
        log.write_text(f"$ nbgrader {' '.join(args)}\n{text}")
        run.warnings = summarize(text, release_checksums(course.folder("release")))
        if proc.returncode != 0:
            errors = run.warnings.errors
            reason = errors[-1] if errors else f"nbgrader exited with status {proc.returncode}"
            run.error = f"{reason[:300]} (log: {log})"
            return run
        _read_back(private, student, notebook, run)
        run.ok = True
        return run
    except Exception as exc:  # noqa: BLE001 - reported as this student's failure, never stops the others
        run.error = f"{type(exc).__name__}: {exc}"
        return run
    finally:
        run.seconds = time.perf_counter() - start


def _other_autograded(course: Course, private: Course, student: str, notebook: str) -> None:
    """The student's autograded notebooks other than ``notebook`` into the private autograded folder."""
    source = course.folder("autograded", student)
    if not (source / f"{notebook}.ipynb").exists():
        raise RuntimeError(f"{student} has no autograded {notebook} yet: autograde the whole submission first")
    dest = private.folder("autograded", student)
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir()):
        if path.is_file() and not path.is_symlink() and path.name != f"{notebook}.ipynb":
            shutil.copyfile(path, dest / path.name)


def _read_back(private: Course, student: str, notebook: str | None, run: NbgraderRun) -> None:
    """What nbgrader wrote into the private gradebook for the notebooks it autograded."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{private.gradebook}") as gb:
        submission = gb.find_submission(private.assignment, student)
        for nb in submission.notebooks:
            if notebook and nb.name != notebook:
                continue
            run.notebooks.append(nb.name)
            for grade in nb.grades:
                run.auto_scores[nb.name, grade.name] = grade.auto_score
            for comment in nb.comments:
                run.auto_comments[nb.name, comment.name] = comment.auto_comment
    assert run.output is not None
    missing = [n for n in run.notebooks if not (run.output / f"{n}.ipynb").is_file()]
    if missing:
        raise RuntimeError(f"nbgrader wrote no autograded notebook for {', '.join(missing)}")


def discard(run: NbgraderRun) -> None:
    """Remove the run's private course."""
    if run.workdir is not None:
        shutil.rmtree(run.workdir, ignore_errors=True)
