# %% [markdown]
# # Part 1 · Modules and their Jacobians
#
# In this part you write the four pieces a classifier of handwritten digits is made of: a linear
# layer, the $\tanh$ non-linearity, the softmax, and the cross-entropy criterion. Each one is a few
# lines of numpy; the work is in the mathematics that tells you *which* lines.
#
# **How this notebook works.** Cells marked *your answer* are yours: replace the line
# `raise NotImplementedError(...)` with your code, or write your derivation in the markdown cells.
# The test cell after each answer tells you whether you are on track; the grader runs more tests
# of the same kind, so make your code correct, not just green.

# %% [markdown]
# ## 1.1 Learning as minimising a cost
#
# We have $N$ training samples, stacked as the rows of a data matrix $X$ (one image per row, its
# 784 pixels as columns), and their labels as the rows of a target matrix $T$ (one-hot: $t_{nk} = 1$
# when sample $n$ is a $k$). A model is a function $F(X, \theta)$ with parameters $\theta$; training
# chooses $\theta$ to make the **cost** small, the mean of a per-sample loss $\ell$:
#
# $$C(\theta) = \frac{1}{N} \sum_{n=1}^{N} \ell\big(F(x_n, \theta),\, t_n\big).$$
#
# $F$ is **hierarchical**, a chain of simple modules, each with its own parameters:
#
# $$F(x, \theta) = f_1\big(f_2\big(f_3(x, \theta_3), \theta_2\big), \theta_1\big).$$
#
# Gradient descent needs $\partial C / \partial \theta_i$ for every module $i$. Name the
# intermediate values $z_3 = x$, $z_2 = f_3(z_3, \theta_3)$, $z_1 = f_2(z_2, \theta_2)$ and
# $y = f_1(z_1, \theta_1)$. The chain rule gives, with row vectors of gradients and Jacobians
# $D_z f = \partial f / \partial z$,
#
# $$\frac{\partial \ell}{\partial \theta_2} = \underbrace{\frac{\partial \ell}{\partial y}\,
#   D_{z_1} f_1}_{\partial \ell / \partial z_1}\; D_{\theta_2} f_2, \qquad
#   \frac{\partial \ell}{\partial z_2} = \frac{\partial \ell}{\partial z_1}\, D_{z_2} f_2 .$$
#
# **Backpropagation** evaluates these products from the left: it starts from $\partial\ell/\partial y$
# and walks the chain backwards, each module turning the gradient w.r.t. its output into the
# gradient w.r.t. its input (passed on) and w.r.t. its parameters (kept). No module ever needs to
# know what comes before or after it: that is what makes the framework modular.

# %% [markdown]
# ## 1.2 The module contract
#
# Every module offers two methods:
#
# * `fprop(z)` returns the output $f(z, \theta)$. It also **caches** what the backward pass will
#   need: the Jacobian $D_z f$ depends on the point $z$ where it is evaluated, so `bprop` must know
#   that point (or the output, when that is cheaper).
# * `bprop(grad_output)` receives $g = \partial C / \partial f$ and returns
#   $g \, D_z f$, the gradient w.r.t. the module's **input** (`grad_input`, passed backwards). It
#   also computes $g \, D_\theta f$, the gradient w.r.t. each **parameter** (`grad_param`, kept in
#   the module for the optimiser).
#
# `params()` returns the parameter arrays themselves (the optimiser updates them in place) and
# `grads()` the matching gradients, in the same order. Gradients are **overwritten** by every
# `bprop`, never added to the previous ones. Neither method may modify its argument in place.
#
# **Mini-batches.** We process $B$ samples at once: $Z$ is a $(B, D_\text{in})$ matrix whose rows
# are samples, the output is $(B, D_\text{out})$, and `grad_output` has the shape of the output.
# Per-sample vector–Jacobian products then become matrix products, which numpy runs fast.
#
# **Caching names** (the tests rely on them, so that `bprop` can be tested on its own):
#
# | module | `fprop` stores | gradients stored in |
# |---|---|---|
# | `Linear` | its input as `self.z` | `self.grad_W`, `self.grad_b` |
# | `Tanh`, `SoftMax` | its output as `self.y` | (no parameters) |
# | `CrossEntropy` | the probabilities as `self.y`, the targets as `self.t` | (no parameters) |

# %% kind="readonly" grade_id="imports"
import numpy as np

from dlcore import Criterion, Module, friendly_errors, gradcheck, normal_weights, zero_bias

friendly_errors()  # code not written yet is reported in one line, not a traceback

# %% [markdown]
# ## 1.3 Linear
#
# $f(Z) = Z W + b$, with $W$ of shape $(D_\text{in}, D_\text{out})$ and $b$ of shape
# $(D_\text{out},)$ added to every row. For one sample, $y_k = \sum_i z_i W_{ik} + b_k$.
#
# **Initialisation** (given): $W_{ik} \sim \mathcal{N}\big(0,\ \sigma = \sqrt{2 / (M + N)}\big)$
# with $M = D_\text{in}$ and $N = D_\text{out}$, and $b = 0$. This scale keeps the outputs and the
# backpropagated gradients at about the size of the inputs, layer after layer (Glorot and Bengio,
# 2010): too small and the signal fades, too large and $\tanh$ saturates.

# %% [markdown]
# ### Derivation (manually graded)
#
# For one sample $z \in \mathbb{R}^{D_\text{in}}$, derive the three Jacobians of $y = zW + b$:
# $\partial y_k / \partial z_i$, $\partial y_k / \partial W_{ij}$ and $\partial y_k / \partial b_j$.
# Then, for a mini-batch $Z$ with output gradient $G = \partial C / \partial Y$ (shape
# $(B, D_\text{out})$), show that $\partial C / \partial Z = G W^\top$,
# $\partial C / \partial W = Z^\top G$ and $\partial C / \partial b = \sum_n G_{n,:}$.
# Why is the gradient w.r.t. $W$ a *sum* over the samples of the batch?

# %% [markdown] kind="answer" grade_id="derive_linear" points=3
# ### BEGIN SOLUTION
# Per sample, $y_k = \sum_i z_i W_{ik} + b_k$, so
#
# $$\frac{\partial y_k}{\partial z_i} = W_{ik}, \qquad
#   \frac{\partial y_k}{\partial W_{ij}} = z_i\,\delta_{jk}, \qquad
#   \frac{\partial y_k}{\partial b_j} = \delta_{jk}.$$
#
# With $g = \partial C / \partial y$ (a row), the chain rule gives
# $\partial C / \partial z_i = \sum_k g_k W_{ik}$, i.e. $g W^\top$;
# $\partial C / \partial W_{ij} = \sum_k g_k z_i \delta_{jk} = z_i g_j$, i.e. the outer product
# $z^\top g$; and $\partial C / \partial b_j = g_j$.
#
# In a batch, row $n$ of $Y$ depends only on row $n$ of $Z$, so the input gradients stack row by
# row: $\partial C/\partial Z = G W^\top$. The parameters, however, are shared by every sample:
# $C$ depends on $W$ through all $B$ rows, and the chain rule adds the contributions,
# $\partial C / \partial W = \sum_n z_n^\top g_n = Z^\top G$ and
# $\partial C / \partial b = \sum_n g_n$. (The $1/B$ of the mean is already inside $G$.)
# ### END SOLUTION

# %% [markdown]
# ### Code
#
# The constructor, `params()` and `grads()` are given. Write `fprop` (cache the input as
# `self.z`) and `bprop` (set `self.grad_W` and `self.grad_b`, return `grad_input`).
#
# One refinement, optional: the first layer of a network receives the data, and nobody needs the
# gradient w.r.t. the pixels. Training sets `self.input_grad = False` on that layer; when it is
# False, `bprop` may skip $G W^\top$ (a third of the layer's work) and return `None`. Computing it
# anyway is still correct, just slower.

# %% kind="solution" grade_id="linear"
class Linear(Module):
    """Affine map ``f(Z) = Z·W + b``: ``(N, D_in) -> (N, D_out)``."""

    def __init__(self, d_in, d_out, rng=None, dtype=np.float64):
        self.W = normal_weights(d_in, d_out, rng, dtype)  # (D_in, D_out)
        self.b = zero_bias(d_out, dtype)  # (D_out,)
        self.grad_W = np.zeros_like(self.W)
        self.grad_b = np.zeros_like(self.b)

    def fprop(self, z):
        """``z (N, D_in) -> (N, D_out)``; caches ``z`` as ``self.z`` for ``grad_W``."""
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

# %% kind="tests" grade_id="test_linear_fprop"
layer = Linear(2, 3)
layer.W = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
layer.b = np.array([0.5, 0.0, -0.5])
z = np.array([[1.0, 1.0], [0.0, 2.0]])
y = layer.fprop(z)
assert y.shape == (2, 3), f"Linear.fprop returned shape {np.shape(y)}, expected (N, D_out) = (2, 3)"
assert np.allclose(y[0], [5.5, 7.0, 8.5]), "first output row should be z·W + b = [5.5, 7, 8.5]"
assert getattr(layer, "z", None) is not None, "fprop must cache its input as self.z (bprop needs it)"

# %% kind="tests" grade_id="test_linear_bprop"
layer = Linear(2, 3)
layer.W = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
layer.z = np.array([[1.0, 1.0], [0.0, 2.0]])  # what fprop would have cached
g = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
grad_input = layer.bprop(g)
assert grad_input.shape == (2, 2), "grad_input must have the shape of the input z: did you multiply by Wᵀ?"
assert np.allclose(grad_input[0], [1.0, 4.0]), "grad_input row 0 should be g·Wᵀ = [1, 4]"
assert layer.grad_W.shape == (2, 3), "grad_W must have the shape of W: did you compute zᵀ·g?"
assert layer.grad_b.shape == (3,), "grad_b must have the shape of b: sum over the samples (axis 0)"
assert np.allclose(layer.grad_b, [1.0, 0.0, 1.0]), "grad_b should be the sum of the rows of g"

# %% [markdown]
# The **gradient check** (part 2 explains how it works) compares your `bprop` with finite
# differences of your `fprop`, for the input and for every parameter. It prints a table: all rows
# should say `ok`, with errors around $10^{-9}$ or below.

# %% kind="tests" grade_id="test_linear_gradcheck"
report = gradcheck(Linear(4, 3, rng=np.random.default_rng(0)), np.random.default_rng(1).standard_normal((5, 4)))
print(report)
assert report.passed, "Linear.bprop disagrees with finite differences of fprop: see the worst entry above"

# %% [markdown]
# ## 1.4 Tanh
#
# Element-wise, $y = \tanh(z)$. It has no parameters: `bprop` only returns `grad_input`.

# %% [markdown]
# ### Derivation (manually graded)
#
# Write the Jacobian $\partial y_k / \partial z_i$ of $y = \tanh(z)$ for one sample. Why is it
# diagonal, and why does that turn the vector–Jacobian product into an element-wise product?
# Express the derivative through the *output* $y$ and explain why `fprop` should cache $y$ rather
# than $z$.

# %% [markdown] kind="answer" grade_id="derive_tanh" points=1
# ### BEGIN SOLUTION
# $y_k$ depends on $z_k$ only, so $\partial y_k / \partial z_i = \delta_{ki}\,(1 - \tanh^2 z_k)
# = \delta_{ki}\,(1 - y_k^2)$: the Jacobian is the diagonal matrix $\operatorname{diag}(1 - y^2)$.
# Multiplying a row $g$ by a diagonal matrix scales each entry, so
# $\partial C / \partial z = g \odot (1 - y^2)$, and for a batch $G \odot (1 - Y^2)$, with no
# $D \times D$ matrix ever built. Since the derivative is a function of $y$, caching $y$ saves
# recomputing $\tanh$ in `bprop`: one multiplication and one subtraction per entry.
# ### END SOLUTION

# %% kind="solution" grade_id="tanh"
class Tanh(Module):
    """Element-wise ``tanh``: ``(N, D) -> (N, D)``."""

    def fprop(self, z):
        """Caches the output as ``self.y``."""
        ### BEGIN SOLUTION
        self.y = np.tanh(z)
        return self.y
        ### END SOLUTION

    def bprop(self, grad_output):
        ### BEGIN SOLUTION
        return grad_output * (1.0 - self.y**2)
        ### END SOLUTION

# %% kind="tests" grade_id="test_tanh_fprop"
z = np.array([[0.0, 1.0], [-2.0, 0.5]])
y = Tanh().fprop(z)
assert np.shape(y) == (2, 2), "Tanh.fprop must keep the shape of its input"
assert np.allclose(y, np.tanh(z)), "Tanh.fprop should return np.tanh(z)"

# %% kind="tests" grade_id="test_tanh_bprop"
module = Tanh()
module.y = np.array([[0.0, 0.5], [-0.5, 0.9]])  # what fprop would have cached
grad_input = module.bprop(np.ones((2, 2)))
assert np.shape(grad_input) == (2, 2), "Tanh.bprop must return an array of the input's shape"
assert np.allclose(grad_input[0], [1.0, 0.75]), "with g = 1, grad_input should be 1 − y² = [1, 0.75]"

# %% kind="tests" grade_id="test_tanh_gradcheck"
report = gradcheck(Tanh(), np.random.default_rng(1).standard_normal((5, 4)))
print(report)
assert report.passed, "Tanh.bprop disagrees with finite differences of fprop"

# %% [markdown]
# ## 1.5 SoftMax
#
# SoftMax turns a row of scores ("logits") into probabilities:
#
# $$y_k = \frac{e^{z_k}}{\sum_j e^{z_j}}, \qquad y_k > 0, \quad \sum_k y_k = 1.$$
#
# **Numerical stability.** $e^{1000}$ overflows to `inf`, and `inf / inf` is `nan`. Subtracting
# the row's maximum, $z_k - \max_j z_j$, multiplies numerator and denominator by the same
# $e^{-\max_j z_j}$: the result is unchanged, but the largest exponent is now $e^0 = 1$. Do it.

# %% [markdown]
# ### Derivation (manually graded)
#
# For one sample, show that $\partial y_k / \partial z_j = y_k(\delta_{kj} - y_j)$, i.e.
# $D_z f = \operatorname{diag}(y) - y^\top y$. Deduce that the vector–Jacobian product is
# $g \, D_z f = y \odot \big(g - (g \cdot y)\big)$, where $g \cdot y = \sum_k g_k y_k$ is a scalar
# per sample. How many operations does that take, compared with building the $C \times C$
# Jacobian?

# %% [markdown] kind="answer" grade_id="derive_softmax" points=2
# ### BEGIN SOLUTION
# With $S = \sum_i e^{z_i}$ and $\partial S / \partial z_j = e^{z_j}$, the quotient rule gives
#
# $$\frac{\partial y_k}{\partial z_j} = \frac{\delta_{kj} e^{z_k} S - e^{z_k} e^{z_j}}{S^2}
#   = y_k \delta_{kj} - y_k y_j = y_k(\delta_{kj} - y_j).$$
#
# So $D_z f = \operatorname{diag}(y) - y^\top y$ (symmetric). For a row $g$,
#
# $$\big(g\, D_z f\big)_j = \sum_k g_k y_k (\delta_{kj} - y_j) = g_j y_j - y_j \sum_k g_k y_k
#   = y_j\,\big(g_j - g \cdot y\big).$$
#
# In a batch: `Y * (G - (G * Y).sum(axis=1, keepdims=True))`, about $4C$ operations per
# sample instead of the $C^2$ of building and multiplying the Jacobian.
# ### END SOLUTION

# %% kind="solution" grade_id="softmax"
class SoftMax(Module):
    """Row-wise softmax: ``(N, C) -> (N, C)`` probabilities."""

    def fprop(self, z):
        """Caches the output as ``self.y``."""
        ### BEGIN SOLUTION
        e = np.exp(z - z.max(axis=1, keepdims=True))
        self.y = e / e.sum(axis=1, keepdims=True)
        return self.y
        ### END SOLUTION

    def bprop(self, grad_output):
        ### BEGIN SOLUTION
        return self.y * (grad_output - np.sum(grad_output * self.y, axis=1, keepdims=True))
        ### END SOLUTION

# %% kind="tests" grade_id="test_softmax_fprop"
y = SoftMax().fprop(np.array([[0.0, 0.0], [0.0, np.log(3.0)]]))
assert np.shape(y) == (2, 2), "SoftMax.fprop must keep the shape of its input"
assert np.allclose(y, [[0.5, 0.5], [0.25, 0.75]]), "softmax of [0, log 3] should be [1/4, 3/4]"
y = SoftMax().fprop(np.array([[1000.0, 0.0, -1000.0]]))
assert np.all(np.isfinite(y)), "SoftMax overflows on large logits: subtract each row's max first"

# %% kind="tests" grade_id="test_softmax_bprop"
module = SoftMax()
module.y = np.array([[0.25, 0.75]])  # what fprop would have cached
grad_input = module.bprop(np.array([[1.0, 1.0]]))
assert np.shape(grad_input) == (1, 2), "SoftMax.bprop must return an array of the input's shape"
assert np.allclose(grad_input, 0.0), "adding a constant to all logits changes nothing: g = [1, 1] must give 0"
grad_input = module.bprop(np.array([[1.0, 0.0]]))
assert np.allclose(grad_input, [[0.1875, -0.1875]]), "with y = [1/4, 3/4], g = [1, 0]: expected [3/16, −3/16]"

# %% kind="tests" grade_id="test_softmax_gradcheck"
report = gradcheck(SoftMax(), np.random.default_rng(2).standard_normal((5, 4)))
print(report)
assert report.passed, "SoftMax.bprop disagrees with finite differences of fprop"

# %% [markdown]
# ## 1.6 The classification criterion
#
# A criterion is the last link of the chain: it maps the probabilities $Y$ and the one-hot targets
# $T$ to the cost, the mean over the $N$ samples of the per-sample loss
# $\ell(y, t) = -\sum_k t_k \log y_k$ (minus the log-probability of the correct class):
#
# $$C = -\frac{1}{N} \sum_{n} \sum_k t_{nk} \log y_{nk}.$$
#
# `fprop(y, t)` returns $C$ as a Python `float` and caches `self.y` and `self.t`; `bprop()` takes no
# argument (the cost is where backprop starts) and returns $\partial C / \partial Y$, of the shape of
# $Y$. The $\frac{1}{N}$ of the mean belongs here, in the criterion's gradient, and nowhere else.
#
# A probability can underflow to exactly 0, and $\log 0 = -\infty$: floor the probabilities at the
# smallest positive number of their type, `np.finfo(y.dtype).tiny`, before taking the log.

# %% [markdown]
# ### Derivation (manually graded)
#
# Derive $\partial C / \partial y_{nk}$. Then chain it through the SoftMax Jacobian of 1.5 and show
# that the gradient of the cost w.r.t. the **logits** is simply $\frac{1}{N}(Y - T)$.

# %% [markdown] kind="answer" grade_id="derive_cross_entropy" points=2
# ### BEGIN SOLUTION
# Only the term $(n, k)$ of the double sum involves $y_{nk}$, so
# $\dfrac{\partial C}{\partial y_{nk}} = -\dfrac{1}{N}\,\dfrac{t_{nk}}{y_{nk}}$.
#
# Through the softmax of sample $n$, with $g_k = -t_k / (N y_k)$:
#
# $$\frac{\partial C}{\partial z_j} = \sum_k g_k\, y_k(\delta_{kj} - y_j)
#   = -\frac{1}{N}\sum_k t_k (\delta_{kj} - y_j) = -\frac{1}{N}\big(t_j - y_j \textstyle\sum_k t_k\big)
#   = \frac{1}{N}(y_j - t_j),$$
#
# because a one-hot $t$ sums to 1. The gradient w.r.t. the logits is the prediction error itself,
# scaled by $1/N$: large when the model is confidently wrong, zero when it is right.
# ### END SOLUTION

# %% kind="solution" grade_id="cross_entropy"
class CrossEntropy(Criterion):
    """Mean negative log-likelihood of one-hot targets ``t (N, C)`` under probabilities ``y (N, C)``."""

    def fprop(self, y, t):
        """Returns the cost (a float); caches ``self.y`` (floored) and ``self.t``."""
        ### BEGIN SOLUTION
        self.y = np.maximum(y, np.finfo(y.dtype).tiny)
        self.t = t
        return float(-np.sum(t * np.log(self.y)) / y.shape[0])
        ### END SOLUTION

    def bprop(self):
        ### BEGIN SOLUTION
        return -self.t / self.y / self.y.shape[0]
        ### END SOLUTION

# %% kind="tests" grade_id="test_cross_entropy_fprop"
y = np.array([[0.5, 0.5], [0.25, 0.75]])
t = np.array([[1.0, 0.0], [0.0, 1.0]])
cost = CrossEntropy().fprop(y, t)
assert np.ndim(cost) == 0, "CrossEntropy.fprop must return a scalar (the mean over the batch)"
assert np.isclose(cost, -(np.log(0.5) + np.log(0.75)) / 2), "cost should be −(log 0.5 + log 0.75) / 2"
assert np.isfinite(CrossEntropy().fprop(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]]))), \
    "a probability of 0 gives log 0 = −inf: floor y at np.finfo(y.dtype).tiny"

# %% kind="tests" grade_id="test_cross_entropy_bprop"
criterion = CrossEntropy()
criterion.y = np.array([[0.5, 0.5], [0.25, 0.75]])  # what fprop would have cached
criterion.t = np.array([[1.0, 0.0], [0.0, 1.0]])
grad = criterion.bprop()
assert np.shape(grad) == (2, 2), "CrossEntropy.bprop must return an array of the shape of y"
assert np.allclose(grad[0], [-1.0, 0.0]), "row 0 should be −t/(N·y) = [−1, 0]: is the 1/N there?"

# %% kind="tests" grade_id="test_cross_entropy_gradcheck"
rng = np.random.default_rng(3)
y = SoftMax().fprop(rng.standard_normal((6, 4)))
t = np.eye(4)[rng.integers(0, 4, 6)]
report = gradcheck(CrossEntropy(), y, t)
print(report)
assert report.passed, "CrossEntropy.bprop disagrees with finite differences of fprop: is the 1/N there?"

# %% [markdown]
# ## 1.7 The modules together
#
# A `Sequential` chains modules: its `fprop` calls theirs from first to last, its `bprop` calls
# theirs in reverse, which is exactly the chain rule of 1.1. Here is a small network, checked as a
# whole. (Part 2 shows how the check works; part 3 trains such networks on MNIST.)

# %% kind="readonly" grade_id="chain_demo"
from dlcore import Sequential

net = Sequential(Linear(6, 5, rng=np.random.default_rng(4)), Tanh(),
                 Linear(5, 3, rng=np.random.default_rng(5)), SoftMax())
print(gradcheck(net, np.random.default_rng(6).standard_normal((4, 6))))

# %% [markdown]
# **Well done.** Every module now knows its Jacobians. Continue with `02_gradcheck.ipynb`.
