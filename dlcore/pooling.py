"""Max pooling over square windows of images ``(N, C, H, W)``, vectorised over pixels and samples."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from dlcore.im2col import conv_output_size
from dlcore.module import Module


def blocks(a: np.ndarray, k: int, out_h: int, out_w: int) -> np.ndarray:
    """The ``k×k`` blocks of ``a (N, C, H, W)`` side by side, as a view ``(N, C, out_h, k, out_w, k)``.

    ``blocks(a)[n, c, i, u, j, v] = a[n, c, i·k + u, j·k + v]``: the reshape ``(N, C, H/k, k, W/k, k)``
    of ``a``, for any memory order of ``a`` (never a copy), leaving out the last ``H − out_h·k`` rows
    and ``W − out_w·k`` columns. Writing into the view writes into ``a``.
    """
    if out_h * k > a.shape[2] or out_w * k > a.shape[3]:
        raise ValueError(f"{out_h}×{out_w} blocks of {k}×{k} do not fit in {a.shape[2]}×{a.shape[3]}")
    sn, sc, sh, sw = a.strides
    return as_strided(a, (a.shape[0], a.shape[1], out_h, k, out_w, k), (sn, sc, k * sh, sh, k * sw, sw))


def _in_order_of(template: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``a`` laid out in memory like ``template`` (same shape): ``a`` itself if it already is, else a copy.

    An element-wise operation on arrays of different memory orders (say one (N, C, H, W) in C order,
    the other a transposed view) reads one of them in short runs; converting the small one first
    is cheaper.
    """
    if np.array_equal(np.argsort(template.strides, kind="stable"), np.argsort(a.strides, kind="stable")):
        return a
    out = np.empty_like(template, dtype=a.dtype)
    out[...] = a
    return out


class MaxPool2d(Module):
    """Maximum over each ``k×k`` window, per channel: ``(N, C, H, W) -> (N, C, H_out, W_out)``.

    ``H_out = ⌊(H + 2·padding − k) / stride⌋ + 1`` (likewise ``W_out``); ``stride`` defaults to ``k``
    (windows side by side). Padding is ``−inf``, so a padded pixel is never the maximum.

    The output is a selection, so its Jacobian has a single 1 per output: the backward pass routes
    each output's gradient to the input pixel that was the maximum of its window (the first one in
    row-major order when several tie, as PyTorch does), summing where overlapping windows pick the
    same pixel.

    Two ways, the same results. Windows side by side (``stride == k``, the CNN's pooling) are the
    blocks of the reshape ``(N, C, H_out, k, W_out, k)`` of the (padded) input (:func:`blocks`, a
    view): ``fprop`` reduces them and caches ``self.mask``, a boolean array of the padded input's
    shape that is True at the first maximum of every block; ``bprop`` is then one product, the mask
    times each output's gradient spread over its block. Other strides go one window offset at a
    time (k² vectorised operations): ``fprop`` caches ``self.argmax``, ``(N, C, H_out, W_out)``
    offsets ``i·k + j`` of the maxima inside their windows, and ``self.mask`` is None.
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
        self.in_shape = z.shape
        if self.stride == self.k:
            return self._fprop_blocks(padded, out_h, out_w)
        self.mask = None
        windows = [(offset, padded[:, :, rows, cols]) for offset, rows, cols in self._window_offsets(out_h, out_w)]
        best = windows[0][1]
        for _, candidate in windows[1:]:
            best = np.maximum(best, candidate)
        # Offset of the first maximum: scanning the offsets backwards, the last match written is the first.
        self.argmax = np.zeros(best.shape, dtype=np.min_scalar_type(self.k * self.k - 1))
        for offset, candidate in reversed(windows):
            self.argmax = np.where(candidate == best, offset, self.argmax).astype(self.argmax.dtype, copy=False)
        return np.array(best)  # a new array even for k = 1, never a view of the input

    def _fprop_blocks(self, padded: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
        """``stride == k``: the maximum of every block of :func:`blocks`, and the mask of the first maxima."""
        k = self.k
        z6 = blocks(padded, k, out_h, out_w)  # (N, C, out_h, k, out_w, k), a view
        # The maximum down the rows u of each block, for every column v, (N, C, out_h, out_w, k); then
        # along v. Each np.maximum reads whole block rows (long runs of memory), not single pixels.
        down = np.maximum(z6[:, :, :, 0], z6[:, :, :, 1]) if k > 1 else np.array(z6[:, :, :, 0])
        for u in range(2, k):
            np.maximum(down, z6[:, :, :, u], out=down)
        best = np.maximum(down[..., 0], down[..., 1]) if k > 1 else np.array(down[..., 0])
        for v in range(2, k):
            np.maximum(best, down[..., v], out=best)
        # The first maximum of each block in row-major order (u, v): every pixel equal to its block's
        # maximum, then, offset by offset, those with an earlier one in their block dropped
        # (`hit > taken` is hit and not taken): ties (all-zero blocks after a ReLU) keep their first pixel.
        covered = out_h * k == padded.shape[2] and out_w * k == padded.shape[3]
        self.mask = (np.empty_like if covered else np.zeros_like)(padded, dtype=bool)  # memory order of padded
        mask6 = blocks(self.mask, k, out_h, out_w)
        np.equal(z6, best[:, :, :, None, :, None], out=mask6)
        taken = np.array(mask6[:, :, :, 0, :, 0])
        for offset in range(1, k * k):
            hit = mask6[:, :, :, offset // k, :, offset % k]
            np.greater(hit, taken, out=hit)
            if offset < k * k - 1:
                taken |= hit
        return best

    def bprop(self, grad_output: np.ndarray) -> np.ndarray | None:
        if not self.input_grad:
            return None
        n, c, h, w = self.in_shape
        p = self.padding
        if self.mask is not None:
            # The gradient of each output on the first maximum of its block, 0 on the other pixels:
            # mask × grad_output repeated over the k×k block, in one product.
            out_h, out_w = grad_output.shape[2:]
            covered = out_h * self.k == self.mask.shape[2] and out_w * self.k == self.mask.shape[3]
            grad = (np.empty_like if covered else np.zeros_like)(self.mask, dtype=grad_output.dtype)
            mask6 = blocks(self.mask, self.k, out_h, out_w)
            g = _in_order_of(mask6[:, :, :, 0, :, 0], grad_output)
            np.multiply(mask6, g[:, :, :, None, :, None], out=blocks(grad, self.k, out_h, out_w))
            return grad[:, :, p:p + h, p:p + w] if p else grad
        out_h, out_w = self.argmax.shape[2:]
        grad = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=grad_output.dtype)
        for offset, rows, cols in self._window_offsets(out_h, out_w):
            # Within one offset the windows hit distinct pixels, so += on the strided slice is exact.
            grad[:, :, rows, cols] += np.where(self.argmax == offset, grad_output, 0)
        return grad[:, :, p:p + h, p:p + w] if p else grad

    def __repr__(self) -> str:
        return f"MaxPool2d({self.k}, stride={self.stride}, padding={self.padding})"
