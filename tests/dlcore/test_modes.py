"""Train/eval mode: Module.train()/eval(), Sequential passes it on, evaluation runs in eval mode."""

import numpy as np
import pytest
from helpers.toys import HalfSquared

from dlcore import SGD, Module, Sequential, count_errors, fit, predict


class Recorder(Module):
    """Identity that remembers the mode of every fprop, and has one (unused) parameter."""

    def __init__(self) -> None:
        self.seen: list[bool] = []
        self.w, self.dw = np.zeros(1), np.zeros(1)

    def fprop(self, z):
        self.seen.append(self.training)
        return z

    def bprop(self, grad_output):
        self.dw[:] = 0.0
        return grad_output

    def params(self):
        return [self.w]

    def grads(self):
        return [self.dw]


def test_modules_start_in_train_mode_and_switch():
    m = Recorder()
    assert m.training is True
    assert m.eval() is m and m.training is False
    assert m.train() is m and m.training is True
    assert m.train(False).training is False
    assert Recorder().training is True, "the mode is per instance"


def test_sequential_propagates_to_nested_children():
    inner = Sequential(Recorder(), Recorder())
    net = Sequential(Recorder(), inner)
    assert net.eval() is net
    assert not net.training and not inner.training and not any(m.training for m in inner)
    assert not net[0].training
    net.train()
    assert net.training and all(m.training for m in inner) and net[0].training


def test_sequential_tolerates_children_without_modes():
    class Bare:  # duck-typed module, not a Module subclass
        def fprop(self, z):
            return z

    net = Sequential(Bare(), Recorder())
    net.eval()
    assert not net[1].training


@pytest.mark.parametrize("before", [True, False])
def test_predict_and_count_errors_evaluate_in_eval_mode_and_restore(before):
    rec = Recorder()
    net = Sequential(rec).train(before)
    x = np.eye(3)
    np.testing.assert_array_equal(predict(net, x, batch_size=2), [0, 1, 2])
    assert count_errors(net, x, np.array([0, 1, 0])) == 1
    assert rec.seen and not any(rec.seen)
    assert net.training is before and rec.training is before


def test_mode_is_restored_when_evaluation_fails():
    class Boom(Recorder):
        def fprop(self, z):
            raise RuntimeError("boom")

    net = Sequential(Boom())
    with pytest.raises(RuntimeError):
        predict(net, np.eye(2))
    assert net.training and net[0].training


def test_fit_trains_in_train_mode_and_evaluates_in_eval_mode():
    rec = Recorder()
    net = Sequential(rec).eval()  # fit must switch it back on
    x = np.eye(4)
    fit(net, HalfSquared(), SGD(net, 0.1), x, x, x, np.arange(4), epochs=2, batch_size=2,
        rng=np.random.default_rng(0))
    # Per epoch: 2 training batches in train mode, then one evaluation batch in eval mode.
    assert rec.seen == [True, True, False] * 2
    assert net.training
