"""im2col against naive loops, col2im as its exact adjoint, and a convolution as one matmul."""

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
]


def naive_im2col(x, kh, kw, stride, padding):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    out = np.empty((n, oh, ow, c * kh * kw), dtype=x.dtype)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                out[b, i, j] = xp[b, :, i * stride:i * stride + kh, j * stride:j * stride + kw].ravel()
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
    assert cols.shape == (n, conv_output_size(h, kh, s, p), conv_output_size(w, kw, s, p), c * kh * kw)
    np.testing.assert_array_equal(cols, naive_im2col(x, kh, kw, s, p))


@pytest.mark.parametrize("case", CASES)
def test_col2im_is_the_adjoint_of_im2col(case):
    n, c, h, w, kh, kw, s, p = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, c, h, w))
    y = rng.standard_normal(im2col(x, kh, kw, s, p).shape)
    back = col2im(y, x.shape, kh, kw, s, p)
    assert back.shape == x.shape
    lhs, rhs = np.vdot(im2col(x, kh, kw, s, p), y), np.vdot(x, back)
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))


def test_col2im_counts_overlaps():
    # col2im of ones = how many receptive fields read each pixel.
    x_shape = (1, 1, 4, 4)
    counts = col2im(np.ones((1, 3, 3, 4)), x_shape, 2, 2, stride=1)
    np.testing.assert_array_equal(counts[0, 0], [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


@pytest.mark.parametrize("case", CASES)
def test_convolution_as_matmul_matches_naive(case):
    n, c, h, w, kh, kw, s, p = case
    rng = np.random.default_rng(2)
    x, weight, bias = rng.standard_normal((n, c, h, w)), rng.standard_normal((4, c, kh, kw)), rng.standard_normal(4)
    y = (im2col(x, kh, kw, s, p) @ weight.reshape(4, -1).T + bias).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(y, naive_conv(x, weight, bias, s, p), rtol=1e-12, atol=1e-12)


def test_dtype_is_kept():
    x = np.ones((1, 1, 5, 5), dtype=np.float32)
    cols = im2col(x, 3, 3, 1, 1)
    assert cols.dtype == np.float32
    assert col2im(cols, x.shape, 3, 3, 1, 1).dtype == np.float32


def test_sizes_are_checked():
    assert conv_output_size(28, 5, 1, 2) == 28
    assert conv_output_size(7, 3, 2, 1) == 4
    with pytest.raises(ValueError, match="does not fit"):
        conv_output_size(2, 5)
    with pytest.raises(ValueError, match="expected"):
        col2im(np.zeros((1, 2, 2, 9)), (1, 1, 5, 5), 3, 3)
