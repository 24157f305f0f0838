"""The course's targets, at full length, with the CLI's defaults: linear <= 750, mlp <= 250, cnn <= 100
test errors.

Selected on their own with `pytest -m targets` (`make test-targets`): about half a minute on two cores
for linear and mlp, four minutes more for the cnn (which must also train within 10 minutes;
bench/bench_cnn.py reports that). `make test` (CI) runs linear and mlp but leaves the cnn out (marker
`cnn_target`) to keep CI well under its 20 minutes on a fresh machine.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"

TARGETS = {"linear": 750, "mlp": 250, "cnn": 100}


@pytest.mark.targets
@pytest.mark.mnist
@pytest.mark.parametrize("model", [pytest.param(m, marks=[pytest.mark.cnn_target] if m == "cnn" else [])
                                   for m in sorted(TARGETS)])
def test_reference_reaches_the_target(mnist_dir, model):
    result = subprocess.run(
        [sys.executable, "-m", "dlcore", "train", "--model", model, "--impl", str(SOLUTIONS), "--data", str(mnist_dir),
         "--json", "--no-progress"],
        capture_output=True, text=True, timeout=1800, check=False,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"{model}: {summary['test_errors']} errors, {summary['seconds_per_epoch']:.2f} s/epoch")
    assert summary["model"] == model and summary["dtype"] == "float32"
    assert summary["test_errors"] <= TARGETS[model]
