"""Adam and weight decay against hand-computed updates, on quadratics; schedules and fit(schedule=)."""

import math

import numpy as np
import pytest
from helpers.toys import HalfSquared

import dlcore.optim as optim
from dlcore import SGD, Adam, Module, Sequential, cosine, fit, step_decay


class Params(Module):
    """A bag of parameters whose gradients the test sets by hand (no fprop needed)."""

    def __init__(self, *values, dtype=np.float64) -> None:
        self.ps = [np.array(v, dtype=dtype) for v in values]
        self.gs = [np.zeros_like(p) for p in self.ps]

    def set_grads(self, *grads) -> None:
        for g, value in zip(self.gs, grads, strict=True):
            g[...] = value

    def params(self):
        return self.ps

    def grads(self):
        return self.gs


def test_adam_first_two_steps_by_hand():
    # Two parameters, a scalar a and a 2-vector b; gradients g1 then g2; β = (0.9, 0.999).
    model = Params([1.0], [0.5, -2.0])
    a, b = model.ps
    opt = Adam(model, lr=0.1)

    model.set_grads([2.0], [-0.5, 0.0])
    opt.step()
    # t = 1: m = 0.1·g, v = 0.001·g², m̂ = g, v̂ = g², so the step is lr·g/(|g| + ε) ≈ lr·sign(g).
    np.testing.assert_allclose(a, [1.0 - 0.1 * 2.0 / (2.0 + 1e-8)], rtol=0, atol=1e-15)
    np.testing.assert_allclose(b, [0.5 + 0.1 * 0.5 / (0.5 + 1e-8), -2.0], rtol=0, atol=1e-15)

    model.set_grads([-1.0], [1.0, 3.0])
    opt.step()
    # t = 2, for a: m = 0.9·0.2 − 0.1·1 = 0.08, v = 0.999·0.004 + 0.001·1 = 0.004996,
    # m̂ = 0.08/(1 − 0.81), v̂ = 0.004996/(1 − 0.998001).
    a1 = 1.0 - 0.1 * 2.0 / (2.0 + 1e-8)
    expected_a = a1 - 0.1 * (0.08 / 0.19) / (math.sqrt(0.004996 / 0.001999) + 1e-8)
    np.testing.assert_allclose(a, [expected_a], rtol=1e-12)
    # b[1]: g1 = 0 so m = 0.1·3, v = 0.001·9; m̂ = 0.3/0.19, v̂ = 0.009/0.001999.
    expected_b1 = -2.0 - 0.1 * (0.3 / 0.19) / (math.sqrt(0.009 / 0.001999) + 1e-8)
    np.testing.assert_allclose(b[1], expected_b1, rtol=1e-12)
    assert opt.t == 2


def test_adam_is_in_place_keeps_dtype_and_leaves_grads_alone():
    model = Params(np.ones((3, 2)), np.zeros(2), dtype=np.float32)
    live = list(model.ps)
    opt = Adam(model, lr=np.float64(0.01), weight_decay=0.1)  # a float64 lr must not upcast
    model.set_grads(np.full((3, 2), 0.5), np.ones(2))
    opt.step()
    assert all(p is q for p, q in zip(model.params(), live, strict=True))
    assert all(p.dtype == np.float32 for p in model.ps + opt.m + opt.v)
    np.testing.assert_array_equal(model.gs[0], 0.5)  # the decay term is not written into grads()


def test_adam_keeps_the_moments_of_dead_weights_out_of_the_subnormals(monkeypatch):
    # A dead unit's weights get gradient 0 after a first step: their first moment shrinks by 0.9 a step
    # and, left alone, would be subnormal in float32 (slow arithmetic) after about 800 steps.
    def train(flush_every: int) -> tuple[Params, Adam]:
        monkeypatch.setattr(optim, "FLUSH_EVERY", flush_every)
        model = Params(np.linspace(-1, 1, 64), [0.3], dtype=np.float32)
        opt = Adam(model, lr=0.01)
        model.set_grads(np.linspace(1e-3, 1.0, 64), [0.5])
        opt.step()
        for step in range(1, 1000):  # the 64 weights of the first parameter are dead, the second lives
            model.set_grads(0.0, [0.5 * (-1) ** step])
            opt.step()
        return model, opt

    def subnormal(a: np.ndarray) -> bool:
        return bool(((a != 0) & (np.abs(a) < np.finfo(np.float32).tiny)).any())

    flushed, opt = train(optim.FLUSH_EVERY)
    assert not any(subnormal(m) for m in opt.m), "a first moment became subnormal"
    assert (opt.m[0] == 0).all() and opt.m[1][0] != 0
    kept, kept_opt = train(10**9)  # never flushed: the same weights, bit for bit
    assert subnormal(kept_opt.m[0]), "the case no longer reaches subnormals"
    for p, q in zip(flushed.ps, kept.ps, strict=True):
        np.testing.assert_array_equal(p, q)


def test_adam_weight_decay_is_coupled_l2():
    # One step from θ with zero loss gradient: the effective gradient is μ·θ, so the step is ≈ lr·sign(θ).
    model = Params([2.0, -3.0])
    Adam(model, lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(model.ps[0], [1.9, -2.9], rtol=1e-7)


def test_sgd_weight_decay_step_and_default_unchanged():
    model = Params([1.0, -2.0])
    model.set_grads([0.5, 0.5])
    SGD(model, lr=0.1).step()
    np.testing.assert_allclose(model.ps[0], [0.95, -2.05])
    SGD(model, lr=0.1, weight_decay=0.2).step()
    np.testing.assert_allclose(model.ps[0], [0.95 - 0.1 * (0.5 + 0.2 * 0.95), -2.05 - 0.1 * (0.5 - 0.2 * 2.05)])
    np.testing.assert_array_equal(model.gs[0], 0.5)


def minimise(opt, model, c, steps):
    """Run ``steps`` of ``opt`` on ``½‖θ − c‖²`` (gradient θ − c) and return the final θ."""
    for _ in range(steps):
        model.set_grads(model.ps[0] - c)
        opt.step()
    return model.ps[0]


@pytest.mark.parametrize("make", [lambda m: Adam(m, lr=0.05), lambda m: SGD(m, lr=0.1)])
def test_optimizers_minimise_a_quadratic(make):
    c = np.array([3.0, -1.0, 0.5])
    model = Params(np.zeros(3))
    theta = minimise(make(model), model, c, 500)
    np.testing.assert_allclose(theta, c, atol=1e-3)


@pytest.mark.parametrize("make", [lambda m: Adam(m, lr=0.05, weight_decay=1.0),
                                  lambda m: SGD(m, lr=0.1, weight_decay=1.0)])
def test_weight_decay_shrinks_the_minimum(make):
    # ½‖θ − c‖² + ½μ‖θ‖² is minimal at c/(1 + μ).
    c = np.array([3.0, -1.0, 0.5])
    model = Params(np.zeros(3))
    theta = minimise(make(model), model, c, 1000)
    np.testing.assert_allclose(theta, c / 2, atol=1e-3)


def test_step_decay_values():
    s = step_decay(0.1, 0.5, every=2)
    np.testing.assert_allclose([s(e) for e in range(1, 7)], [0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    with pytest.raises(ValueError):
        step_decay(0.1, 0.5, every=0)


def test_cosine_values():
    s = cosine(1.0, epochs=4)
    np.testing.assert_allclose([s(e) for e in range(1, 6)],
                               [1.0, (1 + math.cos(math.pi / 4)) / 2, 0.5, (1 + math.cos(3 * math.pi / 4)) / 2, 0.0],
                               atol=1e-15)
    s = cosine(0.1, epochs=10, lr_min=0.01)
    assert s(1) == pytest.approx(0.1)
    assert s(6) == pytest.approx(0.055)
    assert s(11) == s(50) == pytest.approx(0.01)
    assert all(s(e) > s(e + 1) for e in range(1, 11))


class Scale(Module):
    """``y = z·w`` per feature: ``(N, D) -> (N, D)``, one parameter ``w (D,)``."""

    def __init__(self, d):
        self.w, self.dw = np.ones(d), np.zeros(d)

    def fprop(self, z):
        self.z = z
        return z * self.w

    def bprop(self, grad_output):
        self.dw[:] = np.sum(grad_output * self.z, axis=0)
        return grad_output * self.w

    def params(self):
        return [self.w]

    def grads(self):
        return [self.dw]


class LoggedAdam(Adam):
    def __init__(self, model, **kwargs):
        super().__init__(model, **kwargs)
        self.lrs = []

    def step(self):
        self.lrs.append(self.lr)
        super().step()


def toy_problem():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3))
    return x, x * np.array([2.0, -1.0, 0.5]), np.zeros(32, dtype=int)


def test_fit_sets_lr_from_the_schedule_each_epoch():
    x, t, y = toy_problem()
    net = Sequential(Scale(3))
    opt = LoggedAdam(net, lr=123.0)
    history = fit(net, HalfSquared(), opt, x, t, x, y, epochs=4, batch_size=8, rng=np.random.default_rng(1),
                  schedule=step_decay(0.1, 0.5, every=1))
    # 4 batches per epoch, each epoch at its own rate; the first epoch never sees the initial 123.
    assert opt.lrs == [0.1] * 4 + [0.05] * 4 + [0.025] * 4 + [0.0125] * 4
    assert opt.lr == 0.0125
    assert [s.epoch for s in history] == [1, 2, 3, 4]
    assert history[-1].train_loss < history[0].train_loss


def test_fit_without_schedule_keeps_lr():
    x, t, y = toy_problem()
    net = Sequential(Scale(3))
    opt = LoggedAdam(net, lr=0.05)
    fit(net, HalfSquared(), opt, x, t, x, y, epochs=2, batch_size=16, rng=np.random.default_rng(1))
    assert opt.lrs == [0.05] * 4
