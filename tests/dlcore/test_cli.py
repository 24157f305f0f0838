"""The command line: JSON summary, and one-line errors instead of tracebacks."""

import json
import subprocess
import sys

import nbformat
import pytest
from helpers import REPO

SOLUTIONS = str(REPO / "solutions")  # the reference modules: `train` has no default pointing at them


def _run(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "dlcore", *args], capture_output=True, text=True,
                          timeout=300, check=False, env=env, cwd=cwd)


@pytest.mark.mnist
def test_train_json_summary(mnist_dir):
    result = _run("train", "--model", "linear", "--impl", SOLUTIONS, "--epochs", "2", "--batch-size", "500", "--data",
                  str(mnist_dir), "--json", "--dtype", "float64")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"model", "epochs", "test_errors", "train_loss", "seconds_per_epoch", "dtype"} <= summary.keys()
    assert summary["dtype"] == "float64" and summary["epochs"] == 2 and len(summary["history"]) == 2
    assert summary["dataset"] == "mnist"
    assert "train loss" in result.stderr  # the per-epoch table goes to stderr under --json


def test_missing_data_is_one_line(tmp_path):
    result = _run("train", "--model", "linear", "--impl", SOLUTIONS, "--data", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and "fetch" in result.stderr


def test_broken_notebook_is_one_line(tmp_path, mnist_dir):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("class Linear(:\n    pass")])
    nbformat.write(nb, tmp_path / "student.ipynb")
    result = _run("train", "--model", "linear", "--impl", str(tmp_path / "student.ipynb"), "--data",
                  str(mnist_dir))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "student.ipynb, cell 1" in result.stderr


def test_impl_defaults_to_the_notebooks_of_the_current_folder(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("class Linear(:\n    pass")])
    nbformat.write(nb, tmp_path / "01_mine.ipynb")
    result = _run("train", "--model", "linear", "--data", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: 01_mine.ipynb, cell 1")


def test_no_notebooks_here_is_one_line(tmp_path):
    """Without --impl, a folder with no notebooks (e.g. the checkout's root) says what to do."""
    result = _run("train", "--model", "linear", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr == (f"error: no notebooks (*.ipynb) in the current folder {tmp_path}: run this in the folder "
                             "of your notebooks, or pass --impl with a notebook or a folder of notebooks\n")


def test_missing_impl_is_one_line(tmp_path):
    result = _run("train", "--model", "mlp", "--impl", str(tmp_path / "nowhere"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr == f"error: {tmp_path / 'nowhere'}: no such notebook or folder\n"


def test_bad_fetch_source_is_one_line(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    result = _run("data", "fetch", "--from", str(tmp_path / "src"), "--dest", str(tmp_path / "dest"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
    assert not any((tmp_path / "dest").glob("*")) if (tmp_path / "dest").exists() else True


@pytest.mark.mnist
def test_an_unwritten_stub_is_one_line(mnist_dir):
    """The student release trained from the command line names the stub to write."""
    release = REPO / "notebooks"
    result = _run("train", "--model", "linear", "--impl", str(release), "--epochs", "1", "--data", str(mnist_dir),
                  "--no-progress")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: Linear.fprop is not written yet in 01_modules.ipynb")
    assert result.stderr.strip().endswith("then run the command again.")


def test_fashion_fetch_bad_source_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    result = _run("data", "fetch", "--dataset", "fashion-mnist", "--from", str(tmp_path / "empty"), "--dest",
                  str(tmp_path / "dest"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "lacks train-images-idx3-ubyte" in result.stderr


def test_fashion_train_missing_data_names_its_fetch(tmp_path):
    result = _run("train", "--dataset", "fashion-mnist", "--model", "linear", "--impl", SOLUTIONS, "--data",
                  str(tmp_path / "nowhere"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: Fashion-MNIST not found in ")
    assert "python -m dlcore data fetch --dataset fashion-mnist" in result.stderr


def test_unknown_dataset_rejected_by_argparse():
    result = _run("train", "--dataset", "cifar", "--model", "linear")
    assert result.returncode == 2 and "invalid choice" in result.stderr


@pytest.mark.mnist
def test_cnn_trains_with_adam_and_writes_its_plots(tmp_path, mnist, write_idx):
    """One epoch of the CLI's CNN recipe on a small slice of MNIST, with --out: the kernels are plotted."""
    import numpy as np

    data = tmp_path / "small"
    data.mkdir()
    for prefix, x, y, n in [("train", mnist.x_train, mnist.y_train, 300), ("t10k", mnist.x_test, mnist.y_test, 100)]:
        write_idx(data / f"{prefix}-images-idx3-ubyte", np.rint(x[:n] * 255).astype(np.uint8).reshape(n, 28, 28))
        write_idx(data / f"{prefix}-labels-idx1-ubyte", y[:n].astype(np.uint8))
    result = _run("train", "--model", "cnn", "--impl", SOLUTIONS, "--epochs", "2", "--data", str(data), "--json",
                  "--no-progress", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["optimizer"] == "adam" and summary["schedule"] == "cosine" and summary["lr"] == 2e-3
    assert summary["history"][1]["train_loss"] < summary["history"][0]["train_loss"]
    for kind in ("learning_curves", "first_layer_weights", "confusion_matrix", "misclassified"):
        assert (tmp_path / "out" / f"cnn_{kind}.png").stat().st_size > 1000, kind


@pytest.mark.mnist
def test_optimizer_and_schedule_options(tmp_path, mnist_dir):
    result = _run("train", "--model", "linear", "--impl", SOLUTIONS, "--epochs", "2", "--batch-size", "1000",
                  "--optimizer", "adam",
                  "--lr", "0.01", "--schedule", "cosine", "--data", str(mnist_dir), "--json", "--no-progress")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["optimizer"], summary["schedule"], summary["lr"]) == ("adam", "cosine", 0.01)
    assert summary["test_errors"] < 1500  # Adam works on the linear model too
    assert "adam lr 0.01 (cosine)" in result.stderr
