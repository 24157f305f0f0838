"""The module contract every layer and criterion of the course follows.

A model is a chain of modules ``F(x) = f1(f2(f3(x, θ3), θ2), θ1)``. Rows of every array are samples.

Contract of a :class:`Module`:

* ``fprop(z)`` computes the output and caches what ``bprop`` needs (the cache holds the
  *last* call only).
* ``bprop(grad_output)`` returns ``grad_input = grad_output · D_z f`` and computes
  ``grad_output · D_θ f`` for every parameter θ.
* Parameter gradients are **overwritten** on every ``bprop``, never accumulated: after a call,
  ``grads()`` holds the gradients of that call alone.
* ``params()`` returns the live parameter arrays (an optimizer updates them in place) and
  ``grads()`` returns the matching gradients: aligned lists of arrays of equal shapes.
* Neither ``fprop`` nor ``bprop`` modifies its argument in place.
* ``input_grad`` (default True) says whether ``bprop`` must return ``grad_input``. The first
  module of a network under training receives the data, whose gradient nobody uses: with
  ``input_grad = False`` a module may skip that product and return ``None`` (as a framework
  skips tensors that do not require a gradient). Computing it anyway is still correct.
* ``training`` (default True) is the train/eval mode. ``train()`` and ``eval()`` set it (and
  :class:`Sequential` passes it on to its children); modules whose forward pass differs between
  training and evaluation, such as Dropout, read ``self.training`` in ``fprop``. The training
  loop switches the model to train mode, and evaluation (``predict``, ``count_errors``) to eval
  mode, restoring the previous mode afterwards.

A :class:`Criterion` maps a batch of outputs and targets to a scalar cost, the *mean* over the
batch of a per-sample loss; its ``bprop()`` returns ``∂cost/∂z``, which therefore carries the
``1/N`` of the batch.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


class Module:
    """Base class of a differentiable layer ``f(z, θ)``: ``(N, D_in) -> (N, D_out)``."""

    input_grad: bool = True
    training: bool = True

    def train(self, mode: bool = True) -> Module:
        """Set train mode (``mode=True``) or eval mode (``mode=False``); returns ``self``."""
        self.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Set eval mode, ``train(False)``; returns ``self``."""
        return self.train(False)

    def fprop(self, z: np.ndarray) -> np.ndarray:
        """Forward pass: ``(N, D_in) -> (N, D_out)``; caches what ``bprop`` needs."""
        raise NotImplementedError(f"{type(self).__name__}.fprop is not implemented yet")

    def bprop(self, grad_output: np.ndarray) -> np.ndarray:
        """Backward pass: ``grad_output (N, D_out) -> grad_input (N, D_in)``.

        Also overwrites the parameter gradients returned by :meth:`grads`.
        """
        raise NotImplementedError(f"{type(self).__name__}.bprop is not implemented yet")

    def params(self) -> list[np.ndarray]:
        """The live parameter arrays; modules without parameters return ``[]``."""
        return []

    def grads(self) -> list[np.ndarray]:
        """Gradients of the last ``bprop``, aligned with :meth:`params`."""
        return []

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.fprop(z)


class Criterion:
    """Base class of a cost ``c(z, t) = mean over samples of ℓ(z_n, t_n)``."""

    def fprop(self, z: np.ndarray, t: np.ndarray) -> float:
        """Cost of outputs ``z (N, C)`` against targets ``t (N, C)``: a scalar."""
        raise NotImplementedError(f"{type(self).__name__}.fprop is not implemented yet")

    def bprop(self) -> np.ndarray:
        """Gradient of the last cost w.r.t. ``z``: ``(N, C)``, including the ``1/N``."""
        raise NotImplementedError(f"{type(self).__name__}.bprop is not implemented yet")

    def __call__(self, z: np.ndarray, t: np.ndarray) -> float:
        return self.fprop(z, t)


class Sequential(Module):
    """A chain of modules applied left to right: ``Sequential(f3, f2, f1)(x) = f1(f2(f3(x)))``."""

    def __init__(self, *modules: Module) -> None:
        self.modules = list(modules)

    @property
    def input_grad(self) -> bool:
        return self.modules[0].input_grad if self.modules else True

    @input_grad.setter
    def input_grad(self, value: bool) -> None:
        # Only the first module sees the chain's input; the others must always pass gradients on.
        if self.modules:
            self.modules[0].input_grad = value

    def train(self, mode: bool = True) -> Sequential:
        # The children are what actually behave differently, so the mode must reach them.
        super().train(mode)
        for module in self.modules:
            if hasattr(module, "train"):  # a duck-typed module without modes has nothing to switch
                module.train(mode)
        return self

    def fprop(self, z: np.ndarray) -> np.ndarray:
        for module in self.modules:
            z = module.fprop(z)
        return z

    def bprop(self, grad_output: np.ndarray) -> np.ndarray | None:
        # Backprop multiplies the Jacobians from the output back to the input.
        for module in reversed(self.modules):
            grad_output = module.bprop(grad_output)
        return grad_output

    def params(self) -> list[np.ndarray]:
        return [p for module in self.modules for p in module.params()]

    def grads(self) -> list[np.ndarray]:
        return [g for module in self.modules for g in module.grads()]

    def __iter__(self) -> Iterable[Module]:
        return iter(self.modules)

    def __len__(self) -> int:
        return len(self.modules)

    def __getitem__(self, index: int) -> Module:
        return self.modules[index]

    def __repr__(self) -> str:
        inner = ", ".join(repr(m) if type(m).__repr__ is not object.__repr__ else type(m).__name__
                          for m in self.modules)
        return f"Sequential({inner})"
