"""im2col / col2im: convolution as one matrix product, without loops over pixels.

Layout. ``x`` is ``(N, C, H, W)``. ``im2col`` returns the matrix ``X_c`` of shape
``(C·kh·kw, out_h·out_w·N)``, **one column per output pixel**: column ``(i·out_w + j)·N + n`` is the
receptive field of output pixel ``(i, j)`` of sample ``n``, that is
``x_padded[n, :, i·s : i·s + kh, j·s : j·s + kw]`` flattened in ``(c, u, v)`` order, the order of
``weight.reshape(C_out, C·kh·kw)`` for a weight of shape ``(C_out, C, kh, kw)``. The columns go
position by position, and at each position through the N samples of the batch: the order in which
a reshape ``(out_h, out_w, N)`` lists them. A convolution (cross-correlation, as in every
framework) is then one matrix product, a ``Linear`` layer applied to every column::

    X_c = im2col(x, kh, kw, stride, padding)                      # (C·kh·kw, oh·ow·N)
    Y = weight.reshape(C_out, -1) @ X_c + bias[:, None]           # (C_out, oh·ow·N)
    y = Y.reshape(C_out, oh, ow, N).transpose(3, 0, 1, 2)         # (N, C_out, oh, ow)

and its backward pass uses ``col2im``, the adjoint (transpose) of ``im2col``: it adds each column
back onto the pixels it was read from, *summing* where receptive fields overlap::

    G = grad_y.transpose(1, 2, 3, 0).reshape(C_out, -1)           # (C_out, oh·ow·N), columns as X_c's
    grad_weight = (G @ X_c.T).reshape(weight.shape)
    grad_bias = G.sum(axis=1)
    grad_x = col2im(weight.reshape(C_out, -1).T @ G, x.shape, kh, kw, stride, padding)   # (N, C, H, W)

Why the samples go last (speed only; the values do not depend on it). With the N samples of an
output pixel side by side, a row of ``X_c`` holds, for one kernel entry ``(c, u, v)``, runs of
``out_w·N`` numbers that lie side by side in the (channel-first, batch-last) input too: ``im2col``
is a copy of long runs, ``col2im`` a sum of long runs, and the product ``Y`` lies in memory as
``(C_out, out_h, out_w, N)``: the ReLU, the max pooling and the next ``im2col`` that follow a
convolution read it in long runs as well, where NumPy is fast. (With the samples first, those
runs are a dozen numbers long and the CNN trains about 1.5 times slower.)

``im2col`` returns a new C-contiguous array. ``col2im`` accepts any memory order of its argument
(fastest in C order, which ``W_mᵀ @ G`` has); the image it returns is a view ``(N, C, H, W)`` of a
new ``(C, H, W, N)`` array: its values never alias the argument.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def conv_output_size(size: int, k: int, stride: int = 1, padding: int = 0) -> int:
    """Output length along one axis: ``⌊(size + 2·padding − k) / stride⌋ + 1``."""
    if k < 1 or stride < 1 or padding < 0:
        raise ValueError(f"need k >= 1, stride >= 1, padding >= 0; got k={k}, stride={stride}, padding={padding}")
    out = (size + 2 * padding - k) // stride + 1
    if out < 1:
        raise ValueError(f"a kernel of {k} does not fit in {size} (+ 2·{padding} padding)")
    return out


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
    """Receptive fields of ``x (N, C, H, W)`` as columns: ``(C·kh·kw, out_h·out_w·N)``, a new array.

    Zero padding of ``padding`` pixels on each side of H and W; see the module docstring for the
    order of the columns and of the entries of a column.
    """
    n, c, h, w = x.shape
    out_h, out_w = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    p = padding
    # The input channel-first, batch-last and zero-padded, (C, H + 2p, W + 2p, N): a copy kh·kw
    # times smaller than X_c, in which a row of output pixels and its N samples are one run.
    xt = np.zeros((c, h + 2 * p, w + 2 * p, n), dtype=x.dtype)
    xt[:, p:p + h, p:p + w] = x.transpose(1, 2, 3, 0)
    # (C, kh, kw, out_h, out_w, N): entry (c, u, v, i, j, n) is xt[c, i·s + u, j·s + v, n], the pixel under
    # kernel entry (c, u, v) for output pixel (i, j) of sample n. A strided view (nothing copied yet),
    # then one copy: at stride 1 each (c, u, v, i) is a single run of out_w·N numbers.
    sc, sh, sw, sn = xt.strides
    fields = as_strided(xt, (c, kh, kw, out_h, out_w, n), (sc, sh, sw, stride * sh, stride * sw, sn),
                        writeable=False)
    return np.array(fields, order="C").reshape(c * kh * kw, out_h * out_w * n)


def col2im(cols: np.ndarray, x_shape: tuple[int, int, int, int], kh: int, kw: int, stride: int = 1,
           padding: int = 0) -> np.ndarray:
    """Adjoint of :func:`im2col`: ``cols (C·kh·kw, out_h·out_w·N) -> (N, C, H, W)``, a new array.

    Every entry of ``cols`` is added to the pixel of ``x`` it was read from (overlapping
    receptive fields sum; entries read from the zero padding are dropped), so that
    ``⟨im2col(x), cols⟩ = ⟨x, col2im(cols)⟩`` for all ``x`` and ``cols``.
    """
    n, c, h, w = x_shape
    out_h, out_w = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    if cols.shape != (c * kh * kw, out_h * out_w * n):
        raise ValueError(f"cols has shape {cols.shape}, expected {(c * kh * kw, out_h * out_w * n)} "
                         f"(C·kh·kw, out_h·out_w·N) for x {x_shape}")
    # fields[c, u, v] (out_h, out_w, N) holds what kernel entry (c, u, v) read, for every output pixel
    # and sample (a view, whatever the memory order of cols). Add it back where it was read, one
    # vectorised add per kernel offset (u, v): for a fixed offset the output pixels read distinct input
    # pixels, so a strided slice += is exact; overlaps only occur across offsets, which the loop sums.
    # Entries read from the padding are dropped: each add covers only the output pixels whose kernel
    # entry lands inside the image, and writes straight into the (unpadded) image.
    fields = cols.reshape(c, kh, kw, out_h, out_w, n)
    image = np.zeros((c, h, w, n), dtype=cols.dtype)
    cols_v = [_inside(v, out_w, stride, padding, w) for v in range(kw)]  # (output cols, input cols) per v
    for u in range(kh):
        out_rows, in_rows = _inside(u, out_h, stride, padding, h)
        for v, (out_cols, in_cols) in enumerate(cols_v):
            image[:, in_rows, in_cols] += fields[:, u, v, out_rows, out_cols]
    return image.transpose(3, 0, 1, 2)
