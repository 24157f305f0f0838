"""Optimizers beyond plain SGD, and learning-rate schedules.

An optimizer is built on a model and its ``step()`` is called after each ``bprop``: it reads
``model.params()`` (the live arrays, updated in place) and ``model.grads()`` (the gradients of
the last ``bprop``, aligned with the parameters), exactly like :class:`dlcore.train.SGD`.
Its ``lr`` attribute may be changed between steps; that is how a schedule acts.

A schedule is a callable ``epoch -> lr``, epochs counting from 1 as in
:class:`dlcore.train.EpochStats`; ``fit(..., schedule=s)`` sets ``optimizer.lr = s(epoch)`` at
the start of each epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import numpy as np

from dlcore.module import Module

Schedule = Callable[[int], float]

# Adam sets first moments below FLUSH_BELOW to zero every FLUSH_EVERY steps. The first moment of a
# weight whose gradient stays 0 (a dead ReLU unit's) shrinks by β1 = 0.9 a step and after some 800
# steps becomes subnormal in float32, where each operation on it is several times slower: the CNN's
# Adam step took 1.65 ms against 0.39 after 2 epochs, with 18 % of its moments subnormal. A moment
# below 1e-30 moves its weight by less than λ·1e-21 (ε = 1e-8), invisible in float32; 0.9^50 ≈ 0.005: none
# falls from 1e-30 to the subnormals (below 1.2e-38) between two flushes. The second moment shrinks
# by β2 = 0.999 a step and is left alone (it would take some 18,000 steps from 1e-30).
FLUSH_EVERY, FLUSH_BELOW = 50, 1e-30


class Optimizer(Protocol):
    """What the training loop needs of an optimizer."""

    lr: float

    def step(self) -> None: ...


class Adam:
    """Adam (Kingma & Ba, 2015) with bias-corrected moments, updating ``model``'s parameters in place.

    For every parameter θ with gradient g, at step t = 1, 2, …::

        g ← g + μ·θ                       (only if weight_decay = μ > 0: coupled L2, as in SGD)
        m ← β1·m + (1 − β1)·g             first moment, m₀ = 0
        v ← β2·v + (1 − β2)·g²            second moment (element-wise), v₀ = 0
        m̂ = m / (1 − β1^t),  v̂ = v / (1 − β2^t)     bias correction of the zero start
        θ ← θ − λ·m̂ / (√v̂ + ε)

    The moments are kept per parameter, aligned with ``model.params()`` and of the same shape
    and dtype (a float32 model stays float32). Every :data:`FLUSH_EVERY` steps, first moments
    below :data:`FLUSH_BELOW` are set to 0: it keeps them out of the slow subnormal numbers, and
    such a moment moves its weight by less than λ·1e-21 (with ε = 1e-8).
    """

    def __init__(self, model: Module, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        self.model = model
        self.lr = lr
        self.betas = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.t = 0
        self.m: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self._scratch: list[np.ndarray] = []  # one work array per parameter: no temporaries per step

    def step(self) -> None:
        params, grads = self.model.params(), self.model.grads()
        if not self.m:  # lazily: the moments take the shapes and dtypes of the parameters
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
            self._scratch = [np.empty_like(p) for p in params]
        if len(params) != len(self.m):
            raise ValueError(f"the model has {len(params)} parameters, Adam was started with {len(self.m)}")
        beta1, beta2 = self.betas
        self.t += 1
        # Folding both corrections into the step size is the paper's cheaper equivalent form,
        # except that ε is then scaled by √(1 − β2^t); dividing explicitly keeps the formula above.
        c1, c2 = 1 - beta1 ** self.t, 1 - beta2 ** self.t
        for p, g, m, v, work in zip(params, grads, self.m, self.v, self._scratch, strict=True):
            if self.weight_decay:
                g = g + self.weight_decay * p  # a new array: the module's gradient stays ∂θ
            # The formulas above, in place (Python-float scalars keep the dtype of p, NumPy 2 rules):
            m *= beta1
            np.multiply(g, 1 - beta1, out=work)
            m += work                                  # m = β1·m + (1 − β1)·g
            v *= beta2
            np.multiply(g, g, out=work)
            work *= 1 - beta2
            v += work                                  # v = β2·v + (1 − β2)·g²
            np.divide(v, c2, out=work)
            np.sqrt(work, out=work)
            work += self.eps                           # √v̂ + ε
            np.divide(m, work, out=work)
            work *= self.lr / c1                       # λ·m̂ / (√v̂ + ε)
            p -= work
        if self.t % FLUSH_EVERY == 0:
            for m in self.m:
                np.copyto(m, 0, where=np.abs(m) < FLUSH_BELOW)


def step_decay(lr0: float, factor: float, every: int) -> Schedule:
    """``lr0·factor^⌊(epoch − 1) / every⌋``: ``lr0`` for the first ``every`` epochs, then × ``factor``."""
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")

    def schedule(epoch: int) -> float:
        return lr0 * factor ** ((epoch - 1) // every)

    return schedule


def cosine(lr0: float, epochs: int, lr_min: float = 0.0) -> Schedule:
    """Cosine annealing from ``lr0`` at epoch 1 towards ``lr_min`` over ``epochs`` epochs.

    ``lr(epoch) = lr_min + (lr0 − lr_min)·(1 + cos(π·(epoch − 1)/epochs))/2``: the last epoch
    still trains (its rate is just above ``lr_min``); from epoch ``epochs + 1`` on it is ``lr_min``.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")

    def schedule(epoch: int) -> float:
        progress = min(epoch - 1, epochs) / epochs
        return lr_min + (lr0 - lr_min) * (1 + math.cos(math.pi * progress)) / 2

    return schedule
