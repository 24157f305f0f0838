"""im2col / col2im: convolution as one matrix product, without loops over pixels.

Layout. ``x`` is ``(N, C, H, W)``. ``im2col`` returns the matrix ``cols`` of shape
``(N·out_h·out_w, C·kh·kw)``, **one row per output pixel**: row ``(n·out_h + i)·out_w + j`` is the
receptive field of output pixel ``(i, j)`` of sample ``n``, that is
``x_padded[n, :, i·s : i·s + kh, j·s : j·s + kw]`` flattened in ``(C, kh, kw)`` order, the order of
``weight.reshape(C_out, C·kh·kw)`` for a weight of shape ``(C_out, C, kh, kw)``. A convolution
(cross-correlation, as in every framework) is then a ``Linear`` layer applied to every row::

    cols = im2col(x, kh, kw, stride, padding)                     # (N·oh·ow, C·kh·kw)
    y = cols @ weight.reshape(C_out, -1).T + bias                 # (N·oh·ow, C_out)
    y = y.reshape(N, oh, ow, C_out).transpose(0, 3, 1, 2)         # (N, C_out, oh, ow)

and its backward pass uses ``col2im``, the adjoint (transpose) of ``im2col``: it scatters each
row back onto the pixels it was read from and *sums* where receptive fields overlap::

    g = grad_y.transpose(0, 2, 3, 1).reshape(-1, C_out)           # (N·oh·ow, C_out), rows as in cols
    grad_weight = (g.T @ cols).reshape(weight.shape)
    grad_x = col2im(g @ weight.reshape(C_out, -1), x.shape, kh, kw, stride, padding)   # (N, C, H, W)

Memory order (speed only; the values do not depend on it). ``cols`` is returned column-major: it
is the transpose (a view) of a C-contiguous ``(C·kh·kw, N·oh·ow)`` array, whose row for the kernel
entry ``(c, u, v)`` holds, for every output pixel, the input pixel under that entry. ``im2col``
fills that array one kernel offset ``(u, v)`` at a time, each a copy of contiguous runs of pixels
from a channel-first copy of the input, instead of a copy that interleaves channels and offsets;
``@`` hands the transposed view to BLAS as it is. ``col2im`` accepts either memory order of its
argument and picks the matching way to sum (a ``g @ weight_matrix`` product is row-major).
The image it returns is a view of a new array, in whatever memory order the sum produced
(not necessarily C-contiguous); its values never alias the argument.
"""

from __future__ import annotations

import numpy as np

# Row-major col2im sums over this many bytes of its argument at a time, so that the partial sums
# stay in cache (measured on the course machine: 256 KiB to 1 MiB are equally good).
_CHUNK_BYTES = 512 * 1024


def conv_output_size(size: int, k: int, stride: int = 1, padding: int = 0) -> int:
    """Output length along one axis: ``⌊(size + 2·padding − k) / stride⌋ + 1``."""
    if k < 1 or stride < 1 or padding < 0:
        raise ValueError(f"need k >= 1, stride >= 1, padding >= 0; got k={k}, stride={stride}, padding={padding}")
    out = (size + 2 * padding - k) // stride + 1
    if out < 1:
        raise ValueError(f"a kernel of {k} does not fit in {size} (+ 2·{padding} padding)")
    return out


def _taps(offset: int, count: int, stride: int) -> slice:
    """The positions ``offset + stride·i`` for ``i < count``: where kernel entry ``offset`` reads along an axis."""
    return slice(offset, offset + stride * (count - 1) + 1, stride)


def _inside(offset: int, count: int, stride: int, padding: int, size: int) -> tuple[slice, slice]:
    """Along one axis, kernel entry ``offset`` of output position ``i < count`` reads input position
    ``stride·i + offset − padding``: ``(outputs, inputs)``, the slices of the output positions for which
    that is inside ``[0, size)`` (not in the padding) and of the input positions they read."""
    first = max(0, -(-(padding - offset) // stride))  # the smallest i with stride·i + offset − padding >= 0
    stop = min(count, (size - 1 + padding - offset) // stride + 1)
    if stop <= first:
        return slice(0, 0), slice(0, 0)
    start = stride * first + offset - padding
    return slice(first, stop), slice(start, start + stride * (stop - 1 - first) + 1, stride)


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Receptive fields of ``x (N, C, H, W)`` as rows: ``(N·out_h·out_w, C·kh·kw)``, a new array.

    Zero padding of ``padding`` pixels on each side of H and W; see the module docstring for the
    order of the rows and of the entries of a row, and for the memory order.
    """
    n, c, h, w = x.shape
    out_h, out_w = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    p = padding
    # The input channel-first and zero-padded, (C, N, H + 2p, W + 2p): a copy kh·kw times smaller than cols.
    xt = np.zeros((c, n, h + 2 * p, w + 2 * p), dtype=x.dtype)
    xt[:, :, p:p + h, p:p + w] = x.transpose(1, 0, 2, 3)
    # (C, kh, kw, N, out_h, out_w): for each kernel offset (u, v), the pixel under it for every output
    # pixel: one strided slice of xt, copied in runs of out_w pixels.
    fields = np.empty((c, kh, kw, n, out_h, out_w), dtype=x.dtype)
    for u in range(kh):
        for v in range(kw):
            fields[:, u, v] = xt[:, :, _taps(u, out_h, stride), _taps(v, out_w, stride)]
    return fields.reshape(c * kh * kw, n * out_h * out_w).T


def col2im(cols: np.ndarray, x_shape: tuple[int, int, int, int], kh: int, kw: int, stride: int = 1,
           padding: int = 0) -> np.ndarray:
    """Adjoint of :func:`im2col`: ``cols (N·out_h·out_w, C·kh·kw) -> (N, C, H, W)``, a new array.

    Every entry of ``cols`` is added to the pixel of ``x`` it was read from (overlapping
    receptive fields sum; entries read from the zero padding are dropped), so that
    ``⟨im2col(x), cols⟩ = ⟨x, col2im(cols)⟩`` for all ``x`` and ``cols``.
    """
    n, c, h, w = x_shape
    out_h, out_w = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    if cols.shape != (n * out_h * out_w, c * kh * kw):
        raise ValueError(f"cols has shape {cols.shape}, expected {(n * out_h * out_w, c * kh * kw)} for x {x_shape}")
    rows_u = [_inside(u, out_h, stride, padding, h) for u in range(kh)]  # (output rows, input rows) per u
    cols_v = [_inside(v, out_w, stride, padding, w) for v in range(kw)]
    # Entries read from the padding are dropped: each sum below only covers the output pixels whose
    # kernel entry lands inside the image, and writes straight into the (unpadded) image.
    if cols.flags.f_contiguous and not cols.flags.c_contiguous:  # im2col's own memory order
        # fields[c, u, v] (N, out_h, out_w) holds what kernel entry (c, u, v) read: add it back where it
        # was read, one vectorised add per kernel offset. For a fixed offset the output pixels hit distinct
        # input pixels, so a strided slice += is exact; overlaps only occur across offsets, which the loop sums.
        fields = cols.T.reshape(c, kh, kw, n, out_h, out_w)
        image = np.zeros((c, n, h, w), dtype=cols.dtype)
        for u, (out_rows, in_rows) in enumerate(rows_u):
            for v, (out_cols, in_cols) in enumerate(cols_v):
                image[:, :, in_rows, in_cols] += fields[:, u, v, :, out_rows, out_cols]
        return image.transpose(1, 0, 2, 3)
    # Row-major (a product g @ W): fields[n, i, j] (C, kh, kw) is one receptive field. Sum it separably,
    # first along the width (each v shifts by v pixels) into rows (N, out_h, W, C, kh), then along the
    # height into the image (N, H, W, C): both sums read their operand in long runs of equal stride.
    # A few samples at a time, so that the partial sums stay in cache.
    fields = cols.reshape(n, out_h, out_w, c, kh, kw)
    image = np.zeros((n, h, w, c), dtype=cols.dtype)
    per_sample = out_h * out_w * c * kh * kw * cols.itemsize
    step = max(1, _CHUNK_BYTES // per_sample)
    buffer = np.empty((min(step, n), out_h, w, c, kh), dtype=cols.dtype)
    for start in range(0, n, step):
        chunk = fields[start:start + step]
        rows = buffer[:len(chunk)]
        rows.fill(0)
        for v, (out_cols, in_cols) in enumerate(cols_v):
            rows[:, :, in_cols] += chunk[:, :, out_cols, :, :, v]
        for u, (out_rows, in_rows) in enumerate(rows_u):
            image[start:start + step, in_rows] += rows[:, out_rows, :, :, u]
    return image.transpose(0, 3, 1, 2)
