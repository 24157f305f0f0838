"""im2col against naive loops, col2im as its exact adjoint (for any memory order of its argument),
and a convolution as one matmul."""

import numpy as np
import pytest

from dlcore.im2col import col2im, conv_output_size, im2col

# (N, C, H, W, kh, kw, stride, padding): odd sizes, stride 2, padding 1, batch of 1, 1×1 kernels.
CASES = [
    (2, 3, 7, 5, 3, 3, 1, 0),
    (1, 2, 9, 8, 3, 2, 2, 1),
    (3, 1, 5, 5, 5, 5, 1, 2),
    (2, 4, 6, 7, 1, 1, 1, 0),
    (1, 3, 8, 8, 2, 2, 2, 0),   # pooling-like: no overlap
    (2, 2, 11, 6, 4, 3, 3, 1),  # stride that does not divide the padded size
    (3, 2, 9, 10, 2, 2, 3, 0),  # stride larger than the kernel: pixels no field reads
    (2, 1, 1, 3, 3, 3, 1, 1),   # a one-pixel-high image: two of the kernel's rows read only padding
    (1, 1, 2, 2, 3, 3, 2, 1),   # one output pixel, reading the padding on two sides
    (7, 3, 6, 6, 3, 3, 1, 1),   # a larger batch
]


def naive_im2col(x, kh, kw, stride, padding):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    out = np.empty((c * kh * kw, oh * ow * n), dtype=x.dtype)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                # one column per output pixel, (i, j, n) in row-major order: the samples side by side
                out[:, (i * ow + j) * n + b] = xp[b, :, i * stride:i * stride + kh, j * stride:j * stride + kw].ravel()
    return out


def naive_conv(x, weight, bias, stride, padding):
    """Cross-correlation ``(N, C, H, W) * (F, C, kh, kw) -> (N, F, oh, ow)`` by explicit sums."""
    n, c, h, w = x.shape
    f, _, kh, kw = weight.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    y = np.empty((n, f, oh, ow))
    for b in range(n):
        for k in range(f):
            for i in range(oh):
                for j in range(ow):
                    patch = xp[b, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    y[b, k, i, j] = np.sum(patch * weight[k]) + bias[k]
    return y


@pytest.mark.parametrize("case", CASES)
def test_im2col_matches_naive_loop(case):
    n, c, h, w, kh, kw, s, p = case
    x = np.random.default_rng(0).standard_normal((n, c, h, w))
    cols = im2col(x, kh, kw, s, p)
    assert cols.shape == (c * kh * kw, conv_output_size(h, kh, s, p) * conv_output_size(w, kw, s, p) * n)
    assert cols.flags.c_contiguous
    np.testing.assert_array_equal(cols, naive_im2col(x, kh, kw, s, p))


def test_column_order_by_hand():
    # Two 3×3 images, 2×2 kernels: 4 output pixels each; column (i·2 + j)·2 + n is pixel (i, j) of sample n.
    x = np.arange(18.0).reshape(2, 1, 3, 3)
    cols = im2col(x, 2, 2)
    assert cols.shape == (4, 8)
    np.testing.assert_array_equal(cols[:, 0], [0, 1, 3, 4])      # (0, 0) of sample 0
    np.testing.assert_array_equal(cols[:, 1], [9, 10, 12, 13])   # (0, 0) of sample 1
    np.testing.assert_array_equal(cols[:, 2], [1, 2, 4, 5])      # (0, 1) of sample 0
    np.testing.assert_array_equal(cols[:, 7], [13, 14, 16, 17])  # (1, 1) of sample 1


@pytest.mark.parametrize("axes", [(0, 3, 1, 2), (3, 0, 1, 2), (1, 2, 3, 0)], ids=["nhwc", "chwn", "wnch"])
def test_im2col_of_a_non_contiguous_input(axes):
    # The CNN's activations are transposed views (the convolution's output is (N, C_out, oh, ow) of a
    # (C_out, oh·ow·N) product): im2col reads any strides.
    base = np.random.default_rng(5).standard_normal((3, 4, 6, 7))
    x = np.ascontiguousarray(base.transpose(np.argsort(axes))).transpose(axes)  # the same (3, 4, 6, 7) values
    np.testing.assert_array_equal(x, base)
    assert not x.flags.c_contiguous
    np.testing.assert_array_equal(im2col(x, 3, 2, 2, 1), naive_im2col(base, 3, 2, 2, 1))


def naive_col2im(cols, x_shape, kh, kw, stride, padding):
    """The adjoint by its definition: every entry of cols added to the pixel it was read from."""
    n, c, h, w = x_shape
    oh, ow = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    xp = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                field = cols[:, (i * ow + j) * n + b].reshape(c, kh, kw)
                xp[b, :, i * stride:i * stride + kh, j * stride:j * stride + kw] += field
    return xp[:, :, padding:padding + h, padding:padding + w]


ORDERS = {  # the same matrix in memory orders a student's product can have
    "C": np.ascontiguousarray,                        # W_mᵀ @ G, and im2col's own
    "F": np.asfortranarray,                           # (Gᵀ @ W_m)ᵀ
    "strided": lambda a: np.repeat(a, 2, axis=1)[:, ::2],  # a view with gaps
}


@pytest.mark.parametrize("order", sorted(ORDERS))
@pytest.mark.parametrize("case", CASES)
def test_col2im_is_the_adjoint_of_im2col(case, order):
    n, c, h, w, kh, kw, s, p = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, c, h, w))
    y = ORDERS[order](rng.standard_normal(im2col(x, kh, kw, s, p).shape))
    back = col2im(y, x.shape, kh, kw, s, p)
    assert back.shape == x.shape
    lhs, rhs = np.vdot(im2col(x, kh, kw, s, p), y), np.vdot(x, back)
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))
    np.testing.assert_allclose(back, naive_col2im(y, x.shape, kh, kw, s, p), rtol=1e-12, atol=1e-12)
    assert not np.shares_memory(back, y)


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_col2im_counts_overlaps(order):
    # col2im of ones = how many receptive fields read each pixel.
    x_shape = (1, 1, 4, 4)
    counts = col2im(ORDERS[order](np.ones((4, 9))), x_shape, 2, 2, stride=1)
    np.testing.assert_array_equal(counts[0, 0], [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


@pytest.mark.parametrize("case", CASES)
def test_convolution_as_matmul_matches_naive(case):
    n, c, h, w, kh, kw, s, p = case
    rng = np.random.default_rng(2)
    x, weight, bias = rng.standard_normal((n, c, h, w)), rng.standard_normal((4, c, kh, kw)), rng.standard_normal(4)
    oh, ow = conv_output_size(h, kh, s, p), conv_output_size(w, kw, s, p)
    y = (weight.reshape(4, -1) @ im2col(x, kh, kw, s, p) + bias[:, None]).reshape(4, oh, ow, n).transpose(3, 0, 1, 2)
    np.testing.assert_allclose(y, naive_conv(x, weight, bias, s, p), rtol=1e-12, atol=1e-12)


def test_dtype_is_kept():
    x = np.ones((1, 1, 5, 5), dtype=np.float32)
    cols = im2col(x, 3, 3, 1, 1)
    assert cols.dtype == np.float32
    assert col2im(cols, x.shape, 3, 3, 1, 1).dtype == np.float32
    assert col2im(np.asfortranarray(cols), x.shape, 3, 3, 1, 1).dtype == np.float32


def test_im2col_returns_a_new_array():
    x = np.random.default_rng(3).standard_normal((2, 2, 5, 5))
    cols = im2col(x, 1, 1)  # 1×1 kernels: every entry is a pixel, still copied
    assert not np.shares_memory(cols, x)
    cols[...] = 0.0
    assert np.all(x != 0.0)


def test_sizes_are_checked():
    assert conv_output_size(28, 5, 1, 2) == 28
    assert conv_output_size(7, 3, 2, 1) == 4
    with pytest.raises(ValueError, match="does not fit"):
        conv_output_size(2, 5)
    with pytest.raises(ValueError, match="expected"):
        col2im(np.zeros((9, 4)), (1, 1, 5, 5), 3, 3)  # a 3×3 kernel on 5×5 has 9 output pixels, not 4
    with pytest.raises(ValueError, match="expected"):
        col2im(np.zeros((9, 9)).T[:, :8], (1, 1, 5, 5), 3, 3)  # one output pixel short
    with pytest.raises(ValueError, match="expected"):
        col2im(np.zeros((18, 9)), (2, 1, 5, 5), 3, 3)  # rows and columns swapped: (P, C·k·k)
    with pytest.raises(ValueError, match="expected"):
        col2im(np.zeros((1, 9, 3, 3)), (1, 1, 5, 5), 3, 3)  # a 4-D layout
