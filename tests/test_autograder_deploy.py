"""Deployment paths of the grader: a real Dask cluster, and the Gradescope zip in a fake layout."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from submissions import MUTANTS, released, write_submission

from autograder.grade_all import grade_all

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def small_course(tmp_path) -> Path:
    """Four students in nbgrader's layout: reference, release and two mutants."""
    root = tmp_path / "course"
    write_submission(root / "submitted" / "alice" / "ps1")
    write_submission(root / "submitted" / "bob" / "ps1", released())
    for student, mutant in (("carol", MUTANTS[0]), ("dave", MUTANTS[-1])):
        write_submission(root / "submitted" / student / "ps1", mutant.sources())
    return root


@pytest.fixture
def dask_cluster(tmp_path):
    """A real scheduler and two single-process workers on 127.0.0.1, stopped afterwards."""
    pytest.importorskip("distributed")
    bin_dir = Path(sys.executable).parent
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", ":0", "--no-show"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    address = f"tcp://127.0.0.1:{port}"
    for _ in range(2):
        procs.append(subprocess.Popen([str(bin_dir / "dask"), "worker", address, "--nworkers", "1", "--nthreads",
                                       "1", "--host", "127.0.0.1", "--no-dashboard"], env=env, cwd=tmp_path,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        from dask.distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def _csv(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_dask_cluster_gives_the_local_grades(small_course, dask_cluster, tmp_path):
    start = time.perf_counter()
    grade_all(small_course, tmp_path / "dask", scheduler=dask_cluster, mnist=False, timeout=5)
    dask_seconds = time.perf_counter() - start
    grade_all(small_course / "submitted", tmp_path / "local", workers=2, mnist=False, timeout=5)
    print(f"\ndask, 4 submissions on 2 workers: {dask_seconds:.1f} s")
    assert _csv(tmp_path / "dask" / "grades.csv") == _csv(tmp_path / "local" / "grades.csv")
    rows = {r["student"]: r for r in _csv(tmp_path / "dask" / "grades.csv")}
    assert rows["alice"]["score"] == "122" and rows["bob"]["score"] == "0"  # core 80 + bonus 42, without MNIST
    assert sorted(p.name for p in (tmp_path / "dask" / "results").iterdir()) == [
        "alice.json", "bob.json", "carol.json", "dave.json"]


def test_gradescope_zip_runs_in_a_fake_layout(tmp_path):
    from autograder.gradescope_zip import build_zip

    zip_path = build_zip(tmp_path / "autograder.zip")
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as z:
        names = z.namelist()
        assert {"setup.sh", "run_autograder", "autograder/grade.py", "dlcore/module.py",
                "solutions/01_modules.ipynb", "requirements-grader.txt"} <= set(names)
        assert not any("__pycache__" in n or n.startswith("tests/") for n in names)
        z.extractall(root / "source")
    run = root / "source" / "run_autograder"
    run.chmod(0o755)
    assert "requirements-grader.txt" in (root / "source" / "setup.sh").read_text()
    write_submission(root / "submission")
    (root / "results").mkdir()
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHON": sys.executable, "AUTOGRADER_ARGS": "--no-mnist",
           "PYTHONPATH": ""}
    proc = subprocess.run(["bash", str(run)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    assert data["score"] == data["max_score"] == 122  # core 80 + bonus 42, without MNIST
    assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(data["tests"][0])
