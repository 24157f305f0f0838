"""Checks of the graded modules Linear, Tanh, SoftMax and the criterion CrossEntropy."""

from __future__ import annotations

import numpy as np

from autograder.checks.base import PASS, Arrays, Check, ProbeSpec
from autograder.diagnose import Verdict, close, diagnose, relative_error
from autograder.sandbox.probes import FD_STEP

# (N, D_in, D_out) for Linear, (N, D) otherwise: batch 1 and odd sizes on purpose.
SHAPES = {"Linear": [(1, 3, 2), (5, 7, 4), (13, 9, 11)], "Tanh": [(1, 5), (7, 3), (13, 11)],
          "SoftMax": [(1, 5), (7, 3), (13, 11)], "CrossEntropy": [(1, 3), (7, 4), (13, 10)]}
PARAM_NAMES = {"Linear": ["grad_W", "grad_b"], "Conv2d": ["grad_W", "grad_b"]}
CACHE_NOTE = ("bprop is tested on its own: the grader sets the cache the course text mandates "
              "(Linear: self.z = the input; Tanh and SoftMax: self.y = the output; CrossEntropy: self.y = the "
              "floored probabilities and self.t = the targets) and then calls bprop. A cache under another "
              "name is not seen.")
HINTS = {
    "Linear": {"transpose": "Check the transposes: grad_W = zᵀ·g, grad_input = g·Wᵀ.",
               "per-sample": "grad_b must be summed over the batch (axis=0).",
               "N": "Is the gradient divided or multiplied by the batch size? The 1/N belongs to the criterion.",
               "1/N": "Linear must not average over the batch: the 1/N is already in the criterion's gradient.",
               "sign": "Check the signs."},
    "Tanh": {"nan": "np.tanh never overflows: use it rather than exponentials."},
    "ReLU": {"zero": "Is the gradient passed on where z > 0?"},
    "Conv2d": {"per-sample": "grad_b must be summed over the batch and over every output pixel (axes 0, 2, 3).",
               "N": "Is the gradient divided or multiplied by the batch size? The 1/N belongs to the criterion.",
               "1/N": "Conv2d must not average over the batch: the 1/N is already in the criterion's gradient.",
               "sign": "Check the signs."},
    "SoftMax": {"nan": "exp overflows for large inputs: subtract each row's max before np.exp.",
                "other": "Is the sum taken over each row (axis=1, keepdims=True)?"},
    "CrossEntropy": {"N": "Is the 1/N of the batch mean missing?", "1/N": "Is the 1/N applied twice?",
                     "sign": "The cost is minus the log-likelihood: check the sign.",
                     "nan": "log(0) gives -inf and 0·log 0 gives NaN: floor the probabilities "
                            "(np.maximum(y, np.finfo(y.dtype).tiny))."},
}


def _params_for(kind: str, shape: tuple[int, ...], rng: np.random.Generator) -> Arrays:
    if kind != "Linear":
        return {}
    _, d_in, d_out = shape
    return {"W": rng.standard_normal((d_in, d_out)), "b": rng.standard_normal(d_out)}


def _x_shape(kind: str, shape: tuple[int, ...]) -> tuple[int, int]:
    return (shape[0], shape[1])


def _y_shape(kind: str, shape: tuple[int, ...]) -> tuple[int, int]:
    return (shape[0], shape[2]) if kind == "Linear" else (shape[0], shape[1])


def _one(kind: str, i: int, shape: tuple[int, ...], rng: np.random.Generator, ref) -> Arrays:
    """Inputs of shape case ``i``: x, grad_output g, parameters, the mandated cache, FD directions."""
    inp: Arrays = {}
    if kind == "CrossEntropy":
        n, c = shape
        inp[f"x{i}"] = ref.SoftMax().fprop(rng.standard_normal((n, c)))
        inp[f"t{i}"] = np.eye(c)[rng.integers(0, c, n)]
        inp[f"vx{i}"] = rng.uniform(-1, 1, (n, c))
        return inp
    scale = {"Linear": 1.0, "Tanh": 1.5, "SoftMax": 3.0}[kind]
    x = scale * rng.standard_normal(_x_shape(kind, shape))
    inp[f"x{i}"], inp[f"g{i}"] = x, rng.standard_normal(_y_shape(kind, shape))
    inp[f"vx{i}"] = rng.standard_normal(x.shape)
    for k, (name, value) in enumerate(_params_for(kind, shape, rng).items()):
        inp[f"{name}{i}"] = value
        inp[f"vp{i}_{k}"] = rng.standard_normal(value.shape)
    if kind == "Linear":
        inp[f"cache_z{i}"] = x
    else:
        inp[f"cache_y{i}"] = getattr(ref, kind)().fprop(x)
    return inp


def cases_inputs(kind: str):
    def make(rng: np.random.Generator, ref) -> Arrays:
        inp: Arrays = {}
        for i, shape in enumerate(SHAPES[kind]):
            inp.update(_one(kind, i, shape, rng, ref))
        return inp
    return make


def percall_inputs(kind: str):
    """Two inputs of one shape (cases 1 and 2) for the same module."""
    def make(rng: np.random.Generator, ref) -> Arrays:
        shape = SHAPES[kind][1]
        a, b = _one(kind, 1, shape, rng, ref), _one(kind, 2, shape, rng, ref)
        for key in ("W", "b"):  # the same module sees both inputs
            if f"{key}1" in a:
                b[f"{key}2"] = a[f"{key}1"]
        return {**a, **b}
    return make


def stable_inputs(kind: str):
    def make(rng: np.random.Generator, ref) -> Arrays:
        if kind == "SoftMax":
            return {"x0": np.array([[1000.0, 0.0, -1000.0]]),
                    "x1": np.array([[-1000.0, -1000.0, -999.0], [1000.0, 1000.0, 1000.0], [0.5, 800.0, -3.0]])}
        # A probability 0 where the target is 0 (0·log 0), then where it is 1 (log 0).
        return {"x0": np.array([[0.2, 0.8, 0.0]]), "t0": np.array([[0.0, 1.0, 0.0]]),
                "x1": np.array([[0.0, 1.0, 0.0], [0.3, 0.3, 0.4]]), "t1": np.array([[1.0, 0, 0], [0, 0, 1.0]])}
    return make


# --- evaluations -------------------------------------------------------------------------------

def case_indices(inputs: Arrays) -> list[int]:
    """The case numbers ``i`` of the inputs ``x0, x1, ...`` of a probe."""
    return sorted(int(k[1:]) for k in inputs if k.startswith("x") and k[1:].isdigit())


def _fail(message: str) -> Verdict:
    return Verdict(False, message)


def fprop_eval(kind: str, what: str = "fprop"):
    out_key = "c" if kind == "CrossEntropy" else "y"

    def evaluate(got: Arrays, expected: Arrays, inputs: Arrays) -> Verdict:
        for i in case_indices(inputs):
            g, e = got.get(f"{out_key}{i}"), expected[f"{out_key}{i}"]
            if g is None or not close(g, e):
                n = inputs[f"x{i}"].shape[0]
                detail = "no output" if g is None else diagnose(g, e, f"the output of {kind}.{what}", batch=n,
                                                                 hints=HINTS[kind])
                return _fail(f"{kind}.{what} on a batch of {n}: {detail}")
        return PASS
    return evaluate


def bprop_eval(kind: str, which: int | None):
    """``which``: None for the gradient w.r.t. the input, else the index into grads()."""
    def evaluate(got: Arrays, expected: Arrays, inputs: Arrays) -> Verdict:
        for i in case_indices(inputs):
            n = inputs[f"x{i}"].shape[0]
            if which is None:
                key, what = f"gi{i}", f"the gradient {kind}.bprop returns (w.r.t. its input)"
            else:
                key, what = f"gp{i}_{which}", f"{PARAM_NAMES[kind][which]} (grads()[{which}])"
            g, e = got.get(key), expected[key]
            if g is None:
                return _fail(f"{kind}.bprop on a batch of {n}: grads() has no entry {which}; it must list the "
                             "gradients aligned with params().")
            if not close(g, e):
                alts = []
                if kind == "Tanh":
                    z, y, go = inputs[f"x{i}"], inputs[f"cache_y{i}"], inputs[f"g{i}"]
                    alts = [(go * (1 - z**2), "the derivative seems computed from the input z (1 − z²); it is "
                                              "1 − y² with y = tanh(z), the cached output."),
                            (go * (1 - np.tanh(y) ** 2), "tanh seems applied to the cached output again: the "
                                                         "derivative is 1 − y² with y the cached output itself.")]
                return _fail(f"{kind}.bprop on a batch of {n}: "
                             + diagnose(g, e, what, batch=n, hints=HINTS[kind], alternatives=alts))
        return PASS
    return evaluate


def fd_eval(kind: str):
    def evaluate(got: Arrays, _expected: Arrays | None, inputs: Arrays) -> Verdict:
        for i in case_indices(inputs):
            g_out = inputs.get(f"g{i}")
            pairs = []  # (what, numerical directional derivative, bprop's)
            if kind == "CrossEntropy":
                num = (got[f"xp{i}"] - got[f"xm{i}"]) / (2 * FD_STEP)
                pairs.append(("the input", float(num), float(np.sum(got[f"gi{i}"] * inputs[f"vx{i}"]))))
            else:
                num = (got[f"xp{i}"] - got[f"xm{i}"]) / (2 * FD_STEP)
                pairs.append(("the input", float(np.sum(num * g_out)),
                              float(np.sum(got[f"gi{i}"] * inputs[f"vx{i}"]))))
                for k, name in enumerate(PARAM_NAMES.get(kind, [])):
                    num = (got[f"p{k}p{i}"] - got[f"p{k}m{i}"]) / (2 * FD_STEP)
                    pairs.append((name.removeprefix("grad_"), float(np.sum(num * g_out)),
                                  float(np.sum(got[f"gp{i}_{k}"] * inputs[f"vp{i}_{k}"]))))
            for what, n, a in pairs:
                if not (np.isfinite(a) and np.isfinite(n)) or abs(a - n) > 1e-5 * max(abs(a), abs(n), 1.0):
                    rel = abs(a - n) / max(abs(a), abs(n), 1.0)
                    return _fail(f"{kind}: the gradient w.r.t. {what} from bprop does not match finite differences "
                                 f"of your own fprop (relative error {rel:.2g}, batch of {inputs[f'x{i}'].shape[0]}): "
                                 "bprop is not the derivative of what fprop computes. If the fprop test passes, "
                                 "the bug is in bprop; otherwise fix fprop first.")
        return PASS
    return evaluate


def params_eval(kind: str):
    def evaluate(got: Arrays, expected: Arrays, _inputs: Arrays) -> Verdict:
        n_p, n_g = int(got["n_params"]), int(got["n_grads"])
        if n_p != int(expected["n_params"]):
            return _fail(f"{kind}.params() returns {n_p} arrays; {int(expected['n_params'])} are expected.")
        if n_g != n_p or not bool(got["shapes_match"]):
            return _fail(f"{kind}.grads() must be aligned with params(): as many arrays, in the same order, "
                         "each of its parameter's shape.")
        if not bool(got["live"]):
            return _fail(f"{kind}: changing a parameter returned by params() in place did not change fprop's output: "
                         "params() must return the live arrays (an optimizer updates them in place), not copies, "
                         "and fprop must use every parameter (the bias too).")
        return PASS
    return evaluate


def inputs_eval(kind: str):
    second = "t" if kind == "CrossEntropy" else "g"

    def evaluate(got: Arrays, _expected: Arrays | None, inputs: Arrays) -> Verdict:
        orig = {k: v for k, v in inputs.items()}
        for i in case_indices(inputs):
            if not np.array_equal(got[f"x{i}"], orig[f"x{i}"], equal_nan=True):
                return _fail(f"{kind} modified the array passed to fprop in place (or bprop modified the cached "
                             "input). Use out-of-place operations (z = z - m, not z -= m).")
            if not np.array_equal(got[f"{second}{i}"], orig[f"{second}{i}"], equal_nan=True):
                arg = "the targets t passed to fprop" if kind == "CrossEntropy" else "grad_output passed to bprop"
                return _fail(f"{kind} modified {arg} in place: never change an argument.")
        return PASS
    return evaluate


def percall_eval(kind: str):
    def evaluate(got: Arrays, _expected: Arrays | None, _inputs: Arrays) -> Verdict:
        n = _inputs["x2"].shape[0]
        if not close(got["gi_a"], got["gi_c"]):
            return _fail(f"{kind}: after fprop on one batch and then on another, bprop did not use the last batch "
                         "(a stale cache): fprop must cache its values on every call. "
                         + diagnose(got["gi_a"], got["gi_c"], "the gradient", batch=n))
        if not close(got["gi_b"], got["gi_c"]):
            return _fail(f"{kind}: calling bprop twice gave a different gradient the second time. "
                         + diagnose(got["gi_b"], got["gi_c"], "the second gradient", batch=n))
        for k, name in enumerate(PARAM_NAMES.get(kind, [])):
            a, b, c = got[f"gp_a_{k}"], got[f"gp_b_{k}"], got[f"gp_c_{k}"]
            if not close(a, c):
                return _fail(f"{kind}: after fprop on two batches, {name} is not that of the last batch alone. "
                             + diagnose(a, c, name, batch=n))
            if not close(b, c):
                return _fail(f"{kind}: after a second bprop, {name} is not that of one call: "
                             + diagnose(b, c, name, batch=n, hints={
                                 "2": "gradients are accumulated across calls; bprop must overwrite them "
                                      "(self.grad_W = ..., not +=)."}))
        return PASS
    return evaluate


def float32_eval(kind: str):
    def evaluate(got: Arrays, _expected: Arrays | None, _inputs: Arrays) -> Verdict:
        items = [("bprop's returned gradient", got["gi"])]
        if kind != "CrossEntropy":
            items.insert(0, ("fprop's output", got["y"]))
        items += [(f"grads()[{k}]", got[f"gp_{k}"]) for k in range(len(PARAM_NAMES.get(kind, [])))]
        for what, arr in items:
            if arr.dtype != np.float32:
                return _fail(f"{kind} with float32 inputs{' and parameters' if kind in PARAM_NAMES else ''}: {what} "
                             f"is {arr.dtype}, not float32. A float64 constant or array (np.zeros, np.ones "
                             "without dtype=...) promotes the result; float32 halves memory and time on MNIST.")
            if not np.all(np.isfinite(arr)):
                return _fail(f"{kind} with float32 inputs: {what} contains NaN or inf.")
        return PASS
    return evaluate


def ce_stable_eval(got: Arrays, expected: Arrays, _inputs: Arrays) -> Verdict:
    if not close(got["c0"], expected["c0"]):
        return _fail("CrossEntropy.fprop with a probability of exactly 0 on a class that is not the target: "
                     + diagnose(got["c0"], expected["c0"], "the cost", hints=HINTS["CrossEntropy"]))
    if not np.all(np.isfinite(got["c1"])):
        return _fail("CrossEntropy.fprop with a probability of exactly 0 on the target class gives NaN or inf: "
                     "floor the probabilities (np.maximum(y, np.finfo(y.dtype).tiny)) before the log.")
    return PASS


def softmax_stable_eval(got: Arrays, expected: Arrays, inputs: Arrays) -> Verdict:
    for i in case_indices(inputs):
        if not close(got[f"y{i}"], expected[f"y{i}"]):
            return _fail("SoftMax.fprop on logits of ±1000: "
                         + diagnose(got[f"y{i}"], expected[f"y{i}"], "the output", hints=HINTS["SoftMax"]))
    return PASS


# --- the table ---------------------------------------------------------------------------------

POINTS = {  # per module: fprop, bprop (input, then each parameter), fd, params, inputs, percall, float32
    "Linear": {"fprop": 4, "bprop": [3, 3, 3], "fd": 1, "params": 1, "inputs": 1, "percall": 2, "float32": 2},
    "Tanh": {"fprop": 2, "bprop": [3], "fd": 1, "inputs": 1, "percall": 1, "float32": 2},
    "SoftMax": {"fprop": 3, "bprop": [4], "fd": 1, "stable": 2, "inputs": 1, "percall": 1, "float32": 2},
    "CrossEntropy": {"fprop": 3, "bprop": [4], "fd": 1, "stable": 1, "inputs": 1, "percall": 1, "float32": 1},
}


def module_table(kind: str) -> tuple[list[ProbeSpec], list[Check]]:
    pts = POINTS[kind]
    probes = [ProbeSpec(f"{kind}.fprop", kind, cases_inputs(kind), reference=True),
              ProbeSpec(f"{kind}.bprop", kind, cases_inputs(kind), reference=True),
              ProbeSpec(f"{kind}.fd", kind, cases_inputs(kind)),
              ProbeSpec(f"{kind}.inputs", kind, cases_inputs(kind)),
              ProbeSpec(f"{kind}.percall", kind, percall_inputs(kind)),
              ProbeSpec(f"{kind}.float32", kind, cases_inputs(kind))]
    checks = [Check(f"{kind}.fprop matches the expected output", pts["fprop"], f"{kind}.fprop",
                    fprop_eval(kind))]
    grad_names = ["the gradient w.r.t. the input", *PARAM_NAMES.get(kind, [])]
    for k, (points, name) in enumerate(zip(pts["bprop"], grad_names, strict=True)):
        checks.append(Check(f"{kind}.bprop: {name}", points, f"{kind}.bprop",
                            bprop_eval(kind, None if k == 0 else k - 1)))
    values = tuple(c.name for c in checks)
    checks.append(Check(f"{kind}.bprop agrees with finite differences of {kind}.fprop", pts["fd"], f"{kind}.fd",
                        fd_eval(kind), values))
    if "stable" in pts:
        probes.append(ProbeSpec(f"{kind}.stable", kind, stable_inputs(kind), reference=True))
        what = "logits of ±1000" if kind == "SoftMax" else "probabilities of 0"
        checks.append(Check(f"{kind} is numerically stable ({what})", pts["stable"], f"{kind}.stable",
                            softmax_stable_eval if kind == "SoftMax" else ce_stable_eval))
    if "params" in pts:
        probes.append(ProbeSpec(f"{kind}.params", kind, cases_inputs(kind), reference=True))
        checks.append(Check(f"{kind}.params() and grads() are aligned and live", pts["params"], f"{kind}.params",
                            params_eval(kind), values))
    checks += [Check(f"{kind} does not modify its arguments", pts["inputs"], f"{kind}.inputs", inputs_eval(kind),
                     values),
               Check(f"{kind} caches per call and overwrites gradients", pts["percall"], f"{kind}.percall",
                     percall_eval(kind), values),
               Check(f"{kind} keeps float32 as float32", pts["float32"], f"{kind}.float32", float32_eval(kind), values)]
    return probes, checks


__all__ = ["module_table", "relative_error"]


# --- bprop after fprop (part 4: no cache names are mandated) ------------------------------------

def _case(inputs: Arrays, i: int) -> str:
    return f"a batch of {inputs[f'x{i}'].shape[0]}"


def after_fprop_eval(kind: str, which: int | None, describe=_case, alternatives=None, pattern=None):
    """The gradients of ``module_fb`` (fprop then bprop on each case) against the reference's.

    ``which``: None for the gradient w.r.t. the input, else the index into grads().
    ``describe(inputs, i)`` names case i; ``alternatives(inputs, i, which)`` lists (array, likely
    cause) pairs for ``diagnose``; ``pattern(inputs, failed_cases)`` may add a sentence on what the
    failing cases have in common (e.g. only those with padding).
    """
    def evaluate(got: Arrays, expected: Arrays, inputs: Arrays) -> Verdict:
        failed: dict[int, str] = {}
        for i in case_indices(inputs):
            if which is None:
                key, what = f"gi{i}", f"the gradient {kind}.bprop returns (w.r.t. its input)"
            else:
                key, what = f"gp{i}_{which}", f"{PARAM_NAMES[kind][which]} (grads()[{which}])"
            g, e = got.get(key), expected[key]
            if which is None and f"err{i}" in got:
                failed[i] = str(got[f"err{i}"])
            elif g is None:
                failed[i] = f"grads() has no entry {which}; it must list the gradients aligned with params()."
            elif not close(g, e):
                alts = alternatives(inputs, i, which) if alternatives else []
                failed[i] = diagnose(g, e, what, batch=inputs[f"x{i}"].shape[0], hints=HINTS.get(kind),
                                     alternatives=alts)
                if g.shape != e.shape and which is not None:
                    failed[i] += " " + HINTS.get(kind, {}).get("per-sample", "")
        if not failed:
            return PASS
        i = min(failed)
        extra = pattern(inputs, set(failed)) if pattern else ""
        return _fail(f"{kind}.bprop on {describe(inputs, i)}: {failed[i].strip()}{extra}")
    return evaluate
