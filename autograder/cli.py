"""``python -m autograder COMMAND``: the instructor's one command.

Course material:   build, release
A term (nbgrader): collect, autograde, import-hidden, feedback, export
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
import time
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
    from autograder.instructor.layout import DEFAULT_COURSE, SOLUTIONS, Course

    return Course(root=args.course or DEFAULT_COURSE, solutions=args.solutions or SOLUTIONS)


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

@command("collect", "SUBMISSIONS/<student>/*.ipynb into the course's submitted/",
         lambda p: p.add_argument("submissions", type=Path))
def cmd_collect(args) -> int:
    from autograder.instructor.nbgrader_run import generate_assignment
    from autograder.instructor.submissions import collect

    course = _course(args)
    # The gradebook must know the assignment (its test cells, points and checksums) before grading;
    # regenerating it from the current solutions keeps it in step with them.
    generate_assignment(course, database=True, quiet=True)
    for student in collect(course, args.submissions):
        print(f"collected {student} -> {_show(course.folder('submitted', student))}")
    return 0


def _autograde_options(p: argparse.ArgumentParser) -> None:
    _students(p)
    p.add_argument("--no-mnist", action="store_true", help="the MNIST target cells stay pending")
    p.add_argument("--data", help="MNIST folder (default: data/mnist, else ../shared/data/mnist)")


@command("autograde", "nbgrader autograde (in a sandboxed kernel) and the hidden suite's scores, per student",
         _autograde_options)
def cmd_autograde(args) -> int:
    return _grade_course(args, nbgrader=True)


@command("import-hidden", "the hidden suite's scores into the gradebook (after nbgrader autograde)",
         _autograde_options)
def cmd_import_hidden(args) -> int:
    return _grade_course(args, nbgrader=False)


def _grade_course(args, nbgrader: bool) -> int:
    """Each student on their own: one student's failure is reported and never stops the others."""
    from autograder.instructor.hidden_scores import NotGradedError, import_hidden
    from autograder.instructor.nbgrader_run import NbgraderError, run_nbgrader

    course = _course(args)
    students = args.student or course.students()
    if not students:
        raise RuntimeError(f"no submissions in {course.root}: run `collect` first")
    mnist_dir = _mnist(args, required=False)
    if mnist_dir is None and not args.no_mnist:
        print("warning: MNIST not found (pass --data DIR): the MNIST target cells stay pending", file=sys.stderr)
    failed = {}
    for student in students:
        start = time.perf_counter()
        try:
            if nbgrader:
                run_nbgrader(course, "autograde", course.assignment, "--force", f"--student={student}",
                             quiet=args.quiet)
                print(f"autograded {student} in {time.perf_counter() - start:.1f} s")
            print(f"imported {import_hidden(course, student, mnist_dir)}")
        except (NbgraderError, NotGradedError) as exc:
            failed[student] = str(exc).splitlines()[0][:300]
            print(f"error: {student}: {failed[student]}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} of {len(students)} submissions not graded: {', '.join(sorted(failed))}", file=sys.stderr)
        return 1
    return 0


@command("feedback", "HTML feedback for the students (nbgrader generate_feedback)", _students)
def cmd_feedback(args) -> int:
    from autograder.instructor.nbgrader_run import NbgraderError, run_nbgrader

    course = _course(args)
    failed = []
    for student in args.student or [None]:
        extra = [f"--student={student}"] if student else []
        try:
            run_nbgrader(course, "generate_feedback", course.assignment, "--force", *extra, quiet=args.quiet)
        except NbgraderError as exc:
            failed.append(f"{student or 'the class'}: {exc}")
    print(f"feedback in {_show(course.root / 'feedback')}")
    for line in failed:
        print(f"error: {line}", file=sys.stderr)
    return 1 if failed else 0


@command("export", "the grades as CSV (nbgrader export)",
         lambda p: p.add_argument("--to", type=Path, help="CSV file (default <course>/grades.csv)"))
def cmd_export(args) -> int:
    from autograder.instructor.nbgrader_run import run_nbgrader

    course = _course(args)
    to = Path(args.to or course.root / "grades.csv").resolve()
    run_nbgrader(course, "export", f"--to={to}", quiet=args.quiet)
    print(f"grades in {_show(to)}")
    return 0


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
