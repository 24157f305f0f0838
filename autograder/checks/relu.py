"""Checks of ReLU (part 4, bonus): values on 2-D and 4-D inputs with exact zeros, bprop after fprop,
finite differences away from the kink, and the module properties of part 1."""

from __future__ import annotations

import numpy as np

from autograder.checks.base import Arrays, Check, ProbeSpec
from autograder.checks.modules import after_fprop_eval, fd_eval, float32_eval, fprop_eval, inputs_eval, percall_eval

SHAPES = [(1, 5), (7, 3), (4, 3, 5, 6), (13, 11)]  # batch 1, odd sizes, an image batch (N, C, H, W)
MARGIN = 0.05  # |z| >= MARGIN off the zeros: finite differences of step 1e-6 never cross the kink


def _x(rng: np.random.Generator, shape: tuple[int, ...], zeros: bool) -> np.ndarray:
    x = np.sign(rng.standard_normal(shape)) * (MARGIN + np.abs(rng.standard_normal(shape)))
    if zeros:  # max(0, 0) = 0 and, by the notebook's convention, no gradient at 0
        x.flat[:: 4] = 0.0
    return x


def relu_inputs(zeros: bool):
    def make(rng: np.random.Generator, _ref) -> Arrays:
        inp: Arrays = {}
        for i, shape in enumerate(SHAPES):
            inp[f"x{i}"] = _x(rng, shape, zeros)
            inp[f"g{i}"] = rng.standard_normal(shape)
            inp[f"vx{i}"] = rng.standard_normal(shape)
        return inp
    return make


def _alternatives(inputs: Arrays, i: int, _which) -> list[tuple[np.ndarray, str]]:
    z, g = inputs[f"x{i}"], inputs[f"g{i}"]
    return [(g * (z >= 0), "the gradient is passed at z = 0 too; the notebook's convention is 0 there (z > 0)."),
            (g * np.maximum(z, 0), "the gradient seems multiplied by the output max(z, 0); the derivative of "
                                   "ReLU is the 0/1 mask (z > 0)."),
            (g, "the gradient is passed everywhere: it must be blocked (0) where z ≤ 0.")]


POINTS = {"fprop": 2, "bprop": 2, "fd": 1, "inputs": 1, "percall": 1, "float32": 1}


def relu_table() -> tuple[list[ProbeSpec], list[Check]]:
    k = "ReLU"
    probes = [ProbeSpec(f"{k}.fprop", k, relu_inputs(zeros=True), reference=True),
              ProbeSpec(f"{k}.bprop", k, relu_inputs(zeros=True), reference=True),
              ProbeSpec(f"{k}.fd", k, relu_inputs(zeros=False)),
              ProbeSpec(f"{k}.inputs", k, relu_inputs(zeros=True)),
              ProbeSpec(f"{k}.percall", k, relu_inputs(zeros=True)),
              ProbeSpec(f"{k}.float32", k, relu_inputs(zeros=True))]
    values = (f"{k}.fprop matches the expected output", f"{k}.bprop: the gradient w.r.t. the input")
    checks = [Check(values[0], POINTS["fprop"], f"{k}.fprop", fprop_eval(k)),
              Check(values[1], POINTS["bprop"], f"{k}.bprop", after_fprop_eval(k, None, alternatives=_alternatives)),
              Check(f"{k}.bprop agrees with finite differences of {k}.fprop", POINTS["fd"], f"{k}.fd", fd_eval(k),
                    values),
              Check(f"{k} does not modify its arguments", POINTS["inputs"], f"{k}.inputs", inputs_eval(k), values),
              Check(f"{k} caches per call", POINTS["percall"], f"{k}.percall", percall_eval(k), values),
              Check(f"{k} keeps float32 as float32", POINTS["float32"], f"{k}.float32", float32_eval(k), values)]
    return probes, checks
