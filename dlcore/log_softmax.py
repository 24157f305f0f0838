"""LogSoftMax and the negative log-likelihood: classification without ``log(softmax)``.

``SoftMax`` followed by ``CrossEntropy`` computes ``log y`` of probabilities that may have
underflowed to 0 (hence the floor at ``tiny``) and backpropagates ``−t / y``, which is huge
where ``y`` is tiny. Written in the log domain, ``log softmax(z)_k = z_k − m − log Σ_j exp(z_j − m)``
with ``m = max_j z_j``, no intermediate result over- or underflows, and the gradient of the cost
w.r.t. the logits, ``(softmax(z) − t) / N``, is bounded by ``1/N`` entry-wise.
"""

from __future__ import annotations

import numpy as np

from dlcore.module import Criterion, Module


class LogSoftMax(Module):
    """Row-wise ``log softmax``: logits ``(N, C) -> (N, C)`` log-probabilities.

    ``fprop`` caches the output ``self.y``; since ``D_z y = I − 1·softmax(z)`` per row, the backward
    pass is ``g − softmax(z)·Σ_k g_k`` with ``softmax(z) = exp(y)``.
    """

    def fprop(self, z: np.ndarray) -> np.ndarray:
        shifted = z - z.max(axis=1, keepdims=True)  # the largest exponent is exp(0) = 1: no overflow
        self.y = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return self.y

    def bprop(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output - np.exp(self.y) * grad_output.sum(axis=1, keepdims=True)

    def __repr__(self) -> str:
        return "LogSoftMax()"


class NLLLoss(Criterion):
    """Mean negative log-likelihood of one-hot targets ``t (N, C)`` under log-probabilities ``y (N, C)``.

    ``c = −(1/N)·Σ_n Σ_k t_nk·y_nk``; ``bprop()`` returns ``−t / N`` in ``y``'s dtype. After
    :class:`LogSoftMax` the gradient w.r.t. the logits is ``(softmax(z) − t) / N``.
    """

    def fprop(self, y: np.ndarray, t: np.ndarray) -> float:
        self.t = t
        self.dtype = y.dtype
        return float(-np.sum(t * y) / y.shape[0])

    def bprop(self) -> np.ndarray:
        return (-self.t / self.t.shape[0]).astype(self.dtype, copy=False)

    def __repr__(self) -> str:
        return "NLLLoss()"
