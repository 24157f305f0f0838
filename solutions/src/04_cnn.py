# %% [markdown]
# # Part 4 (bonus) · ReLU, dropout, momentum and a convolutional network
#
# DRAFT: teaching text to be written around the code cells below.

# %% kind="readonly" grade_id="imports"
# %matplotlib inline
import os
import time

import numpy as np
from IPython.display import display

from dlcore import Adam, EpochStats, Module, Sequential, count_errors, gradcheck, plot, predict, train_epoch, zero_bias
from dlcore.activations import Sigmoid
from dlcore.data import load_mnist, one_hot
from dlcore.errors import DataError
from dlcore.im2col import col2im, im2col
from dlcore.init import normal_kernels
from dlcore.log_softmax import LogSoftMax, NLLLoss
from dlcore.notebook_errors import friendly_errors
from dlcore.notebook_loader import NotebookLoadError, load_notebook
from dlcore.pooling import MaxPool2d
from dlcore.reshape import Flatten, Reshape

friendly_errors()  # code not written yet is reported in one line, not a traceback

# %% kind="solution" grade_id="relu"
class ReLU(Module):
    """Element-wise ``max(z, 0)``: any shape ``(N, ...) -> (N, ...)``."""

    def fprop(self, z):
        ### BEGIN SOLUTION
        self.y = np.maximum(z, 0)
        return self.y
        ### END SOLUTION

    def bprop(self, grad_output):
        ### BEGIN SOLUTION
        return grad_output * (self.y > 0)
        ### END SOLUTION

# %% kind="tests" grade_id="test_relu" points=2
module = ReLU()
y = module.fprop(np.array([[-2.0, 0.0, 3.0]]))
assert np.array_equal(y, [[0.0, 0.0, 3.0]]), "ReLU.fprop should return max(z, 0)"
grad_input = module.bprop(np.array([[5.0, 5.0, 5.0]]))
assert np.array_equal(grad_input, [[0.0, 0.0, 5.0]]), "ReLU.bprop should pass the gradient where z > 0 and block it elsewhere"
report = gradcheck(ReLU(), np.random.default_rng(0).standard_normal((4, 5)))
print(report)
assert report.passed, "ReLU.bprop disagrees with finite differences of fprop"

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

# %% kind="tests" grade_id="test_dropout" points=3
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

# %% kind="tests" grade_id="test_momentum" points=2
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
        ### BEGIN SOLUTION
        self.z_shape = z.shape
        self.cols = im2col(z, self.k, self.k, self.stride, self.padding)  # (N, H_out, W_out, C_in·k·k)
        y = self.cols @ self.W.reshape(len(self.W), -1).T + self.b  # (N, H_out, W_out, C_out)
        return y.transpose(0, 3, 1, 2)
        ### END SOLUTION

    def bprop(self, grad_output):
        ### BEGIN SOLUTION
        c_out = len(self.W)
        g = grad_output.transpose(0, 2, 3, 1)  # (N, H_out, W_out, C_out), like the rows of cols
        self.grad_W = (g.reshape(-1, c_out).T @ self.cols.reshape(-1, self.cols.shape[-1])).reshape(self.W.shape)
        self.grad_b = g.sum(axis=(0, 1, 2))
        if not self.input_grad:  # the input is the data: its gradient would be thrown away
            return None
        return col2im(g @ self.W.reshape(c_out, -1), self.z_shape, self.k, self.k, self.stride, self.padding)
        ### END SOLUTION

    def params(self):
        return [self.W, self.b]

    def grads(self):
        return [self.grad_W, self.grad_b]

# %% kind="tests" grade_id="test_conv2d_fprop" points=3
conv = Conv2d(1, 1, 3)
conv.W = np.arange(9.0).reshape(1, 1, 3, 3)
conv.b = np.array([0.5])
image = np.zeros((1, 1, 4, 4))
image[0, 0, 1, 1] = 1.0
y = conv.fprop(image)
assert y.shape == (1, 1, 2, 2), f"a 3×3 kernel on a 4×4 image without padding gives 2×2, not {np.shape(y)[2:]}"
assert np.allclose(y[0, 0], [[4.5, 3.5], [1.5, 0.5]]), \
    "each output is Σ W·(receptive field) + b; a flipped kernel (true convolution) gives [[0.5, 1.5], [3.5, 4.5]]"

# %% kind="tests" grade_id="test_conv2d_bprop" points=3
rng = np.random.default_rng(0)
for stride, padding in [(1, 0), (1, 1), (2, 1)]:
    report = gradcheck(Conv2d(2, 3, 3, stride, padding, rng=rng), rng.standard_normal((2, 2, 5, 6)))
    print(f"stride {stride}, padding {padding}:", report)
    assert report.passed, f"Conv2d.bprop with stride {stride} and padding {padding} disagrees with finite differences"

# %% kind="solution" grade_id="cnn"
def build_cnn(rng, dtype=np.float32):
    """The CNN of 4.6: ``(N, 784) pixels -> (N, 10)`` log-probabilities."""
    ### BEGIN SOLUTION
    return Sequential(Reshape(1, 28, 28),
                      Conv2d(1, 8, 5, padding=2, rng=rng, dtype=dtype), ReLU(), MaxPool2d(2),
                      Conv2d(8, 16, 5, padding=2, rng=rng, dtype=dtype), ReLU(), MaxPool2d(2), Flatten(),
                      Linear(784, 128, rng=rng, dtype=dtype), ReLU(), Dropout(0.3, rng=rng),
                      Linear(128, 10, rng=rng, dtype=dtype), LogSoftMax())
    ### END SOLUTION
