"""The training loop of the course: mini-batch SGD on a chain of modules.

For each mini-batch: fprop through the net, the cost, bprop in reverse, then ``θ ← θ − λ·∂θ``.
Training runs the model in train mode, evaluation in eval mode (see :mod:`dlcore.module`).
Other optimizers with the same interface and learning-rate schedules live in :mod:`dlcore.optim`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from dlcore.data.batching import minibatches
from dlcore.module import Criterion, Module

if TYPE_CHECKING:
    from dlcore.optim import Optimizer


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
    """Plain stochastic gradient descent: ``θ ← θ − λ·∂θ`` for every parameter of ``model``.

    With ``weight_decay = μ > 0`` the gradient gets the L2 term of ``μ/2·‖θ‖²`` added (coupled
    weight decay): ``θ ← θ − λ·(∂θ + μ·θ)``. ``lr`` may be changed between steps (schedules).
    """

    def __init__(self, model: Module, lr: float, weight_decay: float = 0.0) -> None:
        self.model = model
        self.lr = lr
        self.weight_decay = weight_decay

    def step(self) -> None:
        # params() are the live arrays, so the update is in place; grads() is read after bprop
        # because a module may rebind its gradient arrays on each call.
        for p, g in zip(self.model.params(), self.model.grads(), strict=True):
            if self.weight_decay:
                g = g + self.weight_decay * p  # a new array: the module's gradient stays ∂θ
            p -= self.lr * g


@contextmanager
def _mode(model: Module, training: bool) -> Iterator[None]:
    """Run a block with ``model`` in train or eval mode, then restore its previous mode."""
    if not hasattr(model, "train"):  # duck-typed model without modes
        yield
        return
    previous = getattr(model, "training", True)
    model.train(training)
    try:
        yield
    finally:
        model.train(previous)


def predict(model: Module, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Class predictions ``(N,)`` of ``model`` on ``x (N, D)``: the argmax of its outputs.

    Runs in eval mode (no dropout, say) and restores the model's previous mode afterwards.
    Batches of 1,000 keep the intermediate arrays small: a convolution's ``im2col`` of all 10,000
    MNIST test images would take gigabytes (measured: the CNN predicts the test set about 3 times
    faster in batches of 1,000 than of 10,000).
    """
    with _mode(model, False):
        return np.concatenate([model.fprop(x[i:i + batch_size]).argmax(axis=1)
                               for i in range(0, len(x), batch_size)])


def count_errors(model: Module, x: np.ndarray, labels: np.ndarray) -> int:
    """Number of samples of ``x (N, D)`` whose predicted class differs from ``labels (N,)``.

    Evaluates in eval mode, like :func:`predict`.
    """
    return int(np.count_nonzero(predict(model, x) != labels))


def train_epoch(
    model: Module,
    criterion: Criterion,
    optimizer: SGD | Optimizer,
    x: np.ndarray,
    t: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    progress: bool | str = False,
) -> float:
    """One pass over ``x (N, D)`` with targets ``t (N, C)`` in shuffled mini-batches.

    Puts ``model`` in train mode (and leaves it there). ``optimizer`` is anything with a
    ``step()`` that reads the gradients of the last ``bprop`` (:class:`SGD`, :class:`dlcore.optim.Adam`).
    Returns the mean of the per-sample loss over the epoch (each batch weighted by its size).
    """
    if hasattr(model, "train"):
        model.train()
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
    optimizer: SGD | Optimizer,
    x_train: np.ndarray,
    t_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    progress: bool = False,
    on_epoch: Callable[[EpochStats], None] | None = None,
    schedule: Callable[[int], float] | None = None,
) -> list[EpochStats]:
    """Train for ``epochs`` epochs and evaluate on the test set after each.

    Args:
        x_train: ``(N, D)`` inputs; ``t_train``: ``(N, C)`` one-hot targets.
        x_test: ``(M, D)``; ``y_test``: ``(M,)`` integer labels.
        on_epoch: called with each epoch's :class:`EpochStats` as soon as it is known.
        schedule: ``epoch -> lr`` (epochs count from 1, as in :class:`EpochStats`); if given,
            ``optimizer.lr = schedule(epoch)`` at the start of each epoch. See :mod:`dlcore.optim`.

    Returns:
        The history: one :class:`EpochStats` per epoch. ``seconds`` counts training only.
    """
    history = []
    for epoch in range(1, epochs + 1):
        if schedule is not None:
            optimizer.lr = schedule(epoch)
        start = time.perf_counter()
        loss = train_epoch(model, criterion, optimizer, x_train, t_train, batch_size, rng,
                           progress=f"epoch {epoch}/{epochs}" if progress else False)
        seconds = time.perf_counter() - start
        stats = EpochStats(epoch, loss, count_errors(model, x_test, y_test), seconds)
        history.append(stats)
        if on_epoch is not None:
            on_epoch(stats)
    return history
