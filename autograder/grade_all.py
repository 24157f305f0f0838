"""Grade every submission of nbgrader's ``submitted/<student>/<assignment>/`` layout.

The unit of work is :func:`grade_one` (one student's folder -> results dict), run by a local
process pool or, with a scheduler address, as tasks of an existing Dask distributed cluster; the
sandbox is created per submission wherever the task runs. One student's failure never stops the
others: it becomes a results file saying the grader failed on that submission.
"""

from __future__ import annotations

import csv
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from autograder.results import write_atomic


def find_submissions(root: Path, assignment: str | None = None) -> dict[str, Path]:
    """student -> folder of notebooks. ``root`` is ``submitted/`` or a course root containing it."""
    if (root / "submitted").is_dir():
        root = root / "submitted"
    subs = {}
    for student in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        folders = sorted(p for p in student.iterdir()
                         if p.is_dir() and not p.name.startswith(".") and assignment in (None, p.name))
        if len(folders) > 1:
            raise ValueError(f"{student.name} has several assignments ({', '.join(f.name for f in folders)}): "
                             "choose one with --assignment")
        if folders:
            subs[student.name] = folders[0]
    return subs


def grade_one(student: str, folder: str, options: dict) -> dict:
    """Results of one submission; never raises (a grader error becomes a failed results dict)."""
    try:
        from autograder.grade import grade_submission

        mnist_dir = Path(options["mnist_dir"]) if options.get("mnist_dir") else None
        return grade_submission(folder, timeout=options["timeout"], memory_mb=options["memory_mb"],
                                mnist_dir=mnist_dir)
    except Exception:
        return _failed()


def _failed() -> dict:
    return {"score": 0.0, "max_score": 0.0, "execution_time": 0.0, "tests": [],
            "output": f"the grader failed on this submission:\n{traceback.format_exc()[-2000:]}",
            "extra_data": {"grader_error": True}}


def _collect(student: str, data: dict, out: Path, rows: dict[str, dict]) -> None:
    write_atomic(out / "results" / f"{student}.json", data)
    rows[student] = data


def grade_all(root: Path, out: Path, *, workers: int = 1, scheduler: str | None = None,
              assignment: str | None = None, timeout: float = 20.0, memory_mb: int = 4096, mnist: bool = True,
              data: Path | None = None) -> Path:
    """Grade every submission under ``root``; write ``out/grades.csv`` and ``out/results/<student>.json``."""
    from autograder.grade import default_mnist_dir

    mnist_dir = (data or default_mnist_dir()) if mnist else None
    if mnist and mnist_dir is None:
        raise FileNotFoundError("MNIST not found: pass --data DIR or --no-mnist")
    options = {"timeout": timeout, "memory_mb": memory_mb, "mnist_dir": str(mnist_dir) if mnist_dir else None}
    subs = find_submissions(root, assignment)
    rows: dict[str, dict] = {}
    bar = tqdm(total=len(subs), unit="submission", desc="grading")
    if scheduler:
        from dask.distributed import Client
        from dask.distributed import as_completed as dask_completed

        with Client(scheduler) as client:
            futures = {client.submit(grade_one, s, str(f), options, key=f"grade-{s}", pure=False): s
                       for s, f in subs.items()}
            for future in dask_completed(futures):
                student = futures[future]
                try:
                    result = future.result()
                except Exception:  # the worker itself died
                    result = _failed()
                _collect(student, result, out, rows)
                bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(grade_one, s, str(f), options): s for s, f in subs.items()}
            for future in as_completed(futures):
                student = futures[future]
                try:
                    result = future.result()
                except Exception:  # e.g. the worker process was killed
                    result = _failed()
                _collect(student, result, out, rows)
                bar.update()
    bar.close()
    return write_csv(out / "grades.csv", rows)


def write_csv(path: Path, rows: dict[str, dict]) -> Path:
    """student, score, max_score, then one column per test (its score), students sorted."""
    names: list[str] = []
    for data in rows.values():
        for t in data["tests"]:
            if t["name"] not in names:
                names.append(t["name"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "score", "max_score", *names])
        for student in sorted(rows):
            scores = {t["name"]: t["score"] for t in rows[student]["tests"]}
            w.writerow([student, f"{rows[student]['score']:g}", f"{rows[student]['max_score']:g}",
                        *(f"{scores[n]:g}" if n in scores else "" for n in names)])
    tmp.replace(path)
    return path
