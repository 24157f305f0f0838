"""``autograde`` and ``import-hidden`` for a class: students graded concurrently, each committed as soon as
it is done.

Each student is two independent jobs, run by a pool of ``workers`` processes: ``nbgrader
autograde`` in a private copy of the course (:mod:`.workspace`) and the hidden suite
(``grade_submission`` on ``submitted/<student>/``). Both only read the course. When both jobs of a
student have finished, the main process commits the student (:mod:`.commit`): it is the only
process that ever writes the course's gradebook, so parallel grading needs no locking between
workers and loses no write. With ``--workers 2`` one student's two jobs already run side by side;
with more students, more of them.

``notebook``: nbgrader regrades that notebook only (its other autograded notebooks are kept); the
hidden suite grades the whole submission, as always (it is the source of truth of every mapped cell).
``nbgrader=False`` is ``import-hidden``: the hidden suite only, for students nbgrader already graded.

A job that fails costs its student only: nothing is written for that student, the others go on. A
submission the hidden suite could not grade for the machine's sake (overloaded, say) is tried again
``retries`` times at the end of the queue.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from .commit import CommitRefused, commit_student
from .freshness import digests
from .gradebook import GradebookBusy
from .hidden_scores import mapped_cells, run_hidden, summary
from .layout import Course
from .term import Term
from .workspace import NbgraderRun, discard, run_nbgrader_job


@dataclass
class HiddenRun:
    """The hidden suite's results for one student, and the digests of the files it graded."""

    student: str
    results: dict
    submitted: dict[str, str]
    seconds: float


@dataclass
class Report:
    """What a class's grading gave."""

    graded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def hidden_job(course: Course, student: str, mnist_dir: Path | None, calibration) -> HiddenRun:
    """Run the hidden suite on the student's submitted files (in a worker process); never raises."""
    from autograder.grade_all import grader_failed

    start = time.perf_counter()
    folder = course.folder("submitted", student)
    before = digests(folder)
    try:
        results = run_hidden(course, student, mnist_dir, calibration)
    except Exception:  # noqa: BLE001 - the grader itself failed: a not-graded result, no score
        results = grader_failed(traceback.format_exc())
    return HiddenRun(student, results, before if digests(folder) == before else {}, time.perf_counter() - start)


def _prepare_work(course: Course) -> None:
    """Remove private copies an interrupted run left behind (the caller holds the course's lock)."""
    work = course.root / ".work"
    if work.is_dir():
        shutil.rmtree(work, ignore_errors=True)


def _check_regrade(course: Course, students: list[str], notebook: str | None) -> None:
    if notebook is None:
        return
    names = [p.stem for p in course.released()] or [p.stem for p in course.folder("source").glob("*.ipynb")]
    if notebook not in names:
        raise ValueError(f"--notebook {notebook}: not a notebook of the assignment ({', '.join(names)})")
    never = [s for s in students if not (course.folder("autograded", s) / f"{notebook}.ipynb").exists()]
    if never:
        raise ValueError(f"--notebook: {', '.join(never)} never autograded: autograde the whole submission first")


def autograde(course: Course, term: Term, students: list[str], *, notebook: str | None = None,
              nbgrader: bool = True, workers: int = 1, mnist_dir: Path | None = None, retries: int = 1,
              out: Callable[[str], None] = print,
              err: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> Report:
    """Grade ``students`` (see the module's docstring); print one block per student as it is committed."""
    os.environ.setdefault("AUTOGRADER_SOLUTIONS", str(course.solutions))
    if workers < 1:
        raise ValueError("--workers must be at least 1")
    if not course.gradebook.exists():
        raise FileNotFoundError(f"{course.gradebook}: no gradebook yet: run `collect` first")
    missing = [s for s in students if not course.folder("submitted", s).is_dir()]
    if missing:
        raise FileNotFoundError(f"no submission for {', '.join(missing)}: run `collect` first")
    _check_regrade(course, students, notebook)
    cells = mapped_cells(course)
    calibration = None
    if cells:
        from autograder.calibration import load_or_calibrate
        from autograder.grade import solutions_dir

        calibration = load_or_calibrate(str(solutions_dir().resolve()), mnist_dir)
    elif not nbgrader:
        out("no test cell of this course is scored by a check: nbgrader's scores stand, nothing to import")
        return Report(graded=list(students))
    _prepare_work(course)
    report, start = Report(), time.perf_counter()
    nb_runs: dict[str, NbgraderRun] = {}
    hidden_runs: dict[str, HiddenRun] = {}
    attempts: dict[str, int] = {}
    context = multiprocessing.get_context("spawn")  # no inherited state (sessions, locks) in the workers
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures: dict[Future, tuple[str, str]] = {}

        def submit_hidden(student: str) -> None:
            attempts[student] = attempts.get(student, 0) + 1
            futures[pool.submit(hidden_job, course, student, mnist_dir, calibration)] = ("hidden", student)

        for student in students:
            if nbgrader:
                futures[pool.submit(run_nbgrader_job, course, student, notebook)] = ("nbgrader", student)
            if cells:
                submit_hidden(student)
        while futures:
            done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
            for future in done:
                kind, student = futures.pop(future)
                try:
                    value = future.result()
                except Exception as exc:  # noqa: BLE001 - a worker died: this student only
                    report.failed[student] = f"the {kind} job failed: {type(exc).__name__}: {exc}"
                    err(f"error: {student}: {report.failed[student]}")
                    continue
                if kind == "nbgrader":
                    nb_runs[student] = value
                else:
                    if _retry(value, attempts[student], retries):
                        err(f"warning: {student}: not graded ({value.results['extra_data']['not_graded']['reason']}) "
                            "retrying at the end of the queue")
                        submit_hidden(student)
                        continue
                    hidden_runs[student] = value
                if student in report.failed:
                    continue
                if (not nbgrader or student in nb_runs) and (not cells or student in hidden_runs):
                    _finish(course, term, student, nb_runs.get(student), hidden_runs.get(student), cells,
                            mnist_dir, report, out, err)
    for run in nb_runs.values():
        discard(run)
    report.seconds = time.perf_counter() - start
    return report


def _retry(run: HiddenRun, attempt: int, retries: int) -> bool:
    not_graded = run.results.get("extra_data", {}).get("not_graded")
    return bool(not_graded and not_graded.get("retry") and attempt <= retries)


def _finish(course: Course, term: Term, student: str, run: NbgraderRun | None, hidden: HiddenRun | None,
            cells: list, mnist_dir: Path | None, report: Report, out: Callable[[str], None],
            err: Callable[[str], None]) -> None:
    """Commit one student whose jobs are all done, or record why not; print what happened."""
    from autograder.results import is_graded, write_atomic

    try:
        if run is not None:
            for line in run.warnings.lines(student):
                out(line)
            if not run.ok:
                raise CommitRefused(f"nbgrader: {run.error}")
            out(f"autograded {student} in {run.seconds:.1f} s" + (f" ({run.only} only)" if run.only else ""))
        if hidden is not None:
            if not is_graded(hidden.results):
                write_atomic(course.root / "logs" / f"{student}.hidden.json", hidden.results)
                reason = hidden.results["extra_data"]["not_graded"]
                raise CommitRefused(f"the hidden suite did not grade it: {reason['reason']} "
                                    f"(details: logs/{student}.hidden.json)")
            if not hidden.submitted:
                raise CommitRefused("the submission changed while the hidden suite graded it: run autograde again")
        committed = commit_student(course, term, student, run, hidden.results if hidden else None, cells,
                                   hidden.submitted if hidden else None)
    except (CommitRefused, GradebookBusy, OSError, ValueError) as exc:
        report.failed[student] = str(exc).splitlines()[0][:400]
        err(f"error: {student}: {report.failed[student]}")
        return
    finally:
        if run is not None:
            discard(run)
    if hidden is not None:
        mnist = mnist_dir is not None
        out(f"imported {summary(student, hidden.results, committed.written, cells, hidden.seconds, mnist)}")
    late = {nb: p for nb, p in committed.penalties.items() if p}
    if late:
        out(f"{student}: late: -{sum(late.values()):g} points ({', '.join(f'{nb} -{p:g}' for nb, p in late.items())})")
    report.graded.append(student)
