"""Checks of Dropout (part 4, bonus), statistical where the mask is random.

In train mode every output entry must be 0 or z / (1 − p), and the fraction of zeros must be p
within 6 binomial standard deviations (a correct implementation fails that with probability
~2e-9; the inputs are fixed and the rng seeded, so the verdict is deterministic anyway); bprop
must use the last fprop's mask and scale (grad_input = g · y / z, z ≠ 0 everywhere); eval mode
and p = 0 are the identity; the mask is drawn afresh on every call from the rng given.
"""

from __future__ import annotations

import numpy as np

from autograder.checks.base import PASS, Arrays, Check, ProbeSpec
from autograder.checks.modules import case_indices, float32_eval, inputs_eval
from autograder.diagnose import Verdict, close, diagnose

SIGMAS = 6.0
CASES = [(0.3, (400, 250)), (0.6, (20, 3, 25, 25))]  # 100,000 and 37,500 entries; (N, C, H, W) too


def train_inputs(rng: np.random.Generator, _ref) -> Arrays:
    inp: Arrays = {}
    for i, (p, shape) in enumerate(CASES):
        # |z| in [0.5, 2]: no input is 0, so a zero output is a dropped entry and y / z is the mask.
        inp[f"x{i}"] = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)
        inp[f"g{i}"] = rng.standard_normal(shape)
        inp[f"p{i}"], inp[f"seed{i}"] = np.array(p), np.array(100 + i)
    return inp


def modes_inputs(rng: np.random.Generator, _ref) -> Arrays:
    return {"x0": rng.standard_normal((30, 20)), "g0": rng.standard_normal((30, 20)), "p0": np.array(0.4),
            "seed0": np.array(7)}


def masks_inputs(_rng: np.random.Generator, _ref) -> Arrays:
    return {"x0": np.ones((50, 40)), "p0": np.array(0.5), "seed0": np.array(11)}


def _fail(message: str) -> Verdict:
    return Verdict(False, "Dropout: " + message)


def train_values_eval(got: Arrays, _e: Arrays | None, inputs: Arrays) -> Verdict:
    for i in case_indices(inputs):
        z, y, p = inputs[f"x{i}"], got[f"y{i}"], float(inputs[f"p{i}"])
        where = f"in train mode with p = {p:g} on an input of shape {z.shape}"
        if y.shape != z.shape:
            return _fail(f"fprop {where} returned shape {y.shape}: the output has the input's shape.")
        dropped = y == 0
        if not np.all(dropped | np.isclose(y, z / (1 - p), rtol=1e-6, atol=0)):
            if np.all(dropped | np.isclose(y, z, rtol=1e-6, atol=0)):
                return _fail(f"fprop {where}: the kept entries are not scaled by 1/(1 − p). Inverted dropout "
                             "scales at train time, so that the expected output equals the input and eval mode "
                             "needs no change.")
            if np.all(dropped | np.isclose(y, z * (1 - p), rtol=1e-6, atol=0)):
                return _fail(f"fprop {where}: the kept entries are multiplied by (1 − p); they must be divided by it.")
            return _fail(f"fprop {where}: each output entry must be either 0 (dropped) or z / (1 − p) (kept); "
                         "some are neither.")
        frac, sigma = float(dropped.mean()), float(np.sqrt(p * (1 - p) / z.size))
        if abs(frac - p) > SIGMAS * sigma:
            cause = (" It looks like p is used as the probability to keep an entry: p is the probability to drop "
                     "it." if abs(frac - (1 - p)) <= SIGMAS * sigma else "")
            return _fail(f"fprop {where} dropped {frac:.1%} of the {z.size} entries; about {p:.0%} are expected "
                         f"(within ±{SIGMAS * sigma:.1%}).{cause} Draw the mask with the module's rng, e.g. "
                         "self.rng.random(z.shape) >= p to keep an entry.")
    return PASS


def train_bprop_eval(got: Arrays, _e: Arrays | None, inputs: Arrays) -> Verdict:
    for i in case_indices(inputs):
        z, g, p = inputs[f"x{i}"], inputs[f"g{i}"], float(inputs[f"p{i}"])
        if f"err{i}" in got:
            return _fail(f"bprop in train mode with p = {p:g}: {got[f'err{i}']}")
        y, gi = got[f"y{i}"], got[f"gi{i}"]
        expected = g * (y / z)  # the mask of the last fprop, scale included
        if not close(gi, expected):
            alts = [(g, "bprop passes the gradient unchanged: multiply it by the mask of the last fprop."),
                    (g * (y != 0), "bprop uses the 0/1 mask without the scale 1/(1 − p) of the kept entries.")]
            return _fail(f"bprop in train mode with p = {p:g} does not use the mask of the last fprop: "
                         + diagnose(gi, expected, "the gradient bprop returns", alternatives=alts,
                                    hints={"other": "Cache the (scaled) mask in fprop and multiply grad_output "
                                                    "by that same mask; never draw a new one in bprop."}))
    return PASS


def modes_eval(got: Arrays, _e: Arrays | None, inputs: Arrays) -> Verdict:
    x, g = inputs["x0"], inputs["g0"]
    for how, words in (("eval", "after model.eval()"), ("flag", "with self.training = False")):
        if not np.array_equal(got[f"y_{how}"], x):
            return _fail(f"fprop {words} must return its input unchanged (eval mode is the identity): read "
                         "self.training in fprop.")
        if not np.array_equal(got[f"gi_{how}"], g):
            return _fail(f"bprop {words} must return grad_output unchanged.")
    if not (close(got["y_p0"], x) and close(got["gi_p0"], g)):
        return _fail("with p = 0 (nothing dropped) fprop and bprop must be the identity in train mode too.")
    return PASS


def masks_eval(got: Arrays, _e: Arrays | None, _inputs: Arrays) -> Verdict:
    a1, a2, b1 = (got[k] == 0 for k in ("a1", "a2", "b1"))
    if np.array_equal(a1, a2):
        return _fail("two fprops of one module dropped the same entries: draw a new mask on every call.")
    if not np.array_equal(a1, b1):
        return _fail("two modules built with rngs of the same seed dropped different entries: draw the mask with "
                     "the module's own rng (self.rng), not np.random, so that runs are reproducible.")
    return PASS


POINTS = {"train": 3, "bprop": 2, "modes": 2, "masks": 1, "inputs": 1, "float32": 1}


def dropout_table() -> tuple[list[ProbeSpec], list[Check]]:
    k = "Dropout"
    probes = [ProbeSpec(f"{k}.train", k, train_inputs), ProbeSpec(f"{k}.modes", k, modes_inputs),
              ProbeSpec(f"{k}.masks", k, masks_inputs), ProbeSpec(f"{k}.inputs", k, train_inputs),
              ProbeSpec(f"{k}.float32", k, train_inputs)]
    values = (f"{k} in train mode drops a fraction p and scales the rest by 1/(1 − p)",
              f"{k}.bprop uses the mask of the last fprop")
    checks = [Check(values[0], POINTS["train"], f"{k}.train", train_values_eval),
              Check(values[1], POINTS["bprop"], f"{k}.train", train_bprop_eval),
              Check(f"{k} is the identity in eval mode and with p = 0", POINTS["modes"], f"{k}.modes", modes_eval,
                    values),
              Check(f"{k} draws a new mask on every call, from its rng", POINTS["masks"], f"{k}.masks", masks_eval,
                    values),
              Check(f"{k} does not modify its arguments", POINTS["inputs"], f"{k}.inputs", inputs_eval(k), values),
              Check(f"{k} keeps float32 as float32", POINTS["float32"], f"{k}.float32", float32_eval(k), values)]
    return probes, checks
