"""The grader graded: the reference earns everything, the release nothing, each mutant loses exactly
the checks of the part it breaks, each adversary exactly what its attack deserves (usually what its
honest code earns), and every grading ends with results written, whatever the others do.

Most submissions are graded once, together, by ``grade-all`` with two workers and no MNIST (the
``graded`` fixture); MNIST runs in ``test_mnist.py``.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
from helpers import REPO
from helpers.submissions import MUTANTS, adversaries, part_of, write_all, write_submission

from autograder.checks import table
from autograder.grade_all import grade_all
from autograder.results import check_id

pytestmark = pytest.mark.grading
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
ALL = {c.id for part in table(mnist=False) for c in part.checks}
CORE, BONUS = 80, 42  # points without MNIST: parts 1-3, and part 4 (the bonus)


def _failed(data: dict) -> set[str]:
    return {check_id(t) for t in data["tests"] if t["status"] != "passed"}


def _output(data: dict, check: str) -> str:
    return next(t["output"] for t in data["tests"] if check_id(t) == check)


@pytest.fixture(scope="session")
def submissions(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    write_all(root)
    return root


@pytest.fixture(scope="session")
def graded(submissions, tmp_path_factory, test_calibration) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("graded")
    batch = grade_all(submissions, out, workers=2, mnist=False, calibration=test_calibration)
    print(f"\ngrade-all of {len(batch.results)} submissions, 2 workers: {batch.seconds:.1f} s")
    return {p.stem: json.loads(p.read_text()) for p in (out / "results").glob("*.json")} | {"_out": out}


def test_reference_scores_everything(graded):
    ref = graded["reference"]
    assert ref["score"] == ref["max_score"] == CORE + BONUS, _failed(ref)
    assert "cells that failed" not in ref["output"].lower()  # the given demo cells fail in the jail, silently


def test_release_scores_zero_without_grader_errors(graded):
    rel = graded["release"]
    assert rel["score"] == 0 and rel["max_score"] == CORE + BONUS
    assert not rel["extra_data"].get("not_graded")
    assert all("not implemented yet" in t["output"] or "raise" in t["output"] or "NotImplementedError" in t["output"]
               or "once" in t["output"] for t in rel["tests"]), [t["output"] for t in rel["tests"]][:3]


@pytest.mark.parametrize("mutant", [pytest.param(m, id=m.name, marks=getattr(pytest.mark, part_of(m)))
                                    for m in MUTANTS])
def test_mutant_fails_exactly_its_part(graded, mutant):
    data = graded[f"mutant_{mutant.name}"]
    assert _failed(data) == set(mutant.fails)
    for t in data["tests"]:
        if t["status"] != "passed":
            assert t["output"] and "Traceback" not in t["output"]


def test_diagnoses_name_the_likely_cause(graded):
    def output(mutant: str, check: str) -> str:
        return _output(graded[f"mutant_{mutant}"], check)

    assert "times too large" in output("ce_missing_1_over_N", "crossentropy.bprop.input")
    assert "1/N" in output("ce_missing_1_over_N", "crossentropy.bprop.input")
    assert "transposed shape" in output("linear_grad_W_transposed", "linear.bprop.grad_w")
    assert "summed over the batch" in output("linear_bias_not_summed", "linear.bprop.grad_b")
    assert "overwrite the gradients" in output("linear_grads_accumulated", "linear.percall")
    assert "subtract each row's max" in output("softmax_no_max_shift", "softmax.stable")
    assert "wrong sign" in output("sgd_wrong_sign", "sgd_step.update")
    assert "tanh seems applied" in output("tanh_applied_twice", "tanh.bprop.input")
    assert "self.y" in output("tanh_derivative_from_input", "tanh.bprop.input")
    assert "relative for large |x|" in output("jacobian_absolute_step", "numerical_jacobian.values")
    assert "multiplied by the output" in output("relu_grad_times_output", "relu.bprop.input")
    assert "not scaled by 1/(1 − p)" in output("dropout_no_scaling", "dropout.train")
    assert "eval mode is the identity" in output("dropout_in_eval_mode", "dropout.modes")
    assert "new mask on every call" in output("dropout_fixed_mask", "dropout.masks")
    assert "same seed" in output("dropout_global_rng", "dropout.masks")
    assert "velocity does not seem kept" in output("momentum_velocity_not_kept", "momentum.steps")
    assert "update v first" in output("momentum_step_before_velocity", "momentum.steps")
    assert "kernel seems flipped" in output("conv_flipped_kernel", "conv2d.fprop")
    assert "Only the cases with padding > 0 fail" in output("conv_bprop_wrong_padding", "conv2d.bprop.input")
    assert "every output pixel" in output("conv_grad_b_not_summed_over_pixels", "conv2d.bprop.grad_b")
    assert "float32" in output("mlp_float64", "builders.core")
    assert "finite differences" in output("linear_grad_W_transposed", "linear.fd")


@pytest.mark.parametrize("adversary", adversaries(), ids=lambda a: a.name)
def test_adversary_gets_exactly_what_its_code_earns(graded, adversary):
    data = graded[f"adversary_{adversary.name}"]
    ref = graded["reference"]
    assert not data["extra_data"].get("not_graded"), data["output"]
    assert data["max_score"] == ref["max_score"] and len(data["tests"]) == len(ref["tests"])
    expected = ALL if adversary.fails_all else set(adversary.fails)
    assert _failed(data) == expected, (adversary.name, _failed(data) ^ expected)
    assert all(len(t["output"]) <= 1500 for t in data["tests"])  # student text is bounded


def test_adversary_messages(graded):
    def out(name: str) -> str:
        data = graded[f"adversary_{name}"]
        return data["output"] + " ".join(t["output"] for t in data["tests"])

    assert "did not finish loading" in out("kill_at_load")
    assert "os._exit(0) while the notebooks loaded" in out("exit_at_load")
    assert "interrupted" in out("loop_at_load") and "CPU seconds" in out("loop_at_load")
    assert "ended the process" in out("exit_in_fprop") and "Linear.fprop" in out("exit_in_fprop")
    assert "SystemExit" in out("sys_exit_in_bprop")
    assert "used" in out("infinite_loop") and "CPU seconds" in out("infinite_loop") and "Tanh.bprop" in out(
        "infinite_loop")
    assert "MemoryError" in out("memory_hog")
    assert "timed out" in out("fork_bomb")
    assert "spy: nothing readable" in out("read_grader_files") and "READ" not in out("read_grader_files")
    assert "max_score" not in out("fake_results")
    assert "delegating earns nothing" in out("delegates_to_library")
    assert "channel" in out("channel_garbage") and "channel" in out("channel_flood")
    assert "shape" in _output(graded["adversary_wrong_shapes"], "linear.fprop")


def test_links_and_folders_are_refused_not_followed(graded):
    data = graded["adversary_links"]
    assert data["score"] == 0 and not data["extra_data"].get("not_graded")
    assert "symbolic link" in data["output"] and "root:" not in json.dumps(data)
    assert "04_cnn.ipynb" in data["output"]  # the folder named like a notebook, refused in one line


def test_the_graders_memory_stays_bounded_whatever_comes_back(submissions, tmp_path):
    """The grader's own peak memory, grading a submission that returns 128 MB arrays, stays under 1 GB."""
    folder = str(submissions / "submitted" / "adversary_big_outputs" / "ps1")
    script = ("import resource, subprocess, sys\n"
              f"subprocess.run([sys.executable, '-m', 'autograder', 'grade', {folder!r}, "
              "'--no-mnist', '--format', 'json'], stdout=subprocess.DEVNULL, check=True)\n"
              "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr
    peak_mb = int(proc.stdout.strip()) / 1024
    print(f"\ngrader's peak memory: {peak_mb:.0f} MB")
    assert peak_mb < 1024


def test_one_student_never_costs_another(graded):
    """Submissions graded beside the adversaries, in the same batch, are graded normally."""
    assert graded["reference"]["score"] == CORE + BONUS
    for mutant in MUTANTS:
        assert not graded[f"mutant_{mutant.name}"]["extra_data"].get("not_graded")


def test_sandbox_protections_are_recorded(graded):
    sandbox = " ".join(graded["reference"]["extra_data"]["sandbox"])
    assert "bubblewrap" in sandbox and "no network" in sandbox and "/dev/shm" in sandbox


def test_cpu_seconds_are_reported(graded):
    cost = graded["reference"]["extra_data"]["cpu_seconds"]
    assert cost["jail"] > 0 and cost["total"] >= cost["jail"]
    assert {"load", "linear", "conv2d"} <= set(cost["parts"])
    assert all(part["reference"] >= 0 for part in cost["parts"].values())


def test_grades_csv(graded):
    with open(graded["_out"] / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    students = [r["student"] for r in rows]
    assert students == sorted(students) and "reference" in students and len(rows) == len(graded) - 1
    ref = next(r for r in rows if r["student"] == "reference")
    assert ref["score"] == str(CORE + BONUS) and ref["linear.bprop.grad_w"] == "3" and ref["status"] == "graded"
    assert ref["conv2d.bprop.grad_b"] == "2"


def _strip(data: dict) -> dict:
    return {k: v for k, v in data.items() if k not in ("execution_time", "extra_data")}


def test_grading_is_deterministic(graded, submissions, test_calibration):
    from autograder.grade import grade_submission

    for student in ("reference", "mutant_ce_missing_1_over_N"):
        again = grade_submission(submissions / "submitted" / student / "ps1", calibration=test_calibration)
        assert _strip(again) == _strip(graded[student])


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=REPO, env=env or ENV,
                          capture_output=True, text=True, timeout=900)


def test_cli_writes_results_even_when_student_code_crashes(submissions, tmp_path):
    results = tmp_path / "out" / "results.json"
    proc = _cli("grade", str(submissions / "submitted" / "adversary_kill_at_load" / "ps1"), "--results",
                str(results), "--format", "json", "--no-mnist")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(results.read_text())
    assert data["score"] == 0 and data["tests"] and json.loads(proc.stdout) == data
    assert not list(results.parent.glob(".*.tmp"))  # the temporary file was renamed, not left behind


def test_cli_grades_a_single_notebook(submissions):
    nb = submissions / "submitted" / "reference" / "ps1" / "01_modules.ipynb"
    proc = _cli("grade", str(nb), "--no-mnist", "--format", "text")
    # modules only: no 02/03 functions, no part 4
    assert proc.returncode == 0 and f"Score: 56 / {CORE + BONUS}" in proc.stdout, proc.stdout[-2000:]


def test_cli_grades_notebooks_in_a_subfolder(tmp_path):
    write_submission(tmp_path / "upload" / "my notebooks")
    proc = _cli("grade", str(tmp_path / "upload"), "--no-mnist", "--format", "json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["score"] == CORE + BONUS


def test_cli_fails_when_the_grader_cannot_run(submissions, tmp_path):
    proc = _cli("grade", str(submissions / "submitted" / "reference" / "ps1"), "--no-mnist", "--results",
                str(tmp_path / "results.json"), env={**ENV, "AUTOGRADER_SOLUTIONS": "/nonexistent"})
    assert proc.returncode == 1
    data = json.loads((tmp_path / "results.json").read_text())
    assert "score" not in data and data["extra_data"]["not_graded"]
