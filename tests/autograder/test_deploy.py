"""Deployment paths of the grader: a real Dask cluster (one of whose workers lacks the grader's code),
batches in the layouts grade-all meets, a grader that cannot grade (no sandbox, a worker without the
code, a busy machine), and the Gradescope zip in a fake layout."""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from helpers import REPO
from helpers.submissions import MUTANTS, released, write_submission

from autograder.grade_all import grade_all


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


def _cluster(tmp_path, workers_with_code: int, workers_without: int = 0):
    """A real scheduler and single-process workers on 127.0.0.1 (some without the grader on their path)."""
    pytest.importorskip("distributed")
    bin_dir = Path(sys.executable).parent
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    bare = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    procs = [subprocess.Popen([str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", ":0", "--no-show"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    address = f"tcp://127.0.0.1:{port}"
    for worker_env in [env] * workers_with_code + [bare] * workers_without:
        procs.append(subprocess.Popen([str(bin_dir / "dask"), "worker", address, "--nworkers", "1", "--nthreads",
                                       "1", "--host", "127.0.0.1", "--no-dashboard"], env=worker_env, cwd="/",
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return address, procs


@pytest.fixture
def dask_cluster(tmp_path):
    address, procs = _cluster(tmp_path, 2)
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


def test_dask_cluster_gives_the_local_grades(small_course, dask_cluster, tmp_path, test_calibration):
    start = time.perf_counter()
    grade_all(small_course, tmp_path / "dask", scheduler=dask_cluster, mnist=False, calibration=test_calibration)
    dask_seconds = time.perf_counter() - start
    grade_all(small_course / "submitted", tmp_path / "local", workers=2, mnist=False, calibration=test_calibration)
    print(f"\ndask, 4 submissions on 2 workers: {dask_seconds:.1f} s")
    assert _csv(tmp_path / "dask" / "grades.csv") == _csv(tmp_path / "local" / "grades.csv")
    rows = {r["student"]: r for r in _csv(tmp_path / "dask" / "grades.csv")}
    assert rows["alice"]["score"] == "122" and rows["bob"]["score"] == "0"  # core 80 + bonus 42, without MNIST
    assert sorted(p.name for p in (tmp_path / "dask" / "results").iterdir()) == [
        "alice.json", "bob.json", "carol.json", "dave.json"]


def test_a_worker_without_the_code_grades_nothing_and_says_so(small_course, tmp_path, test_calibration):
    """Workers that cannot import the grader: every submission they get is 'not graded', never 0/0."""
    address, procs = _cluster(tmp_path, 0, workers_without=1)
    try:
        from dask.distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(1, timeout=60)
        batch = grade_all(small_course, tmp_path / "out", scheduler=address, mnist=False, retries=0,
                          calibration=test_calibration)
    finally:
        for p in procs:
            p.kill()
    assert batch.not_graded == ["alice", "bob", "carol", "dave"]
    for student in batch.not_graded:
        data = json.loads((tmp_path / "out" / "results" / f"{student}.json").read_text())
        assert "score" not in data and "lacks the grader's code" in data["output"]
    rows = {r["student"]: r for r in _csv(tmp_path / "out" / "grades.csv")}
    assert rows["alice"]["score"] == "" and rows["alice"]["status"].startswith("not graded")


def test_grade_all_reads_the_layout_collect_takes(tmp_path, test_calibration):
    write_submission(tmp_path / "subs" / "alice")
    write_submission(tmp_path / "subs" / "bob", released())
    batch = grade_all(tmp_path / "subs", tmp_path / "out", workers=2, mnist=False, calibration=test_calibration)
    assert {s: d["score"] for s, d in batch.results.items()} == {"alice": 122, "bob": 0}


def test_a_batch_without_submissions_is_an_error(tmp_path):
    (tmp_path / "empty" / "alice").mkdir(parents=True)
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade-all", str(tmp_path / "empty"), "--out",
                           str(tmp_path / "out"), "--no-mnist"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 1 and "holds no submissions" in proc.stderr


def test_no_sandbox_means_not_graded(tmp_path):
    """Without bubblewrap the grader refuses, says what is missing, exits non-zero and writes no score."""
    write_submission(tmp_path / "alice")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("python3", "setpriv", "sh"):  # a PATH with everything the grader needs but bwrap
        if shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool))
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(tmp_path / "alice"), "--no-mnist",
                           "--results", str(tmp_path / "results.json")], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), "PATH": str(bin_dir)})
    assert proc.returncode == 4, proc.stdout + proc.stderr
    data = json.loads((tmp_path / "results.json").read_text())
    assert "score" not in data and "bubblewrap" in data["extra_data"]["not_graded"]["detail"]
    assert "not graded" in proc.stdout


def test_code_that_sleeps_is_not_mistaken_for_a_busy_machine(tmp_path, test_calibration):
    """The wall clock trips, the jail's processes were not waiting for a CPU: the code's doing (a failed part),
    not the machine's (which would be 'not graded, retry')."""
    from dataclasses import replace

    from helpers.submissions import MODULES_SOURCE, TANH_BPROP, _into, with_notebook

    from autograder.grade import grade_submission
    from autograder.sandbox import jail

    sleep = "if len(grad_output) == 7:  # the grader's batches of 7, not the notebooks' demos\n" \
            "    import time\n    time.sleep(3600)"
    write_submission(tmp_path / "sleeper", with_notebook("01_modules", _into(MODULES_SOURCE, TANH_BPROP, sleep)))
    tight = replace(test_calibration, floors={**test_calibration.floors})
    original = jail.Budget.for_cpu
    try:
        jail.Budget.for_cpu = staticmethod(lambda cpu, factor=6.0, floor=60.0: original(cpu, 1.0, 5.0))
        data = grade_submission(tmp_path / "sleeper", calibration=tight)
    finally:
        jail.Budget.for_cpu = staticmethod(original)
    assert "score" in data, data["output"]
    bprop = next(t for t in data["tests"] if t["extra_data"]["id"] == "tanh.bprop.input")
    assert bprop["score"] == 0 and "without computing" in bprop["output"]
    assert next(t for t in data["tests"] if t["extra_data"]["id"] == "linear.fprop")["score"] > 0


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
