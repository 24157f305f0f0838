"""Targets and minibatches for training: one-hot encoding and (shuffled) batch iteration."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def one_hot(labels: np.ndarray, num_classes: int = 10, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """One-hot targets: integer labels ``(N,)`` in ``0..num_classes-1`` -> ``(N, num_classes)``.

    Raises:
        ValueError: labels not a 1-D integer array, or out of range.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not (np.issubdtype(labels.dtype, np.integer) or labels.size == 0):
        raise ValueError(f"one_hot: labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"one_hot: labels must lie in 0..{num_classes - 1}, got values in {labels.min()}..{labels.max()}"
        )
    out = np.zeros((labels.size, num_classes), dtype=dtype)
    out[np.arange(labels.size), labels.astype(np.intp, copy=False)] = 1
    return out


def minibatches(
    x: np.ndarray, t: np.ndarray, batch_size: int, rng: np.random.Generator | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Iterate over ``(x_batch (B, D), t_batch (B, ...))`` covering every sample exactly once.

    With ``rng``, the order is a fresh permutation drawn at each call (one epoch per call);
    without, samples come in order (batches are then views, no copy). The last batch holds the
    remaining ``N mod batch_size`` samples when that is not zero. Rows of ``x`` and ``t`` stay aligned.

    Raises:
        ValueError: ``batch_size < 1`` or ``x`` and ``t`` of different lengths (raised at the call,
            not at the first ``next``).
    """
    if batch_size < 1:
        raise ValueError(f"minibatches: batch_size must be >= 1, got {batch_size}")
    if len(x) != len(t):
        raise ValueError(f"minibatches: x has {len(x)} samples but t has {len(t)}")
    order = None if rng is None else rng.permutation(len(x))
    return _batches(x, t, batch_size, order)


def _batches(
    x: np.ndarray, t: np.ndarray, batch_size: int, order: np.ndarray | None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for start in range(0, len(x), batch_size):
        if order is None:
            yield x[start : start + batch_size], t[start : start + batch_size]
        else:
            idx = order[start : start + batch_size]
            yield x[idx], t[idx]
