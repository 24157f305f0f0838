"""Seconds of a similarity check (``python -m autograder similarity``) on N submissions (default 30).

The submissions are the synthetic cohort of ``tests/helpers/similarity_cohort.py``: N - 1 students who
answered every answer cell of the four notebooks (bonus included) in their own styles, plus one
who copied the last of them (renamed, reordered). Times ``similarity.compare`` in this process
(reading the notebooks, copydetect, the HTML report; median of ``--repeat`` runs) and the whole
command once in a fresh interpreter (imports included), then prints the ranked pairs' head.

Usage: ``python bench/bench_similarity.py [--students 30] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import similarity_cohort as cohort  # noqa: E402

from autograder.similarity import compare, format_table  # noqa: E402


def write_cohort(root: Path, students: int) -> None:
    """``root/<student>/*.ipynb``: ``students - 1`` independent students and one copier."""
    answers = cohort.cohort(students - 1, seed=0)
    for k, student in enumerate(answers):
        cohort.write_student(root / f"student{k:02d}", cohort.student(student))
    cohort.write_student(root / "copier", cohort.student(cohort.copied(answers[-1])))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; Python {platform.python_version()}, "
          f"copydetect {version('copydetect')}")
    with tempfile.TemporaryDirectory() as tmp:
        root, out = Path(tmp) / "SUBMISSIONS", Path(tmp) / "report.html"
        write_cohort(root, args.students)
        size = sum(p.stat().st_size for p in root.rglob("*.ipynb"))
        print(f"{args.students} submissions, {4 * args.students} notebooks, {size / 2**20:.1f} MB")
        seconds = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            report = compare(root, out)
            seconds.append(time.perf_counter() - start)
        print(f"compare(): {statistics.median(seconds):.2f} s (median of {args.repeat}: "
              f"{', '.join(f'{s:.2f}' for s in seconds)})")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "autograder", "similarity", str(root), "--out", str(out)],
                       cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        print(f"python -m autograder similarity: {time.perf_counter() - start:.2f} s wall-clock (one run)")
        print(format_table(report, limit=5))


if __name__ == "__main__":
    main()
