"""Grade every submission of a folder, in parallel, and retry the ones the machine could not grade.

Layouts, recognised in this order: a course root holding ``submitted/``; nbgrader's
``submitted/<student>/<assignment>/*.ipynb``; the layout ``collect`` takes,
``<student>/*.ipynb``. A folder with no submission is an error, not an empty grade sheet.

The unit of work is :func:`grade_one` (one student's folder -> results), run by a local process
pool or, with a scheduler address, as tasks of an existing Dask distributed cluster (the jail is
created on the worker). A submission the grader could not grade (a worker without the code, a
sandbox that cannot start, an overloaded machine) gets a *not graded* result, never a score; those
that may succeed later are retried. The CSV marks them, and :func:`grade_all` reports how many
remain so that the command exits non-zero.
"""

from __future__ import annotations

import csv
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from autograder.results import check_id, is_graded, not_graded, write_atomic


class NoSubmissions(ValueError):  # noqa: N818
    """The folder holds no submission in any known layout."""


def find_submissions(root: Path, assignment: str | None = None) -> dict[str, Path]:
    """student -> folder of notebooks."""
    root = Path(root)
    if (root / "submitted").is_dir():
        root = root / "submitted"
    if not root.is_dir():
        raise NoSubmissions(f"{root}: no such folder")
    subs: dict[str, Path] = {}
    for student in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()
                          and not p.name.startswith(".")):
        if any(p.suffix == ".ipynb" for p in student.iterdir()):  # collect's layout: <student>/*.ipynb
            subs[student.name] = student
            continue
        folders = sorted(p for p in student.iterdir() if p.is_dir() and not p.is_symlink()
                         and not p.name.startswith(".") and assignment in (None, p.name))
        if len(folders) > 1:
            raise NoSubmissions(f"{student.name} has several assignments ({', '.join(f.name for f in folders)}): "
                                "choose one with --assignment")
        if folders:
            subs[student.name] = folders[0]
    if not subs:
        raise NoSubmissions(f"{root} holds no submissions: expected <student>/*.ipynb, or nbgrader's "
                            "submitted/<student>/<assignment>/*.ipynb")
    return subs


def grade_one(student: str, folder: str, options: dict) -> dict:
    """Results of one submission; never raises: a grader failure is a not-graded result."""
    try:
        from autograder.grade import grade_submission

        mnist_dir = Path(options["mnist_dir"]) if options.get("mnist_dir") else None
        return grade_submission(folder, mnist_dir=mnist_dir, calibration=options.get("calibration"),
                                memory_mb=options["memory_mb"])
    except Exception:  # noqa: BLE001 - e.g. a worker without the grader's code
        return grader_failed(traceback.format_exc())


def grader_failed(detail: str) -> dict:
    """The one place that makes the result of a grader that failed on a submission."""
    return not_graded("the grader itself failed on it.", retry=False, detail=detail[-4000:])


@dataclass
class Batch:
    """What a batch gave: every student's results, and how long it took."""

    results: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def not_graded(self) -> list[str]:
        return sorted(s for s, data in self.results.items() if not is_graded(data))


def grade_all(root: Path, out: Path, *, workers: int = 1, scheduler: str | None = None,
              assignment: str | None = None, memory_mb: int = 4096, mnist: bool = True,
              data: Path | None = None, retries: int = 2, calibration=None) -> Batch:
    """Grade every submission under ``root``; write ``out/grades.csv`` and ``out/results/<student>.json``."""
    from autograder.calibration import load_or_calibrate
    from autograder.grade import default_mnist_dir, solutions_dir

    start = time.perf_counter()
    mnist_dir = (data or default_mnist_dir()) if mnist else None
    if mnist and mnist_dir is None:
        raise FileNotFoundError("MNIST not found: pass --data DIR or --no-mnist")
    subs = find_submissions(root, assignment)
    # Measured once here, not by every worker at the same time (a loaded machine would inflate it).
    calibration = calibration or load_or_calibrate(str(solutions_dir().resolve()), mnist_dir, memory_mb=memory_mb)
    options = {"memory_mb": memory_mb, "mnist_dir": str(mnist_dir) if mnist_dir else None,
               "calibration": calibration}
    batch = Batch()
    pending = dict(subs)
    for attempt in range(retries + 1):
        for student, data in _run(pending, options, workers, scheduler).items():
            batch.results[student] = data
            write_atomic(out / "results" / f"{student}.json", data)
        pending = {s: subs[s] for s, data in batch.results.items() if not is_graded(data)
                   and data["extra_data"]["not_graded"].get("retry")}
        if not pending:
            break
        time.sleep(min(30.0, 5.0 * (attempt + 1)))  # give a busy machine a moment
    write_csv(out / "grades.csv", batch.results)
    batch.seconds = time.perf_counter() - start
    return batch


def _run(subs: dict[str, Path], options: dict, workers: int, scheduler: str | None) -> dict[str, dict]:
    from tqdm import tqdm

    results: dict[str, dict] = {}
    with tqdm(total=len(subs), unit="submission", desc="grading") as bar:
        if scheduler:
            from dask.distributed import Client
            from dask.distributed import as_completed as dask_completed

            with Client(scheduler) as client:
                missing = _workers_without_the_grader(client)
                if missing:  # a task there could not even be unpacked: grade nothing rather than hang
                    detail = "; ".join(f"{worker}: {problem}" for worker, problem in missing.items())
                    return {s: not_graded("a grading machine (Dask worker) lacks the grader's code.", retry=False,
                                          detail=detail) for s in subs}
                futures = {client.submit(grade_one, s, str(f), options, key=f"grade-{s}-{time.time_ns()}",
                                         pure=False): s for s, f in subs.items()}
                for future in dask_completed(futures):
                    results[futures[future]] = _result(future)
                    bar.update()
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = {pool.submit(grade_one, s, str(f), options): s for s, f in subs.items()}
                for future in as_completed(futures):
                    results[futures[future]] = _result(future)
                    bar.update()
    return results


def _workers_without_the_grader(client) -> dict[str, str]:
    """Worker address -> why it cannot import the grader (a lambda travels by value: it needs nothing)."""
    def check() -> str:
        try:
            import autograder.grade  # noqa: F401
        except Exception as exc:  # noqa: BLE001
            return f"{type(exc).__name__}: {exc}"
        return ""

    answers = client.run(check)
    return {worker: answer for worker, answer in answers.items() if answer}


def _result(future) -> dict:
    try:
        return future.result()
    except Exception:  # noqa: BLE001 - the worker itself died or lacked the code
        return grader_failed(traceback.format_exc())


def write_csv(path: Path, rows: dict[str, dict]) -> Path:
    """student, score, max_score, status, then one column per check id (its score); students sorted.
    A submission that was not graded has no score: its status says why."""
    ids: list[str] = []
    for data in rows.values():
        for t in data["tests"]:
            if check_id(t) not in ids:
                ids.append(check_id(t))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "score", "max_score", "status", *ids])
        for student in sorted(rows):
            data = rows[student]
            if not is_graded(data):
                reason = data["extra_data"]["not_graded"]["reason"]
                w.writerow([student, "", "", f"not graded: {reason}", *([""] * len(ids))])
                continue
            scores = {check_id(t): t["score"] for t in data["tests"]}
            w.writerow([student, f"{data['score']:g}", f"{data['max_score']:g}", "graded",
                        *(f"{scores[i]:g}" if i in scores else "" for i in ids)])
    tmp.replace(path)
    return path
