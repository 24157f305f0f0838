"""Checks of the student functions numerical_jacobian (02), sgd_step and train (03).

The expected values are computed here, in closed form or by the grader's own loop, not from a
reference notebook: the true Jacobian, ``p − λ·g``, and dlcore's SGD on the toy problem.
"""

from __future__ import annotations

import numpy as np

from autograder.checks.base import PASS, Arrays, Check, ProbeSpec
from autograder.diagnose import Verdict, close, diagnose
from autograder.sandbox.probes import ToyScale, ToySquaredError, correct_sgd_step


def jacobian_inputs(rng: np.random.Generator, _ref) -> Arrays:
    return {"A": rng.standard_normal((3, 4)), "x_tanh_affine": rng.standard_normal(4),
            "x_row_squares": 3 * rng.standard_normal((3, 2)),
            "x_sum_sin": np.array([0.3, -2.0, 150.0, 1e-3, 7.5])}  # large |x|: the step must scale


def true_jacobians(inputs: Arrays) -> dict[str, np.ndarray]:
    A, x = inputs["A"], inputs["x_tanh_affine"]
    X = inputs["x_row_squares"]
    rows = np.zeros((3, 6))
    for n in range(3):  # ∂(Σ_j X_nj²)/∂X_nj = 2 X_nj, in row-major order of X
        rows[n, 2 * n:2 * n + 2] = 2 * X[n]
    return {"tanh_affine": (1 - np.tanh(A @ x) ** 2)[:, None] * A, "row_squares": rows,
            "sum_sin": np.cos(inputs["x_sum_sin"])[None, :]}


def jacobian_values_eval(got: Arrays, _e: Arrays | None, inputs: Arrays) -> Verdict:
    for name, J in true_jacobians(inputs).items():
        g = got[f"J_{name}"]
        if g.shape != J.shape:
            return Verdict(False, f"numerical_jacobian: {diagnose(g, J, 'the Jacobian')} It must have one row per "
                                  "entry of f(x) and one column per entry of x: (f(x).size, x.size).")
        err = np.abs(g - J) / np.maximum(np.maximum(np.abs(g), np.abs(J)), 1.0)
        if not np.all(np.isfinite(g)) or err.max() > 1e-6:
            return Verdict(False, "numerical_jacobian: " + diagnose(g, J, f"the Jacobian of a function {name}", hints={
                "2": "Central differences divide by 2h, the distance between x + h and x − h.",
                "1/2": "Central differences divide by 2h, not 4h.",
                "transpose": "Column i holds the derivatives w.r.t. x_i.",
                "other": "Use central differences (f(x + h e_i) − f(x − h e_i)) / 2h with "
                         "h_i = sqrt(eps)·max(|x_i|, 1), restoring x_i afterwards."}))
    return PASS


def jacobian_input_eval(got: Arrays, _e: Arrays | None, inputs: Arrays) -> Verdict:
    for name in true_jacobians(inputs):
        if not np.array_equal(got[f"x_{name}"], inputs[f"x_{name}"]):
            return Verdict(False, "numerical_jacobian modified x: it must restore every entry it perturbs "
                                  "(or work on a copy).")
    return PASS


def sgd_inputs(rng: np.random.Generator, _ref) -> Arrays:
    return {"p0": rng.standard_normal((3, 4)), "p1": rng.standard_normal(4), "g0": rng.standard_normal((3, 4)),
            "g1": rng.standard_normal(4), "lr": np.array(0.05)}


def sgd_update_eval(got: Arrays, _e: Arrays | None, inputs: Arrays) -> Verdict:
    for k in (0, 1):
        expected = inputs[f"p{k}"] - inputs["lr"] * inputs[f"g{k}"]
        if np.array_equal(got[f"p{k}"], inputs[f"p{k}"]):
            return Verdict(False, "sgd_step left the parameters unchanged: update the arrays in place (p -= lr * g); "
                                  "rebinding a name (p = p - lr * g) does not change the model's arrays.")
        if not close(got[f"p{k}"], expected):
            step = got[f"p{k}"] - inputs[f"p{k}"]
            return Verdict(False, "sgd_step: " + diagnose(step, -inputs["lr"] * inputs[f"g{k}"], "the update", hints={
                "sign": "Gradient descent moves against the gradient: p ← p − λ·g."}))
    return PASS


def sgd_grads_eval(got: Arrays, _e: Arrays | None, inputs: Arrays) -> Verdict:
    for k in (0, 1):
        if not np.array_equal(got[f"g{k}"], inputs[f"g{k}"]):
            return Verdict(False, "sgd_step modified the gradients: it must only update the parameters.")
    return PASS


TRAIN = {"epochs": 3, "batch_size": 5, "lr": 0.1, "seed": 7}


def train_inputs(rng: np.random.Generator, _ref) -> Arrays:
    x = rng.standard_normal((23, 3))  # 23 samples: the last batch of 5 is short
    return {"x": x, "t": 2.0 * x - 1.0 + 0.1 * rng.standard_normal((23, 3)), "a": rng.standard_normal(3),
            "c": np.zeros(3), **{k: np.array(v) for k, v in TRAIN.items()}}


def expected_training(inputs: Arrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The course's loop: per epoch one permutation from rng (dlcore's minibatches), SGD per batch,
    and the epoch's mean loss weighted by batch size."""
    from dlcore.data.batching import minibatches

    model, crit = ToyScale(inputs["a"].copy(), inputs["c"].copy()), ToySquaredError()
    rng = np.random.default_rng(int(inputs["seed"]))
    losses = []
    for _ in range(int(inputs["epochs"])):
        total, seen = 0.0, 0
        for xb, tb in minibatches(inputs["x"], inputs["t"], int(inputs["batch_size"]), rng):
            cost = crit.fprop(model.fprop(xb), tb)
            model.bprop(crit.bprop())
            correct_sgd_step(model.params(), model.grads(), float(inputs["lr"]))
            total, seen = total + cost * len(xb), seen + len(xb)
        losses.append(total / seen)
    return np.array(losses), model.a, model.c


def train_params_eval(got: Arrays, _e: Arrays | None, inputs: Arrays) -> Verdict:
    _, a, c = expected_training(inputs)
    if np.array_equal(got["a"], inputs["a"]):
        return Verdict(False, "train did not change the model's parameters: call model.bprop(criterion.bprop()) "
                              "and sgd_step(model.params(), model.grads(), lr) for every mini-batch.")
    if not (close(got["a"], a) and close(got["c"], c)):
        return Verdict(False, "train: the trained parameters differ from those of the expected loop "
                              f"(relative error {float(np.linalg.norm(got['a'] - a) / np.linalg.norm(a)):.2g}). "
                              "Expected: for each epoch, one shuffle drawn from rng (minibatches(x, t, batch_size, "
                              "rng) from dlcore.data), then for each mini-batch fprop, cost, bprop, sgd_step. "
                              "Use the rng given, and every sample once per epoch.")
    return PASS


def train_losses_eval(got: Arrays, _e: Arrays | None, inputs: Arrays) -> Verdict:
    losses, _, _ = expected_training(inputs)
    g = got["losses"]
    if g.shape != losses.shape:
        return Verdict(False, f"train must return one mean loss per epoch: a list of {int(inputs['epochs'])} numbers, "
                              f"got shape {g.shape}.")
    if not close(g, losses):
        return Verdict(False, "train: " + diagnose(g, losses, "the per-epoch losses", hints={
            "other": "Each epoch's loss is the mean of the per-sample loss over the epoch: weight each batch's cost "
                     "by its size (the last batch is smaller) and divide by the number of samples."}))
    return PASS


def function_table() -> tuple[list[ProbeSpec], list[Check]]:
    probes = [ProbeSpec("numerical_jacobian", "numerical_jacobian", jacobian_inputs),
              ProbeSpec("sgd_step", "sgd_step", sgd_inputs),
              ProbeSpec("train", "train", train_inputs)]
    checks = [Check("numerical_jacobian matches the true Jacobian", 6, "numerical_jacobian", jacobian_values_eval),
              Check("numerical_jacobian leaves x unchanged", 2, "numerical_jacobian", jacobian_input_eval,
                    ("numerical_jacobian matches the true Jacobian",)),
              Check("sgd_step updates the parameters in place", 4, "sgd_step", sgd_update_eval),
              Check("sgd_step leaves the gradients unchanged", 2, "sgd_step", sgd_grads_eval,
                    ("sgd_step updates the parameters in place",)),
              Check("train updates the parameters like the course's SGD loop", 6, "train", train_params_eval),
              Check("train returns the mean loss of each epoch", 4, "train", train_losses_eval)]
    return probes, checks
