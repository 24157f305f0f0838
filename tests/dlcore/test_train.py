"""The training loop: SGD's update, and a few epochs of the reference on real MNIST."""

import numpy as np
import pytest

from dlcore import SGD, Sequential, count_errors, fit
from dlcore.data import one_hot
from dlcore.models import MissingModuleError, build_model


def test_sgd_step_is_theta_minus_lr_grad(reference):
    rng = np.random.default_rng(0)
    layer = reference.Linear(3, 2, rng=rng)
    z, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    w, b = layer.W.copy(), layer.b.copy()
    layer.fprop(z)
    layer.bprop(g)
    SGD(Sequential(layer), lr=0.5).step()
    np.testing.assert_allclose(layer.W, w - 0.5 * z.T @ g)
    np.testing.assert_allclose(layer.b, b - 0.5 * g.sum(axis=0))


def test_training_is_deterministic_under_a_seed(reference):
    rng = np.random.default_rng(1)
    x = rng.random((64, 784)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    runs = []
    for _ in range(2):
        model, criterion = build_model("mlp", reference, np.random.default_rng(5), np.float32)
        history = fit(model, criterion, SGD(model, 0.1), x, one_hot(y), x, y, epochs=2, batch_size=16,
                      rng=np.random.default_rng(6))
        runs.append([(s.train_loss, s.test_errors) for s in history])
    assert runs[0] == runs[1]


def test_missing_class_is_named(reference):
    import types

    impl = types.SimpleNamespace(Linear=reference.Linear, SoftMax=reference.SoftMax)
    with pytest.raises(MissingModuleError, match="Tanh, CrossEntropy"):
        build_model("mlp", impl, np.random.default_rng(0))


@pytest.mark.mnist
@pytest.mark.parametrize("name", ["linear", "mlp"])
def test_a_few_epochs_lower_loss_and_errors(reference, mnist, name):
    rng = np.random.default_rng(0)
    model, criterion = build_model(name, reference, rng, np.float32)
    before = count_errors(model, mnist.x_test, mnist.y_test)
    history = fit(model, criterion, SGD(model, 0.1), mnist.x_train, one_hot(mnist.y_train), mnist.x_test,
                  mnist.y_test, epochs=3, batch_size=100, rng=rng)
    losses = [s.train_loss for s in history]
    errors = [s.test_errors for s in history]
    assert before > 5000, "an untrained model is right about one time in ten"
    assert losses[0] > losses[1] > losses[2]
    assert errors[-1] < errors[0] < before
    assert errors[-1] < {"linear": 950, "mlp": 750}[name]
    assert all(s.seconds > 0 for s in history)
