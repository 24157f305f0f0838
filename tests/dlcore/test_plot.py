"""Tests of dlcore.plot: every plot returns a Figure, saves a PNG, and never touches pyplot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib._pylab_helpers as pylab_helpers
import numpy as np
import pytest
from matplotlib.figure import Figure

from dlcore import plot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class Stats:
    """Stand-in for the training module's EpochStats (plot duck-types on the attributes)."""

    epoch: int
    train_loss: float
    test_errors: int
    seconds: float


def fake_history(epochs: int = 4, start: float = 0.5, errors: int = 900) -> list[Stats]:
    return [Stats(e, start / e, errors - 50 * e, 0.5) for e in range(1, epochs + 1)]


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    """No test may create pyplot-managed figures (they would leak and could open windows)."""
    before = pylab_helpers.Gcf.get_num_fig_managers()
    yield
    assert pylab_helpers.Gcf.get_num_fig_managers() == before == 0


def check_png(fig: Figure, path: Path) -> None:
    """``fig`` is a Figure that saves to a non-empty PNG (low dpi keeps the tests fast)."""
    assert isinstance(fig, Figure)
    written = plot.save(fig, path, dpi=40)
    assert written == path
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 500


def digits(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.random((n, 784))


# ---------------------------------------------------------------------------------- curves


def test_learning_curves_single_history(tmp_path):
    fig = plot.learning_curves(fake_history())
    assert len(fig.axes) >= 2
    check_png(fig, tmp_path / "one.png")


def test_learning_curves_single_epoch_has_one_integer_tick():
    fig = plot.learning_curves({"quick": fake_history(epochs=1)})
    for ax in fig.axes[:2]:
        assert list(ax.get_xticks()) == [1]


def test_learning_curves_mapping_with_targets():
    runs = {"linear": fake_history(), "mlp": fake_history(start=0.3, errors=400)}
    fig = plot.learning_curves(runs, targets={"linear target": 750, "mlp target": 200})
    loss_ax, err_ax = fig.axes[:2]
    assert loss_ax.get_legend() is not None
    assert len(loss_ax.get_lines()) == 2
    assert len(err_ax.get_lines()) == 4  # two runs + two target lines
    assert loss_ax.get_yscale() == "log"


def test_learning_curves_accepts_generator_values():
    fig = plot.learning_curves({"run": (s for s in fake_history(3))})
    assert len(fig.axes[0].get_lines()) == 1


# --------------------------------------------------------------------------------- weights


def test_first_layer_weights(tmp_path):
    W = np.random.default_rng(0).standard_normal((784, 7))
    W[:, 3] = 0.0  # an all-zero unit must not divide by zero
    fig = plot.first_layer_weights(W, max_units=5)
    images = [ax for ax in fig.axes if ax.get_images()]
    assert len(images) == 5
    check_png(fig, tmp_path / "w.png")


def test_first_layer_weights_rejects_wrong_shape():
    with pytest.raises(ValueError, match="784"):
        plot.first_layer_weights(np.zeros((7, 784)))


# ------------------------------------------------------------------------------- confusion


def test_confusion_counts_hand_example():
    y_true = np.array([0, 0, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 2, 0, 2])
    C = plot.confusion_counts(y_true, y_pred, 3)
    expected = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    np.testing.assert_array_equal(C, expected)
    assert np.issubdtype(C.dtype, np.integer)
    assert C.sum() == len(y_true)


def test_confusion_counts_random_sums_to_n():
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    C = plot.confusion_counts(y_true, y_pred, 10)
    assert C.shape == (10, 10) and C.sum() == 500
    assert np.trace(C) == np.sum(y_true == y_pred)
    np.testing.assert_array_equal(C.sum(axis=1), np.bincount(y_true, minlength=10))


def test_confusion_counts_rejects_out_of_range():
    with pytest.raises(ValueError):
        plot.confusion_counts(np.array([0, 3]), np.array([0, 1]), 3)


@pytest.mark.parametrize("normalize", [False, True])
def test_confusion_matrix(tmp_path, normalize):
    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 10, 300)
    y_pred = np.where(rng.random(300) < 0.8, y_true, rng.integers(0, 10, 300))
    fig = plot.confusion_matrix(y_true, y_pred, normalize=normalize)
    errors = int(np.sum(y_true != y_pred))
    assert f"{errors} errors" in fig.axes[0].get_title()
    check_png(fig, tmp_path / f"cm_{normalize}.png")


# --------------------------------------------------------------------------- misclassified


def test_misclassified_with_probs(tmp_path):
    rng = np.random.default_rng(3)
    x = digits(40, rng)
    y_true = rng.integers(0, 10, 40)
    y_pred = y_true.copy()
    y_pred[[2, 5, 11]] = (y_true[[2, 5, 11]] + 1) % 10
    probs = rng.dirichlet(np.ones(10), size=40)
    fig = plot.misclassified(x, y_true, y_pred, max_images=2, probs=probs)
    titles = [ax.get_title() for ax in fig.axes if ax.get_images()]
    assert len(titles) == 2
    assert titles[0].startswith(f"true {y_true[2]} → pred {y_pred[2]}") and "%" in titles[0]
    check_png(fig, tmp_path / "mis.png")


def test_misclassified_none_wrong(tmp_path):
    rng = np.random.default_rng(4)
    y = rng.integers(0, 10, 12)
    fig = plot.misclassified(digits(12, rng), y, y)
    check_png(fig, tmp_path / "none.png")


# ------------------------------------------------------------------------------------ save


def test_save_creates_parents_and_adds_suffix(tmp_path):
    fig = plot.misclassified(np.zeros((1, 4)), np.array([1]), np.array([1]), image_shape=(2, 2))
    path = plot.save(fig, tmp_path / "a" / "b" / "cm", dpi=30)
    assert path == tmp_path / "a" / "b" / "cm.png"
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_kernels_one_input_channel(tmp_path):
    W = np.random.default_rng(0).standard_normal((8, 1, 5, 5))
    W[3] = 0.0  # an all-zero kernel must not divide by zero
    fig = plot.kernels(W)
    images = [ax for ax in fig.axes if ax.get_images()]
    assert len(images) == 8
    shown = images[0].get_images()[0].get_array()
    assert shown.shape == (5, 5) and np.isclose(np.abs(shown).max(), 1.0)  # scaled per kernel to ±1
    assert np.allclose(shown, W[0, 0] / np.abs(W[0]).max())
    assert "8 kernels of 5×5" in fig._suptitle.get_text()
    check_png(fig, tmp_path / "k.png")


def test_kernels_several_input_channels_and_limits(tmp_path):
    W = np.random.default_rng(1).standard_normal((16, 8, 3, 3))
    fig = plot.kernels(W, max_out=4, max_in=3)
    images = [ax for ax in fig.axes if ax.get_images()]
    assert len(images) == 12  # 4 output rows × 3 input columns
    # One scale per output channel, over all of its input channels (not only the shown ones).
    first = images[1].get_images()[0].get_array()
    assert np.allclose(first, W[0, 1] / np.abs(W[0]).max())
    assert "4 of 16 × 3 of 8" in fig._suptitle.get_text()
    check_png(fig, tmp_path / "k16.png")


def test_kernels_rejects_wrong_shape():
    with pytest.raises(ValueError, match="C_out, C_in"):
        plot.kernels(np.zeros((784, 8)))
