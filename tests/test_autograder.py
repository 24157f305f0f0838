"""The grader graded: reference 100 %, release 0, each mutant loses exactly the tests of the part it
breaks, adversarial notebooks gain nothing, results are deterministic and always written.

Most submissions are graded once, together, by ``grade-all`` with two workers and no MNIST
(``graded`` fixture); MNIST runs only for the reference and one broken submission.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from submissions import MUTANTS, adversaries, write_all, write_submission

from autograder.grade_all import grade_all

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
UNIT_TIMEOUT = 5.0  # seconds per part: the endless loop and the fork bomb cost this much each
CORE, BONUS = 80, 42  # points without MNIST: parts 1-3, and part 4 (the bonus)


def _failed(data: dict) -> set[str]:
    return {t["name"] for t in data["tests"] if t["status"] != "passed"}


@pytest.fixture(scope="session")
def submissions(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("course")
    write_all(root)
    return root


@pytest.fixture(scope="session")
def graded(submissions, tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("graded")
    start = time.perf_counter()
    grade_all(submissions, out, workers=2, timeout=UNIT_TIMEOUT, mnist=False)
    print(f"\ngrade-all of {len(list((submissions / 'submitted').iterdir()))} submissions, 2 workers: "
          f"{time.perf_counter() - start:.1f} s")
    return {p.stem: json.loads(p.read_text()) for p in (out / "results").glob("*.json")} | {"_out": out}


def test_reference_scores_everything(graded):
    ref = graded["reference"]
    # core 80 + bonus 42; with the MNIST targets core 100 + bonus 50
    assert ref["score"] == ref["max_score"] == CORE + BONUS, _failed(ref)


def test_release_scores_zero_without_grader_errors(graded):
    rel = graded["release"]
    assert rel["score"] == 0 and rel["max_score"] == CORE + BONUS
    assert not rel["extra_data"].get("grader_error")
    assert all("not implemented yet" in t["output"] or "not credited" in t["output"] for t in rel["tests"])


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_fails_exactly_its_part(graded, mutant):
    data = graded[f"mutant_{mutant.name}"]
    assert _failed(data) == mutant.fails
    for t in data["tests"]:
        if t["status"] != "passed":
            assert t["output"] and "Traceback" not in t["output"]


def test_diagnoses_name_the_likely_cause(graded):
    def output(mutant: str, test: str) -> str:
        return next(t["output"] for t in graded[f"mutant_{mutant}"]["tests"] if t["name"] == test)

    assert "times too large" in output("ce_missing_1_over_N", "CrossEntropy.bprop: the gradient w.r.t. the input")
    assert "1/N" in output("ce_missing_1_over_N", "CrossEntropy.bprop: the gradient w.r.t. the input")
    assert "transposed shape" in output("linear_grad_W_transposed", "Linear.bprop: grad_W")
    assert "summed over the batch" in output("linear_bias_not_summed", "Linear.bprop: grad_b")
    assert "accumulated" in output("linear_grads_accumulated", "Linear caches per call and overwrites gradients")
    stable = "SoftMax is numerically stable (logits of ±1000)"
    assert "subtract each row's max" in output("softmax_no_max_shift", stable)
    assert "wrong sign" in output("sgd_wrong_sign", "sgd_step updates the parameters in place")
    assert "tanh seems applied" in output("tanh_applied_twice", "Tanh.bprop: the gradient w.r.t. the input")
    assert "self.y" in output("tanh_derivative_from_input", "Tanh.bprop: the gradient w.r.t. the input")
    assert "multiplied by the output" in output("relu_grad_times_output", "ReLU.bprop: the gradient w.r.t. the input")
    assert "not scaled by 1/(1 − p)" in output(
        "dropout_no_scaling", "Dropout in train mode drops a fraction p and scales the rest by 1/(1 − p)")
    modes = "Dropout is the identity in eval mode and with p = 0"
    assert "eval mode is the identity" in output("dropout_in_eval_mode", modes)
    steps = "Momentum.step follows v ← μ·v + g, θ ← θ − λ·v for every parameter"
    assert "velocity does not seem kept" in output("momentum_velocity_not_kept", steps)
    assert "update v first" in output("momentum_step_before_velocity", steps)
    assert "kernel seems flipped" in output("conv_flipped_kernel", "Conv2d.fprop matches the expected output")
    grad_input = "Conv2d.bprop: the gradient w.r.t. the input"
    assert "Only the cases with padding > 0 fail" in output("conv_bprop_wrong_padding", grad_input)
    assert "Only the cases with stride > 1 fail" in output("conv_bprop_wrong_stride", grad_input)
    assert "every output pixel" in output("conv_grad_b_not_summed_over_pixels", "Conv2d.bprop: grad_b")


def _part(data: dict, part: str) -> set[str]:
    return {t["name"] for t in data["tests"] if t["name"].startswith(part)}


@pytest.mark.parametrize("name", [a.name for a in adversaries()])
def test_adversary_gains_nothing(graded, name):
    data = graded[f"adversary_{name}"]
    ref = graded["reference"]
    assert data["max_score"] == ref["max_score"] and len(data["tests"]) == len(ref["tests"])
    failed = _failed(data)
    outputs = " ".join(t["output"] for t in data["tests"])
    if name in ("patch_allclose", "fake_results", "hardcoded_shapes", "exit_at_load", "loop_at_load"):
        assert data["score"] == 0
    if name in ("exit_at_load", "loop_at_load"):
        assert "did not finish loading" in data["output"]
    if name == "exit_in_fprop":  # only what calls Linear.fprop fails; bprop tests set the cache themselves
        assert failed == _part(data, "Linear") - {"Linear.bprop: the gradient w.r.t. the input",
                                                  "Linear.bprop: grad_W", "Linear.bprop: grad_b"}
        assert "ended the process" in outputs and "in Linear.fprop" in outputs
    if name == "symlink_outputs":  # read as "could not be read", never followed, never blocking
        assert failed == _part(data, "Linear") - {"Linear.bprop: the gradient w.r.t. the input",
                                                  "Linear.bprop: grad_W", "Linear.bprop: grad_b"}
        assert "could not be read" in outputs and "root:" not in outputs
    if name == "sys_exit_in_bprop":
        assert failed == _part(data, "Linear") - {"Linear.fprop matches the expected output"}
        assert "SystemExit" in outputs
    if name == "infinite_loop":
        assert failed == _part(data, "Tanh") - {"Tanh.fprop matches the expected output"}
        assert f"timed out after {UNIT_TIMEOUT:g} s in Tanh.bprop" in outputs
    if name == "memory_hog":
        assert failed == _part(data, "SoftMax") - {"SoftMax.bprop: the gradient w.r.t. the input"}
        assert "MemoryError" in outputs
    if name == "fork_bomb":
        assert failed == _part(data, "CrossEntropy")
        assert "timed out" in outputs
    if name == "read_grader_files":
        assert "spy: nothing readable" in outputs and "READ" not in outputs
    if name == "fake_results":
        assert "max_score" not in outputs
    # Whatever it breaks, it never scores above the reference on any test.
    assert all(t["score"] <= t["max_score"] for t in data["tests"])


def test_sandbox_protections_are_recorded(graded):
    sandbox = graded["reference"]["extra_data"]["sandbox"]
    if os.geteuid() == 0:
        assert "no network (network namespace)" in sandbox
        assert "own filesystem (chroot: system, Python and the box only)" in sandbox
    assert any("rlimits" in p for p in sandbox)


def test_grades_csv(graded):
    out = graded["_out"]
    with open(out / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    students = [r["student"] for r in rows]
    assert students == sorted(students) and "reference" in students and len(rows) == len(graded) - 1
    ref = next(r for r in rows if r["student"] == "reference")
    assert ref["score"] == str(CORE + BONUS) and ref["Linear.bprop: grad_W"] == "3"
    assert ref["Conv2d.bprop: grad_b"] == "2"


def _strip_time(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "execution_time"}


def test_grading_is_deterministic(graded, submissions):
    from autograder.grade import grade_submission

    for student in ("reference", "mutant_ce_missing_1_over_N"):
        again = grade_submission(submissions / "submitted" / student / "ps1", timeout=UNIT_TIMEOUT)
        assert _strip_time(again) == _strip_time(graded[student])


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=REPO, env=env or ENV,
                          capture_output=True, text=True, timeout=600)


def test_cli_writes_results_even_when_student_code_crashes(submissions, tmp_path):
    results = tmp_path / "out" / "results.json"
    proc = _cli("grade", str(submissions / "submitted" / "adversary_exit_at_load" / "ps1"), "--results",
                str(results), "--format", "gradescope", "--no-mnist")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(results.read_text())
    assert data["score"] == 0 and data["tests"] and json.loads(proc.stdout) == data
    assert not list(results.parent.glob(".*.tmp"))  # the temporary file was renamed, not left behind


def test_cli_grades_a_single_notebook(submissions):
    nb = submissions / "submitted" / "reference" / "ps1" / "01_modules.ipynb"
    proc = _cli("grade", str(nb), "--no-mnist", "--format", "text")
    # modules only: no 02/03 functions, no part 4
    assert proc.returncode == 0 and f"Score: 56 / {CORE + BONUS}" in proc.stdout


def test_cli_fails_when_the_grader_cannot_run(submissions, tmp_path):
    proc = _cli("grade", str(submissions / "submitted" / "reference" / "ps1"), "--no-mnist", "--results",
                str(tmp_path / "results.json"), env={**ENV, "AUTOGRADER_SOLUTIONS": "/nonexistent"})
    assert proc.returncode != 0
    assert json.loads((tmp_path / "results.json").read_text())["extra_data"]["grader_error"]


def test_sandbox_folder_is_deleted(submissions, tmp_path, monkeypatch):
    import tempfile

    from autograder.grade import grade_submission

    # A private temp folder: other gradings running at the same time cannot mask or fake a leftover.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    grade_submission(submissions / "submitted" / "adversary_fake_results" / "ps1", timeout=UNIT_TIMEOUT)
    assert not list(tmp_path.glob("dlcore-sandbox-*"))


@pytest.mark.mnist
def test_mnist_targets_reference_and_a_broken_criterion(mnist_dir, tmp_path):
    """Full grading with the MNIST targets: the reference gets 150/150 within the time budget; the
    criterion without its 1/N (a learning rate N times too large) misses the core targets, a ReLU
    that passes the gradient everywhere the CNN target."""
    from autograder.checks.mnist import TARGETS

    write_submission(tmp_path / "ref")
    mutant = next(m for m in MUTANTS if m.name == "ce_missing_1_over_N")
    relu = next(m for m in MUTANTS if m.name == "relu_grad_everywhere")
    write_submission(tmp_path / "bad", {**mutant.sources(), "04_cnn": relu.sources()["04_cnn"]})
    for name in ("ref", "bad"):
        proc = _cli("grade", str(tmp_path / name), "--data", str(mnist_dir), "--results",
                    str(tmp_path / f"{name}.json"))
        assert proc.returncode == 0, proc.stderr
    ref, bad = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("ref", "bad"))
    for name, data in (("reference", ref), ("broken", bad)):
        print(f"\n{name} with MNIST: {data['execution_time']:.1f} s; "
              + "; ".join(t["output"] for t in data["tests"] if t["name"].startswith("MNIST")))
    assert ref["score"] == ref["max_score"] == 150
    assert ref["execution_time"] < 240  # ~100 s on a loaded 2-core machine
    mnist_tests = {t["name"] for t in bad["tests"] if t["name"].startswith("MNIST")}
    assert len(mnist_tests) == 3
    assert _failed(bad) == mutant.fails | relu.fails | mnist_tests
    for t in ref["tests"]:
        if t["name"].startswith("MNIST"):
            errors = int(t["output"].split(" makes ")[1].split()[0])
            assert errors <= TARGETS[t["name"].split()[2]]


@pytest.mark.mnist
def test_forged_mnist_weights_are_not_credited(mnist_dir, tmp_path, monkeypatch):
    """Student code that writes weights of its own as the MNIST output (then exits, so the runner's
    output never replaces them) gets no MNIST points while its Linear is broken. The target is
    raised so that these (untrained) weights would pass it: only the gate stands in the way."""
    from submissions import LINEAR_FPROP, MODULES_SOURCE, _into, with_notebook

    from autograder.checks import mnist as mnist_checks
    from autograder.grade import grade_submission

    monkeypatch.setitem(mnist_checks.TARGETS, "linear", 10_000)
    forge = ("if z.shape[1] == 784:\n    import os\n"
             "    np.savez('out/mnist.linear.npz', p0=np.zeros((784, 10), np.float32), p1=np.zeros(10, np.float32), "
             "losses=np.zeros(1))\n    os._exit(0)\nraise NotImplementedError()")
    write_submission(tmp_path / "forger", with_notebook("01_modules", _into(MODULES_SOURCE, LINEAR_FPROP, forge)))
    result = grade_submission(tmp_path / "forger", timeout=UNIT_TIMEOUT, mnist_dir=mnist_dir)
    linear = next(t for t in result["tests"] if t["name"].startswith("MNIST: the linear"))
    assert " errors on the 10,000" in linear["output"]  # the forged weights were read and evaluated...
    assert linear["score"] == 0 and "Not credited" in linear["output"]  # ...but not credited
