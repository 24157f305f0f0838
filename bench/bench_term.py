"""Seconds of ``python -m autograder autograde`` for a class, with 1 and with 2 workers (or any list).

The class: N students of the synthetic cohort of ``tests/helpers/similarity_cohort.py`` (students who answered
every answer cell of the four notebooks in their own styles: nbgrader runs their training cells and
the hidden suite grades working code), or N copies of the reference solutions with ``--reference``.
A temporary course is released and collected once; then, for each worker count, the whole class is
autograded from scratch (``autograde --force`` semantics: every student regraded) in a fresh
process, and the benchmark prints the wall-clock time, the seconds per student, how busy the
machine's CPUs were (all processes: the machine is shared, other jobs are in it), the speed-up over
the first worker count, and the load average before and during the run.

Usage::

    python bench/bench_term.py --students 30 --workers 1,2 --no-mnist
    python bench/bench_term.py --students 1 --workers 1,2 --reference      # per student, with MNIST
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from autograder.instructor.nbgrader_run import nbgrader_env  # noqa: E402


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
        memory = f"{int(mem) / 2**20:.1f} GB"
    except (OSError, StopIteration):
        memory = "?"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{platform.machine()} {model}, {cores} cores usable, {memory} RAM; Python {platform.python_version()}"


def write_class(root: Path, students: int, reference: bool) -> None:
    """``root/<student>/*.ipynb`` for ``students`` students."""
    if reference:
        for k in range(students):
            folder = root / f"student{k:02d}"
            folder.mkdir(parents=True)
            for path in sorted((REPO / "solutions").glob("*.ipynb")):
                shutil.copyfile(path, folder / path.name)
        return
    from helpers import similarity_cohort as cohort

    for k, answers in enumerate(cohort.cohort(students, seed=0)):
        cohort.write_student(root / f"student{k:02d}", cohort.student(answers))


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all processes, everyone's), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class LoadSampler(threading.Thread):
    """The 1-minute load average every few seconds while a run lasts."""

    def __init__(self, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.every, self.samples, self.stop = every, [], threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])


def cli(course: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "autograder", "--quiet", "--course", str(course), *args]
    return subprocess.run(command, cwd=REPO, env=nbgrader_env(), capture_output=True, text=True, check=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    ap.add_argument("--no-mnist", action="store_true", help="leave the MNIST targets ungraded")
    ap.add_argument("--reference", action="store_true", help="every student is the reference solutions")
    args = ap.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    print(f"machine: {machine()}")
    print(f"class: {args.students} students ({'reference solutions' if args.reference else 'synthetic cohort'}), "
          f"{'without' if args.no_mnist else 'with'} MNIST; workers {counts}")
    with tempfile.TemporaryDirectory(prefix="bench-term-") as tmp:
        course, subs = Path(tmp) / "course", Path(tmp) / "subs"
        write_class(subs, args.students, args.reference)
        for step in (("release", "--out", str(Path(tmp) / "release")), ("collect", str(subs))):
            done = cli(course, *step)
            if done.returncode:
                print(done.stdout, done.stderr, file=sys.stderr)
                return 1
        options = ["--no-mnist"] if args.no_mnist else []
        if not args.no_mnist:  # calibrate the hidden suite's budgets with MNIST once, outside the timings
            subprocess.run([sys.executable, "-m", "autograder", "calibrate"], cwd=REPO, env=nbgrader_env(),
                           capture_output=True, check=False)
        results = []
        for workers in counts:
            busy_before = busy_seconds()
            load_before = os.getloadavg()[0]
            sampler = LoadSampler()
            sampler.start()
            start = time.perf_counter()
            done = cli(course, "autograde", "--workers", str(workers), *options)
            seconds = time.perf_counter() - start
            sampler.stop.set()
            busy = busy_seconds() - busy_before
            cores = len(os.sched_getaffinity(0))
            graded = len(re.findall(r"^imported ", done.stdout, flags=re.M))
            nbgrader = [float(s) for s in re.findall(r"^autograded \S+ in ([\d.]+) s", done.stdout, flags=re.M)]
            hidden = [float(s) for s in re.findall(r"^imported .*\(([\d.]+) s\)", done.stdout, flags=re.M)]
            load = sum(sampler.samples) / len(sampler.samples) if sampler.samples else load_before
            results.append((workers, seconds))
            print(f"\n--workers {workers}: {seconds:.0f} s for {graded} of {args.students} students "
                  f"({seconds / args.students:.1f} s per student); the machine's CPUs "
                  f"{100 * busy / (cores * seconds):.0f} % busy (everyone's processes); load average "
                  f"{load_before:.1f} before, {load:.1f} on average during the run (this run included)")
            if nbgrader:
                median = sorted(nbgrader)[len(nbgrader) // 2]
                print(f"  nbgrader per student: {min(nbgrader):.0f}-{max(nbgrader):.0f} s (median {median:.0f}); "
                      f"hidden suite: {min(hidden):.0f}-{max(hidden):.0f} s")
            if done.returncode:
                print(f"  exit status {done.returncode}: {done.stderr.strip()[-800:]}")
        base = results[0][1]
        print("\nworkers  seconds  s/student  speed-up")
        for workers, seconds in results:
            print(f"{workers:7d}  {seconds:7.0f}  {seconds / args.students:9.1f}  {base / seconds:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
