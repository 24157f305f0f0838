# %% [markdown]
# # Part 3 · Training on MNIST
#
# Your modules compute Jacobians and you can check them. What is left is the loop that uses the
# gradients: stochastic gradient descent. Then we train two networks on 60,000 handwritten digits
# and look at what they learnt.

# %% kind="readonly" grade_id="imports"
# %matplotlib inline
import os
import time

import numpy as np
from IPython.display import display

from dlcore import SGD, Criterion, EpochStats, Module, Sequential, count_errors, plot, predict, train_epoch
from dlcore.data import load_mnist, minibatches, one_hot
from dlcore.errors import DataError
from dlcore.notebook_errors import friendly_errors
from dlcore.notebook_loader import NotebookLoadError, load_notebook

friendly_errors()  # code not written yet is reported in one line, not a traceback

# %% [markdown]
# ## 3.1 Gradient descent on mini-batches
#
# Training minimises the cost $C(\theta) = \frac{1}{N}\sum_n \ell(F(x_n, \theta), t_n)$ by repeated
# small steps against its gradient, with a **learning rate** $\lambda$:
#
# $$\theta \leftarrow \theta - \lambda\, \frac{\partial C}{\partial \theta}.$$
#
# Computing the exact gradient needs all $N = 60{,}000$ samples for every step. **Stochastic**
# gradient descent estimates it on a small random **mini-batch** of $B$ samples instead (here
# $B = 100$): the estimate is noisy but unbiased, and a step costs $B/N$ of a full pass, so we
# take $N/B = 600$ steps per pass over the data (an **epoch**) instead of one. A mini-batch is one
# matrix $X_B$ of shape $(B, 784)$: the forward and backward passes of part 1 handle all its rows
# at once with matrix products, and the criterion's $\frac{1}{B}$ makes the parameter gradients
# the *mean* of the per-sample gradients.
#
# One step, for a batch $(X_B, T_B)$:
#
# 1. forward: $Y = F(X_B, \theta)$, cost $c = C(Y, T_B)$ (`model.fprop`, `criterion.fprop`);
# 2. backward: `model.bprop(criterion.bprop())` fills every module's gradients;
# 3. update: $\theta \leftarrow \theta - \lambda\,\partial\theta$ for every parameter.
#
# Write the update first. `params` and `grads` are aligned lists of arrays (as returned by
# `model.params()` and `model.grads()`); update the parameter arrays **in place** (`p -= ...`, not
# `p = ...`, which would only rebind a local name and leave the model unchanged).

# %% kind="solution" grade_id="sgd_step"
def sgd_step(params, grads, lr):
    """In place, for each parameter ``p`` and its gradient ``g``: ``p ← p − lr·g``."""
    ### BEGIN SOLUTION
    for p, g in zip(params, grads, strict=True):
        p -= lr * g
    ### END SOLUTION

# %% kind="tests" grade_id="test_sgd_step"
W, b = np.ones((2, 2)), np.zeros(2)
W_id = id(W)
sgd_step([W, b], [np.full((2, 2), 2.0), np.array([1.0, -1.0])], lr=0.5)
assert id(W) == W_id and np.allclose(W, 0.0), "W should now be 1 − 0.5·2 = 0, updated in place (p -= ...)"
assert np.allclose(b, [-0.5, 0.5]), "b should now be 0 − 0.5·[1, −1] = [−0.5, 0.5]"

# %% [markdown]
# ## 3.2 The training loop
#
# Write `train(model, criterion, x, t, epochs, batch_size, lr, rng)`. For each epoch:
#
# * draw the mini-batches with `minibatches(x, t, batch_size, rng)` (from `dlcore.data`, imported
#   above): it yields `(x_batch, t_batch)` pairs, a fresh random permutation of the samples at each
#   call, so call it **once per epoch**;
# * for each batch, do the three steps of 3.1, with your `sgd_step`;
# * record the epoch's **mean training loss**: the mean of the per-sample loss over all the
#   samples seen. The last batch may be smaller than `batch_size`, so weight each batch's cost
#   (already a mean over its samples) by its size, and divide by the number of samples.
#
# Return the list of the `epochs` mean losses, as floats. dlcore's `train_epoch` is the reference
# your loop is compared with: with the same generator, the results must agree.
#
# To test a loop we need a model, and a problem whose answer we know. Here are two tiny modules,
# written for you: `Scale` multiplies each input column by a weight, $y = z \odot w$, and
# `SquaredError` is the cost $\frac{1}{N}\sum_n \frac{1}{2}\lVert y_n - t_n \rVert^2$. On targets
# $t = x \odot (2, -1, \tfrac{1}{2})$, training should drive $w$ to $(2, -1, \tfrac{1}{2})$.

# %% kind="readonly" grade_id="toy_modules"
class Scale(Module):
    """``y = z ⊙ w``: each column of the input multiplied by its weight; ``w`` starts at 1."""

    def __init__(self, d):
        self.w = np.ones(d)
        self.grad_w = np.zeros(d)

    def fprop(self, z):
        self.z = z
        return z * self.w

    def bprop(self, grad_output):
        self.grad_w = np.sum(self.z * grad_output, axis=0)
        return grad_output * self.w

    def params(self):
        return [self.w]

    def grads(self):
        return [self.grad_w]


class SquaredError(Criterion):
    """Mean over samples of ``½‖y − t‖²``."""

    def fprop(self, y, t):
        self.diff = y - t
        return float(0.5 * np.sum(self.diff**2) / len(y))

    def bprop(self):
        return self.diff / len(self.diff)

# %% kind="solution" grade_id="train"
def train(model, criterion, x, t, epochs, batch_size, lr, rng):
    """Mini-batch SGD for ``epochs`` epochs; returns the list of per-epoch mean training losses."""
    ### BEGIN SOLUTION
    losses = []
    for _ in range(epochs):
        total = 0.0
        for x_batch, t_batch in minibatches(x, t, batch_size, rng):
            cost = criterion.fprop(model.fprop(x_batch), t_batch)
            model.bprop(criterion.bprop())
            sgd_step(model.params(), model.grads(), lr)
            total += float(cost) * len(x_batch)
        losses.append(total / len(x))
    return losses
    ### END SOLUTION

# %% kind="tests" grade_id="test_train"
x = np.random.default_rng(0).standard_normal((20, 3))
t = x * np.array([2.0, -1.0, 0.5])
model = Scale(3)
losses = train(model, SquaredError(), x, t, epochs=40, batch_size=5, lr=0.2, rng=np.random.default_rng(1))
assert len(losses) == 40, f"train must return one loss per epoch: got {len(losses)} for 40 epochs"
assert losses[-1] < 0.01 * losses[0], "the loss should fall: check the sign of your update"
assert np.allclose(model.w, [2.0, -1.0, 0.5], atol=1e-3), "after training, w should be close to [2, −1, 0.5]"
reference = Scale(3)
reference_rng = np.random.default_rng(1)
expected = [train_epoch(reference, SquaredError(), SGD(reference, 0.2), x, t, 5, reference_rng) for _ in range(3)]
got = train(Scale(3), SquaredError(), x, t, epochs=3, batch_size=5, lr=0.2, rng=np.random.default_rng(1))
assert np.allclose(got, expected), \
    "your losses differ from dlcore's train_epoch: call minibatches(x, t, batch_size, rng) once per epoch"

# %% [markdown]
# ## 3.3 MNIST
#
# MNIST holds 70,000 grey-scale images of handwritten digits, $28 \times 28$ pixels each: 60,000 to
# train on and 10,000 to test on. `load_mnist()` returns each image flattened to a row of 784
# numbers, and the labels as integers 0–9; `one_hot` turns the labels into the target matrix $T$.
#
# **Preprocessing.** The files store pixels as integers 0–255; `load_mnist` divides them by 255,
# so that inputs lie in $[0, 1]$. This matters: with our initialisation, the first layer's outputs
# $z W$ are then of order 1, in the range where $\tanh$ is not saturated and where the same learning
# rate suits every layer. Raw pixels would make them 255 times larger.
#
# The data live in the folder `data/mnist` of the course checkout. If they are missing, the next
# cell tells you how to get them.

# %% kind="readonly" grade_id="settings"
QUICK = os.environ.get("DLCORE_QUICK") == "1"  # a short run, used to test this notebook quickly
LEARNING_RATE = 0.1
BATCH_SIZE = 100
EPOCHS = {"linear": 1 if QUICK else 60, "mlp": 1 if QUICK else 30}
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
    print(f"pixels in [{x_train.min():.0f}, {x_train.max():.0f}]")

# %% [markdown]
# ## 3.4 Two models
#
# * **Linear**: `Linear(784, 10)`, then `SoftMax`. Each class gets a score that is a weighted sum of
#   the pixels. Rule of thumb: about **{RULE_OF_THUMB_ERRORS[linear]}** test errors out of 10,000 (7.5 %).
# * **MLP** (multi-layer perceptron): `Linear(784, 200)`, `Tanh`, `Linear(200, 10)`, `SoftMax`.
#   The 200 hidden units learn features of their own. Rule of thumb: about **{RULE_OF_THUMB_ERRORS[mlp]}** errors
#   (2.5 %).
#
# Both are trained with the cross-entropy criterion and plain SGD, $\lambda = 0.1$, batches of 100:
# the linear model for 60 epochs, the MLP for 30. Weights start as
# $W \sim \mathcal{N}\big(0, \sqrt{2/(M+N)}\big)$ and biases at 0 (your `Linear` does that).
#
# Your modules from part 1 are loaded from `01_modules.ipynb`:

# %% kind="readonly" grade_id="load_part1"
try:
    part1 = load_notebook("01_modules.ipynb")
except NotebookLoadError as error:
    print(f"Could not load your modules from 01_modules.ipynb: {error}")
else:
    Linear, Tanh, SoftMax, CrossEntropy = part1.Linear, part1.Tanh, part1.SoftMax, part1.CrossEntropy

# %% [markdown]
# Write the two model builders. Pass `rng` to every `Linear`, and `dtype=np.float32`: MNIST is
# loaded in float32, which halves the memory traffic and makes training about twice as fast.

# %% kind="solution" grade_id="models"
def build_linear(rng):
    """Linear(784, 10), SoftMax, in float32."""
    ### BEGIN SOLUTION
    return Sequential(Linear(784, 10, rng=rng, dtype=np.float32), SoftMax())
    ### END SOLUTION


def build_mlp(rng):
    """Linear(784, 200), Tanh, Linear(200, 10), SoftMax, in float32."""
    ### BEGIN SOLUTION
    return Sequential(Linear(784, 200, rng=rng, dtype=np.float32), Tanh(),
                      Linear(200, 10, rng=rng, dtype=np.float32), SoftMax())
    ### END SOLUTION

# %% kind="tests" grade_id="test_models"
rng = np.random.default_rng(0)
names = [type(m).__name__ for m in build_linear(rng)]
assert names == ["Linear", "SoftMax"], f"the linear model should be Linear, SoftMax; got {names}"
mlp = build_mlp(rng)
names = [type(m).__name__ for m in mlp]
assert names == ["Linear", "Tanh", "Linear", "SoftMax"], f"the MLP should be Linear, Tanh, Linear, SoftMax; got {names}"
assert [p.shape for p in mlp.params()] == [(784, 200), (200,), (200, 10), (10,)], "MLP layer sizes: 784 → 200 → 10"
assert all(p.dtype == np.float32 for p in mlp.params()), "build the layers with dtype=np.float32"

# %% [markdown]
# ## 3.5 Training
#
# `run` trains a model epoch by epoch with **your** `train`, and counts the test errors after each
# epoch (`count_errors` predicts the class of highest probability and compares with the labels).
# On an idle 2-core machine an MLP epoch takes about 0.7 s (30 epochs: under half a minute) and a
# linear epoch less; a busy machine takes longer (set `OPENBLAS_NUM_THREADS=1` before starting
# Jupyter if it is shared).

# %% kind="readonly" grade_id="run"
def run(name, model, epochs, rng):
    """Train ``model`` on MNIST with your ``train``; return one ``EpochStats`` per epoch."""
    history = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        [loss] = train(model, CrossEntropy(), x_train, t_train, 1, BATCH_SIZE, LEARNING_RATE, rng)
        seconds = time.perf_counter() - start
        history.append(EpochStats(epoch, loss, count_errors(model, x_test, y_test), seconds))
        print(f"{name} epoch {epoch:2}/{epochs}: train loss {loss:.4f}, "
              f"test errors {history[-1].test_errors:5,}, {seconds:.2f} s")
    return history

# %% tags=["long-running"] kind="readonly" grade_id="train_linear"
if mnist is None:
    print("No MNIST yet: see the loading cell above.")
else:
    linear_model = build_linear(np.random.default_rng(0))
    linear_history = run("linear", linear_model, EPOCHS["linear"], np.random.default_rng(1))

# %% tags=["long-running"] kind="readonly" grade_id="train_mlp"
if mnist is None:
    print("No MNIST yet: see the loading cell above.")
else:
    mlp_model = build_mlp(np.random.default_rng(0))
    mlp_history = run("mlp", mlp_model, EPOCHS["mlp"], np.random.default_rng(1))

# %% [markdown]
# The test below checks the targets, with a little slack for the randomness of initialisation and
# shuffling: at most {NOTEBOOK_TARGET_ERRORS[linear]} errors for the linear model and
# {NOTEBOOK_TARGET_ERRORS[mlp]} for the MLP. (In quick mode, which trains for a single short epoch, it
# only checks that both models do far better than chance: at most {QUICK_TARGET_ERRORS} errors.)
#
# **How these targets are graded.** The grader does not use your run: it trains your `Linear`,
# `Tanh`, `SoftMax` and `CrossEntropy` itself and counts the errors on the test digits. It trains
# with dlcore's `Adam`, which reaches these targets in fewer steps than SGD, never with your
# `sgd_step` (so that a broken `sgd_step` costs its own test only): the linear model for
# {GRADER_TRAINING_TEXT[linear]}, the MLP for {GRADER_TRAINING_TEXT[mlp]} (batches of 100, float32,
# seed 0). Its targets are {GRADER_TARGET_ERRORS[linear]} and {GRADER_TARGET_ERRORS[mlp]} errors.
# Your modules compute every gradient of that run, and the grader checks a random sample of the
# steps against its own computation, so the points go to
# modules that train, not to numbers.

# %% kind="tests" grade_id="test_targets"
from dlcore.course import NOTEBOOK_TARGET_ERRORS, QUICK_TARGET_ERRORS

assert globals().get("mnist") is not None, "MNIST is missing: fetch it (see the loading cell) and re-run the notebook"
assert "linear_history" in globals() and "mlp_history" in globals(), "train both models (the cells above) first"
linear_limit, mlp_limit = ((QUICK_TARGET_ERRORS, QUICK_TARGET_ERRORS) if QUICK
                           else (NOTEBOOK_TARGET_ERRORS["linear"], NOTEBOOK_TARGET_ERRORS["mlp"]))
assert linear_history[-1].test_errors <= linear_limit, \
    f"the linear model makes {linear_history[-1].test_errors} errors, more than {linear_limit}"
assert mlp_history[-1].test_errors <= mlp_limit, \
    f"the MLP makes {mlp_history[-1].test_errors} errors, more than {mlp_limit}"

# %% [markdown]
# ## 3.6 What did they learn?
#
# **Learning curves.** The training loss (left, log scale) should fall steadily; the test errors
# (right) fall fast, then slowly. The dashed lines are the targets.

# %% tags=["long-running"] kind="readonly" grade_id="plot_curves"
if mnist is not None:
    from dlcore.course import RULE_OF_THUMB_ERRORS

    display(plot.learning_curves({"linear": linear_history, "mlp": mlp_history},
                                 targets={"linear target": RULE_OF_THUMB_ERRORS["linear"],
                                          "MLP target": RULE_OF_THUMB_ERRORS["mlp"]}))

# %% [markdown]
# **First-layer weights.** Column $k$ of the first $W$ holds the 784 weights of unit $k$: shown as a
# $28 \times 28$ image (red positive, blue negative), it is the pattern that unit responds to. For
# the linear model there is one unit per class.

# %% tags=["long-running"] kind="readonly" grade_id="plot_weights"
if mnist is not None:
    display(plot.first_layer_weights(linear_model[0].W, ncols=10, title="Linear model: one template per digit"))
    display(plot.first_layer_weights(mlp_model[0].W, max_units=40, ncols=10, title="MLP: the first 40 hidden units"))

# %% [markdown]
# **Confusion matrix** of the MLP on the test set: row = true digit, column = prediction. Every
# off-diagonal cell is a kind of mistake.

# %% tags=["long-running"] kind="readonly" grade_id="plot_confusion"
if mnist is not None:
    mlp_predictions = predict(mlp_model, x_test)
    display(plot.confusion_matrix(y_test, mlp_predictions))

# %% [markdown]
# **Misclassified digits**, with the MLP's confidence in its wrong answer. Would you have got
# them right?

# %% tags=["long-running"] kind="readonly" grade_id="plot_misclassified"
if mnist is not None:
    display(plot.misclassified(x_test, y_test, mlp_predictions, probs=mlp_model.fprop(x_test), max_images=24))

# %% [markdown]
# ### Question (manually graded)
#
# Look at your plots and answer in a few sentences each:
#
# 1. What do the linear model's ten weight images look like, and why must a linear model work this
#    way? Why does that limit it to about 7.5 % errors?
# 2. Which pairs of digits does the MLP confuse most often, and why are those pairs hard?
# 3. The MLP's training loss keeps falling while its test errors level off. What does the gap
#    between the two tell you, and what would you try next to reduce the test errors?

# %% [markdown] kind="answer" grade_id="observations" points=3
# ### BEGIN SOLUTION
# 1. Each weight image is a blurry **template** of its digit: positive (red) where that digit
#    usually has ink, negative (blue) where other digits do but it does not (the hole of a 0, the
#    gap to the left of a 1). A linear model scores class $k$ by the dot product of the image with
#    column $k$ of $W$, so each class gets exactly one template and a sample goes to the best match.
#    A single template cannot cover the different ways of writing a digit (a 7 with or without a
#    bar, slanted 1s), nor shifts and changes of thickness: the classes are not linearly separable
#    in pixel space, hence the floor around 7.5 %.
# 2. Typically 4 ↔ 9, 3 ↔ 5, 7 ↔ 2 or 9, 8 ↔ 3 or 5: pairs that differ by a few pixels, such as
#    whether a 4 is closed at the top, or the direction of a stroke, so a slightly sloppy digit
#    crosses the boundary. Several misclassified images are ambiguous even to a person.
# 3. The network fits the training set better and better (its loss tends to 0) while its
#    performance on new images stops improving: the gap is **overfitting**, learning details of the
#    training samples that do not generalise. Next steps: a validation set to stop early and to
#    tune $\lambda$, regularisation (weight decay, dropout), data augmentation (small shifts and
#    rotations of the training images), or an architecture with built-in translation invariance
#    (a convolutional network).
# ### END SOLUTION

# %% [markdown]
# **Congratulations!** You have built, checked and trained a neural network from nothing but numpy.
# The same framework, with more modules, trains the networks of the course's next parts.
