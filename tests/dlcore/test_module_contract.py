"""Every reference module keeps the contract of dlcore.module."""

import numpy as np
import pytest

from dlcore import gradcheck


@pytest.fixture
def modules(reference):
    rng = np.random.default_rng(0)
    return [reference.Linear(5, 3, rng=rng), reference.Tanh(), reference.SoftMax()]


def test_params_and_grads_are_aligned(modules):
    for module in modules:
        z = np.random.default_rng(1).standard_normal((4, 5))
        out = module.fprop(z)
        module.bprop(np.ones_like(out))
        params, grads = module.params(), module.grads()
        assert len(params) == len(grads)
        assert all(p.shape == g.shape for p, g in zip(params, grads, strict=True))


def test_gradients_are_overwritten_not_accumulated(reference):
    rng = np.random.default_rng(2)
    layer = reference.Linear(5, 3, rng=rng)
    z, g = rng.standard_normal((4, 5)), rng.standard_normal((4, 3))
    layer.fprop(z)
    layer.bprop(g)
    first = [x.copy() for x in layer.grads()]
    layer.fprop(z)
    layer.bprop(g)
    for a, b in zip(first, layer.grads(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_inputs_are_not_modified(modules):
    rng = np.random.default_rng(3)
    for module in modules:
        z = rng.standard_normal((4, 5))
        z_copy = z.copy()
        out = module.fprop(z)
        g = rng.standard_normal(out.shape)
        g_copy = g.copy()
        module.bprop(g)
        np.testing.assert_array_equal(z, z_copy)
        np.testing.assert_array_equal(g, g_copy)


def test_cache_is_per_call(reference):
    """bprop uses the input of the last fprop, not of an earlier one."""
    rng = np.random.default_rng(4)
    layer = reference.Linear(5, 3, rng=rng)
    z1, z2, g = rng.standard_normal((4, 5)), rng.standard_normal((2, 5)), rng.standard_normal((2, 3))
    layer.fprop(z1)
    layer.fprop(z2)
    layer.bprop(g)
    np.testing.assert_allclose(layer.grads()[0], z2.T @ g)


def test_initialisation_follows_the_seed(reference):
    a = reference.Linear(784, 200, rng=np.random.default_rng(5))
    b = reference.Linear(784, 200, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.W, b.W)
    assert not a.b.any()
    assert abs(a.W.std() - np.sqrt(2 / (784 + 200))) < 0.002
    assert abs(a.W.mean()) < 0.001


def test_sequential_chains_and_collects(reference):
    from dlcore import Sequential

    rng = np.random.default_rng(6)
    net = Sequential(reference.Linear(4, 6, rng=rng), reference.Tanh(), reference.Linear(6, 3, rng=rng),
                     reference.SoftMax())
    assert len(net.params()) == 4 and len(net.grads()) == 4
    report = gradcheck(net, rng.standard_normal((3, 4)))
    assert report.max_rel_error < 1e-6, report
    assert [b.name for b in report.blocks] == ["input", "params()[0]", "params()[1]", "params()[2]",
                                               "params()[3]"]


def test_input_grad_off_skips_only_the_input_gradient(reference):
    """With input_grad False (the data needs no gradient) the parameter gradients are unchanged."""
    from dlcore.models import build_model

    rng = np.random.default_rng(7)
    x, t = rng.random((5, 784)), np.eye(10)[rng.integers(0, 10, 5)]
    model, criterion = build_model("mlp", reference, np.random.default_rng(8), np.float64)
    assert model.input_grad is False and model[0].input_grad is False and model[2].input_grad is True
    criterion.fprop(model.fprop(x), t)
    assert model.bprop(criterion.bprop()) is None
    skipped = [g.copy() for g in model.grads()]
    model.input_grad = True
    criterion.fprop(model.fprop(x), t)
    assert model.bprop(criterion.bprop()).shape == x.shape
    for a, b in zip(skipped, model.grads(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_gradcheck_switches_input_grad_on_and_back(reference):
    from dlcore.models import build_model

    model, _ = build_model("linear", reference, np.random.default_rng(9), np.float64)
    report = gradcheck(model, np.random.default_rng(10).random((2, 784)), subset=5)
    assert report.passed, report
    assert model.input_grad is False
