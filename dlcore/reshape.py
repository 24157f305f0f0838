"""Modules that only change the shape of each sample: between images and rows of a matrix."""

from __future__ import annotations

import numpy as np

from dlcore.module import Module


class Flatten(Module):
    """Each sample as a row: ``(N, d1, d2, ...) -> (N, d1·d2·...)``; the backward pass undoes it."""

    def fprop(self, z: np.ndarray) -> np.ndarray:
        self.shape = z.shape
        return z.reshape(z.shape[0], -1)

    def bprop(self, grad_output: np.ndarray) -> np.ndarray | None:
        if not self.input_grad:
            return None
        return grad_output.reshape(self.shape)

    def __repr__(self) -> str:
        return "Flatten()"


class Reshape(Module):
    """Each row as an array of ``shape``: ``(N, prod(shape)) -> (N, *shape)``, e.g. pixels to ``(1, 28, 28)`` images."""

    def __init__(self, *shape: int) -> None:
        self.shape = tuple(int(s) for s in shape)

    def fprop(self, z: np.ndarray) -> np.ndarray:
        self.in_shape = z.shape
        return z.reshape(z.shape[0], *self.shape)

    def bprop(self, grad_output: np.ndarray) -> np.ndarray | None:
        if not self.input_grad:
            return None
        return grad_output.reshape(self.in_shape)

    def __repr__(self) -> str:
        return f"Reshape{self.shape}"
