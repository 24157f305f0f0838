"""im2col / col2im: convolution and pooling as one matrix product, without loops over pixels.

Layout. ``x`` is ``(N, C, H, W)``. ``im2col`` returns ``cols`` of shape
``(N, out_h, out_w, C·kh·kw)``: row ``cols[n, i, j]`` is the receptive field of output pixel
``(i, j)`` of sample ``n``, that is ``x_padded[n, :, i·s : i·s + kh, j·s : j·s + kw]`` flattened
in ``(C, kh, kw)`` order, the order of ``weight.reshape(C_out, C·kh·kw)`` for a weight of shape
``(C_out, C, kh, kw)``. A convolution (cross-correlation, as in every framework) is then::

    cols = im2col(x, kh, kw, stride, padding)                     # (N, oh, ow, C·kh·kw)
    y = cols @ weight.reshape(C_out, -1).T + bias                 # (N, oh, ow, C_out)
    y = y.transpose(0, 3, 1, 2)                                   # (N, C_out, oh, ow)

and its backward pass uses ``col2im``, the adjoint (transpose) of ``im2col``: it scatters each
row back onto the pixels it was read from and *sums* where receptive fields overlap::

    grad_cols = grad_y.transpose(0, 2, 3, 1) @ weight.reshape(C_out, -1)   # (N, oh, ow, C·kh·kw)
    grad_x = col2im(grad_cols, x.shape, kh, kw, stride, padding)           # (N, C, H, W)
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def conv_output_size(size: int, k: int, stride: int = 1, padding: int = 0) -> int:
    """Output length along one axis: ``⌊(size + 2·padding − k) / stride⌋ + 1``."""
    if k < 1 or stride < 1 or padding < 0:
        raise ValueError(f"need k >= 1, stride >= 1, padding >= 0; got k={k}, stride={stride}, padding={padding}")
    out = (size + 2 * padding - k) // stride + 1
    if out < 1:
        raise ValueError(f"a kernel of {k} does not fit in {size} (+ 2·{padding} padding)")
    return out


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Receptive fields of ``x (N, C, H, W)`` as rows: ``(N, out_h, out_w, C·kh·kw)`` (a new array).

    Zero padding of ``padding`` pixels on each side of H and W; see the module docstring for the
    order of a row.
    """
    n, c, h, w = x.shape
    out_h, out_w = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    # A view (no copy) of every kh×kw window at stride 1: (N, C, H' − kh + 1, W' − kw + 1, kh, kw);
    # striding picks the windows of the output pixels.
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    windows = windows[:, :, :out_h, :out_w]
    # The one copy: channels next to the kernel offsets so that a row is (C, kh, kw) contiguous.
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n, out_h, out_w, c * kh * kw)


def col2im(cols: np.ndarray, x_shape: tuple[int, int, int, int], kh: int, kw: int, stride: int = 1,
           padding: int = 0) -> np.ndarray:
    """Adjoint of :func:`im2col`: ``cols (N, out_h, out_w, C·kh·kw) -> (N, C, H, W)``.

    Every entry of ``cols`` is added to the pixel of ``x`` it was read from (overlapping
    receptive fields sum; entries read from the zero padding are dropped), so that
    ``⟨im2col(x), cols⟩ = ⟨x, col2im(cols)⟩`` for all ``x`` and ``cols``.
    """
    n, c, h, w = x_shape
    out_h, out_w = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    if cols.shape != (n, out_h, out_w, c * kh * kw):
        raise ValueError(f"cols has shape {cols.shape}, expected {(n, out_h, out_w, c * kh * kw)} for x {x_shape}")
    fields = cols.reshape(n, out_h, out_w, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)  # (N, C, kh, kw, oh, ow)
    padded = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    # One vectorised add per kernel offset (kh·kw of them, none per pixel or sample): for a fixed
    # offset the output pixels hit distinct input pixels, so a strided slice += is exact and
    # needs no np.add.at; overlaps only occur across offsets, which the loop sums.
    for i in range(kh):
        for j in range(kw):
            padded[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride] += fields[:, :, i, j]
    return np.ascontiguousarray(padded[:, :, padding:padding + h, padding:padding + w])
