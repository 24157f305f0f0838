# %% [markdown]
# # Part 4 (bonus) · ReLU, dropout, momentum and a convolutional network
#
# Your MLP of part 3 makes about {RULE_OF_THUMB_ERRORS[mlp]} errors on the 10,000 test digits. In this part you
# build a **convolutional network** that makes well under {CNN_GOAL[errors]}, with four new pieces and a few ready-made
# ones. Each new piece answers a weakness of the MLP:
#
# | new piece | what it fixes |
# |---|---|
# | **ReLU** $\max(z, 0)$ | $\tanh$ and the sigmoid *saturate*: their gradient vanishes for large $\lvert z\rvert$ |
# | **LogSoftMax + NLLLoss** | `SoftMax` then `log` loses everything below $10^{-38}$ in float32 |
# | **Dropout** | the MLP fits the training set far better than the test set (overfitting) |
# | **Momentum** | SGD zig-zags across narrow valleys of the cost and crawls along them |
# | **Conv2d** | a `Linear` layer on 784 pixels ignores that images are 2-D and that a digit may move |
#
# **What dlcore gives you, ready-made:** `Sigmoid`, `MaxPool2d`, `Flatten`, `Reshape`,
# `LogSoftMax`, `NLLLoss`, the helpers `im2col` / `col2im` that turn a convolution into one matrix
# product, and the optimizer `Adam`. Read their docstrings (`help(MaxPool2d)`): they follow the
# module contract of part 1 exactly.
#
# **What you write:** `ReLU`, `Dropout`, `Momentum.step` and `Conv2d`, then the network that
# assembles them, `build_cnn`, which you train on MNIST. As before, cells marked *your answer* are
# yours, and the test cell after each one tells you whether you are on track; the grader runs more
# tests of the same kind. The markdown questions are graded by hand.

# %% kind="readonly" grade_id="imports"
# %matplotlib inline
import os
import time

import numpy as np
from IPython.display import display

from dlcore import EpochStats, Module, Sequential, fit, gradcheck, plot, predict, zero_bias
from dlcore.activations import Sigmoid
from dlcore.data import load_mnist, one_hot
from dlcore.errors import DataError
from dlcore.gradcheck import summarize
from dlcore.im2col import col2im, conv_output_size, im2col
from dlcore.init import normal_kernels
from dlcore.log_softmax import LogSoftMax, NLLLoss
from dlcore.notebook_errors import friendly_errors
from dlcore.notebook_loader import NotebookLoadError, load_notebook
from dlcore.pooling import MaxPool2d
from dlcore.reshape import Flatten, Reshape

friendly_errors()  # code not written yet is reported in one line, not a traceback

# %% [markdown]
# The CNN ends with two fully connected layers: they are your `Linear` of part 1, loaded from
# `01_modules.ipynb` (in the same folder), as in part 3.

# %% kind="readonly" grade_id="load_part1"
try:
    part1 = load_notebook("01_modules.ipynb")
except NotebookLoadError as error:
    print(f"Could not load your modules from 01_modules.ipynb: {error}")
else:
    Linear = part1.Linear

# %% [markdown]
# ## 4.1 ReLU, and why not the sigmoid
#
# The **sigmoid** $\sigma(z) = 1 / (1 + e^{-z})$ and $\tanh(z) = 2\sigma(2z) - 1$ squash every input
# into a bounded interval. Their derivatives,
#
# $$\sigma'(z) = \sigma(z)\,\big(1 - \sigma(z)\big), \qquad \tanh'(z) = 1 - \tanh^2(z),$$
#
# are largest at $z = 0$ and decay like $e^{-\lvert z\rvert}$: a unit whose input is far from 0 is
# **saturated**, and the gradient that backprop sends through it is almost 0. `Sigmoid` is in
# dlcore (`dlcore.activations.Sigmoid`); the cell below prints the three derivatives.
#
# The **rectified linear unit** is
#
# $$\operatorname{ReLU}(z) = \max(z, 0), \qquad \operatorname{ReLU}'(z) = \begin{cases} 1 & z > 0 \\
#   0 & z < 0 \end{cases}$$
#
# element-wise (at $z = 0$ we take the derivative 0, as PyTorch does). Like `Tanh`, its Jacobian is
# diagonal, so `bprop` is an element-wise product. It is also cheaper: a comparison instead of an
# exponential.

# %% kind="readonly" grade_id="saturation_demo"
z = np.array([[0.0, 1.0, 2.0, 5.0, 10.0]])
sigmoid = Sigmoid()
sigmoid.fprop(z)
print("z          ", z[0])
print("sigmoid'(z)", np.round(sigmoid.bprop(np.ones_like(z))[0], 6))
print("tanh'(z)   ", np.round(1 - np.tanh(z[0]) ** 2, 6))
print("ReLU'(z)   ", (z[0] > 0).astype(float), "(for z > 0)")

# %% [markdown]
# ### Question (manually graded)
#
# 1. Show that $\sigma'(z) = \sigma(z)(1 - \sigma(z))$ and that $\sigma'(z) \le \frac{1}{4}$.
# 2. In a chain of $L$ sigmoid layers, the gradient w.r.t. the first layer's input is a product of
#    $L$ Jacobians, each $\operatorname{diag}(\sigma'(z_l))\,W_l^\top$. What happens to its size when
#    $L$ grows, if the weights are of order 1? What if some units are saturated?
# 3. Why does ReLU not have this problem for $z > 0$? What happens to a ReLU unit whose input is
#    negative for every training sample?

# %% [markdown] kind="answer" grade_id="relu_question" points=1
# ### BEGIN SOLUTION
# 1. $\sigma(z) = (1 + e^{-z})^{-1}$, so $\sigma'(z) = e^{-z} (1 + e^{-z})^{-2}
#    = \sigma(z)\,\dfrac{e^{-z}}{1 + e^{-z}} = \sigma(z)\,(1 - \sigma(z))$. With $s = \sigma(z) \in (0, 1)$,
#    $s(1 - s)$ is a parabola whose maximum is $\frac{1}{4}$, at $s = \frac{1}{2}$, i.e. $z = 0$.
# 2. Each layer multiplies the gradient by $\operatorname{diag}(\sigma')$, whose entries are at most
#    $\frac{1}{4}$: with weights of order 1 the gradient shrinks by about $4^{L}$ or more, and the
#    first layers barely learn (the **vanishing gradient**). A saturated unit ($\lvert z\rvert \gtrsim 5$,
#    $\sigma' < 0.007$) blocks its path almost completely. $\tanh' \le 1$ is better at 0 but
#    saturates the same way.
# 3. For $z > 0$, $\operatorname{ReLU}'(z) = 1$ whatever the size of $z$: the gradient passes
#    unchanged, it never saturates on that side. A unit whose input is negative for every sample
#    outputs 0 and gets gradient 0 everywhere, so its weights never change: a **dead** unit (a
#    reason for small learning rates and for initialising biases at 0 or slightly positive).
# ### END SOLUTION

# %% [markdown]
# ### Code
#
# Write `ReLU`. `fprop` caches its output as `self.y` (the derivative is $1$ where $y > 0$, else
# $0$); `bprop` returns `grad_output` where the unit is active and 0 elsewhere. It must work for
# any shape: in the CNN it sees images `(N, C, H, W)`. Keep the dtype of the input (float32 stays
# float32).

# %% kind="solution" grade_id="relu"
class ReLU(Module):
    """Element-wise ``max(z, 0)``: any shape ``(N, ...) -> (N, ...)``."""

    def fprop(self, z):
        """Caches the output as ``self.y``."""
        ### BEGIN SOLUTION
        self.y = np.maximum(z, 0)
        return self.y
        ### END SOLUTION

    def bprop(self, grad_output):
        ### BEGIN SOLUTION
        return grad_output * (self.y > 0)
        ### END SOLUTION

# %% kind="tests" grade_id="test_relu"
module = ReLU()
y = module.fprop(np.array([[-2.0, 0.0, 3.0]]))
assert np.array_equal(y, [[0.0, 0.0, 3.0]]), "ReLU.fprop should return max(z, 0)"
grad_input = module.bprop(np.array([[5.0, 5.0, 5.0]]))
assert np.array_equal(grad_input, [[0.0, 0.0, 5.0]]), \
    "ReLU.bprop should pass the gradient where z > 0 and block it elsewhere (derivative 0 at z = 0)"
report = gradcheck(ReLU(), np.random.default_rng(0).standard_normal((4, 5)))
print(report)
assert report.passed, "ReLU.bprop disagrees with finite differences of fprop"

# %% [markdown]
# ## 4.2 LogSoftMax and the negative log-likelihood
#
# In part 1 the classifier ended with `SoftMax` and `CrossEntropy`:
# $y = \operatorname{softmax}(z)$, then $C = -\frac{1}{N}\sum_n \log y_{n,c_n}$ ($c_n$ the correct
# class). Mathematically fine, numerically fragile. dlcore's `LogSoftMax` and `NLLLoss` compute the
# same cost in the **log domain**:
#
# $$\log \operatorname{softmax}(z)_k = z_k - m - \log \sum_j e^{z_j - m}, \qquad m = \max_j z_j,
#   \qquad C = -\frac{1}{N}\sum_n \sum_k t_{nk}\, \log \operatorname{softmax}(z_n)_k .$$
#
# * **No overflow and no $\log 0$.** Every $z_j - m \le 0$, so no exponential overflows, and the sum
#   is at least $e^0 = 1$, so its log is finite. A log-probability of $-2000$ is simply the number
#   $-2000$. The two-step version computes $y = e^{-2000} = 0$ first (underflow: the smallest
#   positive float32 is about $10^{-38}$, i.e. $e^{-87}$), and $\log 0 = -\infty$; part 1 floored $y$
#   at `tiny`, so the cost is capped at 87 in float32 however wrong the network is.
# * **A bounded gradient.** `CrossEntropy.bprop` returns $-t / (N y)$: for a confidently wrong
#   prediction $y$ is tiny and this is huge (up to $10^{38}/N$), and only the multiplication by the
#   SoftMax Jacobian, whose entries are tiny too, brings it back; the product of a huge and a tiny
#   number loses precision or overflows. Fused, the gradient w.r.t. the logits is
#   $\frac{1}{N}\big(\operatorname{softmax}(z) - t\big)$, every entry between $-\frac{1}{N}$ and
#   $\frac{1}{N}$.
#
# `NLLLoss` takes log-probabilities and one-hot targets, and its `bprop()` returns $-t/N$; the chain
# `LogSoftMax` then `NLLLoss` replaces `SoftMax` then `CrossEntropy` in the CNN. Both are given:
# read `dlcore/log_softmax.py`. The cell below compares the two routes on a sample whose correct
# class has a logit of $-1000$ (a very wrong network), in float32.

# %% kind="readonly" grade_id="log_softmax_demo"
z = np.array([[1000.0, 0.0, -1000.0]], dtype=np.float32)  # logits of one sample
t = np.array([[0.0, 0.0, 1.0]], dtype=np.float32)  # the correct class is the last one

with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
    naive = np.exp(z) / np.exp(z).sum()  # no max subtracted: exp(1000) = inf, and inf / inf = nan
    e = np.exp(z - z.max())
    y = e / e.sum()  # stable softmax, as in part 1: the last probability underflows to 0
    y_floor = np.maximum(y, np.finfo(np.float32).tiny)  # part 1's floor
    grad_y = -t / y_floor  # CrossEntropy.bprop (N = 1)
    grad_z = y * (grad_y - (grad_y * y).sum(axis=1, keepdims=True))  # then SoftMax.bprop
    print("softmax without the shift:", naive)
    print("stable softmax:           ", y, "  log:", np.log(y))
print("cost with the floor:      ", float(-np.log(y_floor[0, 2])), "(the true cost is 2000)")
print("CrossEntropy gradient ∂C/∂y:", grad_y)
print("then through SoftMax, ∂C/∂z:", grad_z)

log_softmax, nll = LogSoftMax(), NLLLoss()
cost = nll.fprop(log_softmax.fprop(z), t)
print("\nLogSoftMax:", log_softmax.y, " NLL cost:", cost)
print("gradient w.r.t. the logits, (softmax − t)/N:", log_softmax.bprop(nll.bprop()))

# %% [markdown]
# ### Question (manually graded)
#
# 1. Show that the Jacobian of $\ell = \log\operatorname{softmax}(z)$ (one sample) is
#    $\partial \ell_k / \partial z_j = \delta_{kj} - \operatorname{softmax}(z)_j$, and deduce that the
#    gradient of the cost w.r.t. the logits of sample $n$ is $\frac{1}{N}(\operatorname{softmax}(z_n) - t_n)$.
# 2. Using the numbers printed above, explain what the two-step version gets wrong, both for the
#    cost and for the gradient that starts backpropagation.

# %% [markdown] kind="answer" grade_id="log_softmax_question" points=2
# ### BEGIN SOLUTION
# 1. $\ell_k = z_k - \log\sum_i e^{z_i}$, so $\partial \ell_k/\partial z_j = \delta_{kj} -
#    e^{z_j}/\sum_i e^{z_i} = \delta_{kj} - s_j$ with $s = \operatorname{softmax}(z)$. The cost of
#    sample $n$ is $-\frac{1}{N}\sum_k t_k \ell_k$, so
#    $\partial C/\partial z_j = -\frac{1}{N}\sum_k t_k(\delta_{kj} - s_j) = -\frac{1}{N}(t_j - s_j \sum_k t_k)
#    = \frac{1}{N}(s_j - t_j)$ for a one-hot $t$. Each entry lies in $[-\frac{1}{N}, \frac{1}{N}]$.
# 2. Without the shift the softmax is `nan` (overflow of $e^{1000}$). With the shift, the correct
#    class's probability $e^{-2000}$ underflows to exactly 0, so $\log y = -\infty$; floored at
#    float32's `tiny` ($\approx 1.2\cdot10^{-38}$) the cost becomes $87.3$ instead of $2000$: the cost,
#    and any learning curve built on it, is wrong. The gradient $-t/y$ is $-8.5\cdot10^{37}$, a
#    factor 4 from float32's overflow ($3.4\cdot10^{38}$); SoftMax's `bprop` then multiplies it by the
#    probabilities, and the one it needs has underflowed to 0: the gradient w.r.t. the logits comes
#    out as **exactly 0**. The network is as wrong as it can be and gets no signal to correct itself
#    (with a slightly larger $-t/y$ it would even be $\infty \cdot 0 = $ `nan`). The fused version
#    returns the exact cost $2000$ and the gradient $(1, 0, -1)$: bounded, exact, and pointing the
#    right way (lower the winning logit, raise the correct one).
# ### END SOLUTION

# %% [markdown]
# ## 4.3 Dropout
#
# A large network can memorise its training set: part 3's MLP drove its training loss towards 0
# while its test errors stopped falling. **Dropout** (Srivastava et al., 2014) fights this by
# switching off each unit at random during training, independently for every sample and every
# step, with probability $p$. A unit can then not rely on any particular other unit being present,
# so the network learns redundant, more robust features; it behaves like an average of the many
# thinned networks it trains at once.
#
# **Inverted dropout**, the form every framework uses: draw a mask $m$ with $m_i = 1$ with
# probability $1 - p$ and $0$ with probability $p$, and
#
# $$y = \frac{m \odot z}{1 - p} \quad \text{(training)}, \qquad y = z \quad \text{(evaluation)}.$$
#
# The division by $1 - p$ keeps the expected value of every output equal to its input, so that the
# next layer sees inputs of the same size in training and evaluation. At evaluation the network
# must be deterministic and use all its units: dropout is then the identity.
#
# **Train and eval modes.** Every module has a flag `self.training` (True by default).
# `model.train()` and `model.eval()` set it on a `Sequential` and all its children. dlcore's
# training loop (`train_epoch`, `fit`) puts the model in train mode, and `predict` and
# `count_errors` evaluate in eval mode. Your `fprop` reads `self.training`.
#
# The backward pass multiplies by the same Jacobian, $\operatorname{diag}(m)/(1-p)$: a dropped unit
# passes no gradient back. So `fprop` caches the scaled mask $m / (1 - p)$ as `self.mask`
# (or `None` in eval mode), and `bprop` uses it.

# %% [markdown]
# ### Question (manually graded)
#
# 1. Show that $\mathbb{E}[y_i] = z_i$ for inverted dropout. What would go wrong at evaluation if
#    training used $y = m \odot z$ without the scaling, and evaluation the identity?
# 2. Why must the mask be drawn anew at every `fprop`, but *not* between `fprop` and `bprop`?

# %% [markdown] kind="answer" grade_id="dropout_question" points=1
# ### BEGIN SOLUTION
# 1. $m_i$ is 1 with probability $1 - p$, so $\mathbb{E}[y_i] = \frac{z_i}{1-p}\,\mathbb{E}[m_i]
#    = \frac{z_i}{1-p}(1 - p) = z_i$. Without the scaling, a unit of the next layer would receive on
#    average $(1-p)$ times its inputs during training, and their full size at evaluation: its
#    pre-activation would be $1/(1-p)$ times larger than anything it was trained on (for $p = 0.5$,
#    twice), shifting every later layer. (The original paper instead multiplied by $1-p$ at test
#    time; inverted dropout moves that factor into training so that evaluation is free.)
# 2. A fresh mask per step is what makes the network an ensemble of thinned networks and keeps units
#    from co-adapting; a fixed mask would just be a smaller network. But within one step, `bprop`
#    must differentiate the function that `fprop` actually computed, the one with that mask: with
#    another mask the gradient would belong to a different network (and would not pass a gradient
#    check).
# ### END SOLUTION

# %% [markdown]
# ### Code
#
# The constructor is given: `p` is the drop probability and `rng` the generator to draw the masks
# from (`self.rng.random(z.shape)` gives uniform numbers in $[0, 1)$; an entry is kept when its
# number is at least $p$). Write `fprop` and `bprop`. Keep the dtype of the input: build the mask
# in `z.dtype`.

# %% kind="solution" grade_id="dropout"
class Dropout(Module):
    """Inverted dropout: in train mode, zero each entry with probability ``p`` and scale the rest by
    ``1 / (1 − p)``; in eval mode, the identity. Any shape ``(N, ...) -> (N, ...)``."""

    def __init__(self, p=0.5, rng=None):
        if not 0 <= p < 1:
            raise ValueError(f"the drop probability p must be in [0, 1), got {p}")
        self.p = p
        self.rng = np.random.default_rng() if rng is None else rng

    def fprop(self, z):
        """Caches the scaled mask ``m / (1 − p)`` as ``self.mask`` (``None`` in eval mode)."""
        ### BEGIN SOLUTION
        if not self.training or self.p == 0:
            self.mask = None
            return z
        keep = self.rng.random(z.shape) >= self.p
        self.mask = keep.astype(z.dtype) / z.dtype.type(1 - self.p)
        return z * self.mask
        ### END SOLUTION

    def bprop(self, grad_output):
        ### BEGIN SOLUTION
        return grad_output if self.mask is None else grad_output * self.mask
        ### END SOLUTION

# %% kind="tests" grade_id="test_dropout"
module = Dropout(0.25, rng=np.random.default_rng(0))
z = np.ones((200, 50))
y = module.fprop(z)
assert y.shape == z.shape, "Dropout.fprop must keep the shape of its input"
assert set(np.unique(y)) <= {0.0, 1 / 0.75}, "in train mode, each entry is either dropped (0) or scaled by 1/(1 − p)"
assert abs(np.mean(y == 0) - 0.25) < 0.02, f"about p = 25 % of the entries should be zero, not {np.mean(y == 0):.0%}"
g = np.random.default_rng(1).standard_normal(z.shape)
assert np.allclose(module.bprop(g), g * y), "Dropout.bprop must use the same mask (and scale) as the last fprop"
module.eval()
assert np.array_equal(module.fprop(2 * z), 2 * z), "in eval mode, Dropout is the identity"
assert np.array_equal(module.bprop(g), g), "in eval mode, Dropout.bprop passes the gradient unchanged"

# %% [markdown]
# ## 4.4 Momentum
#
# Plain SGD steps along the current mini-batch gradient. In a long, narrow valley of the cost (a
# **ravine**: steep across, shallow along) the gradient points mostly across: SGD bounces from wall
# to wall and advances slowly along the floor, and a larger learning rate only makes it bounce
# harder. **Momentum** (Polyak, 1964) keeps a running *velocity* $v$ for every parameter:
#
# $$v \leftarrow \mu\, v + g, \qquad \theta \leftarrow \theta - \lambda\, v, \qquad v_0 = 0,$$
#
# with $\mu \in [0, 1)$, typically 0.9 (this is PyTorch's form). Unrolled,
# $v_t = g_t + \mu g_{t-1} + \mu^2 g_{t-2} + \dots$: an exponentially weighted sum of past
# gradients. Components that keep their sign (along the valley) add up; components that flip
# sign from step to step (across it) cancel. It also averages out part of the noise of the
# mini-batch estimates. $\mu = 0$ is plain SGD.
#
# `Momentum` has the interface of dlcore's `SGD` and `Adam`: it is built on a model, and `step()` is
# called after each `bprop`. It reads `self.model.params()` (the live arrays: update them **in
# place**) and `self.model.grads()` (read them at every step: modules rebind their gradient arrays
# in each `bprop`). The velocities are created for you, one per parameter, of the same shape and
# dtype. `self.lr` may be changed between steps by a schedule: read it in `step`.

# %% [markdown]
# ### Question (manually graded)
#
# For a constant gradient $g$, show that $v_t \to g/(1 - \mu)$: what is the effective learning rate
# for $\mu = 0.9$? What is the limit for a component that alternates, $g, -g, g, -g, \dots$?

# %% [markdown] kind="answer" grade_id="momentum_question" points=1
# ### BEGIN SOLUTION
# With $g_t = g$: $v_t = g\,(1 + \mu + \dots + \mu^{t-1}) = g\,\frac{1 - \mu^t}{1 - \mu} \to
# \frac{g}{1 - \mu}$ (or: the fixed point of $v = \mu v + g$). The step is then
# $\lambda g/(1 - \mu)$: for $\mu = 0.9$, ten times plain SGD's, an effective learning rate of
# $10\lambda$ along consistent directions. With $g_t = (-1)^t g$:
# $v_t = (-1)^t g\,(1 - \mu + \mu^2 - \dots) \to (-1)^t\,\frac{g}{1 + \mu}$, amplitude
# $g/1.9 \approx 0.53\,g$: oscillating directions are damped to about half, while consistent ones
# are amplified tenfold, a ratio of 19 in favour of progress along the valley.
# ### END SOLUTION

# %% kind="solution" grade_id="momentum"
class Momentum:
    """SGD with momentum: for every parameter θ with gradient g, ``v ← μ·v + g`` then ``θ ← θ − λ·v``,
    with one velocity ``v`` per parameter, starting at zero."""

    def __init__(self, model, lr, momentum=0.9):
        self.model = model
        self.lr = lr
        self.momentum = momentum
        self.velocities = [np.zeros_like(p) for p in model.params()]

    def step(self):
        """Update every parameter of the model in place from the gradients of its last bprop."""
        ### BEGIN SOLUTION
        for p, g, v in zip(self.model.params(), self.model.grads(), self.velocities, strict=True):
            v *= self.momentum
            v += g
            p -= self.lr * v
        ### END SOLUTION

# %% kind="tests" grade_id="test_momentum"
class OneParameter(Module):
    """A stand-in model: one parameter, whose gradient the test sets."""

    def __init__(self):
        self.theta = np.array([1.0, -2.0])
        self.grad = np.zeros(2)

    def params(self):
        return [self.theta]

    def grads(self):
        return [self.grad]


model = OneParameter()
optimizer = Momentum(model, lr=0.1, momentum=0.5)
model.grad = np.array([1.0, 0.0])
optimizer.step()
assert np.allclose(model.theta, [0.9, -2.0]), "first step: v = g, θ ← θ − λ·v = [0.9, −2]"
optimizer.step()
assert np.allclose(model.theta, [0.75, -2.0]), "second step: v = 0.5·[1, 0] + [1, 0] = [1.5, 0], θ = [0.75, −2]"
model.grad = np.array([0.0, 0.0])
optimizer.step()
assert np.allclose(model.theta, [0.675, -2.0]), "with a zero gradient the velocity carries on: v = [0.75, 0]"

# %% [markdown]
# ## 4.5 Convolution
#
# A `Linear` layer on the 784 pixels treats them as an unordered list: a stroke moved by two pixels
# is a completely different input, and each unit has 784 weights to learn. A **convolution** slides
# a small kernel of $k \times k$ weights over the image and computes the same weighted sum at every
# position: the features it detects (edges, corners, stroke ends) are local, and found wherever
# they are.
#
# **Definition.** The input has $C_\text{in}$ channels (1 for grey-scale, or the feature maps of the
# previous layer): $x$ of shape $(N, C_\text{in}, H, W)$. The layer has $C_\text{out}$ kernels, $W$ of
# shape $(C_\text{out}, C_\text{in}, k, k)$, and a bias $b$ of shape $(C_\text{out},)$. With stride $s$
# and zero padding of $p$ pixels on each side (the padded input is $\tilde{x}$),
#
# $$y_{n,o,i,j} = b_o + \sum_{c=1}^{C_\text{in}} \sum_{u=0}^{k-1} \sum_{v=0}^{k-1}
#   W_{o,c,u,v}\; \tilde{x}_{n,\,c,\,is+u,\,js+v},$$
#
# an output of shape $(N, C_\text{out}, H_\text{out}, W_\text{out})$ with
#
# $$H_\text{out} = \left\lfloor \frac{H + 2p - k}{s} \right\rfloor + 1 \quad\text{(likewise }
#   W_\text{out}\text{; `conv_output_size` computes it)}.$$
#
# (Strictly speaking this is a *cross-correlation*: a mathematical convolution would flip the
# kernel, $W_{o,c,k-1-u,k-1-v}$. Every framework computes the unflipped form, and since the kernels
# are learnt the difference does not matter.) Padding $p = (k-1)/2$ with $s = 1$ keeps the size:
# the CNN's $5 \times 5$ kernels use $p = 2$ on $28 \times 28$ images.
#
# **As a matrix product.** Loops over $n, o, i, j$ in Python would be far too slow. Instead,
# `im2col(x, k, k, s, p)` copies every **receptive field** $\tilde{x}_{n,:,is:is+k,js:js+k}$ into a
# column of length $C_\text{in} k^2$, in $(c, u, v)$ order: `cols` is a matrix $X_c$ with **one column
# per output pixel**, of shape $(C_\text{in} k^2,\ P)$ with $P = H_\text{out} W_\text{out} N$. Its
# columns go position by position, and at each position through the $N$ samples of the batch: the
# order $(i, j, n)$ in which a `reshape` to $(H_\text{out}, W_\text{out}, N)$ lists them. Reshaping
# the kernels to a matrix $W_m$ of shape $(C_\text{out}, C_\text{in} k^2)$ in the same $(c, u, v)$
# order, the sum above is a dot product of a row of $W_m$ with a column of `cols`, so the whole layer
# is one matrix product,
#
# $$Y = W_m X_c + b \quad (C_\text{out},\ P),$$
#
# one row per output channel, one column per output pixel ($b$ added to every column): reshaped to
# $(C_\text{out}, H_\text{out}, W_\text{out}, N)$ and transposed to $(N, C_\text{out}, H_\text{out},
# W_\text{out})$. In other words a convolution is a `Linear` layer applied to every receptive field,
# with the same weights at every position (part 1's $zW + b$ with one row per sample, transposed:
# here one column per receptive field). The price is memory: each pixel is copied into up to $k^2$
# columns.
#
# **Why the samples go last.** The values do not depend on the order of the columns, only the speed
# does. With the $N$ samples of each output pixel side by side, NumPy works on long runs of
# numbers that lie next to each other in memory: `im2col` copies runs of $W_\text{out} N$ numbers,
# and $Y$, hence the image your `fprop` returns, lies in memory as $(C_\text{out}, H_\text{out},
# W_\text{out}, N)$, which the ReLU, the max pooling and the next `im2col` read in long runs too.
# With the samples first, those runs are a dozen numbers long, and the CNN trains about 1.5 times
# slower.

# %% kind="readonly" grade_id="im2col_demo"
x = np.arange(16.0).reshape(1, 1, 4, 4)  # one 4×4 image, pixels numbered 0..15
cols = im2col(x, 3, 3)  # 3×3 windows, stride 1, no padding: a 2×2 output
print("image:\n", x[0, 0])
print("cols shape:", cols.shape, "(C_in·k·k, H_out·W_out·N): one column per output pixel")
print("column 1, the receptive field of output pixel (0, 1):", cols[:, 1])
two = im2col(np.concatenate([x, 100 + x]), 3, 3)  # a batch of two images: the samples side by side
print("with two images, columns 2 and 3 are output pixel (0, 1) of each:", two[:, 2], two[:, 3], sep="\n")
print("output size of 28 + 2·2 padding, k = 5, stride 1:", conv_output_size(28, 5, 1, 2))

# %% [markdown]
# ### Derivation (manually graded)
#
# Let $G$ = `grad_output`, of shape $(N, C_\text{out}, H_\text{out}, W_\text{out})$, transposed to
# $(C_\text{out}, H_\text{out}, W_\text{out}, N)$ and reshaped to a matrix $G_m$ of shape
# $(C_\text{out}, P)$: one column per output pixel, in the order of the columns of `cols` $= X_c$
# (the reverse of what `fprop` did to $Y$). Using $Y = W_m X_c + b$ and part 1's derivation of
# `Linear`, show that
#
# $$\frac{\partial C}{\partial W_m} = G_m X_c^\top, \qquad
#   \frac{\partial C}{\partial b_o} = \sum_{n,i,j} G_{n,o,i,j}, \qquad
#   \frac{\partial C}{\partial X_c} = W_m^\top G_m .$$
#
# Then explain why the gradient w.r.t. the input image is `col2im` of $\partial C/\partial X_c$:
# `im2col` is a linear map $x \mapsto A x$ (each entry of `cols` is one pixel of $x$, or a padding
# zero); what is the gradient of $A x$, and what does $A^\top$ do to a pixel that belongs to several
# receptive fields? Also write $\partial C / \partial W_{o,c,u,v}$ as a sum over $n, i, j$.

# %% [markdown] kind="answer" grade_id="derive_conv2d" points=3
# ### BEGIN SOLUTION
# Transposed, $Y^\top = X_c^\top W_m^\top + b$: row $r = (i, j, n)$ of $Y^\top$ is
# $y_r = x_r W_m^\top + b$ with $x_r$ the receptive field (column $r$ of $X_c$), exactly a `Linear`
# layer with weight matrix $W_m^\top$ (shape $(C_\text{in}k^2, C_\text{out})$) applied to the $P$
# rows of $X_c^\top$, with output gradient $G_m^\top$. Part 1 gives
# $\partial C/\partial W_m^\top = X_c G_m^\top$, i.e. $\partial C/\partial W_m = G_m X_c^\top$;
# $\partial C/\partial b = \sum_r g_r$ (the sum of the columns of $G_m$), a sum over samples **and**
# positions, because the same kernel and bias are used at every position (weight sharing: the
# contributions of all positions add, like those of all samples in part 1); and
# $\partial C/\partial X_c^\top = G_m^\top W_m$, i.e. $\partial C/\partial X_c = W_m^\top G_m$. Entry-wise,
#
# $$\frac{\partial C}{\partial W_{o,c,u,v}} = \sum_{n,i,j} G_{n,o,i,j}\; \tilde{x}_{n,c,is+u,js+v},$$
#
# the correlation of the input with the output gradient.
#
# `cols` $= A x$ (as vectors) for a fixed 0/1 matrix $A$ (one 1 per row, except rows reading the
# padding, which are all 0). For a linear map, $\partial C/\partial x = (\partial C/\partial \texttt{cols})\,A$,
# i.e. as a column vector $A^\top\, \partial C/\partial \texttt{cols}$: the adjoint. Column $q$ of $A$
# has a 1 in every row (receptive-field entry) that copied pixel $q$, so $A^\top$ **adds** the
# gradients of all the copies of a pixel: a pixel in the overlap of several receptive fields gets
# the sum of their gradients, and entries read from the padding are dropped. That is what `col2im`
# computes: `grad_x = col2im(W_m.T @ G_m, x.shape, k, k, s, p)`.
# ### END SOLUTION

# %% [markdown]
# ### Code
#
# Write `Conv2d.fprop` and `Conv2d.bprop` with `im2col` and `col2im` (both imported above). The
# constructor, `params()` and `grads()` are given; the kernels start as
# $\mathcal{N}\big(0, \sqrt{2/(\text{fan}_\text{in} + \text{fan}_\text{out})}\big)$ with
# $\text{fan}_\text{in} = C_\text{in}k^2$ and $\text{fan}_\text{out} = C_\text{out}k^2$ (`normal_kernels`).
#
# **Caching names** (the tests of `bprop` set them, so that `bprop` is tested on its own):
# `fprop` stores its input as `self.z` and the im2col matrix as `self.cols`. `bprop` sets
# `self.grad_W` (shape of `W`) and `self.grad_b` (shape of `b`) and returns the gradient w.r.t. the
# input (shape of `self.z`), or `None` when `self.input_grad` is False, as in your `Linear`: the first
# convolution of the CNN sees the pixels, whose gradient nobody needs. Use `reshape` and `transpose`,
# no Python loop over pixels or samples: `fprop` turns the matrix $Y$ into images
# (`conv_output_size` gives $H_\text{out}$ and $W_\text{out}$), `bprop` turns `grad_output` back
# into the matrix $G_m$.

# %% kind="solution" grade_id="conv2d"
class Conv2d(Module):
    """2-D convolution (cross-correlation, as in every framework) with ``C_out`` kernels of ``k×k``:
    ``(N, C_in, H, W) -> (N, C_out, H_out, W_out)``, ``H_out = ⌊(H + 2·padding − k) / stride⌋ + 1``."""

    def __init__(self, c_in, c_out, kernel_size, stride=1, padding=0, rng=None, dtype=np.float64):
        self.k, self.stride, self.padding = kernel_size, stride, padding
        self.W = normal_kernels(c_out, c_in, kernel_size, kernel_size, rng, dtype)  # (C_out, C_in, k, k)
        self.b = zero_bias(c_out, dtype)  # (C_out,)
        self.grad_W = np.zeros_like(self.W)
        self.grad_b = np.zeros_like(self.b)

    def fprop(self, z):
        """``z (N, C_in, H, W) -> (N, C_out, H_out, W_out)``; caches ``self.z`` and ``self.cols``."""
        ### BEGIN SOLUTION
        n, _, h, w = z.shape
        h_out = conv_output_size(h, self.k, self.stride, self.padding)
        w_out = conv_output_size(w, self.k, self.stride, self.padding)
        self.z = z
        self.cols = im2col(z, self.k, self.k, self.stride, self.padding)  # X_c: (C_in·k·k, H_out·W_out·N)
        y = self.W.reshape(len(self.W), -1) @ self.cols  # W_m X_c: (C_out, H_out·W_out·N)
        y += self.b[:, None]  # b added to every column, in place: one array of that size instead of two
        return y.reshape(-1, h_out, w_out, n).transpose(3, 0, 1, 2)
        ### END SOLUTION

    def bprop(self, grad_output):
        """``grad_output (N, C_out, H_out, W_out) -> grad_input (N, C_in, H, W)``; sets ``grad_W``, ``grad_b``."""
        ### BEGIN SOLUTION
        c_out = len(self.W)
        g_m = grad_output.transpose(1, 2, 3, 0).reshape(c_out, -1)  # G_m: (C_out, H_out·W_out·N), as cols
        # G_m X_cᵀ, computed as (X_c G_mᵀ)ᵀ = ∂C/∂W_mᵀ as in Linear: the same numbers, and BLAS is about
        # twice as fast on this orientation (the long axis P is summed over either way).
        self.grad_W = (self.cols @ g_m.T).T.reshape(self.W.shape)
        self.grad_b = g_m.sum(axis=1)  # Σ of the columns of G_m: over samples and positions
        if not self.input_grad:  # the input is the data: its gradient would be thrown away
            return None
        return col2im(self.W.reshape(c_out, -1).T @ g_m, self.z.shape, self.k, self.k, self.stride, self.padding)
        ### END SOLUTION

    def params(self):
        return [self.W, self.b]

    def grads(self):
        return [self.grad_W, self.grad_b]

# %% kind="tests" grade_id="test_conv2d_fprop"
conv = Conv2d(1, 1, 3)
conv.W = np.arange(9.0).reshape(1, 1, 3, 3)
conv.b = np.array([0.5])
image = np.zeros((1, 1, 4, 4))
image[0, 0, 1, 1] = 1.0
y = conv.fprop(image)
assert y.shape == (1, 1, 2, 2), f"a 3×3 kernel on a 4×4 image without padding gives 2×2, not {np.shape(y)[2:]}"
assert np.allclose(y[0, 0], [[4.5, 3.5], [1.5, 0.5]]), \
    "each output is Σ W·(receptive field) + b; a flipped kernel (true convolution) gives [[0.5, 1.5], [3.5, 4.5]]"
y = Conv2d(2, 3, 3, stride=2, padding=1, rng=np.random.default_rng(0)).fprop(np.ones((4, 2, 7, 6)))
assert y.shape == (4, 3, 4, 3), f"stride 2 and padding 1 on 7×6 give an output of (4, 3, 4, 3), not {np.shape(y)}"

# %% kind="tests" grade_id="test_conv2d_bprop"
conv = Conv2d(1, 1, 2)
conv.W = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
conv.z = np.arange(9.0).reshape(1, 1, 3, 3)  # what fprop would have cached
conv.cols = im2col(conv.z, 2, 2)
grad_input = conv.bprop(np.ones((1, 1, 2, 2)))
assert np.shape(grad_input) == (1, 1, 3, 3), "grad_input must have the shape of the input z"
assert np.allclose(grad_input[0, 0], [[1, 3, 2], [4, 10, 6], [3, 7, 4]]), \
    "each pixel's gradient is the sum over the receptive fields that contain it (col2im adds the overlaps)"
assert np.allclose(conv.grad_W[0, 0], [[8, 12], [20, 24]]), "grad_W[u, v] is Σ over output pixels of g · z[i+u, j+v]"
assert np.allclose(conv.grad_b, [4.0]), "grad_b sums the output gradient over samples and positions"
rng = np.random.default_rng(0)
for stride, padding in [(1, 0), (1, 1), (2, 1)]:
    report = gradcheck(Conv2d(2, 3, 3, stride, padding, rng=rng), rng.standard_normal((2, 2, 5, 6)))
    print(f"stride {stride}, padding {padding}:", report)
    assert report.passed, f"Conv2d.bprop with stride {stride} and padding {padding} disagrees with finite differences"

# %% [markdown]
# ## 4.6 Pooling and flattening (given)
#
# **Max pooling** `MaxPool2d(2)` keeps the largest value of each $2 \times 2$ block of every channel:
# $(N, C, H, W) \to (N, C, H/2, W/2)$. It halves the resolution (and the cost of the next layer),
# and makes the output insensitive to shifts of a pixel inside a block. Its output is a *selection*
# of inputs, so its Jacobian has a single 1 per output: the backward pass sends each output's
# gradient to the input that was the maximum of its window, and 0 to the others (ties: the first
# maximum, as PyTorch). **Flatten** turns the $(N, 16, 7, 7)$ feature maps into rows of 784 for the
# `Linear` layers, and **Reshape**`(1, 28, 28)` turns MNIST's rows of 784 pixels into one-channel
# images; their backward passes only reshape the gradient back. All three are in dlcore and follow
# the module contract; here they are checked like your modules. (Max pooling is differentiable
# except where two inputs of a window tie; random inputs never do.)

# %% kind="readonly" grade_id="pooling_demo"
x = np.array([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 8.0, 1.0], [0.0, 2.0, 1.0, 1.0], [6.0, 1.0, 0.0, 9.0]]]])
pool = MaxPool2d(2)
print("input:\n", x[0, 0], "\nMaxPool2d(2):\n", pool.fprop(x)[0, 0])
print("gradient of ones, routed to the maxima:\n", pool.bprop(np.ones((1, 1, 2, 2)))[0, 0])
rng = np.random.default_rng(1)
print(gradcheck(MaxPool2d(2), rng.standard_normal((2, 3, 6, 4))))
print(gradcheck(Flatten(), rng.standard_normal((2, 3, 4, 4))))

# %% [markdown]
# ## 4.7 The convolutional network
#
# The network reads MNIST's rows of 784 pixels and returns log-probabilities. Two convolution
# blocks extract features, then two `Linear` layers classify them:
#
# | layer | output shape (per sample) | parameters |
# |---|---|---|
# | `Reshape(1, 28, 28)` | 1 × 28 × 28 | |
# | `Conv2d(1, 8, 5, padding=2)`, `ReLU`, `MaxPool2d(2)` | 8 × 28 × 28 → 8 × 14 × 14 | 8·25 + 8 = 208 |
# | `Conv2d(8, 16, 5, padding=2)`, `ReLU`, `MaxPool2d(2)` | 16 × 14 × 14 → 16 × 7 × 7 | 16·200 + 16 = 3,216 |
# | `Flatten` | 784 | |
# | `Linear(784, 128)`, `ReLU`, `Dropout(0.3)` | 128 | 784·128 + 128 = 100,480 |
# | `Linear(128, 10)`, `LogSoftMax` | 10 | 128·10 + 10 = 1,290 |
#
# About 105,000 parameters, two thirds of the MLP's 159,000, yet far fewer errors: the convolutions
# build in what we know about images. Train it with `NLLLoss`.
#
# Write `build_cnn(rng, dtype)`: pass `rng` and `dtype` to every `Conv2d` and `Linear`, and `rng`
# to the `Dropout` (its masks then depend on the seed too).

# %% kind="solution" grade_id="cnn"
def build_cnn(rng, dtype=np.float32):
    """The CNN of 4.7: ``(N, 784) pixels -> (N, 10)`` log-probabilities."""
    ### BEGIN SOLUTION
    return Sequential(Reshape(1, 28, 28),
                      Conv2d(1, 8, 5, padding=2, rng=rng, dtype=dtype), ReLU(), MaxPool2d(2),
                      Conv2d(8, 16, 5, padding=2, rng=rng, dtype=dtype), ReLU(), MaxPool2d(2), Flatten(),
                      Linear(784, 128, rng=rng, dtype=dtype), ReLU(), Dropout(0.3, rng=rng),
                      Linear(128, 10, rng=rng, dtype=dtype), LogSoftMax())
    ### END SOLUTION

# %% kind="tests" grade_id="test_cnn"
cnn = build_cnn(np.random.default_rng(0))
names = [type(m).__name__ for m in cnn]
expected = ["Reshape", "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten",
            "Linear", "ReLU", "Dropout", "Linear", "LogSoftMax"]
assert names == expected, f"the CNN's layers should be {expected}; got {names}"
shapes = [p.shape for p in cnn.params()]
assert shapes == [(8, 1, 5, 5), (8,), (16, 8, 5, 5), (16,), (784, 128), (128,), (128, 10), (10,)], \
    f"parameter shapes {shapes}: check the channels (1 → 8 → 16), the kernels (5×5) and the Linear sizes"
assert all(p.dtype == np.float32 for p in cnn.params()), "build the layers with dtype=np.float32 by default"
y = cnn.fprop(np.random.default_rng(1).random((3, 784), dtype=np.float32))
assert y.shape == (3, 10), f"the CNN maps (3, 784) pixels to (3, 10) log-probabilities, not {np.shape(y)}"

# %% [markdown]
# ## 4.8 Every module, checked
#
# One table for all the modules of the CNN, yours and dlcore's, in float64. Dropout draws a new
# mask at every `fprop`, which finite differences cannot follow: the check wraps it so that every
# call reuses the same seed, hence the same mask. The whole CNN is checked at the end, in eval mode
# (no dropout), on a random subset of its Jacobian entries (`subset=`: part 2).
# `summarize` (from `dlcore.gradcheck`) prints one line per report.

# %% kind="readonly" grade_id="gradcheck_table"
class SameMask(Module):
    """Dropout with its generator re-seeded at every fprop: the same mask each time, for gradcheck."""

    def __init__(self, dropout, seed):
        self.dropout, self.seed = dropout, seed

    def fprop(self, z):
        self.dropout.rng = np.random.default_rng(self.seed)
        return self.dropout.fprop(z)

    def bprop(self, grad_output):
        return self.dropout.bprop(grad_output)


def gradcheck_all(rng):
    """``{label: report}`` for every module of this notebook."""
    images = rng.standard_normal((2, 3, 8, 6))
    rows = rng.standard_normal((3, 5))
    logits = 3 * rng.standard_normal((4, 6))
    targets = np.eye(6)[rng.integers(0, 6, 4)]
    cnn = build_cnn(np.random.default_rng(2), dtype=np.float64).eval()
    return {
        "ReLU": gradcheck(ReLU(), images),
        "Sigmoid": gradcheck(Sigmoid(), images),
        "Dropout(0.5), one mask": gradcheck(SameMask(Dropout(0.5), seed=3), images),
        "Linear(5, 4)": gradcheck(Linear(5, 4, rng=rng), rows),
        "LogSoftMax": gradcheck(LogSoftMax(), logits),
        "NLLLoss": gradcheck(NLLLoss(), LogSoftMax().fprop(logits), targets),
        "Conv2d(3, 4, 3)": gradcheck(Conv2d(3, 4, 3, rng=rng), images),
        "Conv2d(3, 2, 5, stride 2, pad 2)": gradcheck(Conv2d(3, 2, 5, 2, 2, rng=rng), images),
        "Conv2d(3, 2, 2, stride 2)": gradcheck(Conv2d(3, 2, 2, 2, rng=rng), images),
        "MaxPool2d(2)": gradcheck(MaxPool2d(2), images),
        "Flatten": gradcheck(Flatten(), images),
        "the CNN, eval mode, subset": gradcheck(cnn, rng.random((2, 784)), subset=10),
    }


try:
    gradchecks = summarize(gradcheck_all(np.random.default_rng(4)))
    display(gradchecks)
except NotImplementedError as missing:
    print(f"Not every module is written yet: {missing}")

# %% [markdown]
# ## 4.9 Training on MNIST
#
# The same data as in part 3, the same training loop (dlcore's `fit`, which calls `train_epoch`
# once per epoch and counts the test errors), with **your** `Momentum` ($\lambda = 0.05$,
# $\mu = 0.9$, batches of 100). One epoch is 600 steps, each a forward and backward pass through
# both convolutions on 100 images: about 15 s per epoch on an idle 2-core machine, 8 epochs some 2 minutes. The
# first convolution's `input_grad` is switched off: nobody needs the gradient w.r.t. the pixels,
# and its `col2im` would be work for nothing.
#
# Quick mode (`DLCORE_QUICK=1`, used to test the notebook) trains one epoch on 5,000 samples.

# %% kind="readonly" grade_id="settings"
QUICK = os.environ.get("DLCORE_QUICK") == "1"  # a short run, used to test this notebook quickly
LEARNING_RATE = 0.05
MOMENTUM = 0.9
BATCH_SIZE = 100
EPOCHS = 1 if QUICK else 8
if QUICK:
    print("Quick mode (DLCORE_QUICK=1): 1 epoch on 5,000 training samples; expect far more errors.")

# %% tags=["long-running"] kind="readonly" grade_id="load_mnist"
try:
    mnist = load_mnist()
except DataError as error:
    mnist = None
    print("MNIST is not here yet: run `python -m dlcore data fetch` in a terminal, then re-run this cell.")
    print(f"(details: {error})")
else:
    x_train, y_train = mnist.x_train, mnist.y_train
    if QUICK:
        x_train, y_train = x_train[:5000], y_train[:5000]
    t_train = one_hot(y_train)
    x_test, y_test = mnist.x_test, mnist.y_test
    print(f"train: x {x_train.shape}, t {t_train.shape}; test: x {x_test.shape}, labels {y_test.shape}")

# %% tags=["long-running"] kind="readonly" grade_id="train_cnn"
def show(stats: EpochStats) -> None:
    print(f"cnn epoch {stats.epoch:2}/{EPOCHS}: train loss {stats.train_loss:.4f}, "
          f"test errors {stats.test_errors:5,}, {stats.seconds:.1f} s", flush=True)


if mnist is None:
    print("No MNIST yet: see the loading cell above.")
else:
    cnn = build_cnn(np.random.default_rng(0))
    cnn.input_grad = False  # the Reshape of the pixels...
    cnn[1].input_grad = False  # ...and the first convolution: no gradient w.r.t. the data
    optimizer = Momentum(cnn, lr=LEARNING_RATE, momentum=MOMENTUM)
    start = time.perf_counter()
    cnn_history = fit(cnn, NLLLoss(), optimizer, x_train, t_train, x_test, y_test, EPOCHS, BATCH_SIZE,
                      np.random.default_rng(1), on_epoch=show)
    print(f"{time.perf_counter() - start:.0f} s in all")

# %% [markdown]
# The test below checks the target, with a little slack for the randomness of initialisation and
# shuffling: at most {NOTEBOOK_TARGET_ERRORS[cnn]} test errors after the 8 epochs (1.5 %; the reference
# solution makes 86). In quick mode it only checks that the CNN does far better than chance: at most
# {QUICK_TARGET_ERRORS} errors.
#
# **How this target is graded.** The grader does not use your run either: it builds the CNN of 4.7
# from your `Conv2d`, `ReLU`, `Dropout` and `Linear`, and trains it briefly, for
# {GRADER_TRAINING_TEXT[cnn]} (batches of 100, float32, seed 0), never with your `Momentum` (so
# that a broken `Momentum` costs its own test only). Its target after that short run is
# {GRADER_TARGET_ERRORS[cnn]} test errors. Your modules compute every gradient, and a random sample of
# the steps is checked against the grader's own computation.

# %% kind="tests" grade_id="test_cnn_target"
from dlcore.course import NOTEBOOK_TARGET_ERRORS, QUICK_TARGET_ERRORS

assert globals().get("mnist") is not None, "MNIST is missing: fetch it (see the loading cell) and re-run the notebook"
assert "cnn_history" in globals(), "train the CNN (the cell above) first"
cnn_limit = QUICK_TARGET_ERRORS if QUICK else NOTEBOOK_TARGET_ERRORS["cnn"]
assert cnn_history[-1].test_errors <= cnn_limit, \
    f"the CNN makes {cnn_history[-1].test_errors} test errors, more than {cnn_limit}: check the gradient table of 4.8"

# %% [markdown]
# ## 4.10 What did it learn?
#
# **Learning curves**, with part 3's rule of thumb for the MLP ({RULE_OF_THUMB_ERRORS[mlp]} errors; the
# linear model's {RULE_OF_THUMB_ERRORS[linear]} would squash the plot) and this notebook's limit as
# dashed lines: the CNN beats the MLP's final result after its first epoch.

# %% tags=["long-running"] kind="readonly" grade_id="plot_curves"
if mnist is not None:
    from dlcore.course import NOTEBOOK_TARGET_ERRORS, RULE_OF_THUMB_ERRORS

    display(plot.learning_curves({"cnn": cnn_history}, title="The CNN on MNIST, with momentum",
                                 targets={"MLP, part 3": RULE_OF_THUMB_ERRORS["mlp"],
                                          "limit of 4.9": NOTEBOOK_TARGET_ERRORS["cnn"]}))

# %% [markdown]
# **The first layer's kernels.** Each of the 8 kernels of the first convolution is a $5 \times 5$
# pattern (red positive, blue negative) that the layer looks for at every position of the image.

# %% tags=["long-running"] kind="readonly" grade_id="plot_kernels"
if mnist is not None:
    display(plot.kernels(cnn[1].W, title="First convolution"))

# %% [markdown]
# **Confusion matrix** and **misclassified digits** of the CNN on the test set, with its confidence
# in its wrong answer. (The probabilities are computed in batches of 1,000: a convolution's `cols`
# for all 10,000 test images at once would take gigabytes.)

# %% tags=["long-running"] kind="readonly" grade_id="plot_confusion"
if mnist is not None:
    cnn_predictions = predict(cnn, x_test)
    display(plot.confusion_matrix(y_test, cnn_predictions, title="CNN"))

# %% tags=["long-running"] kind="readonly" grade_id="plot_misclassified"
if mnist is not None:
    cnn.eval()  # no dropout when predicting
    cnn_probs = np.concatenate([np.exp(cnn.fprop(x_test[i:i + 1000])) for i in range(0, len(x_test), 1000)])
    display(plot.misclassified(x_test, y_test, cnn_predictions, probs=cnn_probs, max_images=24))

# %% [markdown]
# ### Question (manually graded)
#
# Look at your plots and answer in a few sentences each:
#
# 1. Describe the first layer's kernels: what kind of local pattern does each respond to?
# 2. Compare the CNN's confusions and misclassified digits with the MLP's of part 3. Which mistakes
#    are left, and would you have got them right?
# 3. Which of the ingredients of this part (convolution and pooling, ReLU, dropout, momentum)
#    do you think matters most for going from about {RULE_OF_THUMB_ERRORS[mlp]} to about {CNN_GOAL[errors]} errors,
#    and how could you check your guess with the code you have?

# %% [markdown] kind="answer" grade_id="cnn_observations" points=2
# ### BEGIN SOLUTION
# 1. Most kernels are small **oriented edge or stroke detectors**: a band of positive weights next
#    to a band of negative ones, horizontal, vertical or diagonal, so the output is large where ink
#    starts or ends along that direction; one or two are blob- or corner-like. They resemble the
#    first-layer filters of much larger networks (and of the visual cortex). With only 8 kernels
#    and few epochs some stay noisy.
# 2. The diagonal holds nearly everything; the remaining confusions are spread thinly (a few 4 ↔ 9,
#    7 ↔ 2, 3 ↔ 5, 6 ↔ 0). Many of the misclassified digits are ambiguous or badly written (a 4 closed
#    like a 9, a 7 with a loop, a 6 whose loop is barely closed); a person would get some of them
#    wrong too, or need the context. Some are predicted with near-certainty: a confident network is
#    not always a right one.
# 3. Convolution with pooling matters most: it shares weights across positions (a stroke is
#    recognised wherever it is) and pooling makes the features tolerant of small shifts, which the
#    MLP has to learn from data for every position separately. ReLU and momentum mostly speed up
#    training; dropout reduces overfitting of the 100,000-weight `Linear(784, 128)`. An **ablation**
#    checks this: retrain with one ingredient changed at a time (Tanh instead of ReLU, `Dropout(0)`,
#    `momentum=0` with a larger λ, or the MLP with momentum and dropout) for the same number of
#    epochs and compare the test errors, over a few seeds, since single runs differ by a few errors.
# ### END SOLUTION

# %% [markdown]
# **Congratulations!** Your framework now trains a convolutional network, written from nothing but
# numpy, that reads handwritten digits about as well as a careful person.
