"""Checks of Dropout (part 4, bonus), statistical where the mask is random.

The grader cannot know which entries a correct Dropout drops (the course does not prescribe how
the mask is drawn from the rng), so it checks what every correct one does, against the inputs it
chose: in train mode every output entry is 0 or z / (1 − p), and the fraction of zeros is p within
6 binomial standard deviations (a correct implementation fails that with probability ~2e-9; the
inputs are fixed and the rng seeded, so the verdict is deterministic anyway); bprop uses the last
fprop's mask and scale (grad_input = g · y / z, z ≠ 0 everywhere); eval mode and p = 0 are the
identity; a module draws a new mask on every call, modules built with rngs of the same seed drop
the same entries, and rngs of different seeds different ones.
"""

from __future__ import annotations

import numpy as np

from autograder.checks.base import PASS, Check, Part, Probe, array, fail, results, same_shape, student_error
from autograder.diagnose import Verdict, close, diagnose
from autograder.sandbox.cases import ModuleCase, from_tree, to_tree

SIGMAS = 6.0
CASES = [(0.3, (400, 250)), (0.6, (20, 3, 25, 25))]  # 100,000 and 37,500 entries; (N, C, H, W) too
CELL = ("04_cnn", "test_dropout")
POINTS = {"train": 3, "bprop": 2, "modes": 2, "masks": 1, "args": 1, "float32": 1}


def _train_cases(rng: np.random.Generator, dtype: str = "float64") -> list[ModuleCase]:
    cases = []
    for i, (p, shape) in enumerate(CASES):
        # |z| in [0.5, 2]: no input is 0, so a zero output is a dropped entry and y / z is the mask.
        x = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)
        cases.append(ModuleCase(x=x, g=rng.standard_normal(shape), config={"p": p, "seed": 100 + i}, dtype=dtype))
    return cases


def _fail(message: str) -> Verdict:
    return fail("Dropout: " + message)


def _train_values(y: np.ndarray | None, case: ModuleCase, rtol: float = 1e-6) -> str | None:
    z, p = case.x, float(case.config["p"])
    where = f"in train mode with p = {p:g} on an input of shape {z.shape}"
    if y is None or y.shape != z.shape:
        got = "no array" if y is None else f"shape {y.shape}"
        return f"fprop {where} returned {got}: the output has the input's shape."
    dropped = y == 0
    if not np.all(dropped | np.isclose(y, z / (1 - p), rtol=rtol, atol=0)):
        if np.all(dropped | np.isclose(y, z, rtol=rtol, atol=0)):
            return (f"fprop {where}: the kept entries are not scaled by 1/(1 − p). Inverted dropout scales at train "
                    "time, so that the expected output equals the input and eval mode needs no change.")
        if np.all(dropped | np.isclose(y, z * (1 - p), rtol=rtol, atol=0)):
            return f"fprop {where}: the kept entries are multiplied by (1 − p); they must be divided by it."
        return f"fprop {where}: each output entry must be either 0 (dropped) or z / (1 − p) (kept); some are neither."
    frac, sigma = float(dropped.mean()), float(np.sqrt(p * (1 - p) / z.size))
    if abs(frac - p) > SIGMAS * sigma:
        cause = (" It looks like p is used as the probability to keep an entry: p is the probability to drop it."
                 if abs(frac - (1 - p)) <= SIGMAS * sigma else "")
        return (f"fprop {where} dropped {frac:.1%} of the {z.size} entries; about {p:.0%} are expected (within "
                f"±{SIGMAS * sigma:.1%}).{cause} Draw the mask with the module's rng, e.g. "
                "self.rng.random(z.shape) >= p to keep an entry.")
    return None


def _bprop_values(y: np.ndarray, gi: np.ndarray | None, case: ModuleCase, rtol: float = 1e-6) -> str | None:
    z, g, p = case.x, case.g, float(case.config["p"])
    expected = g * (y / z)  # the mask of the last fprop, scale included (y checked to have z's shape)
    if gi is not None and close(gi, expected, rtol=rtol):
        return None
    if gi is None:
        return f"bprop in train mode with p = {p:g} returned no array."
    alts = [(g, "bprop passes the gradient unchanged: multiply it by the mask of the last fprop."),
            (g * (y != 0), "bprop uses the 0/1 mask without the scale 1/(1 − p) of the kept entries.")]
    return (f"bprop in train mode with p = {p:g} does not use the mask of the last fprop: "
            + diagnose(gi, expected, "the gradient bprop returns", alternatives=alts, hints={
                "other": "Cache the (scaled) mask in fprop and multiply grad_output by that same mask; never draw a "
                         "new one in bprop."}))


def _each(probe: str, got, args, judge) -> Verdict:
    cases = [from_tree(ModuleCase, c) for c in args[probe]["cases"]]
    for g, case in zip(results(got[probe], len(cases)), cases, strict=True):
        problem = student_error(g) or judge(g, case)
        if problem is not None:
            return _fail(problem)
    return PASS


def train_values(got, _expected, args) -> Verdict:
    return _each("dropout.train", got, args, lambda g, case: _train_values(array(g, "y"), case))


def train_bprop(got, _expected, args) -> Verdict:
    def judge(g, case):
        y = array(g, "y")
        return _train_values(y, case) or _bprop_values(y, array(g, "grad_input"), case)
    verdict = _each("dropout.train", got, args, judge)
    if not verdict.passed and "fprop in train mode" in verdict.message:
        return _fail("bprop is checked with the mask of the last fprop, and that fprop is not right yet: "
                     + verdict.message.removeprefix("Dropout: "))
    return verdict


def modes(got, _expected, args) -> Verdict:
    case = from_tree(ModuleCase, args["dropout.modes"]["case"])
    reply = got["dropout.modes"] if isinstance(got["dropout.modes"], dict) else {}
    for how, words in (("eval", "after model.eval()"), ("flag", "with self.training = False"), ("p0", "with p = 0")):
        result = reply.get(how) if isinstance(reply.get(how), dict) else {"error": "no answer"}
        if student_error(result):
            return _fail(f"{words}: {student_error(result)}")
        y, gi = array(result, "y"), array(result, "grad_input")
        if not (same_shape(y, case.x) and (np.array_equal(y, case.x) if how != "p0" else close(y, case.x))):
            return _fail(f"fprop {words} must return its input unchanged (eval mode is the identity): read "
                         "self.training in fprop." if how != "p0" else
                         "with p = 0 (nothing dropped) fprop must be the identity in train mode too.")
        if not (same_shape(gi, case.g) and (np.array_equal(gi, case.g) if how != "p0" else close(gi, case.g))):
            return _fail(f"bprop {words} must return grad_output unchanged.")
    return PASS


def masks(got, _expected, args) -> Verdict:
    reply = got["dropout.masks"] if isinstance(got["dropout.masks"], dict) else {}
    if student_error(reply):
        return _fail(student_error(reply))
    case = from_tree(ModuleCase, args["dropout.masks"]["case"])
    outputs = {k: array(reply, k) for k in ("a1", "a2", "b1", "c1")}
    for y in outputs.values():
        problem = _train_values(y, case)
        if problem:
            return _fail(problem)
    a1, a2, b1, c1 = (outputs[k] == 0 for k in ("a1", "a2", "b1", "c1"))
    if np.array_equal(a1, a2):
        return _fail("two fprops of one module dropped the same entries: draw a new mask on every call.")
    if not np.array_equal(a1, b1):
        return _fail("two modules built with rngs of the same seed dropped different entries: draw the mask with the "
                     "module's own rng (self.rng), not np.random, so that runs are reproducible.")
    if np.array_equal(a1, c1):
        return _fail("modules built with rngs of different seeds dropped the same entries: the mask must come from "
                     "the rng given to the module.")
    return PASS


def args_eval(got, _expected, args) -> Verdict:
    def judge(g, case):
        for key, arg, words in (("x_after", case.x, "the array passed to fprop"),
                                ("g_after", case.g, "grad_output passed to bprop")):
            after = array(g, key)
            if not (same_shape(after, arg) and np.array_equal(after, arg)):
                return f"Dropout modified {words} in place: never change an argument."
        y = array(g, "y")
        return _train_values(y, case) or _bprop_values(y, array(g, "grad_input"), case)
    return _each("dropout.args", got, args, judge)


def float32_eval(got, _expected, args) -> Verdict:
    def judge(g, case):
        for key, what in (("y", "fprop's output"), ("grad_input", "bprop's returned gradient")):
            arr = array(g, key)
            if arr is not None and arr.dtype != np.float32:
                return (f"with float32 inputs, {what} is {arr.dtype}, not float32: build the mask in the input's "
                        "dtype (z.dtype).")
        y = array(g, "y")
        case32 = ModuleCase(x=case.x.astype(np.float32), g=case.g.astype(np.float32), config=case.config)
        return _train_values(y, case32, rtol=1e-5) or _bprop_values(y, array(g, "grad_input"), case32, rtol=1e-5)
    return _each("dropout.float32", got, args, judge)


def dropout_part() -> Part:
    def modes_args(rng):
        return {"case": to_tree(ModuleCase(x=rng.standard_normal((30, 20)), g=rng.standard_normal((30, 20)),
                                           config={"p": 0.4, "seed": 7}))}

    def masks_args(rng):
        return {"case": to_tree(ModuleCase(x=np.ones((50, 40)), config={"p": 0.5, "seed": 11})), "other_seed": 12}

    probes = [Probe("dropout.train", "modules", lambda rng: {"kind": "Dropout", "mode": "fb",
                                                             "cases": to_tree(_train_cases(rng))}, reference=False),
              Probe("dropout.modes", "dropout.modes", modes_args, reference=False),
              Probe("dropout.masks", "dropout.masks", masks_args, reference=False),
              Probe("dropout.args", "modules", lambda rng: {"kind": "Dropout", "mode": "args",
                                                            "cases": to_tree(_train_cases(rng))}, reference=False),
              Probe("dropout.float32", "modules", lambda rng: {"kind": "Dropout", "mode": "fb",
                                                               "cases": to_tree(_train_cases(rng, "float32"))},
                    reference=False)]
    checks = [Check("dropout.train", "Dropout in train mode drops a fraction p and scales the rest by 1/(1 − p)",
                    POINTS["train"], ("dropout.train",), CELL, train_values),
              Check("dropout.bprop", "Dropout.bprop uses the mask of the last fprop", POINTS["bprop"],
                    ("dropout.train",), CELL, train_bprop),
              Check("dropout.modes", "Dropout is the identity in eval mode and with p = 0", POINTS["modes"],
                    ("dropout.modes",), CELL, modes),
              Check("dropout.masks", "Dropout draws a new mask on every call, from its rng", POINTS["masks"],
                    ("dropout.masks",), CELL, masks),
              Check("dropout.args", "Dropout does not modify its arguments", POINTS["args"], ("dropout.args",), CELL,
                    args_eval),
              Check("dropout.float32", "Dropout keeps float32 as float32", POINTS["float32"], ("dropout.float32",),
                    CELL, float32_eval)]
    return Part("dropout", "Dropout", probes, checks)
