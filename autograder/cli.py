"""``python -m autograder COMMAND``: the instructor's one command.

Course material:   build, release
A term (nbgrader): collect, autograde, import-hidden, (formgrader), feedback, export, status, gradescope-import
Grading headless:  grade, grade-all, calibrate, gradescope-zip
Integrity:         similarity

Every command is a function ``cmd_<name>(args) -> int`` registered with :func:`command`; the
Makefile's targets call them. Exit statuses: 0 done; 1 an error (one ``error:`` line); 2 bad usage
or missing data; 3 not graded (the grading machine could not grade; retrying may help); 4 not
graded (the sandbox cannot start here: see the message).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

NOT_GRADED_RETRY, NOT_GRADED = 3, 4
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable]] = {}


def command(name: str, help_text: str, options: Callable[[argparse.ArgumentParser], None] = lambda p: None):
    def register(fn: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = (help_text, options, fn)
        return fn
    return register


def _course(args):
    from autograder.instructor.layout import DEFAULT_COURSE, SOLUTIONS, TERM, Course

    return Course(root=args.course or DEFAULT_COURSE, solutions=args.solutions or SOLUTIONS,
                  term=args.term or TERM)


def _show(path: Path) -> str:
    from autograder.instructor.layout import REPO

    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _mnist(args, required: bool = True) -> Path | None:
    """The MNIST folder to grade the targets with; None with --no-mnist. Raises when it is missing."""
    if getattr(args, "no_mnist", False):
        return None
    from autograder.grade import default_mnist_dir

    path = Path(args.data) if args.data else default_mnist_dir()
    if path is None and required:
        raise FileNotFoundError("MNIST not found: fetch it (python -m dlcore data fetch), pass --data DIR, or "
                                "--no-mnist to leave the MNIST targets ungraded")
    return path


def _grading_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-mnist", action="store_true", help="leave the MNIST targets ungraded")
    p.add_argument("--data", help="folder with MNIST (default: data/mnist, else ../shared/data/mnist)")
    p.add_argument("--memory-mb", type=int, default=4096, help="address-space limit of student code (default 4096)")


def _students(p: argparse.ArgumentParser) -> None:
    p.add_argument("--student", action="append", help="only this student (repeatable)")


# --- course material --------------------------------------------------------------------------------

@command("build", "solutions/*.ipynb from the Jupytext sources solutions/src/*.py",
         lambda p: p.add_argument("--check", action="store_true", help="write nothing; exit 1 if a notebook is stale"))
def cmd_build(args) -> int:
    from autograder.instructor.build import build

    return 1 if build(check=args.check) else 0


@command("release", "notebooks/ (the students' copies) from solutions/, with nbgrader",
         lambda p: p.add_argument("--out", type=Path, help="default: notebooks/"))
def cmd_release(args) -> int:
    from autograder.instructor.layout import NOTEBOOKS, SOLUTIONS
    from autograder.instructor.release import build_release

    for path in build_release(args.out or NOTEBOOKS, args.solutions or SOLUTIONS):
        print(f"wrote {_show(path)}")
    return 0


# --- a term ---------------------------------------------------------------------------------------
# The documented order: collect -> autograde -> manual grading in the formgrader -> feedback -> export
# (status at any time). Commands that write the course hold its lock (Course.lock).

def _term(course):
    from autograder.instructor.term import load_term

    return load_term(course.term)


def _collect_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("submissions", type=Path, help="SUBMISSIONS/<student>/*.ipynb (subfolders searched)")
    p.add_argument("--timestamps", type=Path, help="CSV 'student,timestamp' (ISO 8601 with a UTC offset): "
                   "each submission's time")
    p.add_argument("--mtime", action="store_true", help="without another time, the newest notebook's "
                   "modification time (only when uploads kept their times)")


@command("collect", "SUBMISSIONS/<student>/*.ipynb (and their submission times) into the course's submitted/",
         _collect_options)
def cmd_collect(args) -> int:
    from autograder.instructor import timestamps
    from autograder.instructor.gradebook import open_gradebook
    from autograder.instructor.late import set_due_date
    from autograder.instructor.nbgrader_run import generate_assignment
    from autograder.instructor.submissions import collect

    course = _course(args)
    term = _term(course)
    times = timestamps.read_csv(args.timestamps) if args.timestamps else None
    with course.lock():
        # The gradebook must know the assignment (its test cells, points and checksums) before grading;
        # regenerating it from the current solutions keeps it in step with them.
        generate_assignment(course, database=True, quiet=True)
        open_gradebook(course, lambda gb: set_due_date(gb, course, term))
        for item in collect(course, args.submissions, times, mtime=args.mtime):
            when = ""
            if item.timestamp is not None:
                late = (item.timestamp - term.due).total_seconds() if term.due else 0.0
                when = f", submitted {timestamps.show(item.timestamp)} ({item.source})" + (
                    f", {late / 3600:.1f} h late" if late > 0 else "")
            elif term.due:
                print(f"warning: {item.student}: no submission time (no --timestamps entry, no timestamp.txt): "
                      "never counted late", file=sys.stderr)
            print(f"collected {item.student} -> {_show(course.folder('submitted', item.student))}{when}")
    return 0


def _autograde_options(p: argparse.ArgumentParser, regrade: bool = True) -> None:
    _students(p)
    if regrade:
        p.add_argument("--notebook", help="regrade this notebook only (with --student; the hidden suite still "
                       "grades the whole submission)")
    p.add_argument("--workers", type=int, default=1, help="grading processes at once (default 1; 2 on two cores: "
                   "a student's nbgrader run and hidden suite run side by side)")
    p.add_argument("--no-mnist", action="store_true", help="the MNIST target cells stay pending")
    p.add_argument("--data", help="MNIST folder (default: data/mnist, else ../shared/data/mnist)")


@command("autograde", "nbgrader autograde (in a sandboxed kernel) and the hidden suite's scores, per student, "
         "in parallel", _autograde_options)
def cmd_autograde(args) -> int:
    return _grade_course(args, nbgrader=True)


@command("import-hidden", "the hidden suite's scores into the gradebook (after nbgrader autograde by hand)",
         lambda p: _autograde_options(p, regrade=False))
def cmd_import_hidden(args) -> int:
    return _grade_course(args, nbgrader=False)


def _grade_course(args, nbgrader: bool) -> int:
    """Each student on their own: one student's failure is reported and never stops the others."""
    from autograder.instructor.autograde import autograde

    course = _course(args)
    term = _term(course)
    notebook = getattr(args, "notebook", None)
    if notebook and not args.student:
        raise ValueError("--notebook needs --student (regrade one notebook of named students)")
    students = args.student or course.students()
    if not students:
        raise RuntimeError(f"no submissions in {course.root}: run `collect` first")
    mnist_dir = _mnist(args, required=False)
    if mnist_dir is None and not args.no_mnist:
        print("warning: MNIST not found (pass --data DIR): the MNIST target cells stay pending", file=sys.stderr)
    with course.lock():
        report = autograde(course, term, students, notebook=notebook, nbgrader=nbgrader, workers=args.workers,
                           mnist_dir=mnist_dir)
    print(f"{'graded' if nbgrader else 'imported'} {len(report.graded)} of {len(students)} students in "
          f"{report.seconds:.1f} s with {args.workers} worker(s)")
    if report.failed:
        print(f"{len(report.failed)} of {len(students)} submissions not graded: {', '.join(sorted(report.failed))}",
              file=sys.stderr)
        return 1
    return 0


def _fresh_or_refuse(course, students: list[str] | None, what: str):
    """The freshness of ``students``; raises when any is stale (the gradebook would publish old scores)."""
    from autograder.instructor.freshness import check

    freshness = check(course, students)
    if not freshness.ok:
        lines = "\n  ".join(freshness.lines())
        raise RuntimeError(f"{what} refused: the gradebook holds out-of-date scores for {len(freshness.stale)} "
                           f"student(s):\n  {lines}")
    for student, why in sorted(freshness.ungraded.items()):
        print(f"warning: {student}: {why}", file=sys.stderr)
    return freshness


@command("feedback", "HTML feedback for the students (nbgrader generate_feedback); refused while scores are stale",
         _students)
def cmd_feedback(args) -> int:
    from autograder.instructor.late import refresh
    from autograder.instructor.nbgrader_run import NbgraderError, run_nbgrader

    course = _course(args)
    term = _term(course)
    with course.lock():
        freshness = _fresh_or_refuse(course, args.student, "feedback")
        graded = [s for s in (args.student or course.students()) if s not in freshness.ungraded]
        refresh(course, term, graded)
        failed = []
        exclude = sorted(freshness.ungraded)
        for student in args.student or [None]:
            if student in freshness.ungraded:
                continue
            extra = [f"--student={student}"] if student else []
            if not student and exclude:
                extra.append(f"--CourseDirectory.student_id_exclude={','.join(exclude)}")
            try:
                run_nbgrader(course, "generate_feedback", course.assignment, "--force", *extra, quiet=args.quiet)
            except NbgraderError as exc:
                failed.append(f"{student or 'the class'}: {exc}")
    print(f"feedback in {_show(course.root / 'feedback')}")
    for line in failed:
        print(f"error: {line}", file=sys.stderr)
    return 1 if failed else 0


def _export_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--to", type=Path, help="the grades CSV (default <course>/grades.csv)")
    p.add_argument("--canvas", type=Path, help="also the Canvas gradebook import CSV")
    p.add_argument("--moodle", type=Path, help="also the Moodle grade import CSV")
    _students(p)


@command("export", "grades CSV (a column per notebook, core and bonus totals, penalties, pending grades); "
         "--canvas/--moodle for the LMS; refused while scores are stale", _export_options)
def cmd_export(args) -> int:
    from autograder.instructor.export import read_sheet, write_grades
    from autograder.instructor.late import refresh
    from autograder.instructor.lms import write_canvas, write_moodle

    course = _course(args)
    term = _term(course)
    to = Path(args.to or course.root / "grades.csv").resolve()
    with course.lock():
        freshness = _fresh_or_refuse(course, args.student, "export")
        refresh(course, term, [s for s in (args.student or course.students()) if s not in freshness.ungraded])
        sheet = read_sheet(course, term, freshness, args.student)
        print(f"grades in {_show(write_grades(to, sheet, term))} (core out of {sheet.maximum(term.core):g}, "
              f"bonus out of {sheet.maximum(term.bonus):g})")
        for path, write, lms in ((args.canvas, write_canvas, "Canvas"), (args.moodle, write_moodle, "Moodle")):
            if path:
                print(f"{lms} import file in {_show(write(path.resolve(), sheet, term))}")
    pending = [r.student for r in sheet.rows if r.status == "pending"]
    ungraded = [r.student for r in sheet.rows if r.status == "not graded"]
    if pending:
        print(f"pending grades (manual grading, or MNIST targets) for {len(pending)} student(s): {', '.join(pending)}; "
              "their LMS grade of that part is left empty")
    if ungraded:
        print(f"not graded: {', '.join(ungraded)}", file=sys.stderr)
    return 0


@command("status", "each student: submission time and lateness, graded or not, stale or not, pending grades", _students)
def cmd_status(args) -> int:
    from autograder.instructor.export import number, read_sheet
    from autograder.instructor.freshness import check
    from autograder.instructor.timestamps import show

    course = _course(args)
    term = _term(course)
    freshness = check(course, args.student)
    if not course.gradebook.exists():
        raise RuntimeError(f"{course.root} has no gradebook yet: run `collect` first")
    sheet = read_sheet(course, term, freshness, args.student)
    print(f"due {show(term.due) if term.due else 'never (no due date in ' + str(course.term) + ')'}; "
          f"late policy: {term.late.describe()}")
    for row in sheet.rows:
        if not row.graded:
            state = "STALE: " + freshness.stale[row.student] if row.student in freshness.stale else row.reason
            print(f"{row.student:20} {state}")
            continue
        late = f", {number(row.seconds_late / 3600)} h late" if row.seconds_late else ""
        print(f"{row.student:20} {row.status:8} core {number(row.total(term.core))}/{number(sheet.maximum(term.core))}"
              f" bonus {number(row.total(term.bonus))}/{number(sheet.maximum(term.bonus))}"
              f"  submitted {show(row.timestamp)}{late}"
              + (f", penalty -{number(row.penalty(term.core) + row.penalty(term.bonus))}" if any(row.penalties.values())
                 else "")
              + (f"; pending: {', '.join(row.pending)}" if row.pending else ""))
    return 1 if freshness.stale else 0


@command("gradescope-import", "Gradescope's 'Export Submissions' (zip or folder) -> OUT/<student>/*.ipynb with "
         "their upload times, for collect",
         lambda p: (p.add_argument("export", type=Path), p.add_argument("--out", type=Path, required=True),
                    p.add_argument("--id", choices=("sid", "email"), default="sid",
                                   help="the student id: Gradescope's SID (default) or e-mail")))
def cmd_gradescope_import(args) -> int:
    from autograder.instructor.gradescope_import import ExportRefused, convert
    from autograder.instructor.timestamps import show

    try:
        result = convert(args.export, args.out, args.id)
    except ExportRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for student, when in result.students.items():
        print(f"{student}: uploaded {show(when)}")
    print(f"{len(result.students)} submission(s) in {args.out}; next: python -m autograder collect {args.out}")
    return 0 if result.students else 1


# --- grading headless -----------------------------------------------------------------------------

def _grade_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="a notebook, or a folder of one student's notebooks (subfolders searched)")
    p.add_argument("--results", help="write Gradescope's results.json here (atomically)")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="what to print: a readable summary (text) or the results JSON")
    _grading_options(p)


@command("grade", "grade one submission in the sandbox", _grade_options)
def cmd_grade(args) -> int:
    from autograder.grade import grade_submission
    from autograder.grade_all import grader_failed
    from autograder.results import is_graded, summary, write_atomic

    mnist_dir = _mnist(args)
    try:
        data = grade_submission(args.path, mnist_dir=mnist_dir, memory_mb=args.memory_mb)
    except Exception:  # the grader itself is broken (no reference, say): a result that says so, no score
        data = grader_failed(traceback.format_exc())
        if args.results:
            write_atomic(args.results, data)
        traceback.print_exc()
        return 1
    if args.results:
        write_atomic(args.results, data)
    print(summary(data) if args.format == "text" else json.dumps(data, indent=2))
    if is_graded(data):
        return 0
    return NOT_GRADED_RETRY if data["extra_data"]["not_graded"]["retry"] else NOT_GRADED


def _grade_all_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("submissions", help="<student>/*.ipynb, nbgrader's submitted/, or the course root")
    p.add_argument("--out", required=True, help="results/<student>.json and grades.csv go here")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--scheduler", help="tcp://HOST:PORT of a Dask distributed scheduler")
    p.add_argument("--assignment", help="nbgrader layout: grade only this assignment folder")
    p.add_argument("--retries", type=int, default=2, help="retries of submissions the machine was too busy for")
    p.add_argument("--no-mnist", action="store_true", help="leave the MNIST targets ungraded")
    p.add_argument("--data", help="folder with MNIST (default: data/mnist, else ../shared/data/mnist)")
    p.add_argument("--memory-mb", type=int, default=4096)


@command("grade-all", "grade every submission of a folder, in parallel", _grade_all_options)
def cmd_grade_all(args) -> int:
    from autograder.grade_all import grade_all

    batch = grade_all(Path(args.submissions), Path(args.out), workers=args.workers, scheduler=args.scheduler,
                      assignment=args.assignment, memory_mb=args.memory_mb, mnist=not args.no_mnist,
                      data=Path(args.data) if args.data else None, retries=args.retries)
    print(f"graded {len(batch.results) - len(batch.not_graded)} of {len(batch.results)} submissions in "
          f"{batch.seconds:.0f} s; grades in {Path(args.out) / 'grades.csv'}")
    if batch.not_graded:
        print(f"not graded: {', '.join(batch.not_graded)} (see their results files)", file=sys.stderr)
        return NOT_GRADED_RETRY
    return 0


@command("calibrate", "measure the reference's CPU cost per part on this machine (budgets follow from it)",
         lambda p: (p.add_argument("--no-mnist", action="store_true"), p.add_argument("--data")))
def cmd_calibrate(args) -> int:
    from autograder.calibration import FACTOR, load_or_calibrate
    from autograder.grade import solutions_dir

    calibration = load_or_calibrate(str(solutions_dir().resolve()), _mnist(args))
    for key, cost in calibration.costs.items():
        print(f"{key:28} reference {cost:7.2f} CPU s   budget {calibration.budget(key).cpu:7.1f} s")
    print(f"budgets: {FACTOR:g} × the reference, at least {calibration.floors}")
    return 0


@command("gradescope-zip", "the Gradescope autograder zip (setup.sh, run_autograder, what grading needs)",
         lambda p: p.add_argument("--out", default="autograder.zip"))
def cmd_gradescope_zip(args) -> int:
    from autograder.gradescope_zip import ZipRefused, build_zip

    try:
        print(build_zip(Path(args.out)))
    except ZipRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


# --- integrity ------------------------------------------------------------------------------------

def _similarity_options(s: argparse.ArgumentParser) -> None:
    # The options' defaults live in autograder/similarity.py (None = that default).
    s.add_argument("submissions", help="SUBMISSIONS/<student>/*.ipynb, nbgrader's submitted/ or the course root")
    s.add_argument("--out", required=True, help="copydetect's HTML report")
    s.add_argument("--json", help="also write every pair, ranked, as JSON")
    s.add_argument("--release", help="release notebooks: the given code to ignore (default notebooks/)")
    s.add_argument("--assignment", help="nbgrader layout: the assignment folder (default: a student's only one)")
    s.add_argument("--threshold", type=float, help="list pairs where one shares more than this (default 0.5)")
    s.add_argument("--min-overlap", type=int, help="... and that share at least this many tokens (default 100)")
    s.add_argument("--noise", type=int, help="copydetect's noise threshold, tokens (default 25)")
    s.add_argument("--guarantee", type=int, help="copydetect's guarantee threshold, tokens (default 25)")
    s.add_argument("--top", type=int, help="print at most this many pairs (the report has all listed)")


@command("similarity", "rank pairs of students by the similarity of their answer cells", _similarity_options)
def cmd_similarity(args) -> int:
    from autograder.similarity import run_cli

    return run_cli(args)


def parser() -> argparse.ArgumentParser:
    # nothing of autograder.instructor here: the Gradescope zip leaves the nbgrader side out
    ap = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:6]))
    ap.add_argument("--course", type=Path, help="nbgrader course folder (default: autograder/course)")
    ap.add_argument("--solutions", type=Path, help="folder of source notebooks (default: solutions)")
    ap.add_argument("--term", type=Path, help="the term's settings: due date, late policy, parts "
                    "(default: autograder/term.toml)")
    ap.add_argument("--quiet", action="store_true", help="show nbgrader's log only when it fails")
    sub = ap.add_subparsers(dest="command", required=True)
    for name, (help_text, options, fn) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        options(p)
        p.set_defaults(run=fn)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from autograder.grade_all import NoSubmissions

    try:
        return args.run(args)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, ValueError, NoSubmissions) as exc:  # nbgrader's failures are RuntimeErrors
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception:  # the grader itself failed: say so, exit non-zero
        traceback.print_exc()
        return 1
