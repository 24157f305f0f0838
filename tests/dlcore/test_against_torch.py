"""Cross-check against PyTorch's autograd: forward values and vector-Jacobian products.

Every module is run in float64 on random inputs; its ``bprop`` of a random ``grad_output`` must
equal ``torch.autograd``'s vector-Jacobian product of the same function, for the input and for
every parameter. The optimizers are compared with ``torch.optim`` step by step, fed the same
gradients. Independent of our own gradient checker, this catches errors that a finite-difference
check shares with the module (a wrong convention, say, that fprop and bprop agree on).

PyTorch is not a requirement of the course (students must not download it): without it this file
is skipped, unless ``DLCORE_REQUIRE_TORCH=1`` (set in CI by .ci/run), which turns the skip into a failure.
"""


import numpy as np
import pytest
from helpers import require_torch

from dlcore import SGD, Adam, Flatten, LogSoftMax, MaxPool2d, NLLLoss, Reshape, Sigmoid
from dlcore.models import build_model

torch = require_torch()
import torch.nn.functional as F  # noqa: E402  (only once torch is known to import)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # torch's own deprecation notices


def t64(a):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def compare_module(module, x, torch_fn, rng, rtol=1e-10, atol=1e-12):
    """fprop vs torch_fn(x, *params) and bprop(g) vs the VJP g·J, for the input and every parameter."""
    y = module.fprop(x)
    g = rng.standard_normal(y.shape)
    grad_x = module.bprop(g.copy())
    grads = [np.array(q) for q in module.grads()]

    xt = t64(x)
    params_t = [t64(p) for p in module.params()]
    yt = torch_fn(xt, *params_t)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=rtol, atol=atol, err_msg="fprop")
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=rtol, atol=atol, err_msg="grad of the input")
    assert len(grads) == len(params_t)
    for i, (q, pt) in enumerate(zip(grads, params_t, strict=True)):
        np.testing.assert_allclose(q, pt.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"grads()[{i}]")


# ---- Part 1 reference modules (solutions/01_modules) --------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 1), (4, 7), (16, 10)])
def test_linear(reference, shape):
    rng = np.random.default_rng(sum(shape))
    layer = reference.Linear(shape[1], 5, rng=rng)
    layer.b = rng.standard_normal(5)
    compare_module(layer, rng.standard_normal(shape), lambda x, W, b: x @ W + b, rng)


@pytest.mark.parametrize("scale", [1.0, 5.0])
def test_tanh(reference, scale):
    rng = np.random.default_rng(1)
    compare_module(reference.Tanh(), rng.standard_normal((6, 5)) * scale, lambda x: torch.tanh(x), rng)


@pytest.mark.parametrize("scale", [1.0, 10.0, 300.0])
def test_softmax(reference, scale):
    rng = np.random.default_rng(2)
    compare_module(reference.SoftMax(), rng.standard_normal((6, 10)) * scale, lambda x: torch.softmax(x, 1), rng)


def test_cross_entropy(reference):
    rng = np.random.default_rng(3)
    y = reference.SoftMax().fprop(rng.standard_normal((8, 10)))
    labels = rng.integers(0, 10, 8)
    t = np.eye(10)[labels]
    criterion = reference.CrossEntropy()
    cost = criterion.fprop(y, t)
    yt = t64(y)
    ct = -(torch.tensor(t) * torch.log(yt)).sum() / 8
    ct.backward()
    assert cost == pytest.approx(ct.item(), rel=1e-12)
    np.testing.assert_allclose(criterion.bprop(), yt.grad.numpy(), rtol=1e-12)


def test_softmax_cross_entropy_chain_is_torch_cross_entropy(reference):
    rng = np.random.default_rng(4)
    z, labels = rng.standard_normal((8, 10)) * 3, rng.integers(0, 10, 8)
    softmax, criterion = reference.SoftMax(), reference.CrossEntropy()
    cost = criterion.fprop(softmax.fprop(z), np.eye(10)[labels])
    zt = t64(z)
    ct = F.cross_entropy(zt, torch.tensor(labels))
    ct.backward()
    assert cost == pytest.approx(ct.item(), rel=1e-12)
    np.testing.assert_allclose(softmax.bprop(criterion.bprop()), zt.grad.numpy(), rtol=1e-10, atol=1e-15)


# ---- Part 4 reference modules (solutions/04_cnn) -------------------------------------------------------------


def test_relu(reference):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3, 5, 5))
    x[0, 0] = 0.0  # torch's ReLU passes no gradient at 0 either
    compare_module(reference.ReLU(), x, lambda x: torch.relu(x), rng)


CONV_CASES = [  # (c_in, c_out, k, stride, padding, (N, H, W))
    (1, 1, 3, 1, 0, (1, 5, 5)), (1, 8, 5, 1, 2, (3, 28, 28)), (8, 16, 5, 1, 2, (2, 14, 14)),
    (2, 3, 3, 2, 1, (2, 7, 6)), (3, 2, 1, 1, 0, (2, 4, 5)), (2, 4, 4, 3, 1, (1, 11, 9)),
    (3, 5, 2, 2, 0, (4, 6, 6)), (2, 2, 3, 1, 1, (1, 3, 3)), (4, 3, 5, 2, 2, (2, 9, 10)),
    (1, 2, 7, 1, 0, (1, 7, 7)), (2, 2, 3, 3, 0, (2, 10, 8)),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "cin{}-cout{}-k{}-s{}-p{}-{}".format(*c))
def test_conv2d(reference, case):
    c_in, c_out, k, stride, padding, (n, h, w) = case
    rng = np.random.default_rng(sum(case[:5]) + h)
    conv = reference.Conv2d(c_in, c_out, k, stride, padding, rng=rng)
    conv.b = rng.standard_normal(c_out)
    compare_module(conv, rng.standard_normal((n, c_in, h, w)),
                   lambda x, W, b: F.conv2d(x, W, b, stride=stride, padding=padding), rng)


def test_dropout_in_eval_mode_is_the_identity(reference):
    rng = np.random.default_rng(6)
    compare_module(reference.Dropout(0.3, rng=rng).eval(), rng.standard_normal((5, 4)), lambda x: x * 1, rng)


# ---- dlcore's ready-made layers --------------------------------------------------------------------------------


def test_sigmoid():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 6)) * 4
    x[0, :4] = [-1000.0, 1000.0, -40.0, 40.0]
    compare_module(Sigmoid(), x, lambda x: torch.sigmoid(x), rng)


def test_log_softmax():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((6, 10)) * 5
    x[0, :3] = [1000.0, 0.0, -1000.0]
    x[1] = -1000.0
    compare_module(LogSoftMax(), x, lambda x: F.log_softmax(x, dim=1), rng)


def test_nll_loss():
    rng = np.random.default_rng(9)
    y = LogSoftMax().fprop(rng.standard_normal((7, 10)))
    labels = rng.integers(0, 10, 7)
    criterion = NLLLoss()
    cost = criterion.fprop(y, np.eye(10)[labels])
    yt = t64(y)
    ct = F.nll_loss(yt, torch.tensor(labels))
    ct.backward()
    assert cost == pytest.approx(ct.item(), rel=1e-12)
    np.testing.assert_allclose(criterion.bprop(), yt.grad.numpy(), rtol=1e-12)


POOL_CASES = [  # (k, stride, padding, (N, C, H, W))
    (2, None, 0, (2, 3, 8, 8)), (2, None, 0, (1, 2, 7, 7)), (3, 2, 1, (2, 2, 9, 7)), (3, 1, 1, (1, 2, 5, 6)),
    (2, 1, 0, (2, 2, 5, 5)), (3, 3, 0, (1, 1, 10, 8)), (1, None, 0, (1, 2, 3, 3)), (4, 2, 2, (1, 2, 9, 9)),
]


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties-after-relu"])
@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: "k{}-s{}-p{}-{}".format(*c))
def test_max_pool(case, ties):
    k, stride, padding, shape = case
    rng = np.random.default_rng(sum(shape) + k)
    x = rng.standard_normal(shape)
    if ties:  # ReLU's zeros, and a few equal positive values: torch also routes to the first maximum
        x = np.maximum(np.round(x), 0)
    compare_module(MaxPool2d(k, stride, padding), x,
                   lambda x: F.max_pool2d(x, k, stride=stride if stride is not None else k, padding=padding), rng)


def test_flatten_and_reshape():
    rng = np.random.default_rng(10)
    compare_module(Flatten(), rng.standard_normal((3, 2, 4, 5)), lambda x: torch.flatten(x, 1), rng)
    compare_module(Reshape(1, 28, 28), rng.standard_normal((2, 784)), lambda x: x.reshape(2, 1, 28, 28), rng)


def test_the_whole_cnn(reference):
    """The CLI's CNN (build_model) in eval mode against the same network in torch, weights copied."""
    rng = np.random.default_rng(11)
    model, criterion = build_model("cnn", reference, rng, np.float64)
    model.eval()
    model.input_grad = model[1].input_grad = True  # build_model switches both off for training
    for layer in model:  # non-zero biases, so that a misplaced bias gradient shows
        if hasattr(layer, "b"):
            layer.b[...] = rng.standard_normal(layer.b.shape) * 0.1
    x, labels = rng.random((4, 784)), rng.integers(0, 10, 4)
    cost = criterion.fprop(model.fprop(x), np.eye(10)[labels])
    grad_x = model.bprop(criterion.bprop())

    xt = t64(x)
    params = [t64(p) for p in model.params()]
    w1, b1, w2, b2, w3, b3, w4, b4 = params
    h = F.max_pool2d(torch.relu(F.conv2d(xt.reshape(4, 1, 28, 28), w1, b1, padding=2)), 2)
    h = F.max_pool2d(torch.relu(F.conv2d(h, w2, b2, padding=2)), 2)
    h = torch.relu(torch.flatten(h, 1) @ w3 + b3)
    ct = F.nll_loss(F.log_softmax(h @ w4 + b4, dim=1), torch.tensor(labels))
    ct.backward()
    assert cost == pytest.approx(ct.item(), rel=1e-12)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=1e-9, atol=1e-14)
    for q, pt in zip(model.grads(), params, strict=True):
        np.testing.assert_allclose(q, pt.grad.numpy(), rtol=1e-9, atol=1e-14)


# ---- Optimizers, several steps with gradients that depend on the parameters -------------------------------------


class Bag:
    """Parameters whose gradients are set from outside: ``g = a·cos(θ) + θ·c``, the same for both sides."""

    def __init__(self, rng):
        self.ps = [rng.standard_normal((4, 3)), rng.standard_normal(3)]
        self.gs = [np.zeros_like(p) for p in self.ps]
        self.coefs = [(rng.standard_normal(p.shape), rng.random(p.shape)) for p in self.ps]

    def gradient(self, i, p):
        a, c = self.coefs[i]
        return a * np.cos(p) + c * p

    def set_grads(self):
        for i, (p, g) in enumerate(zip(self.ps, self.gs, strict=True)):
            g[...] = self.gradient(i, p)

    def params(self):
        return self.ps

    def grads(self):
        return self.gs


def run_both(ours, make_torch_optimizer, steps=8, lr_change=None):
    """Step our optimizer and torch's side by side; ``lr_change = (step, lr)`` sets a new rate midway."""
    bag = ours.model
    torch_params = [torch.tensor(p.copy(), requires_grad=True) for p in bag.ps]
    opt = make_torch_optimizer(torch_params)
    for step in range(steps):
        if lr_change is not None and step == lr_change[0]:
            ours.lr = lr_change[1]
            for group in opt.param_groups:
                group["lr"] = lr_change[1]
        bag.set_grads()
        ours.step()
        for i, pt in enumerate(torch_params):
            pt.grad = torch.tensor(bag.gradient(i, pt.detach().numpy()))
        opt.step()
        for p, pt in zip(bag.ps, torch_params, strict=True):
            np.testing.assert_allclose(p, pt.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=f"step {step + 1}")


@pytest.mark.parametrize("momentum", [0.5, 0.9])
def test_reference_momentum_is_torch_sgd_with_momentum(reference, momentum):
    bag = Bag(np.random.default_rng(12))
    run_both(reference.Momentum(bag, lr=0.05, momentum=momentum),
             lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=momentum), steps=10, lr_change=(5, 0.02))


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_is_torch_adam(weight_decay):
    bag = Bag(np.random.default_rng(13))
    run_both(Adam(bag, lr=0.01, weight_decay=weight_decay),
             lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=weight_decay), steps=12, lr_change=(6, 0.003))


def test_adam_with_other_betas_and_eps():
    bag = Bag(np.random.default_rng(14))
    run_both(Adam(bag, lr=0.02, betas=(0.8, 0.99), eps=1e-3),
             lambda ps: torch.optim.Adam(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-3))


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_sgd_is_torch_sgd(weight_decay):
    bag = Bag(np.random.default_rng(15))
    run_both(SGD(bag, lr=0.1, weight_decay=weight_decay),
             lambda ps: torch.optim.SGD(ps, lr=0.1, weight_decay=weight_decay))
