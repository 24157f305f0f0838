"""MNIST targets: the student's modules trained by the grader, counted by the grader.

The training loop runs in the grader's process (``train``): it owns the parameters, the optimizer
(dlcore's Adam, never the student's), the order of the mini-batches and the test set,
which never enters the jail. The jail (``autograder/sandbox/session.py``) only computes, with the
student's modules, the gradients of each mini-batch it is told to take, on parameters it can read
but not write. A random sample of the steps (the grader's secret: ``VERIFY_SHARE`` of them, at
least ``VERIFY_MIN``, and the first and last) is recomputed with the reference modules on the same
parameters and batch (for the CNN, with the dropout mask the student's Dropout drew, once checked
to be a valid mask); one mismatch and the target is not credited. Test errors are counted with the
reference forward pass on the parameters the grader's optimizer produced.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import secrets
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from autograder.checks.base import Check, Part, fail
from autograder.diagnose import Verdict
from autograder.sandbox.jail import Box, Budget, Outcome
from autograder.sandbox.session import (
    ENDED_OP,
    ENDED_STEP,
    ERROR,
    REPLY,
    REQUEST,
    STEP,
    Stepped,
    sizes,
    slot_bytes,
    views,
)
from dlcore.course import GRADER_TARGET_ERRORS, GRADER_TRAINING, training_text

TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
VERIFY_SHARE, VERIFY_MIN, VERIFY_RTOL = 0.02, 30, 1e-2
N_TRAIN, BATCH, CLASSES = 60_000, 100, 10
HIDDEN = 128  # the CNN's Dropout acts on (N, 128)


@dataclass(frozen=True)
class Recipe:
    """One graded training run: architecture (for the jail: the layers, by class and sizes), length and
    learning rate of dlcore's Adam (:data:`dlcore.course.GRADER_TRAINING`); its target and points; the
    value tests it requires; and its nbgrader cell."""

    name: str
    layers: tuple[tuple, ...]
    criterion: bool  # True: the student's CrossEntropy after their SoftMax; False: logits, LogSoftMax+NLL here
    points: float
    requires: tuple[str, ...]
    cell: tuple[str, str]
    lr: float
    epochs: int
    batches: int  # mini-batches per epoch (at most N_TRAIN // BATCH), each epoch a fresh permutation
    seed: int = 0

    @property
    def target(self) -> int:
        return GRADER_TARGET_ERRORS[self.name]

    @property
    def steps(self) -> int:
        return self.epochs * self.batches


_VALUES = {k: (f"{k}.fprop", f"{k}.bprop.input") for k in ("linear", "tanh", "softmax", "crossentropy", "relu")}
# Adam, dlcore's, for all three (never the student's Momentum, so that a broken optimizer is graded once).
RECIPES = {
    "linear": Recipe("linear", (("Linear", 784, 10), ("SoftMax",)), True, 10,
                     (*_VALUES["linear"], "linear.bprop.grad_w", "linear.bprop.grad_b", *_VALUES["softmax"],
                      *_VALUES["crossentropy"]), ("03_training", "test_targets"), **GRADER_TRAINING["linear"]),
    "mlp": Recipe("mlp", (("Linear", 784, 200), ("Tanh",), ("Linear", 200, 10), ("SoftMax",)), True, 10,
                  (*_VALUES["linear"], "linear.bprop.grad_w", "linear.bprop.grad_b", *_VALUES["tanh"],
                   *_VALUES["softmax"], *_VALUES["crossentropy"]), ("03_training", "test_targets"),
                  **GRADER_TRAINING["mlp"]),
    "cnn": Recipe("cnn", (("Reshape", 1, 28, 28), ("Conv2d", 1, 8, 5, 2), ("ReLU",), ("MaxPool2d", 2),
                          ("Conv2d", 8, 16, 5, 2), ("ReLU",), ("MaxPool2d", 2), ("Flatten",), ("Linear", 784, HIDDEN),
                          ("ReLU",), ("Dropout", 0.3), ("Linear", HIDDEN, 10)), False, 8,
                  (*_VALUES["linear"], "linear.bprop.grad_w", "linear.bprop.grad_b", "conv2d.fprop",
                   "conv2d.bprop.input", "conv2d.bprop.grad_w", "conv2d.bprop.grad_b", *_VALUES["relu"],
                   "dropout.train", "dropout.bprop"), ("04_cnn", "test_cnn_target"), **GRADER_TRAINING["cnn"]),
}
CORE, BONUS = ("linear", "mlp"), ("cnn",)


def data_files(mnist_dir: Path) -> list[Path]:
    """The two training files (raw or gzipped, any accepted name), bound into the jail; never the test set."""
    from dlcore.data.mnist import find_idx_file

    files = [find_idx_file(mnist_dir, stem) for stem in TRAIN_FILES]
    if any(f is None for f in files):
        raise FileNotFoundError(f"MNIST training files not found in {mnist_dir}")
    return files


@lru_cache(maxsize=2)
def _mnist(mnist_dir: str):
    from dlcore.data import load_mnist

    return load_mnist(mnist_dir, dtype=np.float32)


def reference_model(recipe: Recipe, ref, rng: np.random.Generator):
    from dlcore.models import build_model

    model, _ = build_model(recipe.name, ref, rng, np.float32)
    return model


def test_errors(recipe: Recipe, params: list[np.ndarray], ref, mnist_dir: Path) -> int:
    """Errors on the 10,000 test digits of the reference architecture carrying ``params``."""
    from dlcore.train import count_errors

    model = reference_model(recipe, ref, np.random.default_rng(0))
    for p, value in zip(model.params(), params, strict=True):
        p[...] = value
    data = _mnist(str(mnist_dir))
    return count_errors(model, data.x_test, data.y_test)


# --- shared memory -----------------------------------------------------------------------------------

F_SEAL_FUTURE_WRITE = getattr(fcntl, "F_SEAL_FUTURE_WRITE", 0x0010)
IN_BYTES, OUT_BYTES, SLOTS = 16 << 20, 24 << 20, 32


class SharedMemory:
    """The session's two memfds, created here and passed into the jail: ``in`` (this process writes,
    the jail can only read: sealed against writes through any other mapping or descriptor) and
    ``out`` (the jail writes). Both are sealed against shrinking and growing, so that no mapping
    here can fault because the jail changed a size."""

    def __init__(self) -> None:
        self.fds, self.arrays = [], []
        for name, size, seals in (("in", IN_BYTES, F_SEAL_FUTURE_WRITE), ("out", OUT_BYTES, 0)):
            fd = os.memfd_create(f"dlcore-session-{name}", os.MFD_ALLOW_SEALING)
            os.ftruncate(fd, size)
            self.arrays.append(np.frombuffer(mmap.mmap(fd, size), dtype=np.uint8))  # writable here
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | seals | fcntl.F_SEAL_SEAL)
            self.fds.append(fd)

    @property
    def inbound(self) -> np.ndarray:
        return self.arrays[0]

    @property
    def outbound(self) -> np.ndarray:
        return self.arrays[1]

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []


@dataclass
class Training:
    """What a session gave: the errors (None when it did not finish), what went wrong, what it cost."""

    errors: int | None = None
    outcome: Outcome | None = None  # the jail's outcome when it did not finish
    mismatch: str | None = None  # a verified step whose gradients differ from the reference's
    verified: int = 0
    steps: int = 0
    losses: list[float] = field(default_factory=list)
    cpu: float = 0.0  # the jail's CPU seconds
    grader_cpu: float = 0.0  # the grader's own (optimizer, verification, counting)


def train(box: Box, recipe: Recipe, ref, mnist_dir: Path, shared: SharedMemory, budget: Budget) -> Training:
    """Train ``recipe`` with the student's modules in ``box``; see the module docstring."""
    start_cpu = time.process_time()
    result = Training()
    try:
        _train(box, recipe, ref, mnist_dir, shared, budget, result)
    finally:
        result.grader_cpu = time.process_time() - start_cpu
    return result


def _train(box: Box, recipe: Recipe, ref, mnist_dir: Path, shared: SharedMemory, budget: Budget,
           result: Training) -> None:
    from dlcore.optim import Adam

    rng = np.random.default_rng(recipe.seed)
    model = reference_model(recipe, ref, rng)  # the reference's initialisation, as dlcore's train_epoch would run
    shapes = [list(p.shape) for p in model.params()]
    params = views(shared.inbound, 0, shapes)  # the parameters the grader owns and credits
    for p, initial in zip(params, model.params(), strict=True):
        p[...] = initial
    perms_offset = 4 * sum(sizes(shapes))
    steps_per_epoch, total = recipe.batches, recipe.steps
    stream = recipe.criterion
    perms = shared.inbound[perms_offset:perms_offset + 4 * N_TRAIN * (recipe.epochs if stream else 1)].view(np.int32)
    if stream:  # the jail runs ahead: every epoch's order now (drawn as dlcore.data.minibatches would)
        for epoch in range(recipe.epochs):
            perms[epoch * N_TRAIN:(epoch + 1) * N_TRAIN] = rng.permutation(N_TRAIN)
    grad_logits_offset = perms_offset + 4 * N_TRAIN
    logits_offset = 4 * sum(sizes(shapes))
    mask_offset = logits_offset + 4 * BATCH * CLASSES
    images, labels = data_files(mnist_dir)
    args = {"mode": "stream" if stream else "sync", "layers": [list(layer) for layer in recipe.layers],
            "dtype": "float32", "seed": recipe.seed, "batch_size": BATCH, "param_shapes": shapes,
            "fd_in": shared.fds[0], "fd_out": shared.fds[1], "perms_offset": perms_offset,
            "grad_logits_offset": grad_logits_offset, "logits_offset": logits_offset,
            "mask_offset": None if stream else mask_offset, "hidden": HIDDEN, "lr": recipe.lr, "epochs": recipe.epochs,
            "steps_per_epoch": steps_per_epoch, "slots": SLOTS, "images": f"/box/data/{images.name}",
            "labels": f"/box/data/{labels.name}"}
    opened = box.open_session(args, budget)
    if not opened.ok:
        result.outcome = opened
        return
    data = _mnist(str(mnist_dir))
    targets = np.eye(CLASSES, dtype=np.float32)[data.y_train]
    secret = np.random.default_rng(secrets.randbits(64))
    verify = set(secret.choice(total, size=min(total, max(VERIFY_MIN, int(VERIFY_SHARE * total))), replace=False))
    verify |= {0, total - 1}
    holder = Stepped(lambda: params)
    optimizer = Adam(holder, recipe.lr)
    reference = reference_model(recipe, ref, np.random.default_rng(0))
    check = _Verifier(recipe, ref, reference, params, data.x_train, targets, verify, result)
    if stream:
        _stream(box, shared, shapes, perms, holder, optimizer, check, budget, recipe, result)
    else:
        _sync(box, recipe, shared, shapes, perms, holder, optimizer, check, budget, rng, targets, result,
              (logits_offset, grad_logits_offset, mask_offset))
    if result.outcome is not None or result.mismatch is not None:
        return
    result.cpu = box.close_session()
    if not all(np.all(np.isfinite(p)) for p in params):
        result.mismatch = "training diverged: the parameters contain NaN or inf."
        return
    result.errors = test_errors(recipe, [p.copy() for p in params], ref, mnist_dir)


class _Verifier:
    """Recomputes the secretly chosen steps with the reference modules on the grader's parameters."""

    def __init__(self, recipe, ref, reference, params, x, targets, steps, result) -> None:
        self.recipe, self.ref, self.reference, self.params = recipe, ref, reference, params
        self.x, self.targets, self.steps, self.result = x, targets, steps, result

    def __call__(self, step: int, rows: np.ndarray, grads: list[np.ndarray], mask: np.ndarray | None) -> bool:
        """False (and the mismatch recorded) when a checked step's gradients are not the reference's."""
        if step not in self.steps:
            return True
        problem = _verify(self.recipe, self.ref, self.reference, self.params, self.x[rows], self.targets[rows],
                          [g.copy() for g in grads], None if mask is None else mask.copy())
        self.result.verified += 1
        if problem is not None:
            self.result.mismatch = f"at step {step + 1}: {problem}"
        return problem is None


def _stream(box, shared, shapes, perms, holder, optimizer, check, budget, recipe, result) -> None:
    size = slot_bytes(shapes)
    slots = [(shared.outbound[k * size:k * size + 8].view(np.float64), views(shared.outbound, k * size + 8, shapes))
             for k in range(SLOTS)]
    steps_per_epoch, total = recipe.batches, recipe.steps
    pending, done, epoch_loss = b"", 0, 0.0
    while done < total:
        got = box.receive_raw(STEP.size - len(pending), budget)
        if not got.ok:
            result.outcome = got
            return
        pending += got.value
        while len(pending) >= STEP.size:
            (last,), pending = STEP.unpack(pending[:STEP.size]), pending[STEP.size:]
            if last in (ERROR, ENDED_STEP):  # the student's error, or the process ended: the message follows
                result.outcome = box.session_error(pending)
                return
            if not done <= last < min(done + SLOTS, total):
                box.close()
                result.outcome = Outcome("broken", message="your code wrote to the grader's channel")
                return
            for step in range(done, last + 1):
                cost, grads = slots[step % SLOTS]
                epoch, s = divmod(step, steps_per_epoch)
                rows = perms[epoch * N_TRAIN + s * BATCH:epoch * N_TRAIN + (s + 1) * BATCH]
                if not check(step, rows, grads, None):
                    box.close_session()
                    return
                holder.gradients = grads
                optimizer.step()  # reads the slot before it is handed back
                epoch_loss += float(cost[0])
                if (step + 1) % steps_per_epoch == 0:
                    result.losses.append(epoch_loss / steps_per_epoch)
                    epoch_loss = 0.0
                if (step + 1) % (SLOTS // 2) == 0 and not box.send_raw(STEP.pack(SLOTS // 2)):
                    result.outcome = Outcome("crashed", message="the process running your code ended")
                    return
            done = last + 1
    result.steps = done


def _sync(box, recipe, shared, shapes, perms, holder, optimizer, check, budget, rng, targets, result,
          offsets) -> None:
    logits_offset, grad_logits_offset, mask_offset = offsets
    logits = views(shared.outbound, logits_offset, [[BATCH, CLASSES]])[0]
    mask = views(shared.outbound, mask_offset, [[BATCH, HIDDEN]])[0]
    grad_logits = views(shared.inbound, grad_logits_offset, [[BATCH, CLASSES]])[0]
    grads = views(shared.outbound, 0, shapes)
    steps_per_epoch, step = recipe.batches, 0
    for _ in range(recipe.epochs):
        perms[...] = rng.permutation(N_TRAIN)  # as dlcore.data.minibatches would draw it
        epoch_loss = 0.0
        for s in range(steps_per_epoch):
            rows = perms[s * BATCH:(s + 1) * BATCH].copy()
            for op in (b"F", b"B"):
                if op == b"B":
                    cost, grad = _log_softmax_nll(logits.copy(), targets[rows])
                    grad_logits[...] = grad
                    epoch_loss += cost
                if not box.send_raw(REQUEST.pack(op, s)):
                    result.outcome = Outcome("crashed", message="the process running your code ended")
                    return
                got = box.receive_raw(REPLY.size, budget, most=REPLY.size)
                if not got.ok:
                    result.outcome = got
                    return
                echo, status, _ = REPLY.unpack(got.value)
                if status != 0 or echo == ENDED_OP:
                    result.outcome = box.session_error(got.value[REPLY.size:])
                    return
                if echo != op:
                    box.close()
                    result.outcome = Outcome("broken", message="your code wrote to the grader's channel")
                    return
            if not check(step, rows, grads, mask):
                box.close_session()
                return
            holder.gradients = [g.copy() for g in grads]
            optimizer.step()
            step += 1
        result.losses.append(epoch_loss / steps_per_epoch)
    result.steps = step


def _log_softmax_nll(logits: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray]:
    """NLLLoss of LogSoftMax(logits) and its gradient w.r.t. the logits, ``(softmax − t) / N``."""
    with np.errstate(all="ignore"):
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        cost = float(-(t * log_p).sum() / len(logits))
        grad = ((np.exp(log_p) - t) / len(logits)).astype(np.float32)
    return cost, grad


class _FixedMask:
    """Dropout with the mask the student's module drew at this step (already scaled)."""

    input_grad, training = True, True

    def __init__(self, mask: np.ndarray) -> None:
        self.mask = mask

    def fprop(self, z):
        return z * self.mask

    def bprop(self, g):
        return g * self.mask

    def params(self):
        return []

    def grads(self):
        return []

    def train(self, mode=True):
        return self


def _verify(recipe: Recipe, ref, reference, params, x, t, grads, mask) -> str | None:
    """None when the jail's gradients match the reference's on the same parameters and batch."""
    for p, value in zip(reference.params(), params, strict=True):
        p[...] = value
    layers = [m for m in reference if type(m).__name__ != "LogSoftMax"]  # the CNN's: applied here, on the logits
    if mask is not None:
        p = dict(layer[:2] for layer in recipe.layers if layer[0] == "Dropout")["Dropout"]
        if not np.all(np.isclose(mask, 0) | np.isclose(mask, 1 / (1 - p), rtol=1e-5)):
            return "the mask your Dropout applied is not made of 0 and 1/(1 − p) only."
        layers = [_FixedMask(mask) if type(m).__name__ == "Dropout" else m for m in layers]
    for m in layers:
        if hasattr(m, "train"):
            m.train(True)
    y = x
    for m in layers:
        y = m.fprop(y)
    if recipe.criterion:
        criterion = ref.CrossEntropy()
        criterion.fprop(y, t)
        g = criterion.bprop()
    else:
        _, g = _log_softmax_nll(y, t)
    for m in reversed(layers):
        g = m.bprop(g)
        if g is None:
            break
    expected = [gr for m in layers for gr in m.grads()]
    for k, (got, want) in enumerate(zip(grads, expected, strict=True)):
        scale = float(np.linalg.norm(want))
        if not np.all(np.isfinite(got)) or float(np.linalg.norm(got - want)) > VERIFY_RTOL * max(scale, 1e-6):
            return (f"the gradient of parameter {k} differs from what the reference modules compute on the same "
                    "parameters and mini-batch: the training was not done by your modules as graded above.")
    return None


def target_eval(recipe: Recipe):
    def evaluate(got, _expected, _args) -> Verdict:
        training: Training = got[f"mnist.{recipe.name}"]
        how = training_text(recipe.lr, recipe.epochs, recipe.batches)
        what = (f"your {recipe.name} model, trained by the grader ({how}, batch {BATCH}, float32, seed {recipe.seed}) "
                "with gradients from your modules")
        if training.mismatch:
            return fail(f"{what}: not credited, {training.mismatch}")
        if training.errors is None:
            return fail(f"{what} did not finish.")
        ok = training.errors <= recipe.target
        text = (f"{what}, makes {training.errors} errors on the 10,000 test digits; the target is at most "
                f"{recipe.target}.")
        return Verdict(ok, text if ok else text + " The unit tests above point at the module to fix.")
    return evaluate


def mnist_part(recipe: Recipe) -> Part:
    title = f"MNIST {recipe.name}"
    return Part(f"mnist.{recipe.name}", title, [], [Check(
        f"mnist.{recipe.name}", f"MNIST: the {recipe.name} model reaches at most {recipe.target} test errors",
        recipe.points, (f"mnist.{recipe.name}",), recipe.cell, target_eval(recipe), requires=recipe.requires)],
        session=recipe)
