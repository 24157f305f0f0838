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


# Part 4 (bonus): ReLU, Dropout, Momentum, Conv2d and build_cnn from solutions/04_cnn.ipynb.


@pytest.mark.parametrize("shape", [(2, 3), (7, 4), (2, 3, 4, 5)])
def test_relu(reference, shape):
    rng = np.random.default_rng(sum(shape))
    z = rng.standard_normal(shape)
    z[np.abs(z) < 1e-3] = 0.5  # away from the kink, where finite differences straddle it
    module = reference.ReLU()
    np.testing.assert_array_equal(module.fprop(z), np.maximum(z, 0))
    g = rng.standard_normal(shape)
    np.testing.assert_array_equal(module.bprop(g), np.where(z > 0, g, 0))
    assert gradcheck(reference.ReLU(), z).max_rel_error < 1e-6


def test_relu_gradient_at_zero_is_zero(reference):
    module = reference.ReLU()
    module.fprop(np.array([[0.0, -0.0, 1.0]]))
    np.testing.assert_array_equal(module.bprop(np.ones((1, 3))), [[0.0, 0.0, 1.0]])


def test_dropout_train_mode(reference):
    module = reference.Dropout(0.3, rng=np.random.default_rng(0))
    z = np.random.default_rng(1).standard_normal((400, 50)).astype(np.float32)
    y = module.fprop(z)
    assert y.dtype == np.float32
    dropped = y == 0
    assert abs(dropped.mean() - 0.3) < 0.01
    np.testing.assert_allclose(y[~dropped], z[~dropped] / np.float32(0.7), rtol=1e-6)
    g = np.ones_like(z)
    grad = module.bprop(g)
    assert grad.dtype == np.float32
    np.testing.assert_array_equal(grad == 0, dropped)  # the mask of the last fprop
    assert abs(float(y.mean()) - float(z.mean())) < 0.02  # inverted dropout keeps the expectation
    second = module.fprop(z)
    assert not np.array_equal(second == 0, dropped), "each fprop draws a new mask"


def test_dropout_eval_mode_and_p_zero_are_the_identity(reference):
    z = np.random.default_rng(2).standard_normal((5, 6))
    for module in (reference.Dropout(0.5, rng=np.random.default_rng(0)).eval(), reference.Dropout(0.0)):
        np.testing.assert_array_equal(module.fprop(z), z)
        np.testing.assert_array_equal(module.bprop(2 * z), 2 * z)
    with pytest.raises(ValueError):
        reference.Dropout(1.0)


def test_dropout_gradcheck_in_eval_mode(reference):
    assert gradcheck(reference.Dropout(0.5).eval(), np.random.default_rng(3).standard_normal((3, 4))).passed


class _Bag:
    """Parameters with gradients set by the test."""

    def __init__(self, *params):
        self.ps = [np.array(p) for p in params]
        self.gs = [np.zeros_like(p) for p in self.ps]

    def params(self):
        return self.ps

    def grads(self):
        return self.gs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_momentum_against_the_formula(reference, dtype):
    rng = np.random.default_rng(4)
    model = _Bag(rng.standard_normal((3, 2)).astype(dtype), rng.standard_normal(2).astype(dtype))
    live = list(model.ps)
    expected = [p.astype(np.float64) for p in model.ps]
    velocity = [np.zeros_like(p) for p in expected]
    optimizer = reference.Momentum(model, lr=0.05, momentum=0.8)
    for _ in range(5):
        grads = [rng.standard_normal(p.shape) for p in model.ps]
        for g, value in zip(model.gs, grads, strict=True):
            g[...] = value
        optimizer.step()
        for i, g in enumerate(grads):
            velocity[i] = 0.8 * velocity[i] + g.astype(dtype)
            expected[i] = expected[i] - 0.05 * velocity[i]
    for p, q, e in zip(model.ps, live, expected, strict=True):
        assert p is q and p.dtype == dtype  # updated in place, dtype kept
        np.testing.assert_allclose(p, e, rtol=1e-5 if dtype == np.float32 else 1e-12)


def naive_conv2d(x, W, b, stride, padding):
    n, _, h, w = x.shape
    c_out, _, k, _ = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    y = np.empty((n, c_out, oh, ow))
    for s in range(n):
        for o in range(c_out):
            for i in range(oh):
                for j in range(ow):
                    y[s, o, i, j] = np.sum(xp[s, :, i * stride:i * stride + k, j * stride:j * stride + k] * W[o]) + b[o]
    return y


CONV_CASES = [(2, 3, 3, 1, 0, (2, 7, 6)), (1, 2, 3, 2, 1, (1, 5, 5)), (3, 1, 5, 1, 2, (2, 8, 8)),
              (2, 4, 1, 1, 0, (3, 4, 5)), (2, 2, 4, 3, 1, (1, 9, 7))]  # (c_in, c_out, k, stride, padding, (N, H, W))


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_against_naive_loops_and_gradcheck(reference, case):
    c_in, c_out, k, stride, padding, (n, h, w) = case
    rng = np.random.default_rng(c_in * 10 + k)
    conv = reference.Conv2d(c_in, c_out, k, stride, padding, rng=rng)
    conv.b = rng.standard_normal(c_out)
    x = rng.standard_normal((n, c_in, h, w))
    assert conv.W.shape == (c_out, c_in, k, k) and conv.b.shape == (c_out,)
    np.testing.assert_allclose(conv.fprop(x), naive_conv2d(x, conv.W, conv.b, stride, padding), atol=1e-12)
    report = gradcheck(conv, x)
    assert report.max_rel_error < 1e-6, report
    assert [b.name for b in report.blocks] == ["input", "W", "b"]


def test_conv2d_gradients_are_overwritten_and_input_grad_can_be_skipped(reference):
    rng = np.random.default_rng(5)
    conv = reference.Conv2d(2, 3, 3, padding=1, rng=rng)
    x, g = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((2, 3, 5, 5))
    conv.fprop(x)
    first = conv.bprop(g)
    grads = [q.copy() for q in conv.grads()]
    conv.fprop(x)
    conv.input_grad = False
    assert conv.bprop(g) is None
    for q, expected in zip(conv.grads(), grads, strict=True):
        np.testing.assert_allclose(q, expected, rtol=1e-12)  # the same, not doubled
    assert first.shape == x.shape


def test_conv2d_keeps_float32(reference):
    rng = np.random.default_rng(6)
    conv = reference.Conv2d(1, 2, 3, rng=rng, dtype=np.float32)
    y = conv.fprop(rng.standard_normal((2, 1, 5, 5)).astype(np.float32))
    assert y.dtype == np.float32
    assert conv.bprop(np.ones_like(y)).dtype == np.float32
    assert all(q.dtype == np.float32 for q in (*conv.params(), *conv.grads()))


def test_build_cnn(reference):
    rng = np.random.default_rng(7)
    model = reference.build_cnn(rng, np.float32)
    x = rng.random((3, 784), dtype=np.float32)
    y = model.fprop(x)
    assert y.shape == (3, 10) and y.dtype == np.float32
    np.testing.assert_allclose(np.exp(y).sum(axis=1), 1, rtol=1e-5)  # log-probabilities
    assert model.bprop(np.ones_like(y)).shape == x.shape
    assert sum(p.size for p in model.params()) == 8 * 25 + 8 + 16 * 8 * 25 + 16 + 784 * 128 + 128 + 128 * 10 + 10
