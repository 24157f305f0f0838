"""Sigmoid: the logistic function without overflow, its derivative y·(1 − y), dtypes kept."""

import warnings

import numpy as np
import pytest

from dlcore import Sigmoid, gradcheck


def test_values_match_the_formula():
    z = np.linspace(-30, 30, 61).reshape(1, -1)
    np.testing.assert_allclose(Sigmoid().fprop(z), 1 / (1 + np.exp(-z)), rtol=1e-14, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_at_plus_minus_1000(dtype):
    z = np.array([[-1000.0, -100.0, 0.0, 100.0, 1000.0]], dtype=dtype)
    module = Sigmoid()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in exp would warn
        y = module.fprop(z)
        g = module.bprop(np.ones_like(z))
    assert y.dtype == dtype and g.dtype == dtype
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(g))
    np.testing.assert_array_equal(y[0, [0, 2, 4]], [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(g[0, [0, 4]], [0.0, 0.0])
    assert g[0, 2] == 0.25


def test_gradcheck_any_shape():
    rng = np.random.default_rng(0)
    for shape in [(3, 4), (2, 3, 4, 5)]:
        report = gradcheck(Sigmoid(), rng.standard_normal(shape) * 3)
        assert report.passed, report


def test_input_not_modified():
    z = np.random.default_rng(1).standard_normal((4, 3))
    before = z.copy()
    module = Sigmoid()
    module.fprop(z)
    module.bprop(np.ones_like(z))
    np.testing.assert_array_equal(z, before)
