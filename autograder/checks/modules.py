"""Checks of the graded modules (Linear, Tanh, SoftMax, CrossEntropy; ReLU and Conv2d in part 4).

Every check compares the student's arrays with the reference's on the same inputs, computed in
the grader: values (fprop; bprop alone with the cache the course mandates, or after fprop where
no cache is mandated), and the module contract restated as values (fprop and bprop at points
moved along random directions: the finite-difference check; the outputs after each parameter of
``params()`` is shifted in place; gradients after two batches and after a second bprop; float32
inputs; the arguments after the calls). A property is credited only together with the values
computed in the same calls, so no forged answer earns more than the right one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from autograder.checks.base import PASS, Check, Part, Probe, array, fail, results, same_shape, single, student_error
from autograder.diagnose import Verdict, close, diagnose
from autograder.sandbox.cases import CriterionCase, ModuleCase, to_tree
from dlcore.im2col import conv_output_size, im2col

FD_STEP = 1e-6


@dataclass(frozen=True)
class Kind:
    """What differs between the graded modules."""

    name: str  # the class name
    cell_prefix: str  # nbgrader cells test_<prefix>_fprop / _bprop / _gradcheck (part 1)
    notebook: str
    make_cases: Callable[[np.random.Generator], list[ModuleCase]]
    bprop_mode: str = "bprop"  # "bprop": alone, after setting the mandated cache; "fb": after fprop
    param_names: tuple[str, ...] = ()
    points: dict = field(default_factory=dict)
    hints: dict = field(default_factory=dict)
    describe: Callable[[ModuleCase], str] = lambda case: f"a batch of {case.x.shape[0]}"  # noqa: E731
    one_cell: bool = False  # part 4's ReLU: one test cell takes every check
    # (case, slot) -> [(array, cause)]: what a likely mistake gives; slot is "y" (fprop's output),
    # "grad_input" (bprop's return value) or k (the k-th gradient of grads())
    alternatives: Callable[[ModuleCase, str | int], list] | None = None
    pattern: Callable[[list[ModuleCase], set[int], str], str] | None = None


# --- inputs ---------------------------------------------------------------------------------------

def _linear_cases(rng: np.random.Generator) -> list[ModuleCase]:
    cases = []
    for n, d_in, d_out in [(1, 3, 2), (5, 7, 4), (13, 9, 11)]:  # batch 1 and odd sizes on purpose
        x = rng.standard_normal((n, d_in))
        cases.append(ModuleCase(x=x, g=rng.standard_normal((n, d_out)),
                                params=[rng.standard_normal((d_in, d_out)), rng.standard_normal(d_out)],
                                cache={"z": x}))
    return cases


def _elementwise_cases(kind: str):
    def make(rng: np.random.Generator) -> list[ModuleCase]:
        cases = []
        for n, d in [(1, 5), (7, 3), (13, 11)]:
            scale = 1.5 if kind == "Tanh" else 3.0
            x = scale * rng.standard_normal((n, d))
            # bprop alone gets its cache (the output y) as an arbitrary array of the output's range:
            # never the reference's fprop of anything the jail is asked about.
            y = rng.uniform(-0.95, 0.95, (n, d)) if kind == "Tanh" else rng.dirichlet(np.ones(d), n)
            cases.append(ModuleCase(x=x, g=rng.standard_normal((n, d)), cache={"y": y}))
        return cases
    return make


RELU_MARGIN = 0.05  # |z| >= MARGIN: finite differences of step 1e-6 never cross the kink


def _relu_cases(rng: np.random.Generator, zeros: bool = True) -> list[ModuleCase]:
    cases = []
    for shape in [(1, 5), (7, 3), (4, 3, 5, 6), (13, 11)]:  # batch 1, odd sizes, an image batch
        x = np.sign(rng.standard_normal(shape)) * (RELU_MARGIN + np.abs(rng.standard_normal(shape)))
        if zeros:  # max(0, 0) = 0 and, by the notebook's convention, no gradient at 0
            x.flat[::4] = 0.0
        cases.append(ModuleCase(x=x, g=rng.standard_normal(shape)))
    return cases


# (N, C_in, C_out, H, W, k, stride, padding): kernels 1/2/3/5, strides 1/2/3, paddings 0/1/2, H != W, batch 1
CONV_CONFIGS = [(1, 1, 2, 5, 7, 3, 1, 0), (2, 3, 4, 6, 5, 1, 1, 0), (3, 3, 2, 7, 6, 2, 2, 1),
                (2, 1, 3, 9, 8, 5, 1, 2), (2, 3, 2, 8, 7, 3, 3, 1), (2, 2, 3, 6, 6, 3, 2, 0)]


def _conv_case(rng: np.random.Generator, config: tuple[int, ...]) -> ModuleCase:
    n, c_in, c_out, h, w, k, stride, padding = config
    out = (n, c_out, conv_output_size(h, k, stride, padding), conv_output_size(w, k, stride, padding))
    return ModuleCase(x=rng.standard_normal((n, c_in, h, w)), g=rng.standard_normal(out),
                      params=[rng.standard_normal((c_out, c_in, k, k)), rng.standard_normal(c_out)],
                      config={"c_in": c_in, "c_out": c_out, "k": k, "stride": stride, "padding": padding})


def _conv_cases(rng: np.random.Generator) -> list[ModuleCase]:
    return [_conv_case(rng, config) for config in CONV_CONFIGS]


def _conv_describe(case: ModuleCase) -> str:
    c = {k: int(v) for k, v in case.config.items()}
    n, _, h, w = case.x.shape
    return (f"a batch of {n} image{'s' * (n > 1)} of {h}×{w} pixels, {c['c_in']} channel{'s' * (c['c_in'] > 1)} "
            f"(kernel {c['k']}×{c['k']}, stride {c['stride']}, padding {c['padding']}, {c['c_out']} output channels)")


def _conv_pattern(cases: list[ModuleCase], failed: set[int], method: str) -> str:
    for key, words in (("stride", "stride > 1"), ("padding", "padding > 0")):
        with_it = {i for i, c in enumerate(cases) if c.config[key] > (1 if key == "stride" else 0)}
        if failed == with_it:
            if method == "bprop":
                return (f" Only the cases with {words} fail: check how bprop uses the {key} (the backward pass needs "
                        "the same stride and padding as fprop: col2im(..., stride, padding)).")
            return f" Only the cases with {words} fail: check the {key} in fprop."
    return ""


def _conv_alternatives(case: ModuleCase, slot: str | int) -> list:
    if slot != "y":
        return []
    (w, b), c = case.params, {k: int(v) for k, v in case.config.items()}

    def correlate(kernel: np.ndarray) -> np.ndarray:  # (N, C_in, H, W) -> (N, C_out, H_out, W_out)
        n, _, h, w = case.x.shape
        h_out, w_out = (conv_output_size(size, c["k"], c["stride"], c["padding"]) for size in (h, w))
        cols = im2col(case.x, c["k"], c["k"], c["stride"], c["padding"])  # (C_in·k·k, H_out·W_out·N)
        y = kernel.reshape(len(kernel), -1) @ cols + b[:, None]  # one column per output pixel
        return y.reshape(-1, h_out, w_out, n).transpose(3, 0, 1, 2)

    return [(correlate(w[..., ::-1, ::-1]), "the kernel seems flipped (a true convolution). Conv2d computes a "
                                            "cross-correlation, as every framework does: y = Σ W · receptive field "
                                            "+ b, W not flipped."),
            (correlate(w) - b[None, :, None, None], "the bias b (one per output channel) is missing.")]


def _relu_alternatives(case: ModuleCase, slot: str | int) -> list:
    if slot != "grad_input":
        return []
    z, g = case.x, case.g
    return [(g * (z >= 0), "the gradient is passed at z = 0 too; the notebook's convention is 0 there (z > 0)."),
            (g * np.maximum(z, 0), "the gradient seems multiplied by the output max(z, 0); the derivative of ReLU is "
                                   "the 0/1 mask (z > 0)."),
            (g, "the gradient is passed everywhere: it must be blocked (0) where z ≤ 0.")]


def _tanh_alternatives(case: ModuleCase, slot: str | int) -> list:
    if slot != "grad_input":
        return []
    y, g = case.cache["y"], case.g
    # The cache was set to y; a bprop that uses another attribute sees the input it never got.
    return [(g * (1 - np.tanh(y) ** 2), "tanh seems applied to the cached output again: the derivative is 1 − y² "
                                        "with y the cached output itself.")]


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
CACHE_NOTE = ("bprop is tested on its own: the grader sets the cache the course text mandates (Linear: self.z = the "
              "input; Tanh and SoftMax: self.y = the output; CrossEntropy: self.y = the floored probabilities and "
              "self.t = the targets) and then calls bprop. A cache under another name is not seen.")

KINDS = {
    "Linear": Kind("Linear", "linear", "01_modules", _linear_cases, param_names=("grad_W", "grad_b"),
                   points={"fprop": 4, "bprop": [3, 3, 3], "fd": 1, "params": 1, "args": 1, "percall": 2,
                           "float32": 2}),
    "Tanh": Kind("Tanh", "tanh", "01_modules", _elementwise_cases("Tanh"), alternatives=_tanh_alternatives,
                 points={"fprop": 2, "bprop": [3], "fd": 1, "args": 1, "percall": 1, "float32": 2}),
    "SoftMax": Kind("SoftMax", "softmax", "01_modules", _elementwise_cases("SoftMax"),
                    points={"fprop": 3, "bprop": [4], "fd": 1, "stable": 2, "args": 1, "percall": 1, "float32": 2}),
    "ReLU": Kind("ReLU", "relu", "04_cnn", _relu_cases, bprop_mode="fb", one_cell=True,
                 alternatives=_relu_alternatives,
                 points={"fprop": 2, "bprop": [2], "fd": 1, "args": 1, "percall": 1, "float32": 1}),
    "Conv2d": Kind("Conv2d", "conv2d", "04_cnn", _conv_cases, bprop_mode="fb", param_names=("grad_W", "grad_b"),
                   describe=_conv_describe, pattern=_conv_pattern, alternatives=_conv_alternatives,
                   points={"fprop": 4, "bprop": [3, 3, 2], "fd": 1, "params": 1, "args": 1, "percall": 1,
                           "float32": 1}),
}
for _kind in KINDS.values():
    _kind.hints.update(HINTS.get(_kind.name, {}))


# --- probes ---------------------------------------------------------------------------------------

def _args(kind: Kind, mode: str, cases: list[ModuleCase]) -> dict:
    return {"kind": kind.name, "mode": mode, "cases": to_tree(cases)}


def _fd_cases(kind: Kind, rng: np.random.Generator) -> tuple[list[ModuleCase], list[ModuleCase]]:
    """Cases moved by ±FD_STEP along random directions (the input, then each parameter), and the base cases."""
    base = _relu_cases(rng, zeros=False) if kind.name == "ReLU" else kind.make_cases(rng)
    moved = []
    for case in base:
        v = rng.standard_normal(case.x.shape)
        for sign in (1, -1):
            moved.append(ModuleCase(x=case.x + sign * FD_STEP * v, params=case.params, config=case.config))
        for k, p in enumerate(case.params):
            vp = rng.standard_normal(p.shape)
            for sign in (1, -1):
                params = [q + sign * FD_STEP * vp if j == k else q for j, q in enumerate(case.params)]
                moved.append(ModuleCase(x=case.x, params=params, config=case.config))
    return moved, base


CONV_PERCALL = (2, 3, 2, 7, 6, 3, 2, 1)  # a stride and a padding: the cache must hold what bprop needs of both


def _percall_args(kind: Kind, rng: np.random.Generator) -> dict:
    if kind.name == "Conv2d":
        first, second = _conv_case(rng, CONV_PERCALL), _conv_case(rng, CONV_PERCALL)
    else:
        first, second = kind.make_cases(rng)[1], kind.make_cases(rng)[1]
    second.params = first.params  # one module sees both batches
    return {"kind": kind.name, "first": to_tree(first), "second": to_tree(second)}


def module_probes(kind: Kind) -> list[Probe]:
    k = kind.name.lower()
    probes = [Probe(f"{k}.fprop", "modules", lambda rng: _args(kind, "fprop", kind.make_cases(rng))),
              Probe(f"{k}.bprop", "modules", lambda rng: _args(kind, kind.bprop_mode, kind.make_cases(rng))),
              Probe(f"{k}.fd.moved", "modules", lambda rng: _args(kind, "fprop", _fd_cases(kind, rng)[0])),
              Probe(f"{k}.fd.base", "modules", lambda rng: _args(kind, "fb", _fd_cases(kind, rng)[1])),
              Probe(f"{k}.args", "modules", lambda rng: _args(kind, "args", kind.make_cases(rng))),
              Probe(f"{k}.percall", "percall", lambda rng: _percall_args(kind, rng)),
              Probe(f"{k}.float32", "modules", lambda rng: {**_args(kind, "fb", kind.make_cases(rng)),
                                                            "cases": to_tree([_f32(c) for c in kind.make_cases(rng)])})]
    if kind.param_names:
        probes.append(Probe(f"{k}.params", "params",
                            lambda rng: {"kind": kind.name, "case": to_tree(kind.make_cases(rng)[-1])}))
    if kind.name == "SoftMax":
        probes.append(Probe("softmax.stable", "modules", lambda rng: _args(kind, "fprop", [
            ModuleCase(x=np.array([[1000.0, 0.0, -1000.0]])),
            ModuleCase(x=np.array([[-1000.0, -1000.0, -999.0], [1000.0, 1000.0, 1000.0], [0.5, 800.0, -3.0]]))])))
    return probes


def _f32(case: ModuleCase) -> ModuleCase:
    case.dtype = "float32"
    return case


def _cases(args: dict) -> list[ModuleCase]:
    from autograder.sandbox.cases import from_tree

    return [from_tree(ModuleCase, c) for c in args["cases"]]


# --- evaluations ----------------------------------------------------------------------------------

def _compare(kind: Kind, what: str, got: np.ndarray | None, expected: np.ndarray, case: ModuleCase,
             slot: str | int, rtol: float = 1e-6) -> str | None:
    """None when ``got`` (``slot``: "y", "grad_input" or a gradient's index) matches; else the diagnosis."""
    if got is not None and close(got, expected, rtol=rtol):
        return None
    if got is None:
        return f"{what}: no array (None?) where one of shape {expected.shape} is expected."
    alts = kind.alternatives(case, slot) if kind.alternatives else []
    message = diagnose(got, expected, what, batch=case.x.shape[0], hints=kind.hints, alternatives=alts)
    if got.shape != expected.shape and isinstance(slot, int):
        message += " " + kind.hints.get("per-sample", "")
    return message.strip()


def _per_case(kind: Kind, method: str, args: dict, got: dict, expected: dict,
              judge: Callable[[dict, dict, ModuleCase], str | None]) -> Verdict:
    """Apply ``judge(got_result, expected_result, case)`` to every case; report the first failure
    (and, for Conv2d, what the failing cases have in common)."""
    cases = _cases(args)
    failed: dict[int, str] = {}
    for i, (g, e, case) in enumerate(zip(results(got, len(cases)), results(expected, len(cases)), cases,
                                         strict=True)):
        problem = student_error(g) or judge(g, e, case)
        if problem is not None:
            failed[i] = problem
    if not failed:
        return PASS
    i = min(failed)
    extra = kind.pattern(cases, set(failed), method) if kind.pattern else ""
    message = failed[i]
    if "AttributeError" in message and method == "bprop" and kind.bprop_mode == "bprop":
        message += " " + CACHE_NOTE
    return fail(f"{kind.name}.{method} on {kind.describe(cases[i])}: {message}{extra}")


def _fprop_eval(kind: Kind, probe: str):
    def evaluate(got, expected, args) -> Verdict:
        return _per_case(kind, "fprop", args[probe], got[probe], expected[probe], lambda g, e, case: _compare(
            kind, f"the output of {kind.name}.fprop", array(g, "y"), e["y"], case, "y"))
    return evaluate


def _grad_name(kind: Kind, which: int | None) -> str:
    if which is None:
        return f"the gradient {kind.name}.bprop returns (w.r.t. its input)"
    return f"{kind.param_names[which]} (grads()[{which}])"


def _bprop_eval(kind: Kind, which: int | None):
    probe = f"{kind.name.lower()}.bprop"

    def judge(g: dict, e: dict, case: ModuleCase) -> str | None:
        if which is None:
            return student_error(g, "bprop_error") or _compare(kind, _grad_name(kind, None), array(g, "grad_input"),
                                                               e["grad_input"], case, "grad_input")
        grads = g.get("grads")
        if not isinstance(grads, list) or len(grads) <= which:
            problem = f"grads() has no entry {which}; it must list the gradients aligned with params()."
        else:
            problem = _compare(kind, _grad_name(kind, which), array(grads, which), e["grads"][which], case, which)
        # bprop raised before it set this gradient: that is what to fix
        return None if problem is None else (student_error(g, "bprop_error") or problem)

    def evaluate(got, expected, args) -> Verdict:
        return _per_case(kind, "bprop", args[probe], got[probe], expected[probe], judge)
    return evaluate


def _all_values(kind: Kind, g: dict, e: dict, case: ModuleCase, rtol: float = 1e-6) -> str | None:
    """y, grad_input and every gradient match the reference's (those the reference computed)."""
    if student_error(g, "bprop_error"):
        return student_error(g, "bprop_error")
    for key, what in (("y", f"the output of {kind.name}.fprop"), ("grad_input", _grad_name(kind, None))):
        if key in e:
            problem = _compare(kind, what, array(g, key), e[key], case, key, rtol)
            if problem:
                return problem
    for k, expected in enumerate(e.get("grads", [])):
        got = array(g, "grads", k)
        problem = _compare(kind, _grad_name(kind, k), got, expected, case, k, rtol)
        if problem:
            return problem
    return None


def _fd_eval(kind: Kind):
    k = kind.name.lower()

    def evaluate(got, expected, args) -> Verdict:
        moved, base = _cases(args[f"{k}.fd.moved"]), _cases(args[f"{k}.fd.base"])
        got_moved = results(got[f"{k}.fd.moved"], len(moved))
        exp_moved = results(expected[f"{k}.fd.moved"], len(moved))
        got_base = results(got[f"{k}.fd.base"], len(base))
        exp_base = results(expected[f"{k}.fd.base"], len(base))
        per_case = 2 + 2 * len(base[0].params)
        for i, case in enumerate(base):
            g, e = got_base[i], exp_base[i]
            block = range(i * per_case, (i + 1) * per_case)
            fprop_ok = all(student_error(got_moved[j]) is None and same_shape(array(got_moved[j], "y"),
                                                                              exp_moved[j]["y"])
                           and close(array(got_moved[j], "y"), exp_moved[j]["y"]) for j in block)
            values = student_error(g) or _all_values(kind, g, e, case)
            if fprop_ok and values is None:
                continue
            where = f"{kind.name} on {kind.describe(case)}"
            moved_error = next((student_error(got_moved[j]) for j in block if student_error(got_moved[j])), None)
            if moved_error:
                return fail(f"{where}: {moved_error}")
            if not fprop_ok:
                return fail(f"{where}: fprop at points moved by ±{FD_STEP:g} along random directions differs from the "
                            "expected outputs, so bprop cannot be checked against its finite differences: fix fprop "
                            "first (see its test).")
            rel = _fd_mismatch(kind, case, moved[i * per_case:(i + 1) * per_case],
                               got_moved[i * per_case:(i + 1) * per_case], g)
            detail = (f" (relative error {rel:.2g} between bprop and the finite differences of your fprop)"
                      if rel is not None else "")
            return fail(f"{where}: the gradients from bprop do not match finite differences of fprop{detail}: "
                        f"bprop is not the derivative of what fprop computes. {values}")
        return PASS
    return evaluate


def _fd_mismatch(kind: Kind, case: ModuleCase, moved: list[ModuleCase], got_moved: list[dict], g: dict) -> float | None:
    """The largest mixed error between bprop's directional derivatives and the finite differences
    of the student's own fprop (for the message only: the verdict compares with the reference)."""
    errors = []
    pairs = [(moved[0].x, moved[1].x, array(g, "grad_input"))]
    pairs += [(moved[2 + 2 * k].params[k], moved[3 + 2 * k].params[k], array(g, "grads", k))
              for k in range(len(case.params))]
    for j, (plus, minus, analytic) in enumerate(pairs):
        y_plus, y_minus = array(got_moved[2 * j], "y"), array(got_moved[2 * j + 1], "y")
        if not (same_shape(y_plus, case.g) and same_shape(y_minus, case.g) and analytic is not None
                and analytic.shape == plus.shape):
            return None
        v = (plus - minus) / (2 * FD_STEP)
        numerical = float(np.sum((y_plus - y_minus) / (2 * FD_STEP) * case.g))
        from_bprop = float(np.sum(analytic * v))
        errors.append(abs(numerical - from_bprop) / max(abs(numerical), abs(from_bprop), 1.0))
    return max(errors) if errors and all(np.isfinite(errors)) else None


def _params_eval(kind: Kind):
    probe = f"{kind.name.lower()}.params"

    def evaluate(got, expected, args) -> Verdict:
        g, e = single(got[probe]), expected[probe]["result"]
        case = _cases({"cases": [args[probe]["case"]]})[0]
        error = student_error(g)
        if error:
            return fail(f"{kind.name}.params()/grads(): {error}")
        n = g.get("n_params")
        if not isinstance(n, int | np.integer) or int(n) != int(e["n_params"]):
            return fail(f"{kind.name}.params() returns {n} arrays; {e['n_params']} are expected (W, then b).")
        problem = _all_values(kind, {"y": g.get("y"), "grads": g.get("grads")}, {"y": e["y"], "grads": e["grads"]},
                              case)
        if problem:
            return fail(f"{kind.name}: after fprop and bprop, {problem} grads() must return the gradients of "
                        "the last bprop, aligned with params().")
        for k, shifted in enumerate(e["shifted"]):
            got_k = array(g, "shifted", k)
            if not (same_shape(got_k, shifted) and close(got_k, shifted)):
                name = kind.param_names[k].removeprefix("grad_")
                return fail(f"{kind.name}: adding 1 in place to params()[{k}] ({name}) did not change fprop's output "
                            "as it should: params() must return the live arrays (an optimizer updates them in "
                            "place), not copies, and fprop must use every parameter (the bias too).")
        return PASS
    return evaluate


def _args_eval(kind: Kind):
    probe = f"{kind.name.lower()}.args"

    def judge(g: dict, e: dict, case: ModuleCase) -> str | None:
        if not np.array_equal(array(g, "x_after"), case.x) if same_shape(array(g, "x_after"), case.x) else True:
            return (f"{kind.name} modified the array passed to fprop in place (or bprop modified the cached input). "
                    "Use out-of-place operations (z = z - m, not z -= m).")
        if not np.array_equal(array(g, "g_after"), case.g) if same_shape(array(g, "g_after"), case.g) else True:
            return f"{kind.name} modified grad_output passed to bprop in place: never change an argument."
        values = _all_values(kind, g, e, case)
        return None if values is None else f"{values} (this test counts once fprop and bprop give the expected values)"

    def evaluate(got, expected, args) -> Verdict:
        verdict = _per_case(kind, "fprop/bprop", args[probe], got[probe], expected[probe], judge)
        return verdict if verdict.passed else fail(verdict.message.replace(".fprop/bprop on", " on", 1))
    return evaluate


def _percall_eval(kind: Kind):
    probe = f"{kind.name.lower()}.percall"

    def evaluate(got, expected, args) -> Verdict:
        from autograder.sandbox.cases import from_tree

        case = from_tree(ModuleCase, args[probe]["second"])
        g, e = results(got[probe], 3), results(expected[probe], 3)
        error = student_error(g[0])
        if error:
            return fail(f"{kind.name}: fprop on two batches, then bprop twice: {error}")
        labels = ("after fprop on one batch and then on another, bprop did not use the last batch (a stale cache): "
                  "fprop must cache its values on every call.",
                  "calling bprop a second time gave a different result: bprop must overwrite the gradients "
                  "(self.grad_W = ..., not +=) and leave its cache as it is.",
                  "a fresh module on the same batch")
        for label, got_i, exp_i in zip(labels, g, e, strict=True):
            problem = _all_values(kind, got_i, exp_i, case)
            if problem:
                return fail(f"{kind.name}: {label} {problem}")
        return PASS
    return evaluate


def _float32_eval(kind: Kind):
    probe = f"{kind.name.lower()}.float32"

    def judge(g: dict, e: dict, case: ModuleCase) -> str | None:
        items = [("fprop's output", array(g, "y")), ("bprop's returned gradient", array(g, "grad_input"))]
        items += [(f"grads()[{k}]", array(g, "grads", k)) for k in range(len(e.get("grads", [])))]
        for what, arr in items:
            if arr is not None and arr.dtype != np.float32:
                return (f"with float32 inputs{' and parameters' if kind.param_names else ''}, {what} is {arr.dtype}, "
                        "not float32. A float64 constant or array (np.zeros, np.ones without dtype=...) promotes the "
                        "result; float32 halves memory and time on MNIST.")
        return _all_values(kind, g, e, case)

    def evaluate(got, expected, args) -> Verdict:
        return _per_case(kind, "fprop/bprop in float32", args[probe], got[probe], expected[probe], judge)
    return evaluate


def _stable_eval(got, expected, args) -> Verdict:
    kind = KINDS["SoftMax"]
    verdict = _per_case(kind, "fprop", args["softmax.stable"], got["softmax.stable"], expected["softmax.stable"],
                        lambda g, e, case: _compare(kind, "the output", array(g, "y"), e["y"], case, "y"))
    if verdict.passed:
        return verdict
    return fail(verdict.message.replace("on a batch of", "on logits of ±1000, a batch of"))


def module_part(kind: Kind) -> Part:
    k, pts = kind.name.lower(), kind.points

    def cell(which: str) -> tuple[str, str]:
        return (kind.notebook, f"test_{kind.cell_prefix}" if kind.one_cell else f"test_{kind.cell_prefix}_{which}")

    checks = [Check(f"{k}.fprop", f"{kind.name}.fprop matches the expected output", pts["fprop"], (f"{k}.fprop",),
                    cell("fprop"), _fprop_eval(kind, f"{k}.fprop"))]
    names = ["the gradient w.r.t. the input", *kind.param_names]
    for which, (points, name) in enumerate(zip(pts["bprop"], names, strict=True)):
        suffix = "input" if which == 0 else name.lower()
        checks.append(Check(f"{k}.bprop.{suffix}", f"{kind.name}.bprop: {name}", points, (f"{k}.bprop",),
                            cell("bprop"), _bprop_eval(kind, None if which == 0 else which - 1)))
    checks.append(Check(f"{k}.fd", f"{kind.name}.bprop agrees with finite differences of {kind.name}.fprop", pts["fd"],
                        (f"{k}.fd.moved", f"{k}.fd.base"), cell("bprop" if kind.name == "Conv2d" else "gradcheck"),
                        _fd_eval(kind)))
    if "stable" in pts:
        checks.append(Check(f"{k}.stable", f"{kind.name} is numerically stable (logits of ±1000)", pts["stable"],
                            (f"{k}.stable",), cell("fprop"), _stable_eval))
    if "params" in pts:
        checks.append(Check(f"{k}.params", f"{kind.name}.params() and grads() are aligned and live", pts["params"],
                            (f"{k}.params",), cell("bprop"), _params_eval(kind)))
    checks += [Check(f"{k}.args", f"{kind.name} does not modify its arguments", pts["args"], (f"{k}.args",),
                     cell("fprop"), _args_eval(kind)),
               Check(f"{k}.percall", f"{kind.name} caches per call and overwrites gradients", pts["percall"],
                     (f"{k}.percall",), cell("bprop"), _percall_eval(kind)),
               Check(f"{k}.float32", f"{kind.name} keeps float32 as float32", pts["float32"], (f"{k}.float32",),
                     cell("fprop"), _float32_eval(kind))]
    return Part(k, kind.name, module_probes(kind), checks)


# --- the criterion --------------------------------------------------------------------------------

CE_POINTS = {"fprop": 3, "bprop": 4, "fd": 1, "stable": 1, "args": 1, "percall": 1, "float32": 1}
CE_CELL = "01_modules"


def _ce_cases(rng: np.random.Generator) -> list[CriterionCase]:
    cases = []
    for n, c in [(1, 3), (7, 4), (13, 10)]:
        y = rng.dirichlet(np.full(c, 0.7), n)  # probabilities, none of them 0
        t = np.eye(c)[rng.integers(0, c, n)]
        cases.append(CriterionCase(y=y, t=t, cache={"y": y, "t": t}))
    return cases


def _ce_args(mode: str, cases: list[CriterionCase]) -> dict:
    return {"mode": mode, "cases": to_tree(cases)}


def _ce_fd_args(rng: np.random.Generator) -> tuple[list[CriterionCase], list[CriterionCase]]:
    base, moved = _ce_cases(rng), []
    for case in base:
        v = rng.uniform(-1, 1, case.y.shape)
        moved += [CriterionCase(y=case.y + FD_STEP * v, t=case.t), CriterionCase(y=case.y - FD_STEP * v, t=case.t)]
    return moved, base


def _ce_compare(what: str, got: np.ndarray | None, expected: np.ndarray, n: int, rtol: float = 1e-6) -> str | None:
    if got is not None and close(got, expected, rtol=rtol):
        return None
    if got is None:
        return f"{what}: no array where one of shape {expected.shape} is expected."
    return diagnose(got, expected, what, batch=n, hints=HINTS["CrossEntropy"]).strip()


def _ce_values(g: dict, e: dict, case: CriterionCase, rtol: float = 1e-6) -> str | None:
    n = case.y.shape[0]
    for key, what in (("cost", "the cost CrossEntropy.fprop returns"),
                      ("grad_input", "the gradient CrossEntropy.bprop returns")):
        if key in e:
            problem = _ce_compare(what, array(g, key), e[key], n, rtol)
            if problem:
                return problem
    return None


def _ce_per_case(method: str, probe: str, got, expected, args, judge) -> Verdict:
    from autograder.sandbox.cases import from_tree

    cases = [from_tree(CriterionCase, c) for c in args[probe]["cases"]]
    for g, e, case in zip(results(got[probe], len(cases)), results(expected[probe], len(cases)), cases, strict=True):
        problem = student_error(g) or judge(g, e, case)
        if problem is not None:
            if "AttributeError" in problem and method == "bprop":
                problem += " " + CACHE_NOTE
            return fail(f"CrossEntropy.{method} on a batch of {case.y.shape[0]}: {problem}")
    return PASS


def criterion_part() -> Part:
    probes = [Probe("crossentropy.fprop", "criteria", lambda rng: _ce_args("fprop", _ce_cases(rng))),
              Probe("crossentropy.bprop", "criteria", lambda rng: _ce_args("bprop", _ce_cases(rng))),
              Probe("crossentropy.fd.moved", "criteria", lambda rng: _ce_args("fprop", _ce_fd_args(rng)[0])),
              Probe("crossentropy.fd.base", "criteria", lambda rng: _ce_args("fb", _ce_fd_args(rng)[1])),
              Probe("crossentropy.args", "criteria", lambda rng: _ce_args("args", _ce_cases(rng))),
              Probe("crossentropy.percall", "criterion.percall", lambda rng: dict(zip(
                  ("first", "second"), (to_tree(c) for c in _ce_cases(rng)[1:]), strict=True))),
              Probe("crossentropy.float32", "criteria", lambda rng: _ce_args("fb", [
                  CriterionCase(y=c.y, t=c.t, dtype="float32") for c in _ce_cases(rng)])),
              Probe("crossentropy.stable", "criteria", lambda rng: _ce_args("fprop", [
                  # a probability 0 where the target is 0 (0·log 0), then where it is 1 (log 0)
                  CriterionCase(y=np.array([[0.2, 0.8, 0.0]]), t=np.array([[0.0, 1.0, 0.0]])),
                  CriterionCase(y=np.array([[0.0, 1.0, 0.0], [0.3, 0.3, 0.4]]),
                                t=np.array([[1.0, 0, 0], [0, 0, 1.0]]))]))]

    def values(method: str, probe: str, key: str):
        def evaluate(got, expected, args) -> Verdict:
            what = "the cost CrossEntropy.fprop returns" if key == "cost" else "the gradient CrossEntropy.bprop returns"
            return _ce_per_case(method, probe, got, expected, args,
                                lambda g, e, case: _ce_compare(what, array(g, key), e[key], case.y.shape[0]))
        return evaluate

    def fd(got, expected, args) -> Verdict:
        from autograder.sandbox.cases import from_tree

        moved = [from_tree(CriterionCase, c) for c in args["crossentropy.fd.moved"]["cases"]]
        g_moved = results(got["crossentropy.fd.moved"], len(moved))
        e_moved = results(expected["crossentropy.fd.moved"], len(moved))
        for g, e, case in zip(g_moved, e_moved, moved, strict=True):
            if student_error(g):
                return fail(f"CrossEntropy on a batch of {case.y.shape[0]}: {student_error(g)}")
            if _ce_compare("the cost", array(g, "cost"), e["cost"], case.y.shape[0]):
                return fail(f"CrossEntropy on a batch of {case.y.shape[0]}: fprop at points moved by ±{FD_STEP:g} "
                            "differs from the expected costs, so bprop cannot be checked against its finite "
                            "differences: fix fprop first (see its test).")
        verdict = _ce_per_case("bprop", "crossentropy.fd.base", got, expected, args, _ce_values)
        if verdict.passed:
            return PASS
        return fail("CrossEntropy: the gradient from bprop does not match finite differences of fprop: bprop is not "
                    f"the derivative of what fprop computes. {verdict.message}")

    def args_eval(got, expected, args) -> Verdict:
        def judge(g, e, case):
            if not (same_shape(array(g, "y_after"), case.y) and np.array_equal(array(g, "y_after"), case.y)):
                return ("CrossEntropy modified the probabilities passed to fprop in place (or bprop modified its "
                        "cache): use out-of-place operations.")
            if not (same_shape(array(g, "t_after"), case.t) and np.array_equal(array(g, "t_after"), case.t)):
                return "CrossEntropy modified the targets t passed to fprop in place: never change an argument."
            values = _ce_values(g, e, case)
            return None if values is None else f"{values} (this test counts once fprop and bprop are right)"
        return _ce_per_case("fprop/bprop", "crossentropy.args", got, expected, args, judge)

    def percall(got, expected, args) -> Verdict:
        g, e = results(got["crossentropy.percall"], 3), results(expected["crossentropy.percall"], 3)
        n = args["crossentropy.percall"]["second"]["y"].shape[0]
        if student_error(g[0]):
            return fail(f"CrossEntropy: fprop on two batches, then bprop twice: {student_error(g[0])}")
        for label, got_i, exp_i in zip(("after fprop on one batch and then on another, bprop did not use the last "
                                        "batch (a stale cache): fprop must cache its values on every call.",
                                        "calling bprop twice gave a different gradient the second time.",
                                        "a fresh criterion on the same batch"), g, e, strict=True):
            problem = _ce_compare("the gradient", array(got_i, "grad_input"), exp_i["grad_input"], n)
            if problem:
                return fail(f"CrossEntropy: {label} {problem}")
        return PASS

    def float32(got, expected, args) -> Verdict:
        def judge(g, e, case):
            gi = array(g, "grad_input")
            if gi is not None and gi.dtype != np.float32:
                return (f"with float32 inputs, bprop's returned gradient is {gi.dtype}, not float32. A float64 "
                        "constant or array promotes the result.")
            return _ce_values(g, e, case)
        return _ce_per_case("fprop/bprop in float32", "crossentropy.float32", got, expected, args, judge)

    def stable(got, expected, args) -> Verdict:
        g = results(got["crossentropy.stable"], 2)
        e = results(expected["crossentropy.stable"], 2)
        if student_error(g[0]) or _ce_compare("the cost", array(g[0], "cost"), e[0]["cost"], 1):
            return fail("CrossEntropy.fprop with a probability of exactly 0 on a class that is not the target: "
                        + (student_error(g[0]) or _ce_compare("the cost", array(g[0], "cost"), e[0]["cost"], 1)))
        cost = array(g[1], "cost")
        if student_error(g[1]) or cost is None or not np.all(np.isfinite(cost)):
            return fail("CrossEntropy.fprop with a probability of exactly 0 on the target class gives NaN or inf: "
                        "floor the probabilities (np.maximum(y, np.finfo(y.dtype).tiny)) before the log.")
        return PASS

    cell = lambda which: (CE_CELL, f"test_cross_entropy_{which}")  # noqa: E731
    checks = [Check("crossentropy.fprop", "CrossEntropy.fprop matches the expected output", CE_POINTS["fprop"],
                    ("crossentropy.fprop",), cell("fprop"), values("fprop", "crossentropy.fprop", "cost")),
              Check("crossentropy.bprop.input", "CrossEntropy.bprop: the gradient w.r.t. the input", CE_POINTS["bprop"],
                    ("crossentropy.bprop",), cell("bprop"), values("bprop", "crossentropy.bprop", "grad_input")),
              Check("crossentropy.fd", "CrossEntropy.bprop agrees with finite differences of CrossEntropy.fprop",
                    CE_POINTS["fd"], ("crossentropy.fd.moved", "crossentropy.fd.base"), cell("gradcheck"), fd),
              Check("crossentropy.stable", "CrossEntropy is numerically stable (probabilities of 0)",
                    CE_POINTS["stable"], ("crossentropy.stable",), cell("fprop"), stable),
              Check("crossentropy.args", "CrossEntropy does not modify its arguments", CE_POINTS["args"],
                    ("crossentropy.args",), cell("fprop"), args_eval),
              Check("crossentropy.percall", "CrossEntropy caches per call and overwrites gradients",
                    CE_POINTS["percall"], ("crossentropy.percall",), cell("bprop"), percall),
              Check("crossentropy.float32", "CrossEntropy keeps float32 as float32", CE_POINTS["float32"],
                    ("crossentropy.float32",), cell("fprop"), float32)]
    return Part("crossentropy", "CrossEntropy", probes, checks)
