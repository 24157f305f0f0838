"""Plots for students and the demo: learning curves, weights, confusion matrices, mistakes.

Every function builds a :class:`matplotlib.figure.Figure` directly (the object-oriented API,
never ``pyplot``) and returns it, so nothing opens a window, blocks, or leaks into pyplot's
global list of figures, and everything works headless. In Jupyter a returned figure is
displayed as the cell's value; anywhere else, write it with :func:`save`.

Arrays follow the course's convention: rows are samples. Images are flattened rows of
``prod(image_shape)`` pixels (784 for MNIST) with values in ``[0, 1]``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, MaxNLocator

__all__ = [
    "confusion_counts",
    "confusion_matrix",
    "first_layer_weights",
    "kernels",
    "learning_curves",
    "misclassified",
    "save",
]

# Applied only while a figure is being built (``rc_context``): the global rcParams are untouched.
_STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 13,
    "figure.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
}

_F = TypeVar("_F", bound=Callable[..., Figure])


def _styled(fn: _F) -> _F:
    """Build the figure of ``fn`` under the module's style, without touching global rcParams."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(_STYLE):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class EpochRecord(Protocol):
    """What :func:`learning_curves` reads from one record of a history (e.g. ``EpochStats``)."""

    epoch: int  # 1-based
    train_loss: float  # mean training loss over the epoch
    test_errors: int  # misclassified test samples, out of ``n_test``
    seconds: float  # wall-clock time of the epoch


History = Sequence[EpochRecord]


# --------------------------------------------------------------------------------------------
# Learning curves
# --------------------------------------------------------------------------------------------


@_styled
def learning_curves(
    histories: History | Mapping[str, History],
    *,
    n_test: int = 10_000,
    targets: Mapping[str, int] | None = None,
    log_loss: bool = True,
    title: str = "Learning curves",
) -> Figure:
    """Training loss and test errors against the epoch, for one run or several overlaid.

    Args:
        histories: one history, or ``{label: history}`` to overlay runs (e.g. ``"linear"``
            and ``"mlp"``). A history is a sequence of records with attributes ``epoch``
            (int, 1-based), ``train_loss`` (float), ``test_errors`` (int, out of ``n_test``)
            and ``seconds`` (float), such as the training module's ``EpochStats``.
        n_test: size of the test set, for the percentage axis (10,000 for MNIST).
        targets: optional ``{label: errors}`` drawn as dashed horizontal lines on the error
            plot, e.g. ``{"linear target": 750}``.
        log_loss: use a logarithmic y axis for the training loss.
        title: figure title.

    Returns:
        A figure with two side-by-side axes: training loss vs epoch (left) and test errors vs
        epoch (right, with the error rate in % on a secondary axis).
    """
    if isinstance(histories, Mapping):
        runs: list[tuple[str | None, History]] = [(str(k), list(v)) for k, v in histories.items()]
    else:
        runs = [(None, list(histories))]
    targets = dict(targets or {})

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax_loss, ax_err = fig.subplots(1, 2)

    for label, history in runs:
        if not history:
            continue
        epochs = np.array([r.epoch for r in history], dtype=int)
        loss = np.array([r.train_loss for r in history], dtype=float)
        errors = np.array([r.test_errors for r in history], dtype=float)
        total_s = float(sum(r.seconds for r in history))
        marker = "o" if len(history) <= 30 else None
        legend_label = f"{label} ({total_s:.1f} s)" if label is not None else None
        (line,) = ax_loss.plot(epochs, loss, marker=marker, ms=4, lw=1.8, label=legend_label)
        ax_err.plot(epochs, errors, marker=marker, ms=4, lw=1.8, color=line.get_color(),
                    label=f"{label}: {int(errors[-1])} final" if label is not None else None)

    target_styles = ["--", (0, (6, 2, 1, 2)), (0, (2, 2)), (0, (8, 3))]
    for i, (name, value) in enumerate(targets.items()):
        ax_err.axhline(value, color="0.35", lw=1.2, ls=target_styles[i % len(target_styles)],
                       label=f"{name} ({value})", zorder=1)

    ax_loss.set(title="training loss", xlabel="epoch", ylabel="mean training loss")
    if log_loss and any(r.train_loss > 0 for _, h in runs for r in h):
        ax_loss.set_yscale("log")
        _plain_log_labels(ax_loss)
    ax_err.set(title="test errors", xlabel="epoch", ylabel=f"test errors (of {n_test:,})")
    ax_err.set_ylim(bottom=0)

    # Secondary axis: the same errors as a percentage of the test set.
    pct = ax_err.secondary_yaxis(
        "right", functions=(lambda e: 100.0 * e / n_test, lambda p: p * n_test / 100.0)
    )
    pct.set_ylabel("test error (%)")
    ax_err.spines["right"].set_visible(True)

    all_epochs = {r.epoch for _, h in runs for r in h}
    for ax in (ax_loss, ax_err):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if len(all_epochs) == 1:  # one epoch (a quick run): no fractional ticks around a lone point
            (only,) = all_epochs
            ax.set_xlim(only - 1, only + 1)
            ax.set_xticks([only])
        ax.grid(True, which="major", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(frameon=False)
    fig.suptitle(title)
    return fig


class _PlainLogFormatter(Formatter):
    """Label log-axis ticks ``0.3`` rather than ``3×10⁻¹``; ``inner`` decides which get a label."""

    def __init__(self, inner: Formatter) -> None:
        self.inner = inner

    def set_axis(self, axis) -> None:
        super().set_axis(axis)
        self.inner.set_axis(axis)

    def set_locs(self, locs) -> None:
        self.inner.set_locs(locs)

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:g}" if self.inner(x, pos) else ""


def _plain_log_labels(ax: Axes) -> None:
    """Plain-number labels on the log y axis of ``ax``, keeping matplotlib's choice of ticks."""
    ax.yaxis.set_major_formatter(_PlainLogFormatter(ax.yaxis.get_major_formatter()))
    ax.yaxis.set_minor_formatter(_PlainLogFormatter(ax.yaxis.get_minor_formatter()))


# --------------------------------------------------------------------------------------------
# First-layer weights
# --------------------------------------------------------------------------------------------


def _frame(ax: Axes, color: str = "0.8") -> None:
    """No ticks, a thin light frame: for image panels."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color(color)
        spine.set_linewidth(0.6)


def _grid_shape(n: int, ncols: int | None) -> tuple[int, int]:
    """``(nrows, ncols)`` of a near-square grid holding ``n >= 1`` panels."""
    ncols = max(1, min(n, ncols if ncols is not None else math.ceil(math.sqrt(n))))
    return math.ceil(n / ncols), ncols


@_styled
def first_layer_weights(
    W: np.ndarray,
    image_shape: tuple[int, int] = (28, 28),
    max_units: int = 100,
    ncols: int | None = None,
    *,
    title: str = "First-layer weights",
) -> Figure:
    """Each unit's incoming weights shown as an image, in a grid.

    Args:
        W: weight matrix of shape ``(D, K)`` with ``D = prod(image_shape)`` (784 for MNIST):
            column ``k`` holds the weights of unit ``k`` (the layer computes ``z · W + b``).
        image_shape: ``(height, width)`` of one input image.
        max_units: show at most the first ``max_units`` units (columns).
        ncols: number of grid columns (default: a near-square grid).
        title: figure title.

    Returns:
        A figure with one image per unit, drawn with a diverging colormap centred at 0 and
        scaled per unit to ``±max|w|`` (red: positive, blue: negative), without ticks.
    """
    W = np.asarray(W, dtype=float)
    h, w = image_shape
    if W.ndim != 2 or W.shape[0] != h * w:
        raise ValueError(f"W must have shape ({h * w}, K) for image_shape {image_shape}, got {W.shape}")
    K = W.shape[1]
    n = min(K, max_units)
    if n == 0:
        raise ValueError("W has no units (columns) to show")
    nrows, ncols = _grid_shape(n, ncols)

    # Per-unit scaling so every unit uses the full colormap symmetrically around 0.
    units = W[:, :n].T.reshape(n, h, w)
    scale = np.abs(units).max(axis=(1, 2), keepdims=True)
    units = units / np.where(scale > 0, scale, 1.0)

    panel = 1.1 if n <= 16 else 0.85  # inches per unit image
    # Width: the panels plus room for the colour bar; height: the panels plus the title.
    fig = Figure(figsize=(ncols * panel + 1.3, nrows * panel + 0.6), layout="constrained")
    fig.get_layout_engine().set(w_pad=0.03, h_pad=0.03, wspace=0.03, hspace=0.03)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    image = None
    for k, ax in enumerate(axes.flat):
        if k < n:
            image = ax.imshow(units[k], cmap="RdBu_r", vmin=-1.0, vmax=1.0, interpolation="nearest")
            _frame(ax)
        else:
            ax.set_axis_off()
    shown = f"{n} of {K} units" if n < K else f"{K} units"
    fig.suptitle(f"{title} ({shown})")
    if image is not None:
        cbar = fig.colorbar(image, ax=axes, shrink=min(0.8, 0.35 + 0.1 * nrows), aspect=25, pad=0.02)
        cbar.set_ticks([-1, 0, 1], labels=["−max", "0", "+max"])
        cbar.set_label("weight (per-unit scale)")
    return fig


@_styled
def kernels(
    W: np.ndarray,
    max_out: int = 32,
    max_in: int = 8,
    ncols: int | None = None,
    *,
    title: str = "Convolution kernels",
) -> Figure:
    """The kernels of a convolution layer as small images.

    Args:
        W: kernels of shape ``(C_out, C_in, kh, kw)``, as stored by a ``Conv2d``.
        max_out: show at most the first ``max_out`` output channels.
        max_in: show at most the first ``max_in`` input channels of each.
        ncols: grid columns when ``C_in == 1`` (default: all shown kernels in one row up to 8,
            else a near-square grid). With several input channels the grid is fixed: one row per
            output channel, one column per input channel.
        title: figure title.

    Returns:
        A figure with one panel per kernel, drawn with a diverging colormap centred at 0 and
        scaled per output channel to ``±max|w|`` over its ``C_in`` kernels (red: positive,
        blue: negative), so that the kernels of one channel compare with each other.
    """
    W = np.asarray(W, dtype=float)
    if W.ndim != 4:
        raise ValueError(f"W must have shape (C_out, C_in, kh, kw), got {W.shape}")
    c_out, c_in = W.shape[:2]
    n_out, n_in = min(c_out, max_out), min(c_in, max_in)
    if n_out == 0 or n_in == 0:
        raise ValueError(f"W of shape {W.shape} has no kernel to show")
    shown = W[:n_out, :n_in]
    scale = np.abs(W[:n_out]).max(axis=(1, 2, 3), keepdims=True)  # over all C_in kernels of a channel
    shown = shown / np.where(scale > 0, scale, 1.0)

    if c_in == 1:
        nrows, ncols = _grid_shape(n_out, ncols if ncols is not None else (n_out if n_out <= 8 else None))
        panels = [(shown[o, 0], f"{o}") for o in range(n_out)]
    else:
        nrows, ncols = n_out, n_in
        panels = [(shown[o, i], None) for o in range(n_out) for i in range(n_in)]
    panel = 1.0 if nrows * ncols <= 16 else 0.6
    fig = Figure(figsize=(ncols * panel + 1.4, nrows * panel + 0.9), layout="constrained")
    fig.get_layout_engine().set(w_pad=0.03, h_pad=0.03, wspace=0.03, hspace=0.03)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    image = None
    for k, ax in enumerate(axes.flat):
        if k >= len(panels):
            ax.set_axis_off()
            continue
        kernel, label = panels[k]
        image = ax.imshow(kernel, cmap="RdBu_r", vmin=-1.0, vmax=1.0, interpolation="nearest")
        _frame(ax)
        if label is not None:
            ax.set_title(f"kernel {label}", fontsize=9, pad=3)
    if c_in > 1:
        for o in range(n_out):
            axes[o, 0].set_ylabel(f"out {o}", fontsize=8)
        for i in range(n_in):
            axes[0, i].set_title(f"in {i}", fontsize=8, pad=3)
    kh, kw = W.shape[2:]
    detail = f"{n_out} of {c_out}" if n_out < c_out else f"{c_out}"
    detail += f" × {n_in} of {c_in}" if n_in < c_in else (f" × {c_in}" if c_in > 1 else "")
    fig.suptitle(f"{title} ({detail} kernels of {kh}×{kw}, each scaled to its largest |weight|)")
    if image is not None:
        cbar = fig.colorbar(image, ax=axes, shrink=min(0.8, 0.4 + 0.1 * nrows), aspect=20, pad=0.02)
        cbar.set_ticks([-1, 0, 1], labels=["−max", "0", "+max"])
        cbar.set_label("weight", fontsize=8)  # short: a one-row figure leaves the bar little height
    return fig


# --------------------------------------------------------------------------------------------
# Confusion matrix
# --------------------------------------------------------------------------------------------


def _as_labels(y: np.ndarray, name: str) -> np.ndarray:
    """``y`` as a 1-D integer array of class labels ``(N,)``."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels, got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.all(y == np.round(y)):
            raise ValueError(f"{name} must hold integer class labels")
        y = y.astype(np.int64)
    return y.astype(np.int64, copy=False)


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Confusion counts: ``C[i, j]`` = number of samples of true class ``i`` predicted as ``j``.

    Args:
        y_true: true labels, shape ``(N,)``, integers in ``[0, num_classes)``.
        y_pred: predicted labels, shape ``(N,)``, integers in ``[0, num_classes)``.
        num_classes: number of classes ``C``.

    Returns:
        An integer array of shape ``(C, C)`` (rows: true class, columns: predicted class) that
        sums to ``N``; its trace is the number of correct predictions.
    """
    y_true = _as_labels(y_true, "y_true")
    y_pred = _as_labels(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {y_true.shape} vs {y_pred.shape}")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"{name} has labels outside [0, {num_classes}): {y.min()}..{y.max()}")
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes).astype(np.int64)


@_styled
def confusion_matrix(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    num_classes: int = 10,
    normalize: bool = False,
    *,
    class_names: Sequence[str] | None = None,
    title: str = "Confusion matrix",
) -> Figure:
    """Heat map of the confusion matrix, every cell annotated.

    Args:
        y_true: true labels, shape ``(N,)``.
        y_pred: predicted labels, shape ``(N,)``.
        num_classes: number of classes ``C``.
        normalize: if False, colour and annotate cells by count; if True, by the fraction of
            each true class (rows sum to 100 %), annotated in percent.
        class_names: optional ``C`` tick labels (default: ``0 .. C-1``).
        title: title prefix; the total number of errors is appended.

    Returns:
        A figure with one ``(C, C)`` heat map: rows are true classes, columns predictions.
    """
    counts = confusion_counts(y_true, y_pred, num_classes)
    n = int(counts.sum())
    errors = n - int(np.trace(counts))
    if normalize:
        row = counts.sum(axis=1, keepdims=True)
        values = 100.0 * counts / np.where(row > 0, row, 1)
    else:
        values = counts.astype(float)

    side = max(4.5, 0.5 * num_classes + 1.8)
    fig = Figure(figsize=(side + 0.9, side), layout="constrained")
    ax = fig.subplots()
    vmax = values.max() if values.size and values.max() > 0 else 1.0
    # A square-root colour scale keeps the few-count confusions visible next to the large diagonal.
    norm = PowerNorm(gamma=0.5, vmin=0.0, vmax=vmax)
    image = ax.imshow(values, cmap="Blues", norm=norm, interpolation="nearest")

    fontsize = float(np.clip(90 / num_classes, 5, 10))
    for i, j in np.ndindex(counts.shape):
        if counts[i, j] == 0:
            text, color = "0", "0.7"
        else:
            text = f"{values[i, j]:.1f}" if normalize else f"{counts[i, j]:d}"
            color = "white" if norm(values[i, j]) > 0.6 else ("0.1" if i == j else "#b2182b")
        ax.text(j, i, text, ha="center", va="center", fontsize=fontsize, color=color)

    names = list(class_names) if class_names is not None else [str(c) for c in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f"class_names has {len(names)} names for {num_classes} classes")
    ticks = np.arange(num_classes)
    ax.set_xticks(ticks, labels=names)
    ax.set_yticks(ticks, labels=names)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    pct = 100.0 * errors / n if n else 0.0
    ax.set_title(f"{title}: {errors:,} errors of {n:,} ({pct:.2f} %)")
    cbar = fig.colorbar(image, ax=ax, shrink=0.85, aspect=30)
    cbar.set_label("% of true class (sqrt scale)" if normalize else "count (sqrt scale)")
    return fig


# --------------------------------------------------------------------------------------------
# Misclassified samples
# --------------------------------------------------------------------------------------------


@_styled
def misclassified(
    x: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    max_images: int = 25,
    image_shape: tuple[int, int] = (28, 28),
    probs: np.ndarray | None = None,
    *,
    ncols: int | None = None,
    title: str = "Misclassified test images",
) -> Figure:
    """Grid of the first misclassified samples, each titled ``true 3 → pred 5``.

    Args:
        x: images, shape ``(N, D)`` with ``D = prod(image_shape)`` (or ``(N, height, width)``),
            values in ``[0, 1]``.
        y_true: true labels, shape ``(N,)``.
        y_pred: predicted labels, shape ``(N,)``.
        max_images: show at most this many misclassified samples (in dataset order).
        image_shape: ``(height, width)`` of one image.
        probs: optional predicted class probabilities, shape ``(N, C)``; adds the confidence
            of the (wrong) prediction to each title.
        ncols: number of grid columns (default: a near-square grid).
        title: figure title; counts are appended.

    Returns:
        A figure with one panel per shown sample, or a figure stating that no sample is
        misclassified.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim == 3:  # also accept (N, height, width)
        x = x.reshape(len(x), -1)
    y_true = _as_labels(y_true, "y_true")
    y_pred = _as_labels(y_pred, "y_pred")
    h, w = image_shape
    if x.ndim != 2 or x.shape[1] != h * w:
        raise ValueError(f"x must have shape (N, {h * w}) for image_shape {image_shape}, got {x.shape}")
    if not (len(x) == len(y_true) == len(y_pred)):
        raise ValueError(f"x, y_true, y_pred differ in length: {len(x)}, {len(y_true)}, {len(y_pred)}")
    if probs is not None:
        probs = np.asarray(probs, dtype=float)
        if probs.ndim != 2 or len(probs) != len(x):
            raise ValueError(f"probs must have shape (N={len(x)}, C), got {probs.shape}")

    wrong = np.flatnonzero(y_true != y_pred)
    shown = wrong[: max(0, max_images)]
    if shown.size == 0:
        fig = Figure(figsize=(5, 2), layout="constrained")
        ax = fig.subplots()
        ax.set_axis_off()
        message = (f"No misclassified samples\n(all {len(x):,} correct)" if wrong.size == 0
                   else f"{wrong.size:,} misclassified samples (max_images={max_images})")
        ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=13, transform=ax.transAxes)
        fig.suptitle(title)
        return fig

    n = shown.size
    nrows, ncols = _grid_shape(n, ncols)
    panel_h = 1.75 if probs is not None else 1.55
    fig = Figure(figsize=(max(4.4, 1.45 * ncols), panel_h * nrows + 0.8), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.set_axis_off()
            continue
        i = shown[k]
        ax.imshow(x[i].reshape(h, w), cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
        _frame(ax)
        label = f"true {y_true[i]} → pred {y_pred[i]}"
        if probs is not None:
            label += f"\n{100.0 * probs[i, y_pred[i]]:.0f} % sure"
        ax.set_title(label, fontsize=9, pad=3)
    detail = f"first {n} of {wrong.size:,}" if n < wrong.size else f"all {wrong.size:,}"
    fig.suptitle(f"{title}\n{detail} errors, {len(x):,} samples", fontsize=12, linespacing=1.4)
    return fig


# --------------------------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------------------------


def save(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Write ``fig`` to ``path`` (PNG unless the suffix says otherwise), creating parent dirs.

    Args:
        fig: the figure to write.
        path: destination; ``.png`` is appended when it has no suffix.
        dpi: resolution in dots per inch.

    Returns:
        The path written.
    """
    path = Path(path)
    if not path.suffix:
        path = path.with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, facecolor="white")
    return path
