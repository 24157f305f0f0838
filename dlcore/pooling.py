"""Max pooling over square windows of images ``(N, C, H, W)``, vectorised over pixels and samples."""

from __future__ import annotations

import numpy as np

from dlcore.im2col import conv_output_size
from dlcore.module import Module


class MaxPool2d(Module):
    """Maximum over each ``k×k`` window, per channel: ``(N, C, H, W) -> (N, C, H_out, W_out)``.

    ``H_out = ⌊(H + 2·padding − k) / stride⌋ + 1`` (likewise ``W_out``); ``stride`` defaults to ``k``
    (windows side by side). Padding is ``−inf``, so a padded pixel is never the maximum.

    The output is a selection, so its Jacobian has a single 1 per output: the backward pass routes
    each output's gradient to the input pixel that was the maximum of its window (the first one in
    row-major order when several tie, as PyTorch does), summing where overlapping windows pick the
    same pixel. ``fprop`` caches ``self.argmax``, ``(N, C, H_out, W_out)`` offsets ``i·k + j`` of
    the maxima inside their windows.
    """

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0) -> None:
        self.k = int(kernel_size)
        self.stride = self.k if stride is None else int(stride)
        self.padding = int(padding)
        if self.padding > self.k // 2:
            raise ValueError(f"padding {padding} is more than half the window {kernel_size}: some windows "
                             "would hold only padding")

    def _window_offsets(self, out_h: int, out_w: int):
        """``(offset, rows, cols)`` for each of the k² positions in a window: the strided slices of the
        padded input that hold that position of every window. One vectorised operation per offset
        (k² in all) replaces loops over pixels and samples."""
        s = self.stride
        for i in range(self.k):
            for j in range(self.k):
                yield i * self.k + j, slice(i, i + s * (out_h - 1) + 1, s), slice(j, j + s * (out_w - 1) + 1, s)

    def fprop(self, z: np.ndarray) -> np.ndarray:
        n, c, h, w = z.shape
        p = self.padding
        out_h, out_w = conv_output_size(h, self.k, self.stride, p), conv_output_size(w, self.k, self.stride, p)
        padded = np.pad(z, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf) if p else z
        windows = [(offset, padded[:, :, rows, cols]) for offset, rows, cols in self._window_offsets(out_h, out_w)]
        best = windows[0][1]
        for _, candidate in windows[1:]:
            best = np.maximum(best, candidate)
        # Offset of the first maximum: scanning the offsets backwards, the last match written is the first.
        self.argmax = np.zeros(best.shape, dtype=np.min_scalar_type(self.k * self.k - 1))
        for offset, candidate in reversed(windows):
            self.argmax = np.where(candidate == best, offset, self.argmax).astype(self.argmax.dtype, copy=False)
        self.in_shape = z.shape
        return np.array(best)  # a new array even for k = 1, never a view of the input

    def bprop(self, grad_output: np.ndarray) -> np.ndarray | None:
        if not self.input_grad:
            return None
        n, c, h, w = self.in_shape
        p = self.padding
        out_h, out_w = self.argmax.shape[2:]
        grad = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=grad_output.dtype)
        for offset, rows, cols in self._window_offsets(out_h, out_w):
            # Within one offset the windows hit distinct pixels, so += on the strided slice is exact.
            grad[:, :, rows, cols] += np.where(self.argmax == offset, grad_output, 0)
        return grad[:, :, p:p + h, p:p + w] if p else grad

    def __repr__(self) -> str:
        return f"MaxPool2d({self.k}, stride={self.stride}, padding={self.padding})"
