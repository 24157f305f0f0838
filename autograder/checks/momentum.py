"""Checks of the Momentum optimizer (part 4, bonus), against the notebook's rule in closed form:
for every parameter θ with gradient g, ``v ← μ·v + g`` then ``θ ← θ − λ·v``, one velocity per
parameter starting at 0, λ read at every step (a schedule changes ``optimizer.lr``).

The probe steps a stand-in model (two parameters of different shapes, gradients set by the
probe); steps 1-3 use one learning rate, steps 4-5 others.
"""

from __future__ import annotations

import numpy as np

from autograder.checks.base import PASS, Check, Part, Probe, array, fail, same_shape, student_error
from autograder.diagnose import Verdict, close, diagnose

LRS = (0.1, 0.1, 0.1, 0.05, 0.2)
MU = 0.9
FIXED_LR_STEPS = 3
CELL = ("04_cnn", "test_momentum")
POINTS = {"steps": 3, "lr": 1, "grads": 1, "float32": 1}


def make_args(rng: np.random.Generator, dtype: str = "float64") -> dict:
    return {"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(4), "lrs": np.array(LRS), "mu": MU,
            "grads": [[rng.standard_normal((3, 4)), rng.standard_normal(4)] for _ in LRS], "dtype": dtype}


def trajectory(args: dict, rule: str = "momentum") -> list[tuple[np.ndarray, np.ndarray]]:
    """(a, b) after each step under ``rule``: the notebook's, or a likely mistake (for diagnoses)."""
    params = [args["a"].copy(), args["b"].copy()]
    vel = [np.zeros_like(p) for p in params]
    mu, out = float(args["mu"]), []
    for lr, grads in zip(args["lrs"], args["grads"], strict=True):
        for k, g in enumerate(grads):
            if rule == "sgd":  # no velocity kept across steps
                vel[k] = g.copy()
            elif rule == "step_first":  # θ updated with the previous velocity, v updated after
                params[k] = params[k] - lr * vel[k]
                vel[k] = mu * vel[k] + g
                continue
            elif rule == "lr_in_velocity":  # v ← μ·v + λ·g, θ ← θ − v: equal while λ is constant
                vel[k] = mu * vel[k] + lr * g
                params[k] = params[k] - vel[k]
                continue
            else:
                vel[k] = mu * vel[k] + g
            sign = 1.0 if rule == "sign" else -1.0
            params[k] = params[k] + sign * lr * vel[k]
        out.append((params[0].copy(), params[1].copy()))
    return out


CAUSES = {"sgd": "the velocity does not seem kept across steps (plain SGD): keep one velocity per parameter in the "
                 "optimizer and update it in place at every step.",
          "sign": "the parameters move along the velocity: θ ← θ − λ·v.",
          "step_first": "the parameters seem updated with the velocity of the previous step: update v first "
                        "(v ← μ·v + g), then θ ← θ − λ·v.",
          "lr_in_velocity": "λ seems folded into the velocity (v ← μ·v + λ·g); the notebook's rule keeps it out "
                            "(v ← μ·v + g, θ ← θ − λ·v), which differs as soon as λ changes."}


def _steps(got, args: dict, steps: range, words: str, rtol: float = 1e-6) -> Verdict:
    if student_error(got):
        return fail(f"Momentum: {student_error(got)}")
    expected = trajectory(args)
    alternatives = {rule: trajectory(args, rule) for rule in CAUSES}
    for s in steps:
        for k, name in enumerate(("a", "b")):
            g, e = array(got, "steps", s, name), expected[s][k]
            if same_shape(g, e) and close(g, e, rtol=rtol):
                continue
            what = f"parameter {k} ({'a matrix' if k == 0 else 'a vector'}) after step {s + 1}"
            if g is None:
                return fail(f"Momentum.step ({words}): {what} is missing.")
            alts = [(alternatives[rule][s][k], cause) for rule, cause in CAUSES.items()]
            if same_shape(g, e) and np.array_equal(g, args[name]) and not any(close(g, alt) for alt, _ in alts):
                return fail(f"Momentum.step left {what} unchanged: update the arrays of model.params() in place "
                            "(p -= ...), not a new array.")
            return fail(f"Momentum.step ({words}): " + diagnose(g, e, what, alternatives=alts))
    return PASS


def steps_eval(got, _expected, args) -> Verdict:
    return _steps(got["momentum.steps"], args["momentum.steps"], range(FIXED_LR_STEPS), "fixed λ")


def lr_eval(got, _expected, args) -> Verdict:
    return _steps(got["momentum.steps"], args["momentum.steps"], range(FIXED_LR_STEPS, len(LRS)),
                  "λ changed between steps")


def grads_eval(got, _expected, args) -> Verdict:
    reply, a = got["momentum.steps"], args["momentum.steps"]
    if student_error(reply):
        return fail(f"Momentum: {student_error(reply)}")
    for s, grads in enumerate(a["grads"]):
        for name, g in zip(("ga", "gb"), grads, strict=True):
            after = array(reply, "steps", s, name)
            if not (same_shape(after, g) and np.array_equal(after, g)):
                return fail("Momentum.step modified the gradients of model.grads(): it must only update the "
                            "parameters (and its velocities).")
    return _steps(reply, a, range(len(LRS)), "this test counts once the steps are right")


def float32_eval(got, _expected, args) -> Verdict:
    reply = got["momentum.float32"]
    for s in range(len(LRS)):
        for name in ("a", "b"):
            arr = array(reply, "steps", s, name)
            if arr is not None and arr.dtype != np.float32:
                return fail(f"Momentum.step turned float32 parameters into {arr.dtype}: update them in place, and "
                            "keep the velocities of the parameters' dtype (np.zeros_like).")
    a = {**args["momentum.float32"]}
    a["a"], a["b"] = a["a"].astype(np.float32), a["b"].astype(np.float32)
    a["grads"] = [[g.astype(np.float32) for g in grads] for grads in a["grads"]]
    return _steps(reply, a, range(len(LRS)), "float32", rtol=1e-4)


def momentum_part() -> Part:
    probes = [Probe("momentum.steps", "momentum", make_args, reference=False),
              Probe("momentum.float32", "momentum", lambda rng: make_args(rng, "float32"), reference=False)]
    checks = [Check("momentum.steps", "Momentum.step follows v ← μ·v + g, θ ← θ − λ·v for every parameter",
                    POINTS["steps"], ("momentum.steps",), CELL, steps_eval),
              Check("momentum.lr", "Momentum.step uses the current learning rate", POINTS["lr"], ("momentum.steps",),
                    CELL, lr_eval),
              Check("momentum.grads", "Momentum.step leaves the gradients unchanged", POINTS["grads"],
                    ("momentum.steps",), CELL, grads_eval),
              Check("momentum.float32", "Momentum keeps float32 parameters float32", POINTS["float32"],
                    ("momentum.float32",), CELL, float32_eval)]
    return Part("momentum", "Momentum", probes, checks)


__all__ = ["Verdict", "momentum_part"]
