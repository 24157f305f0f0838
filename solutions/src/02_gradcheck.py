# %% [markdown]
# # Part 2 · Gradient checking
#
# A wrong `bprop` rarely crashes: the network still trains, just worse, and nothing tells you why.
# The cure is to compute every Jacobian a second time, in a way that cannot share the bug, and to
# compare. Finite differences need nothing but `fprop`. In this part you write your own checker;
# from then on, `dlcore.gradcheck` (which you used in part 1) will hold no secrets.

# %% kind="readonly" grade_id="imports"
import matplotlib.pyplot as plt
import numpy as np

from dlcore import Module, friendly_errors
from dlcore.notebook_loader import NotebookLoadError, load_notebook

EPS = np.finfo(np.float64).eps  # 2.2e-16: the gap between 1.0 and the next float64
friendly_errors()  # code not written yet is reported in one line, not a traceback

# %% [markdown]
# ## 2.1 Central differences
#
# For a function $f: \mathbb{R}^D \to \mathbb{R}^K$, column $i$ of the Jacobian $J = \partial f / \partial x$
# (shape $(K, D)$) is the derivative of $f$ along the coordinate $x_i$. Taylor's formula at
# $x \pm h e_i$ gives
#
# $$\frac{f(x + h e_i) - f(x - h e_i)}{2h} = \frac{\partial f}{\partial x_i}(x)
#   + \underbrace{\frac{h^2}{6}\,\frac{\partial^3 f}{\partial x_i^3}(x) + \dots}_{\text{truncation: } O(h^2)}$$
#
# The even terms cancel, which is why the **central** difference is far more accurate than the
# one-sided $(f(x + h e_i) - f(x)) / h$, whose truncation error is $O(h)$.
#
# ## 2.2 Choosing the step
#
# Making $h$ small reduces the truncation error but not the **rounding** error: each evaluation
# of $f$ is off by about $\varepsilon |f|$ (with $\varepsilon \approx 2.2 \cdot 10^{-16}$ in
# float64), and the difference divides that by $2h$. So
#
# $$\text{error}(h) \approx \underbrace{\frac{h^2}{6}\,|f'''|}_{\text{truncation}}
#   \;+\; \underbrace{\frac{\varepsilon\,|f|}{h}}_{\text{rounding}} .$$
#
# Too large a step and truncation dominates; too small and rounding does (at $h = 10^{-16}$,
# $x + h$ may even equal $x$). The course uses
#
# $$h_i = \sqrt{\varepsilon}\cdot\max(|x_i|, 1) \approx 1.5\cdot 10^{-8}\,\max(|x_i|, 1).$$
#
# With it the truncation error, $O(h^2) = O(\varepsilon)$, is negligible even where $f'''$ is large,
# and the rounding error is about $\varepsilon / h = \sqrt{\varepsilon} \approx 10^{-8}$: two orders
# of magnitude below the tolerance $10^{-6}$ of the check, while any real bug makes errors of order
# 1. (The step that minimises the sum is nearer $\varepsilon^{1/3}$; $\sqrt{\varepsilon}$ trades a
# little accuracy for robustness when $f$ curves sharply.) The factor $\max(|x_i|, 1)$ makes the
# step **relative** for large $x_i$: a float64 near $10^6$ cannot move by $10^{-8}$, because the
# gap between consecutive floats there is $10^6\varepsilon \approx 2\cdot 10^{-10}$ — a relative
# step moves it by the same number of floats at any scale.
#
# Run the next cell to see this trade-off on $f = \tanh$ at $x = 0.5$.

# %% kind="readonly" grade_id="step_demo"
x0 = 0.5
exact = 1 - np.tanh(x0) ** 2
steps = np.logspace(-1, -15, 57)
central = np.abs((np.tanh(x0 + steps) - np.tanh(x0 - steps)) / (2 * steps) - exact)
forward = np.abs((np.tanh(x0 + steps) - np.tanh(x0)) / steps - exact)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.loglog(steps, np.maximum(central, 1e-17), label="central difference")
ax.loglog(steps, np.maximum(forward, 1e-17), label="forward difference")
ax.axvline(np.sqrt(EPS), color="0.4", ls="--", label=r"$h = \sqrt{\varepsilon}$")
ax.set(xlabel="step h", ylabel="|error| of the derivative", title=r"$\tanh'(0.5)$ by finite differences")
ax.invert_xaxis()
ax.legend()
plt.show()

# %% [markdown]
# ### Question (manually graded)
#
# Explain the shape of the two curves above: what dominates on the left part (large $h$), what on
# the right part (small $h$), and why the central curve goes lower and its minimum lies at a larger
# step than the forward curve's. What error would a step of $10^{-12}$ give, roughly?

# %% [markdown] kind="answer" grade_id="step_question" points=2
# ### BEGIN SOLUTION
# On the left, truncation dominates: the error falls as $h$ for the forward difference (slope 1 on
# the log-log plot) and as $h^2$ for the central one (slope 2), whose first-order terms cancel. On
# the right, rounding dominates: $\tanh$ is computed with a relative error of about $\varepsilon$,
# and dividing by $h$ amplifies it, so the error grows as $\varepsilon / h$ (slope −1, noisy) for
# both. The minimum is where the two balance: $h \approx \sqrt{\varepsilon} \approx 10^{-8}$ for
# the forward difference ($h = \varepsilon / h$) with an error near $10^{-8}$, and
# $h \approx \varepsilon^{1/3} \approx 10^{-5}$ for the central one ($h^2 = \varepsilon / h$) with an
# error near $10^{-11}$. At $h = 10^{-12}$ the error is about $\varepsilon / h \approx 10^{-4}$:
# already too large for a check with tolerance $10^{-6}$.
# ### END SOLUTION

# %% [markdown]
# ## 2.3 Your numerical Jacobian
#
# Write `numerical_jacobian(f, x)`: for each entry $i$ of `x` (in `x.flat` order), evaluate `f`
# at `x` with that entry moved by $\pm h_i$, and store the central difference, flattened, as
# column $i$ of a matrix of shape `(f(x).size, x.size)`.
#
# * `x` may have any shape (a batch `(N, D)`, a vector) and `f` may return an array or a scalar:
#   use `np.asarray(f(x)).ravel()`.
# * Work on a float64 copy of `x`, so that the caller's array is never modified.
# * For the best accuracy, divide by the step actually taken, `(x_i + h) − (x_i − h)` after
#   rounding, rather than by `2 * h`.
# * Write it yourself: `dlcore.gradcheck.numerical_jacobian` is the reference the tests compare
#   yours with.

# %% kind="solution" grade_id="numerical_jacobian"
def numerical_jacobian(f, x):
    """Jacobian of ``f`` at ``x`` by central differences, shape ``(f(x).size, x.size)``."""
    ### BEGIN SOLUTION
    x = np.array(x, dtype=np.float64)  # a copy: the caller's x stays as it is
    columns = []
    for i in range(x.size):
        old = x.flat[i]
        h = np.sqrt(np.finfo(np.float64).eps) * max(abs(old), 1.0)
        x.flat[i] = old + h
        plus = np.asarray(f(x), dtype=np.float64).ravel()
        up = x.flat[i]
        x.flat[i] = old - h
        minus = np.asarray(f(x), dtype=np.float64).ravel()
        down = x.flat[i]
        x.flat[i] = old
        columns.append((plus - minus) / (up - down))
    return np.stack(columns, axis=1)
    ### END SOLUTION

# %% kind="tests" grade_id="test_numerical_jacobian"
x = np.array([1.0, -2.0, 3.0])
J = numerical_jacobian(lambda v: v**2, x)
assert np.shape(J) == (3, 3), f"the Jacobian of R³ -> R³ must be (3, 3), got {np.shape(J)}"
assert np.allclose(J, np.diag(2 * x), atol=1e-6), "the Jacobian of v ↦ v² is diag(2v)"
A = np.arange(6.0).reshape(2, 3)
J = numerical_jacobian(lambda v: A @ v, x)
assert np.shape(J) == (2, 3), "rows index the outputs of f, columns the entries of x: (f(x).size, x.size)"
assert np.allclose(J, A, atol=1e-6), "the Jacobian of v ↦ A·v is A"
assert np.array_equal(x, [1.0, -2.0, 3.0]), "numerical_jacobian modified x: work on a copy"

# %% [markdown]
# ## 2.4 The Jacobian that backprop computes
#
# `bprop(g)` returns the vector–Jacobian product $g\,D_z f$. With $g = e_j$, the basis vector that
# is 1 at output entry $j$ and 0 elsewhere, it returns **row $j$** of the Jacobian. So $K$ calls
# of `bprop`, one per output entry, rebuild the whole Jacobian, to be compared with the numerical
# one built column by column.
#
# Write `backprop_jacobian(module, x)`: call `module.fprop(x)` once (it caches what `bprop`
# needs), then for each output entry $j$ (in `y.flat` order) build $e_j$ with the shape of the
# output, call `module.bprop(e_j)`, and store the result, flattened, as row $j$. Shape:
# `(y.size, x.size)`, like `numerical_jacobian`.

# %% kind="solution" grade_id="backprop_jacobian"
def backprop_jacobian(module, x):
    """Jacobian of ``module.fprop`` at ``x`` from ``bprop``, row by row: ``(y.size, x.size)``."""
    ### BEGIN SOLUTION
    y = module.fprop(x)
    rows = []
    for j in range(y.size):
        e = np.zeros(y.shape)
        e.flat[j] = 1.0
        rows.append(np.asarray(module.bprop(e), dtype=np.float64).ravel())
    return np.stack(rows, axis=0)
    ### END SOLUTION

# %% [markdown]
# The tests use two small modules whose Jacobians are known exactly: a fixed matrix product
# $y = zA$ (its Jacobian for a single sample is $A^\top$) and the element-wise cube.

# %% kind="readonly" grade_id="test_modules"
class MatMul(Module):
    """``y = z·A`` for a fixed matrix ``A`` (no parameters to learn)."""

    def __init__(self, A):
        self.A = A

    def fprop(self, z):
        return z @ self.A

    def bprop(self, grad_output):
        return grad_output @ self.A.T


class Cube(Module):
    """Element-wise ``y = z³``; caches its input."""

    def fprop(self, z):
        self.z = z
        return z**3

    def bprop(self, grad_output):
        return grad_output * 3 * self.z**2

# %% kind="tests" grade_id="test_backprop_jacobian"
A = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
J = backprop_jacobian(MatMul(A), np.ones((1, 3)))
assert np.shape(J) == (2, 3), f"one sample R³ -> R²: the Jacobian must be (2, 3), got {np.shape(J)}"
assert np.allclose(J, A.T), "for y = z·A, row j of the Jacobian is column j of A, i.e. J = Aᵀ"
J = backprop_jacobian(Cube(), np.array([[1.0, 2.0]]))
assert np.allclose(J, [[3.0, 0.0], [0.0, 12.0]]), "the Jacobian of z ↦ z³ is diag(3z²)"

# %% [markdown]
# ## 2.5 Comparing the two
#
# How far apart may the two Jacobians be? An absolute error of $10^{-8}$ is excellent for an entry
# of size 1 but meaningless for an entry of size $10^{-9}$; a relative error blows up where both
# are near 0 (most entries of a Jacobian are). The **mixed error** is relative for large entries
# and absolute for small ones:
#
# $$\text{err}_{ij} = \frac{|a_{ij} - n_{ij}|}{\max(|a_{ij}|,\, |n_{ij}|,\, 1)} .$$
#
# Write `max_mixed_error(analytic, numerical)`: the largest $\text{err}_{ij}$, as a float.

# %% kind="solution" grade_id="max_mixed_error"
def max_mixed_error(analytic, numerical):
    """``max |a − n| / max(|a|, |n|, 1)`` over all entries, a float."""
    ### BEGIN SOLUTION
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numerical, dtype=np.float64)
    return float(np.max(np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), 1.0)))
    ### END SOLUTION

# %% kind="tests" grade_id="test_max_mixed_error"
assert np.isclose(max_mixed_error(np.array([[1.0, 0.0]]), np.array([[1.0, 0.5]])), 0.5), \
    "small entries: the error is absolute, |0 − 0.5| / 1 = 0.5"
assert np.isclose(max_mixed_error(np.array([[100.0]]), np.array([[101.0]])), 1 / 101), \
    "large entries: the error is relative, |100 − 101| / 101"

# %% [markdown]
# ## 2.6 Your gradient checker at work
#
# Here is the checker, built from your three functions. (dlcore's `gradcheck` does the same, and
# also checks the Jacobians w.r.t. the parameters by moving the entries of `W` and `b` in place.)

# %% kind="readonly" grade_id="check_module"
def check_module(module, x):
    """Max mixed error between backprop's and the numerical Jacobian of ``module`` at ``x``."""
    numerical = numerical_jacobian(module.fprop, x)
    return max_mixed_error(backprop_jacobian(module, x), numerical)

# %% [markdown]
# Let's check your modules from part 1. The errors should all be around $10^{-9}$ or less.

# %% kind="readonly" grade_id="check_part1"
try:
    part1 = load_notebook("01_modules.ipynb")
except NotebookLoadError as error:
    part1 = None
    print(f"Could not load your modules from 01_modules.ipynb: {error}")

if part1 is not None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5))
    for module in [part1.Linear(5, 4, rng=rng), part1.Tanh(), part1.SoftMax()]:
        print(f"{type(module).__name__:8} max mixed error {check_module(module, x):.1e}")

# %% [markdown]
# And a bug, to see what it looks like: this `Tanh` forgot the square in $1 - y^2$. The checker
# flags it with an error of order 1, not $10^{-9}$.

# %% kind="readonly" grade_id="buggy_demo"
class BuggyTanh(Module):
    def fprop(self, z):
        self.y = np.tanh(z)
        return self.y

    def bprop(self, grad_output):
        return grad_output * (1.0 - self.y)  # bug: should be 1 - y**2


print(f"BuggyTanh max mixed error {check_module(BuggyTanh(), np.random.default_rng(1).standard_normal((2, 3))):.1e}")

# %% [markdown]
# **Well done.** You can now trust every Jacobian you write. Continue with `03_training.ipynb`.
