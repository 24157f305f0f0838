"""Flatten and Reshape: shapes, round trips, gradients, and input_grad = False."""

import numpy as np

from dlcore import Flatten, Reshape, gradcheck


def test_flatten_round_trip():
    z = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    module = Flatten()
    y = module.fprop(z)
    assert y.shape == (2, 60) and y.dtype == np.float32
    np.testing.assert_array_equal(y[1], z[1].ravel())
    np.testing.assert_array_equal(module.bprop(y), z)


def test_reshape_round_trip():
    x = np.random.default_rng(0).random((3, 784))
    module = Reshape(1, 28, 28)
    images = module.fprop(x)
    assert images.shape == (3, 1, 28, 28)
    np.testing.assert_array_equal(images[2, 0, 5], x[2, 5 * 28:6 * 28])  # row-major pixels
    np.testing.assert_array_equal(module.bprop(images), x)
    np.testing.assert_array_equal(Flatten().fprop(images), x)


def test_gradcheck():
    rng = np.random.default_rng(1)
    assert gradcheck(Flatten(), rng.standard_normal((2, 3, 2, 2))).passed
    assert gradcheck(Reshape(2, 3), rng.standard_normal((4, 6))).passed


def test_no_input_grad_returns_none():
    for module, z in [(Flatten(), np.ones((2, 3, 4))), (Reshape(3, 2), np.ones((2, 6)))]:
        y = module.fprop(z)
        module.input_grad = False
        assert module.bprop(np.ones_like(y)) is None
