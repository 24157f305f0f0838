"""MaxPool2d against a naive loop over windows: values, first-max routing, overlaps, padding; both of its
ways (blocks side by side when stride == k, window offsets otherwise), for any memory order of the input."""

import numpy as np
import pytest

from dlcore import MaxPool2d, gradcheck
from dlcore.im2col import conv_output_size
from dlcore.pooling import blocks

# (N, C, H, W, k, stride, padding): side by side, overlapping (stride < k), uneven sizes, padding.
CASES = [
    (2, 3, 8, 8, 2, None, 0),
    (1, 2, 7, 9, 3, 2, 1),
    (2, 1, 6, 5, 3, 1, 0),
    (3, 2, 5, 5, 2, 1, 1),
    (1, 1, 4, 4, 1, None, 0),
    (2, 2, 9, 7, 3, 3, 0),  # a stride that leaves the last rows out
]


def naive_maxpool(z, k, stride, padding, grad_output=None):
    """Output and (if grad_output is given) input gradient, one window at a time; first max wins."""
    stride = k if stride is None else stride
    n, c, h, w = z.shape
    padded = np.pad(z, ((0, 0), (0, 0), (padding, padding), (padding, padding)), constant_values=-np.inf)
    oh, ow = conv_output_size(h, k, stride, padding), conv_output_size(w, k, stride, padding)
    out = np.empty((n, c, oh, ow), dtype=z.dtype)
    grad = np.zeros_like(padded)
    for b in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    window = padded[b, ch, i * stride:i * stride + k, j * stride:j * stride + k]
                    di, dj = np.unravel_index(np.argmax(window), window.shape)  # argmax: the first maximum
                    out[b, ch, i, j] = window[di, dj]
                    if grad_output is not None:
                        grad[b, ch, i * stride + di, j * stride + dj] += grad_output[b, ch, i, j]
    return out, grad[:, :, padding:padding + h, padding:padding + w]


def assert_matches_naive(z, k, stride, padding, rng):
    """fprop and bprop of MaxPool2d equal the naive loops on ``z``, to the last bit."""
    module = MaxPool2d(k, stride, padding)
    y = module.fprop(z)
    g = rng.standard_normal(y.shape)
    expected_y, expected_grad = naive_maxpool(z, k, stride, padding, g)
    np.testing.assert_array_equal(y, expected_y)
    np.testing.assert_allclose(module.bprop(g), expected_grad, rtol=1e-15, atol=0)


@pytest.mark.parametrize("case", CASES)
def test_against_naive_loops(case):
    n, c, h, w, k, stride, padding = case
    rng = np.random.default_rng(sum(case[:4]))
    assert_matches_naive(rng.standard_normal((n, c, h, w)), k, stride, padding, rng)


@pytest.mark.parametrize("case", CASES)
def test_ties_go_to_the_first_maximum(case):
    n, c, h, w, k, stride, padding = case
    rng = np.random.default_rng(1)
    z = np.maximum(rng.integers(-2, 2, (n, c, h, w)), 0).astype(np.float64)  # many ties, as after ReLU
    assert_matches_naive(z, k, stride, padding, rng)


# stride == k: the blocks of a reshape. (N, C, H, W, k, padding): sizes k divides, sizes it does not
# (the last rows and columns belong to no block), k = 1 and 3, padding.
BLOCK_CASES = [
    (2, 3, 8, 8, 2, 0),
    (3, 2, 7, 9, 2, 0),
    (2, 2, 9, 11, 3, 0),
    (1, 3, 5, 4, 1, 0),
    (2, 2, 7, 6, 2, 1),
    (2, 1, 10, 8, 3, 1),
    (100, 8, 28, 28, 2, 0),  # the CNN's first pooling
]
LAYOUTS = {  # the same (N, C, H, W) values in three memory orders: C order, channels last, channels first
    "nchw": lambda z: z,
    "nhwc": lambda z: np.ascontiguousarray(z.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
    "cnhw": lambda z: np.ascontiguousarray(z.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("case", BLOCK_CASES, ids=lambda c: "N{}-C{}-{}x{}-k{}-p{}".format(*c))
def test_blocks_against_naive_loops(case, ties, layout):
    n, c, h, w, k, padding = case
    rng = np.random.default_rng(sum(case))
    z = rng.standard_normal((n, c, h, w))
    if ties:  # ReLU's zeros (whole blocks of them) and equal positive values
        z = np.maximum(np.round(z), 0)
    z = LAYOUTS[layout](z)
    assert_matches_naive(z, k, k, padding, rng)
    module = MaxPool2d(k, k, padding)
    module.fprop(z)
    assert module.mask is not None and module.mask.shape == (n, c, h + 2 * padding, w + 2 * padding)
    out_h, out_w = conv_output_size(h, k, k, padding), conv_output_size(w, k, k, padding)
    # One True per block (its first maximum), none outside the blocks.
    assert np.all(blocks(module.mask, k, out_h, out_w).sum(axis=(3, 5)) == 1)
    assert module.mask.sum() == n * c * out_h * out_w


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_blocks_gradient_in_any_memory_order(layout):
    # The incoming gradient in a memory order other than the input's (Flatten's bprop gives C order).
    rng = np.random.default_rng(8)
    z = LAYOUTS["nhwc"](rng.standard_normal((3, 4, 6, 6)).astype(np.float32))
    module = MaxPool2d(2)
    y = module.fprop(z)
    g = LAYOUTS[layout](rng.standard_normal(y.shape).astype(np.float32))
    grad = module.bprop(g)
    assert grad.dtype == np.float32
    np.testing.assert_array_equal(grad, naive_maxpool(z, 2, 2, 0, g)[1])


def test_blocks_is_a_view_of_the_blocks():
    a = np.arange(2 * 3 * 5 * 7).reshape(2, 3, 5, 7).transpose(0, 1, 3, 2)  # (2, 3, 7, 5), not C order
    view = blocks(a, 2, 3, 2)
    assert view.shape == (2, 3, 3, 2, 2, 2) and np.shares_memory(view, a)
    for i, u, j, v in np.ndindex(3, 2, 2, 2):
        np.testing.assert_array_equal(view[:, :, i, u, j, v], a[:, :, 2 * i + u, 2 * j + v])
    with pytest.raises(ValueError, match="do not fit"):
        blocks(a, 2, 4, 2)


def test_tie_in_one_window_by_hand():
    z = np.array([[[[0.0, 3.0], [3.0, 3.0]]]])
    module = MaxPool2d(2)
    assert module.fprop(z).item() == 3.0
    np.testing.assert_array_equal(module.bprop(np.array([[[[5.0]]]])), [[[[0.0, 5.0], [0.0, 0.0]]]])


def test_overlapping_windows_sum_their_gradients():
    # The centre of a 3×3 image is the maximum of all four 2×2 windows at stride 1.
    z = np.zeros((1, 1, 3, 3))
    z[0, 0, 1, 1] = 1.0
    module = MaxPool2d(2, stride=1)
    np.testing.assert_array_equal(module.fprop(z), np.ones((1, 1, 2, 2)))
    grad = module.bprop(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    assert grad[0, 0, 1, 1] == 10.0 and grad.sum() == 10.0


def test_padding_is_never_the_maximum():
    z = -1 - np.random.default_rng(2).random((1, 1, 4, 4))  # all negative: zero padding would win
    module = MaxPool2d(3, stride=2, padding=1)
    y = module.fprop(z)
    assert y.shape == (1, 1, 2, 2)
    assert np.all(y < -1)
    np.testing.assert_array_equal(y, naive_maxpool(z, 3, 2, 1)[0])
    grad = module.bprop(np.ones_like(y))
    assert grad.shape == z.shape and grad.sum() == 4.0


def test_too_much_padding_is_refused():
    with pytest.raises(ValueError, match="padding"):
        MaxPool2d(2, padding=2)


@pytest.mark.parametrize("case", CASES)
def test_gradcheck(case):
    n, c, h, w, k, stride, padding = case
    # Distinct values well apart, so no finite-difference step changes which pixel is the maximum.
    z = np.random.default_rng(3).permutation(n * c * h * w).reshape(n, c, h, w) * 0.1
    report = gradcheck(MaxPool2d(k, stride, padding), z)
    assert report.passed, report


def test_input_not_modified_output_not_a_view_dtype_kept():
    z = np.random.default_rng(4).standard_normal((2, 2, 4, 4)).astype(np.float32)
    before = z.copy()
    for k, stride, padding in [(2, None, 0), (1, None, 0), (3, 1, 1)]:
        module = MaxPool2d(k, stride, padding)
        y = module.fprop(z)
        grad = module.bprop(np.ones_like(y))
        assert y.dtype == np.float32 and grad.dtype == np.float32
        assert not np.shares_memory(y, z)
        y[...] = 100.0
        np.testing.assert_array_equal(z, before)


def test_no_input_grad_returns_none():
    module = MaxPool2d(2)
    y = module.fprop(np.ones((1, 1, 4, 4)))
    module.input_grad = False
    assert module.bprop(np.ones_like(y)) is None
