"""LogSoftMax and NLLLoss: values against the naive formulas, stability, gradients, dtypes."""

import warnings

import numpy as np
import pytest

from dlcore import LogSoftMax, NLLLoss, gradcheck


def naive_log_softmax(z):
    e = np.exp(z)
    return np.log(e / e.sum(axis=1, keepdims=True))


def one_hot(labels, c):
    return np.eye(c)[labels]


def test_values_match_the_naive_formula():
    z = np.random.default_rng(0).standard_normal((6, 10)) * 5
    np.testing.assert_allclose(LogSoftMax().fprop(z), naive_log_softmax(z), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logits_of_plus_minus_1000_stay_finite(dtype):
    z = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0], [1000.0, 1000.0, -1000.0]], dtype=dtype)
    module = LogSoftMax()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = module.fprop(z)
        g = module.bprop(np.ones_like(y))
    assert y.dtype == dtype and g.dtype == dtype
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(g))
    np.testing.assert_allclose(y[0], [0.0, -1000.0, -2000.0], atol=1e-12)
    np.testing.assert_allclose(y[1], np.full(3, -np.log(3)), rtol=1e-6)
    np.testing.assert_allclose(y[2], [-np.log(2), -np.log(2), -2000 - np.log(2)], rtol=1e-6)


@pytest.mark.parametrize("shape", [(1, 2), (3, 5), (8, 10)])
def test_log_softmax_gradcheck(shape):
    z = np.random.default_rng(sum(shape)).standard_normal(shape) * 3
    report = gradcheck(LogSoftMax(), z)
    assert report.passed, report


def test_nll_value_and_gradient():
    rng = np.random.default_rng(1)
    y = LogSoftMax().fprop(rng.standard_normal((5, 4)))
    labels = rng.integers(0, 4, 5)
    t = one_hot(labels, 4)
    criterion = NLLLoss()
    cost = criterion.fprop(y, t)
    assert isinstance(cost, float)
    assert cost == pytest.approx(-np.mean(y[np.arange(5), labels]), rel=1e-14)
    np.testing.assert_array_equal(criterion.bprop(), -t / 5)
    assert gradcheck(NLLLoss(), y, t).passed


def test_nll_gradient_takes_the_dtype_of_the_log_probabilities():
    y = np.log(np.full((2, 3), 1 / 3, dtype=np.float32))
    criterion = NLLLoss()
    criterion.fprop(y, one_hot([0, 2], 3))  # float64 targets
    assert criterion.bprop().dtype == np.float32


def test_log_softmax_then_nll_gradient_is_softmax_minus_t_over_n():
    rng = np.random.default_rng(2)
    z, t = rng.standard_normal((6, 10)), one_hot(rng.integers(0, 10, 6), 10)
    module, criterion = LogSoftMax(), NLLLoss()
    criterion.fprop(module.fprop(z), t)
    softmax = np.exp(naive_log_softmax(z))
    np.testing.assert_allclose(module.bprop(criterion.bprop()), (softmax - t) / 6, atol=1e-15)
