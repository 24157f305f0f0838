"""Checks of Conv2d (part 4, bonus): values over kernel sizes 1/2/3/5, strides 1/2/3, paddings
0/1/2, one or three input channels, non-square images and batch 1; bprop after fprop with W and b
set by the grader; finite differences, params/grads, and the module properties of part 1.

Diagnoses: a flipped kernel (true convolution instead of cross-correlation) is recognised by
comparing with the reference run on ``W[..., ::-1, ::-1]``; when only the cases with stride > 1 or
only those with padding > 0 fail, the message says so.
"""

from __future__ import annotations

import numpy as np

from autograder.checks.base import PASS, Arrays, Check, ProbeSpec
from autograder.checks.modules import after_fprop_eval, fd_eval, float32_eval, inputs_eval, params_eval, percall_eval
from autograder.diagnose import Verdict, close, diagnose
from dlcore.im2col import conv_output_size

# (N, C_in, C_out, H, W, k, stride, padding)
CONFIGS = [(1, 1, 2, 5, 7, 3, 1, 0), (2, 3, 4, 6, 5, 1, 1, 0), (3, 3, 2, 7, 6, 2, 2, 1),
           (2, 1, 3, 9, 8, 5, 1, 2), (2, 3, 2, 8, 7, 3, 3, 1), (2, 2, 3, 6, 6, 3, 2, 0)]
PERCALL = (2, 3, 2, 7, 6, 3, 2, 1)  # one module, two batches


def _case(rng: np.random.Generator, i: int, config: tuple[int, ...]) -> Arrays:
    n, c_in, c_out, h, w, k, stride, padding = config
    x = rng.standard_normal((n, c_in, h, w))
    W, b = rng.standard_normal((c_out, c_in, k, k)), rng.standard_normal(c_out)
    out_h, out_w = conv_output_size(h, k, stride, padding), conv_output_size(w, k, stride, padding)
    g = rng.standard_normal((n, c_out, out_h, out_w))
    return {f"cfg{i}": np.array([c_in, c_out, k, stride, padding]), f"x{i}": x, f"W{i}": W, f"b{i}": b,
            f"g{i}": g, f"vx{i}": rng.standard_normal(x.shape), f"vp{i}_0": rng.standard_normal(W.shape),
            f"vp{i}_1": rng.standard_normal(b.shape)}


def cases_inputs(rng: np.random.Generator, _ref) -> Arrays:
    inp: Arrays = {}
    for i, config in enumerate(CONFIGS):
        inp.update(_case(rng, i, config))
    return inp


def percall_inputs(rng: np.random.Generator, _ref) -> Arrays:
    """Cases 1 and 2 of one configuration and one W, b: the module of case 2 sees both batches."""
    first, second = _case(rng, 1, PERCALL), _case(rng, 2, PERCALL)
    second.update({"W2": first["W1"], "b2": first["b1"]})
    return {**first, **second}


def describe(inputs: Arrays, i: int) -> str:
    c_in, c_out, k, stride, padding = (int(v) for v in inputs[f"cfg{i}"])
    n, _, h, w = inputs[f"x{i}"].shape
    return (f"a batch of {n} image{'s' * (n > 1)} of {h}×{w} pixels, {c_in} channel{'s' * (c_in > 1)} (kernel "
            f"{k}×{k}, stride {stride}, padding {padding}, {c_out} output channels)")


def pattern(method: str):
    def which(inputs: Arrays, failed: set[int]) -> str:
        configs = {int(k[3:]): inputs[k] for k in inputs if k.startswith("cfg")}
        for index, name, words in ((3, "stride", "stride > 1"), (4, "padding", "padding > 0")):
            cases = {i for i, c in configs.items() if c[index] > (1 if name == "stride" else 0)}
            if failed == cases:
                return (f" Only the cases with {words} fail: check how {method} uses the {name} (the backward pass "
                        "needs the same stride and padding as fprop: col2im(..., stride, padding))."
                        if method == "bprop" else f" Only the cases with {words} fail: check the {name} in fprop.")
        return ""
    return which


def fprop_eval(ref):
    def flipped(inputs: Arrays, i: int) -> np.ndarray:
        c_in, c_out, k, stride, padding = (int(v) for v in inputs[f"cfg{i}"])
        m = ref.Conv2d(c_in, c_out, k, stride=stride, padding=padding, rng=np.random.default_rng(0))
        m.W, m.b = inputs[f"W{i}"][..., ::-1, ::-1].copy(), inputs[f"b{i}"]
        return m.fprop(inputs[f"x{i}"].copy())

    def evaluate(got: Arrays, expected: Arrays, inputs: Arrays) -> Verdict:
        failed: dict[int, str] = {}
        for i in sorted(int(k[3:]) for k in inputs if k.startswith("cfg")):
            g, e = got.get(f"y{i}"), expected[f"y{i}"]
            if g is None or not close(g, e):
                alts = [] if g is None or g.shape != e.shape else [
                    (flipped(inputs, i), "the kernel seems flipped (a true convolution). Conv2d computes a "
                                         "cross-correlation, as every framework does: y = Σ W · receptive field + b, "
                                         "W not flipped."),
                    (e - inputs[f"b{i}"][None, :, None, None], "the bias b (one per output channel) is missing.")]
                failed[i] = "no output" if g is None else diagnose(
                    g, e, "the output of Conv2d.fprop", alternatives=alts, batch=inputs[f"x{i}"].shape[0])
        if not failed:
            return PASS
        i = min(failed)
        common = pattern("fprop")(inputs, set(failed))
        return Verdict(False, f"Conv2d.fprop on {describe(inputs, i)}: {failed[i]}{common}")
    return evaluate


POINTS = {"fprop": 4, "bprop": [3, 3, 2], "fd": 1, "params": 1, "inputs": 1, "percall": 1, "float32": 1}


def conv2d_table(ref) -> tuple[list[ProbeSpec], list[Check]]:
    k = "Conv2d"
    probes = [ProbeSpec(f"{k}.{what}", k, percall_inputs if what == "percall" else cases_inputs,
                        reference=what in ("fprop", "bprop", "params"))
              for what in ("fprop", "bprop", "fd", "params", "inputs", "percall", "float32")]
    checks = [Check(f"{k}.fprop matches the expected output", POINTS["fprop"], f"{k}.fprop", fprop_eval(ref))]
    for which, (points, name) in enumerate(zip(POINTS["bprop"], ["the gradient w.r.t. the input", "grad_W", "grad_b"],
                                               strict=True)):
        checks.append(Check(f"{k}.bprop: {name}", points, f"{k}.bprop",
                            after_fprop_eval(k, None if which == 0 else which - 1, describe, pattern=pattern("bprop"))))
    values = tuple(c.name for c in checks)
    checks += [Check(f"{k}.bprop agrees with finite differences of {k}.fprop", POINTS["fd"], f"{k}.fd", fd_eval(k),
                     values),
               Check(f"{k}.params() and grads() are aligned and live", POINTS["params"], f"{k}.params",
                     params_eval(k), values),
               Check(f"{k} does not modify its arguments", POINTS["inputs"], f"{k}.inputs", inputs_eval(k), values),
               Check(f"{k} caches per call and overwrites gradients", POINTS["percall"], f"{k}.percall",
                     percall_eval(k), values),
               Check(f"{k} keeps float32 as float32", POINTS["float32"], f"{k}.float32", float32_eval(k), values)]
    return probes, checks
