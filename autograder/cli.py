"""``python -m autograder {grade, grade-all, gradescope-zip, similarity}``."""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path


def _grade(args: argparse.Namespace) -> int:
    from autograder.grade import default_mnist_dir, grade_submission
    from autograder.results import summary, write_atomic

    mnist_dir = None
    if not args.no_mnist:
        mnist_dir = Path(args.data) if args.data else default_mnist_dir()
        if mnist_dir is None:
            print("error: MNIST not found: pass --data DIR or --no-mnist", file=sys.stderr)
            return 2
    try:
        data = grade_submission(args.path, timeout=args.timeout, memory_mb=args.memory_mb, mnist_dir=mnist_dir)
    except Exception:
        # The grader itself failed: still leave a results file that says so, then exit non-zero.
        if args.results:
            write_atomic(args.results, {"score": 0.0, "max_score": 0.0, "execution_time": 0.0, "tests": [],
                                        "output": "The autograder failed on this submission (not your code's "
                                                  "fault); the staff have been told.",
                                        "extra_data": {"grader_error": traceback.format_exc()[-2000:]}})
        raise
    if args.results:
        write_atomic(args.results, data)
    if args.format == "text":
        print(summary(data))
    else:
        print(json.dumps(data, indent=2))
    return 0


def _grade_all(args: argparse.Namespace) -> int:
    from autograder.grade_all import grade_all

    grade_all(Path(args.submissions), Path(args.out), workers=args.workers, scheduler=args.scheduler,
              assignment=args.assignment, timeout=args.timeout, memory_mb=args.memory_mb,
              mnist=not args.no_mnist, data=Path(args.data) if args.data else None)
    return 0


def _zip(args: argparse.Namespace) -> int:
    from autograder.gradescope_zip import ZipRefused, build_zip

    try:
        print(build_zip(Path(args.out)))
    except ZipRefused as exc:  # e.g. a symbolic link where an allowed file goes
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _similarity(args: argparse.Namespace) -> int:
    from autograder.similarity import run_cli

    return run_cli(args)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per part of the unit tests (default 20)")
    p.add_argument("--memory-mb", type=int, default=4096, help="address-space limit of student code (default 4096)")
    p.add_argument("--no-mnist", action="store_true", help="skip the MNIST targets")
    p.add_argument("--data", help="folder with MNIST (default: data/mnist, else ../shared/data/mnist)")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m autograder", description="Grade dlcore submissions.")
    sub = ap.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="grade one notebook or one student's folder of notebooks")
    g.add_argument("path")
    g.add_argument("--results", help="write Gradescope results.json here (atomically)")
    g.add_argument("--format", choices=("gradescope", "json", "text"), default="text",
                   help="what to print: the summary (text) or the results JSON (gradescope, json)")
    _common(g)
    g.set_defaults(func=_grade)
    a = sub.add_parser("grade-all", help="grade nbgrader's submitted/<student>/<assignment>/")
    a.add_argument("submissions", help="submitted/ or the course root containing it")
    a.add_argument("--workers", type=int, default=1)
    a.add_argument("--out", required=True)
    a.add_argument("--scheduler", help="tcp://HOST:PORT of a Dask distributed scheduler")
    a.add_argument("--assignment", help="grade only this assignment folder (default: all of a student's)")
    _common(a)
    a.set_defaults(func=_grade_all)
    z = sub.add_parser("gradescope-zip", help="build the Gradescope autograder zip")
    z.add_argument("--out", default="autograder.zip")
    z.set_defaults(func=_zip)
    # similarity: the options' defaults live in autograder/similarity.py (None = that default)
    s = sub.add_parser("similarity", help="rank pairs of students by the similarity of their answer cells")
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
    s.set_defaults(func=_similarity)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception:  # the grader itself failed: say so, exit non-zero
        traceback.print_exc()
        return 1
