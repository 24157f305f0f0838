"""Instructor workflow: release, collect, autograde, feedback and export, with nbgrader.

    python -m autograder.course release [--out notebooks]
    python -m autograder.course collect SUBMISSIONS_DIR      # SUBMISSIONS_DIR/<student>/<nb>.ipynb
    python -m autograder.course autograde [--student ID ...] [--no-mnist] [--data DIR]
    python -m autograder.course import-hidden [--student ID ...] [--no-mnist] [--data DIR]
    python -m autograder.course feedback
    python -m autograder.course export [--to FILE]           # default <course>/grades.csv

Every command but ``release`` works in the course folder ``--course DIR`` (default
``autograder/course/``, git-ignored): a thin wrapper that copies ``solutions/*.ipynb`` into
``<course>/source/dlcore/`` and runs nbgrader's own commands there with
``autograder/nbgrader_config.py``. All notebooks are one assignment, ``dlcore``.
Grading runs with ``DLCORE_QUICK=1`` and a per-cell timeout (see the config). ``autograde`` then
runs the hidden autograder and writes its scores into the gradebook (``import-hidden`` alone):
one score per part, see ``instructor/hidden_map.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from autograder.instructor.hidden_scores import import_hidden
from autograder.instructor.layout import DEFAULT_COURSE, NOTEBOOKS, REPO, SOLUTIONS, Course
from autograder.instructor.nbgrader_run import NbgraderError, generate_assignment, run_nbgrader
from autograder.instructor.release import build_release
from autograder.instructor.submissions import collect


def _show(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def cmd_release(args, course: Course) -> None:
    for path in build_release(args.out, course.solutions):
        print(f"wrote {_show(path)}")


def cmd_collect(args, course: Course) -> None:
    # The gradebook must know the assignment (its test cells, points and checksums) before grading;
    # regenerating it from the current solutions keeps it in step with them.
    generate_assignment(course, database=True, quiet=True)
    for student in collect(course, args.submissions):
        print(f"collected {student} -> {_show(course.folder('submitted', student))}")


def _students(args, course: Course) -> list[str]:
    students = args.student or course.students()
    if not students:
        raise RuntimeError(f"no submissions in {course.root}: run `collect` first")
    return students


def _mnist_dir(args) -> Path | None:
    if args.no_mnist:
        return None
    from autograder.grade import default_mnist_dir

    if args.data:
        return args.data
    mnist_dir = default_mnist_dir()
    if mnist_dir is None:
        print("warning: MNIST not found (pass --data DIR): the hidden autograder skips the MNIST targets and "
              "test_targets keeps nbgrader's score", file=sys.stderr)
    return mnist_dir


def cmd_autograde(args, course: Course) -> None:
    mnist_dir = _mnist_dir(args)
    for student in _students(args, course):
        start = time.perf_counter()
        run_nbgrader(course, "autograde", course.assignment, "--force", f"--student={student}", quiet=args.quiet)
        print(f"autograded {student} in {time.perf_counter() - start:.1f} s")
        print(f"imported {import_hidden(course, student, mnist_dir, args.timeout)}")


def cmd_import_hidden(args, course: Course) -> None:
    mnist_dir = _mnist_dir(args)
    for student in _students(args, course):
        print(f"imported {import_hidden(course, student, mnist_dir, args.timeout)}")


def cmd_feedback(args, course: Course) -> None:
    run_nbgrader(course, "generate_feedback", course.assignment, "--force", quiet=args.quiet)
    print(f"feedback in {_show(course.root / 'feedback')}")


def cmd_export(args, course: Course) -> None:
    to = Path(args.to or course.root / "grades.csv").resolve()
    run_nbgrader(course, "export", f"--to={to}", quiet=args.quiet)
    print(f"grades in {_show(to)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.course", description=__doc__.splitlines()[0])
    parser.add_argument("--course", type=Path, default=DEFAULT_COURSE, help="nbgrader course folder")
    parser.add_argument("--solutions", type=Path, default=SOLUTIONS, help="folder of source notebooks")
    parser.add_argument("--quiet", action="store_true", help="show nbgrader's log only when it fails")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="regenerate the student notebooks from the solutions")
    p.add_argument("--out", type=Path, default=NOTEBOOKS)
    p.set_defaults(run=cmd_release)
    p = sub.add_parser("collect", help="copy a folder of submissions (<student>/<nb>.ipynb) into the course")
    p.add_argument("submissions", type=Path)
    p.set_defaults(run=cmd_collect)
    for name, run, text in (("autograde", cmd_autograde, "nbgrader autograde + import-hidden, per student"),
                            ("import-hidden", cmd_import_hidden, "the hidden autograder's scores into the gradebook")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--student", action="append", help="only this student (repeatable)")
        p.add_argument("--no-mnist", action="store_true", help="hidden autograder: skip the MNIST targets "
                       "(test_targets keeps nbgrader's score)")
        p.add_argument("--data", type=Path, help="MNIST folder (default: data/mnist, else ../shared/data/mnist)")
        p.add_argument("--timeout", type=float, default=20.0, help="hidden autograder: seconds per part")
        p.set_defaults(run=run)
    sub.add_parser("feedback", help="nbgrader generate_feedback (hidden tests removed)").set_defaults(run=cmd_feedback)
    p = sub.add_parser("export", help="nbgrader export: the grades as CSV")
    p.add_argument("--to", type=Path, help="CSV file (default <course>/grades.csv)")
    p.set_defaults(run=cmd_export)
    args = parser.parse_args(argv)
    try:
        args.run(args, Course(root=args.course, solutions=args.solutions))
    except (NbgraderError, FileNotFoundError, RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
