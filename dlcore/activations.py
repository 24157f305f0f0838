"""Element-wise activations that the course provides ready-made (students write Tanh and ReLU)."""

from __future__ import annotations

import numpy as np

from dlcore.module import Module


class Sigmoid(Module):
    """Logistic function ``y = 1 / (1 + exp(−z))``, element-wise: any shape ``(N, ...) -> (N, ...)``.

    Its Jacobian is diagonal, ``∂y/∂z = y·(1 − y)``, so ``fprop`` caches the output ``self.y``.
    """

    def fprop(self, z: np.ndarray) -> np.ndarray:
        # exp(−|z|) never overflows; the two branches are the same function written for z ≥ 0 and z < 0.
        e = np.exp(-np.abs(z))
        self.y = np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)
        return self.y

    def bprop(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output * self.y * (1 - self.y)

    def __repr__(self) -> str:
        return "Sigmoid()"
