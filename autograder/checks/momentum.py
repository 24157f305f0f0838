"""Checks of the Momentum optimizer (part 4, bonus), against the notebook's rule in closed form:
for every parameter θ with gradient g, ``v ← μ·v + g`` then ``θ ← θ − λ·v``, one velocity per
parameter starting at 0, λ read at every step (a schedule changes ``optimizer.lr``).

The probe steps a toy model (two parameters of different shapes, gradients set by the probe);
steps 0-2 use one learning rate, steps 3-4 others.
"""

from __future__ import annotations

import numpy as np

from autograder.checks.base import PASS, Arrays, Check, ProbeSpec
from autograder.diagnose import Verdict, close, diagnose

LRS = (0.1, 0.1, 0.1, 0.05, 0.2)
MU = 0.9
FIXED_LR_STEPS = 3


def inputs(rng: np.random.Generator, _ref) -> Arrays:
    inp: Arrays = {"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(4), "lr": np.array(LRS),
                   "mu": np.array(MU)}
    for s in range(len(LRS)):
        inp[f"ga{s}"], inp[f"gb{s}"] = rng.standard_normal((3, 4)), rng.standard_normal(4)
    return inp


def trajectory(inp: Arrays, rule: str = "momentum") -> list[tuple[np.ndarray, np.ndarray]]:
    """(a, b) after each step under ``rule``: the notebook's, or a likely mistake (for diagnoses)."""
    params = [inp["a"].copy(), inp["b"].copy()]
    vel = [np.zeros_like(p) for p in params]
    mu, out = float(inp["mu"]), []
    for s, lr in enumerate(inp["lr"]):
        for k, g in enumerate((inp[f"ga{s}"], inp[f"gb{s}"])):
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


CAUSES = {"sgd": "the velocity does not seem kept across steps (plain SGD): keep one velocity per parameter in "
                 "the optimizer and update it in place at every step.",
          "sign": "the parameters move along the velocity: θ ← θ − λ·v.",
          "step_first": "the parameters seem updated with the velocity of the previous step: update v first "
                        "(v ← μ·v + g), then θ ← θ − λ·v.",
          "lr_in_velocity": "λ seems folded into the velocity (v ← μ·v + λ·g); the notebook's rule keeps it "
                            "out (v ← μ·v + g, θ ← θ − λ·v), which differs as soon as λ changes."}


def _steps_eval(steps: range, words: str):
    def evaluate(got: Arrays, _e: Arrays | None, inp: Arrays) -> Verdict:
        expected = trajectory(inp)
        alternatives = {rule: trajectory(inp, rule) for rule in CAUSES}
        for s in steps:
            for k, name in enumerate(("a", "b")):
                g, e = got[f"{name}{s}"], expected[s][k]
                if close(g, e):
                    continue
                what = f"parameter {k} ({'a matrix' if k == 0 else 'a vector'}) after step {s + 1}"
                alts = [(alternatives[rule][s][k], cause) for rule, cause in CAUSES.items()]
                if np.array_equal(g, inp[name]) and not any(close(g, alt) for alt, _ in alts):
                    return Verdict(False, f"Momentum.step left {what} unchanged: update the arrays of "
                                          "model.params() in place (p -= ...), not a new array.")
                return Verdict(False, f"Momentum.step ({words}): " + diagnose(g, e, what, alternatives=alts))
        return PASS
    return evaluate


def grads_eval(got: Arrays, _e: Arrays | None, inp: Arrays) -> Verdict:
    for s in range(len(inp["lr"])):
        for name in ("ga", "gb"):
            if not np.array_equal(got[f"{name}{s}"], inp[f"{name}{s}"]):
                return Verdict(False, "Momentum.step modified the gradients of model.grads(): it must only update "
                                      "the parameters (and its velocities).")
    return PASS


def float32_eval(got: Arrays, _e: Arrays | None, inp: Arrays) -> Verdict:
    for s in range(len(inp["lr"])):
        for name in ("a", "b"):
            arr = got[f"{name}{s}"]
            if arr.dtype != np.float32:
                return Verdict(False, f"Momentum.step turned float32 parameters into {arr.dtype}: update them in "
                                      "place, and keep the velocities of the parameters' dtype (np.zeros_like).")
            if not np.all(np.isfinite(arr)):
                return Verdict(False, "Momentum.step on float32 parameters gave NaN or inf.")
    return PASS


POINTS = {"steps": 4, "lr": 1, "grads": 1, "float32": 1}


def momentum_table() -> tuple[list[ProbeSpec], list[Check]]:
    probes = [ProbeSpec("Momentum.steps", "Momentum", inputs), ProbeSpec("Momentum.float32", "Momentum", inputs)]
    values = ("Momentum.step follows v ← μ·v + g, θ ← θ − λ·v for every parameter",)
    checks = [Check(values[0], POINTS["steps"], "Momentum.steps", _steps_eval(range(FIXED_LR_STEPS), "fixed λ")),
              Check("Momentum.step uses the current learning rate", POINTS["lr"], "Momentum.steps",
                    _steps_eval(range(FIXED_LR_STEPS, len(LRS)), "λ changed between steps")),
              Check("Momentum.step leaves the gradients unchanged", POINTS["grads"], "Momentum.steps", grads_eval,
                    values),
              Check("Momentum keeps float32 parameters float32", POINTS["float32"], "Momentum.float32", float32_eval,
                    values)]
    return probes, checks
