# %% [markdown]
# # 1. Modules: Linear, Tanh, SoftMax and the cross-entropy criterion
#
# A model is a chain of modules, $F(x) = f_1(f_2(f_3(x, \theta_3), \theta_2), \theta_1)$, trained to
# make the cost, the mean over the $N$ samples of a per-sample loss, small:
#
# $$C(\theta) = \frac{1}{N} \sum_{n=1}^{N} \ell\big(F(x_n, \theta), t_n\big).$$
#
# Backprop applies the chain rule from the cost back to each parameter: it multiplies Jacobians.
# Every module therefore offers
#
# * `fprop(z)`: the output $f(z)$; it **caches** what `bprop` will need (the input, or the output);
# * `bprop(grad_output)`: given $g = \partial C / \partial f$ (a row per sample), it returns
#   $g \cdot D_z f$ (the gradient w.r.t. the module's input) and computes $g \cdot D_\theta f$ for
#   every parameter, which `grads()` then returns, aligned with `params()`.
#
# Gradients are **overwritten** by each `bprop`, never accumulated. Mini-batches are matrices whose
# **rows are samples**: $Z$ is $(N, D_\text{in})$, the output $(N, D_\text{out})$.

# %% kind="readonly" grade_id="imports"
import numpy as np

from dlcore import Criterion, Module, gradcheck, normal_weights, zero_bias

# %% [markdown]
# ## Linear
#
# $f(Z) = Z W + b$ with $W$ of shape $(D_\text{in}, D_\text{out})$ and $b$ of shape $(D_\text{out},)$.
# With $G$ the gradient w.r.t. the output:
#
# $$\frac{\partial C}{\partial W} = Z^\top G, \qquad \frac{\partial C}{\partial b} = \sum_n G_{n,:},
# \qquad \frac{\partial C}{\partial Z} = G W^\top.$$
#
# The initialisation is given: $W \sim \mathcal{N}\big(0, \sigma = \sqrt{2 / (D_\text{in} + D_\text{out})}\big)$, $b = 0$.

# %% kind="solution" grade_id="linear"
class Linear(Module):
    """Affine map ``f(Z) = Z·W + b``: ``(N, D_in) -> (N, D_out)``."""

    def __init__(self, d_in, d_out, rng=None, dtype=np.float64):
        self.W = normal_weights(d_in, d_out, rng, dtype)  # (D_in, D_out)
        self.b = zero_bias(d_out, dtype)  # (D_out,)
        self.grad_W = np.zeros_like(self.W)
        self.grad_b = np.zeros_like(self.b)

    def fprop(self, z):
        """``z (N, D_in) -> (N, D_out)``; caches ``z`` for ``grad_W``."""
        ### BEGIN SOLUTION
        self.z = z
        return z @ self.W + self.b
        ### END SOLUTION

    def bprop(self, grad_output):
        """``grad_output (N, D_out) -> grad_input (N, D_in)``; sets ``grad_W`` and ``grad_b``."""
        ### BEGIN SOLUTION
        self.grad_W = self.z.T @ grad_output
        self.grad_b = grad_output.sum(axis=0)
        if not self.input_grad:  # the input is the data: its gradient would be thrown away
            return None
        return grad_output @ self.W.T
        ### END SOLUTION

    def params(self):
        return [self.W, self.b]

    def grads(self):
        return [self.grad_W, self.grad_b]

# %% kind="tests" grade_id="test_linear" points=3
rng = np.random.default_rng(0)
layer = Linear(4, 3, rng=rng)
z = rng.standard_normal((5, 4))
assert layer.fprop(z).shape == (5, 3), "Linear.fprop must map (N, D_in) to (N, D_out)"
report = gradcheck(layer, z)
print(report)
assert report.passed, "Linear.bprop disagrees with finite differences: see the worst entry above"

# %% [markdown]
# ## Tanh
#
# Element-wise, $y = \tanh(z)$ and $\dfrac{dy}{dz} = 1 - \tanh^2(z) = 1 - y^2$: caching the output
# $y$ makes `bprop` a single product, $G \odot (1 - Y^2)$.

# %% kind="solution" grade_id="tanh"
class Tanh(Module):
    """Element-wise ``tanh``: ``(N, D) -> (N, D)``."""

    def fprop(self, z):
        ### BEGIN SOLUTION
        self.y = np.tanh(z)
        return self.y
        ### END SOLUTION

    def bprop(self, grad_output):
        ### BEGIN SOLUTION
        return grad_output * (1.0 - self.y**2)
        ### END SOLUTION

# %% kind="tests" grade_id="test_tanh" points=2
z = np.random.default_rng(1).standard_normal((5, 4))
assert np.allclose(Tanh().fprop(z), np.tanh(z))
report = gradcheck(Tanh(), z)
print(report)
assert report.passed, "Tanh.bprop disagrees with finite differences"

# %% [markdown]
# ## SoftMax
#
# Row by row, $y_k = e^{z_k} / \sum_j e^{z_j}$. Subtracting $\max_j z_j$ from every $z_k$ changes
# nothing mathematically and keeps $e^{z}$ from overflowing. The Jacobian of one row is
# $\partial y_k / \partial z_j = y_k(\delta_{kj} - y_j)$, so $g \cdot D_z f = y \odot (g - g \cdot y)$.

# %% kind="solution" grade_id="softmax"
class SoftMax(Module):
    """Row-wise softmax: ``(N, C) -> (N, C)`` probabilities."""

    def fprop(self, z):
        ### BEGIN SOLUTION
        e = np.exp(z - z.max(axis=1, keepdims=True))
        self.y = e / e.sum(axis=1, keepdims=True)
        return self.y
        ### END SOLUTION

    def bprop(self, grad_output):
        ### BEGIN SOLUTION
        return self.y * (grad_output - np.sum(grad_output * self.y, axis=1, keepdims=True))
        ### END SOLUTION

# %% kind="tests" grade_id="test_softmax" points=3
z = np.random.default_rng(2).standard_normal((5, 4))
y = SoftMax().fprop(z)
assert np.allclose(y.sum(axis=1), 1.0), "each row of a softmax sums to 1"
assert np.all(np.isfinite(SoftMax().fprop(np.array([[1000.0, 0.0, -1000.0]])))), "subtract the row max"
report = gradcheck(SoftMax(), z)
print(report)
assert report.passed, "SoftMax.bprop disagrees with finite differences"

# %% [markdown]
# ## The classification criterion
#
# On the softmax output $y$ and one-hot targets $t$, the cross-entropy cost is
#
# $$C = -\frac{1}{N} \sum_n \sum_k t_{nk} \log y_{nk}, \qquad
#   \frac{\partial C}{\partial y_{nk}} = -\frac{1}{N} \frac{t_{nk}}{y_{nk}}.$$
#
# The $1/N$ of the mean belongs to the criterion's gradient. Probabilities are floored at the
# smallest positive float so that $\log 0$ never happens.

# %% kind="solution" grade_id="cross_entropy"
class CrossEntropy(Criterion):
    """Mean negative log-likelihood of one-hot targets ``t (N, C)`` under probabilities ``y (N, C)``."""

    def fprop(self, y, t):
        ### BEGIN SOLUTION
        self.y = np.maximum(y, np.finfo(y.dtype).tiny)
        self.t = t
        return float(-np.sum(t * np.log(self.y)) / y.shape[0])
        ### END SOLUTION

    def bprop(self):
        ### BEGIN SOLUTION
        return -self.t / self.y / self.y.shape[0]
        ### END SOLUTION

# %% kind="tests" grade_id="test_cross_entropy" points=2
rng = np.random.default_rng(3)
y = SoftMax().fprop(rng.standard_normal((6, 4)))
t = np.eye(4)[rng.integers(0, 4, 6)]
assert np.isclose(CrossEntropy().fprop(y, t), -np.mean(np.log(y[t == 1])))
report = gradcheck(CrossEntropy(), y, t)
print(report)
assert report.passed, "CrossEntropy.bprop disagrees with finite differences: is the 1/N there?"

# %% [markdown]
# ## Train on MNIST
#
# The linear model, Linear(784, 10) then SoftMax, makes about 750 errors on the 10,000 test digits;
# Linear(784, 200), Tanh, Linear(200, 10), SoftMax about 250. The same run from a terminal:
# `python -m dlcore train --impl solutions/ --model mlp`.

# %% tags=["long-running"]
from types import SimpleNamespace

from dlcore import SGD, Sequential, fit
from dlcore.data import load_mnist, one_hot

mnist = load_mnist()
rng = np.random.default_rng(0)
model = Sequential(Linear(784, 200, rng=rng, dtype=np.float32), Tanh(),
                   Linear(200, 10, rng=rng, dtype=np.float32), SoftMax())
history = fit(model, CrossEntropy(), SGD(model, lr=0.1), mnist.x_train, one_hot(mnist.y_train),
              mnist.x_test, mnist.y_test, epochs=5, batch_size=100, rng=rng,
              on_epoch=lambda s: print(SimpleNamespace(**s.as_dict())))
