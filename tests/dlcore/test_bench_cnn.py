"""bench/bench_cnn.py's code path, quickly: the per-layer profile, the CLI's recipe and PyTorch's yardstick
trained one epoch each on a few hundred samples, the ratio and the goals; and its message without PyTorch.

PyTorch is not a requirement of the course: the comparison is skipped without it, unless
``DLCORE_REQUIRE_TORCH=1`` (CI), which turns the skip into a failure.
"""

import importlib.util
import re
import sys

import pytest
from helpers import REPO, require_torch

BENCH = REPO / "bench" / "bench_cnn.py"
TINY = ["--quick", "--train-size", "300", "--test-size", "200", "--profile-repeats", "1"]


def load_bench():
    """bench/bench_cnn.py as a module (it is a script, not part of the package)."""
    if "bench_cnn" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_cnn", BENCH)
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_cnn"] = module  # before running it: its dataclass looks its module up there
        spec.loader.exec_module(module)
    return sys.modules["bench_cnn"]


@pytest.mark.mnist
def test_quick_run_trains_both_and_reports_the_ratio(mnist_dir, capsys):
    require_torch()
    assert load_bench().main([*TINY, "--data", str(mnist_dir)]) == 0
    out = capsys.readouterr().out
    assert "per-layer time for one batch of 100" in out and "MaxPool2d(2, stride=2, padding=0)" in out
    assert "dlcore CNN on mnist (300 training samples), seed 0: 1 epochs, adam lr 0.002 (cosine), batch 100" in out
    assert re.search(r"PyTorch \S+ on the CPU \(\d+ threads?\), same CNN and recipe: 1 epoch, run after dlcore's "
                     r"epoch 1", out)
    assert re.search(r"PyTorch: test errors per epoch \d+; [\d.]+ s per epoch \(median of 1\)", out)
    ratio = re.search(r"dlcore ([\d.]+) s/epoch, PyTorch ([\d.]+) s/epoch: ratio ([\d.]+)", out)
    assert ratio, out
    ours, theirs, shown = (float(v) for v in ratio.groups())
    slack = 0.005 / theirs + 0.005 * ours / theirs**2 + 0.005  # the s/epoch are printed to 0.01 s
    assert abs(shown - ours / theirs) <= slack
    assert "quick run" in out
    assert re.search(r"goals: \d+ test errors <= 100: (met|MISSED); \d+ s of training <= 600 s: met; "
                     r"ratio [\d.]+ <= 2: (met|MISSED)", out)


@pytest.mark.mnist
def test_without_torch_it_says_so_and_still_times_dlcore(mnist_dir, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    assert load_bench().main([*TINY, "--data", str(mnist_dir)]) == 0
    out = capsys.readouterr().out
    assert "PyTorch is not installed" in out and "pip install torch==2.13.0" in out
    assert "dlcore itself does not need PyTorch" in out
    assert re.search(r"dlcore [\d.]+ s/epoch, PyTorch not measured", out)
    assert "within 2x of PyTorch: NOT MEASURED" in out


def test_torch_epochs_are_spread_over_dlcore_s():
    interleave = load_bench().interleave
    assert interleave(2, 10) == [3, 7]
    assert interleave(1, 1) == [1] and interleave(3, 1) == [1, 1, 1]
    assert interleave(4, 10) == [2, 4, 6, 8]


def test_torch_is_not_a_requirement():
    requirements = (REPO / "requirements.txt").read_text()
    assert not re.search(r"^\s*torch\b", requirements, re.M), "PyTorch is the yardstick, never a requirement"
