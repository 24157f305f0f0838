"""normal_kernels: shape, dtype, reproducibility and the standard deviation of the Glorot rule."""

import numpy as np

from dlcore.init import normal_kernels


def test_shape_dtype_and_seed():
    w = normal_kernels(16, 8, 5, 3, np.random.default_rng(0), np.float32)
    assert w.shape == (16, 8, 5, 3) and w.dtype == np.float32
    np.testing.assert_array_equal(w, normal_kernels(16, 8, 5, 3, np.random.default_rng(0), np.float32))


def test_standard_deviation():
    c_out, c_in, k = 64, 32, 5
    w = normal_kernels(c_out, c_in, k, k, np.random.default_rng(1))
    expected = np.sqrt(2 / (c_in * k * k + c_out * k * k))
    # 51,200 samples: the sample std is within 2 % of σ with overwhelming probability.
    assert abs(w.std() / expected - 1) < 0.02
    assert abs(w.mean()) < 5 * expected / np.sqrt(w.size)  # five standard errors
