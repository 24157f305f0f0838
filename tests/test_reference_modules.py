"""The reference solutions pass the gradient check on random float64 inputs of several shapes."""

import numpy as np
import pytest

from dlcore import gradcheck

SHAPES = [(1, 1), (1, 5), (2, 3), (7, 4), (16, 10)]


@pytest.mark.parametrize("shape", SHAPES)
def test_linear(reference, shape):
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    for d_out in (1, 3):
        report = gradcheck(reference.Linear(shape[1], d_out, rng=rng), rng.standard_normal(shape))
        assert report.passed and report.max_rel_error < 1e-6, report
        assert [b.name for b in report.blocks] == ["input", "W", "b"]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ["Tanh", "SoftMax"])
def test_parameter_free_modules(reference, name, shape):
    z = np.random.default_rng(sum(shape)).standard_normal(shape) * 2
    report = gradcheck(getattr(reference, name)(), z)
    assert report.max_rel_error < 1e-6, report


@pytest.mark.parametrize("shape", SHAPES)
def test_cross_entropy(reference, shape):
    rng = np.random.default_rng(7 + sum(shape))
    y = reference.SoftMax().fprop(rng.standard_normal(shape))
    t = np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
    report = gradcheck(reference.CrossEntropy(), y, t)
    assert report.max_rel_error < 1e-6, report


def test_softmax_criterion_chain(reference):
    """SoftMax then CrossEntropy: the composite gradient is (y - t) / N."""
    rng = np.random.default_rng(3)
    z, t = rng.standard_normal((6, 10)), np.eye(10)[rng.integers(0, 10, 6)]
    softmax, criterion = reference.SoftMax(), reference.CrossEntropy()
    y = softmax.fprop(z)
    criterion.fprop(y, t)
    np.testing.assert_allclose(softmax.bprop(criterion.bprop()), (y - t) / 6, atol=1e-12)


def test_softmax_is_stable_with_large_logits(reference):
    y = reference.SoftMax().fprop(np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0]]))
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-12)


def test_large_linear_checks_on_a_subset_quickly(reference):
    rng = np.random.default_rng(0)
    report = gradcheck(reference.Linear(784, 200, rng=rng), rng.random((4, 784)), subset=20)
    assert report.max_rel_error < 1e-6, report
    assert all(b.entries_checked < b.entries_total for b in report.blocks)


def test_dtype_is_preserved(reference):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 4)).astype(np.float32)
    for module in (reference.Linear(4, 2, rng=rng, dtype=np.float32), reference.Tanh(), reference.SoftMax()):
        out = module.fprop(z)
        assert out.dtype == np.float32, type(module).__name__
        assert module.bprop(np.ones_like(out)).dtype == np.float32, type(module).__name__
        assert all(g.dtype == np.float32 for g in module.grads())
