"""The MNIST targets, graded for real: the grader trains the student's modules itself and counts the
errors itself; a forged training earns nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import REPO
from helpers.submissions import LINEAR_FPROP, MODULES_SOURCE, MUTANTS, _into, with_notebook, write_submission

from autograder.results import check_id

pytestmark = [pytest.mark.mnist, pytest.mark.grading, pytest.mark.part3, pytest.mark.part4]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
TARGETS = {"mnist.linear", "mnist.mlp", "mnist.cnn"}


def _failed(data: dict) -> set[str]:
    return {check_id(t) for t in data["tests"] if t["status"] != "passed"}


def _linear_target_only(monkeypatch) -> None:
    """Grade with the linear model's MNIST target alone: the attacks below need one training, not three."""
    from autograder import grade

    full = grade.table
    monkeypatch.setattr(grade, "table", lambda bonus, mnist=True: [
        p for p in full(bonus, mnist) if p.session is None or p.session.name == "linear"])


def test_the_reference_reaches_every_target_and_a_broken_one_none(mnist_dir, tmp_path):
    """Full grading with MNIST: the reference gets 150/150; a criterion without its 1/N and a ReLU that passes
    the gradient everywhere fail their unit checks, and the targets they train are not spent on."""
    write_submission(tmp_path / "ref")
    mutant = next(m for m in MUTANTS if m.name == "ce_missing_1_over_N")
    relu = next(m for m in MUTANTS if m.name == "relu_grad_everywhere")
    write_submission(tmp_path / "bad", {**mutant.sources(), "04_cnn": relu.sources()["04_cnn"]})
    data = {}
    for name in ("ref", "bad"):
        proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(tmp_path / name), "--data",
                               str(mnist_dir), "--results", str(tmp_path / f"{name}.json")], cwd=REPO, env=ENV,
                              capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        data[name] = json.loads((tmp_path / f"{name}.json").read_text())
        cost = data[name]["extra_data"]["cpu_seconds"]
        print(f"\n{name} with MNIST: {data[name]['execution_time']:.1f} s wall, {cost['total']:.1f} CPU s "
              f"({cost['jail']:.1f} in the jail); "
              + "; ".join(t["output"][:160] for t in data[name]["tests"] if check_id(t) in TARGETS))
    ref, bad = data["ref"], data["bad"]
    assert ref["score"] == ref["max_score"] == 150, _failed(ref)
    assert _failed(bad) == set(mutant.fails) | set(relu.fails) | TARGETS
    assert all("not trained" in t["output"] for t in bad["tests"] if check_id(t) in TARGETS)


def test_a_forged_training_earns_nothing(mnist_dir, tmp_path, monkeypatch, test_calibration):
    """Correct modules, but the student's code rewrites the jail's side of the training to stream made-up
    gradients without computing anything (what a model too slow to train would do). The target is raised
    so that any parameters would pass it: only the grader's check of the steps stands in the way."""
    from autograder.checks import mnist
    from autograder.grade import grade_submission

    monkeypatch.setitem(mnist.GRADER_TARGET_ERRORS, "linear", 10_000)
    _linear_target_only(monkeypatch)
    forge = '''import importlib as _importlib
try:  # the grader's jail side is readable (and importable) in the jail: replace its training loop
    _modules = [_importlib.import_module("sandbox.session")]
except ImportError:
    _modules = []
for _module in _modules:
    if hasattr(_module, "_stream"):
        def _fast(chain, criterion, images, targets, perms, args, shared_out, reader, replies, batch, n,
                  _m=_module):
            import os
            steps, credits = int(args["epochs"]) * int(args["steps_per_epoch"]), int(args["slots"])
            for step in range(steps):  # no fprop, no bprop: zeros in the slots, as fast as the pipe goes
                while credits == 0:
                    credits += _m.STEP.unpack(_m._read_exact(reader.fd, _m.STEP.size, reader))[0]
                credits -= 1
                if (step + 1) % _m.NOTIFY == 0 or step == steps - 1:
                    os.write(replies, _m.STEP.pack(step))
            while _m.REQUEST.unpack(_m._read_exact(reader.fd, _m.REQUEST.size, reader))[0] != b"E":
                pass
        _module._stream = _fast'''
    source = MODULES_SOURCE + f'\n# %% kind="solution" grade_id="extra"\n{forge}\n'
    write_submission(tmp_path / "forger", with_notebook("01_modules", source))
    result = grade_submission(tmp_path / "forger", mnist_dir=mnist_dir, calibration=test_calibration)
    linear = next(t for t in result["tests"] if check_id(t) == "mnist.linear")
    assert linear["score"] == 0 and "not credited" in linear["output"], linear["output"]
    assert "differs from what the reference modules compute" in linear["output"]
    assert result["score"] > 0  # the modules themselves still earn their points


def test_a_forged_output_channel_during_training_is_not_believed(mnist_dir, tmp_path, monkeypatch,
                                                               test_calibration):
    """Linear.fprop that, once it sees MNIST batches, ends its process: the training stops, nothing is credited,
    and the rest of the grading goes on."""
    from autograder.grade import grade_submission

    _linear_target_only(monkeypatch)
    forge = "if z.shape[1] == 784 and len(z) == 100:\n    import os\n    os.kill(os.getpid(), 9)"
    write_submission(tmp_path / "killer", with_notebook("01_modules", _into(MODULES_SOURCE, LINEAR_FPROP, forge)))
    result = grade_submission(tmp_path / "killer", mnist_dir=mnist_dir, calibration=test_calibration)
    targets = {check_id(t): t for t in result["tests"] if check_id(t) in TARGETS}
    assert set(targets) == {"mnist.linear"} and targets["mnist.linear"]["score"] == 0, targets
    assert "training your linear model" in targets["mnist.linear"]["output"], targets["mnist.linear"]["output"]
    assert result["score"] == result["max_score"] - targets["mnist.linear"]["max_score"]  # all else passes
