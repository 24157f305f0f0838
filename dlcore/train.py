"""The training loop of the course: mini-batch SGD on a chain of modules.

For each mini-batch: fprop through the net, the cost, bprop in reverse, then ``θ ← θ − λ·∂θ``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from tqdm import tqdm

from dlcore.data.batching import minibatches
from dlcore.module import Criterion, Module


@dataclass
class EpochStats:
    """What one epoch achieved: mean train loss, test errors, and seconds spent training."""

    epoch: int
    train_loss: float
    test_errors: int
    seconds: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


class SGD:
    """Plain stochastic gradient descent: ``θ ← θ − λ·∂θ`` for every parameter of ``model``."""

    def __init__(self, model: Module, lr: float) -> None:
        self.model = model
        self.lr = lr

    def step(self) -> None:
        # params() are the live arrays, so the update is in place; grads() is read after bprop
        # because a module may rebind its gradient arrays on each call.
        for p, g in zip(self.model.params(), self.model.grads(), strict=True):
            p -= self.lr * g


def predict(model: Module, x: np.ndarray, batch_size: int = 10_000) -> np.ndarray:
    """Class predictions ``(N,)`` of ``model`` on ``x (N, D)``: the argmax of its outputs."""
    return np.concatenate([model.fprop(x[i:i + batch_size]).argmax(axis=1)
                           for i in range(0, len(x), batch_size)])


def count_errors(model: Module, x: np.ndarray, labels: np.ndarray) -> int:
    """Number of samples of ``x (N, D)`` whose predicted class differs from ``labels (N,)``."""
    return int(np.count_nonzero(predict(model, x) != labels))


def train_epoch(
    model: Module,
    criterion: Criterion,
    optimizer: SGD,
    x: np.ndarray,
    t: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    progress: bool | str = False,
) -> float:
    """One pass over ``x (N, D)`` with targets ``t (N, C)`` in shuffled mini-batches.

    Returns the mean of the per-sample loss over the epoch (each batch weighted by its size).
    """
    total, seen = 0.0, 0
    batches = minibatches(x, t, batch_size, rng)
    n_batches = -(-len(x) // batch_size)
    with tqdm(batches, total=n_batches, disable=not progress, leave=False, file=sys.stderr,
              desc=progress if isinstance(progress, str) else None, unit="batch") as bar:
        for xb, tb in bar:
            cost = criterion.fprop(model.fprop(xb), tb)
            model.bprop(criterion.bprop())
            optimizer.step()
            total += float(cost) * len(xb)
            seen += len(xb)
    return total / seen


def fit(
    model: Module,
    criterion: Criterion,
    optimizer: SGD,
    x_train: np.ndarray,
    t_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    progress: bool = False,
    on_epoch: Callable[[EpochStats], None] | None = None,
) -> list[EpochStats]:
    """Train for ``epochs`` epochs and evaluate on the test set after each.

    Args:
        x_train: ``(N, D)`` inputs; ``t_train``: ``(N, C)`` one-hot targets.
        x_test: ``(M, D)``; ``y_test``: ``(M,)`` integer labels.
        on_epoch: called with each epoch's :class:`EpochStats` as soon as it is known.

    Returns:
        The history: one :class:`EpochStats` per epoch. ``seconds`` counts training only.
    """
    history = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        loss = train_epoch(model, criterion, optimizer, x_train, t_train, batch_size, rng,
                           progress=f"epoch {epoch}/{epochs}" if progress else False)
        seconds = time.perf_counter() - start
        stats = EpochStats(epoch, loss, count_errors(model, x_test, y_test), seconds)
        history.append(stats)
        if on_epoch is not None:
            on_epoch(stats)
    return history
