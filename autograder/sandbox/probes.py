"""Probes: the only code that calls student functions. Each takes the implementation and the
grader's arguments (cases of :mod:`cases`) and returns what the student's code computed; it
decides nothing. They run inside the jail on the student's notebooks, and in the grader's own
process on the reference notebooks, which gives the expected results.

This file is copied into the jail, so it holds no answer to any graded task: its toy modules and
functions (the ones ``train``, ``backprop_jacobian`` and ``numerical_jacobian`` are tried on) are
not graded, and the MNIST session receives its architecture from the grader.
"""

from __future__ import annotations

import os
import types
from collections.abc import Callable

import numpy as np

from .cases import (
    CriterionCase,
    CriterionResult,
    FunctionResult,
    ModuleCase,
    ModuleResult,
    ParamsResult,
    from_tree,
    to_tree,
)

CHANNEL: int | None = None  # the replies pipe, inside the jail; None in the grader's process


class StudentError(Exception):
    """A student call failed or returned something unusable; the message says which and why."""


def stage(name: str) -> None:
    """Tell the grader which student call runs now (for the message if it hangs or crashes)."""
    if CHANNEL is not None:
        from . import wire

        wire.write(CHANNEL, {"stage": name[:200]})


def call(name: str, fn: Callable, *args, **kwargs):
    stage(name)
    try:
        return fn(*args, **kwargs)
    except StudentError:
        raise
    except Exception as exc:  # noqa: BLE001 - anything the student's code raises, reported in words
        raise StudentError(f"{name} raised {describe(exc)}") from exc


def describe(exc: BaseException) -> str:
    """``Type: message (notebook X cell N, line L)``: where in the student's code it failed."""
    import traceback

    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith("<notebook"):
            where = f" ({frame.filename.strip('<>')}, line {frame.lineno})"
    try:
        message = str(exc)[:1000]  # clipped first: a message may be hundreds of MB
    except Exception:  # noqa: BLE001 - a student's exception whose __str__ raises
        message = "(its message could not be read)"
    text = " ".join(f"{type(exc).__name__}: {message}".split())
    return (text[:400] + " …" if len(text) > 400 else text) + where


# The grader reads at most 8 MB per reply: a probe's array beyond a million numbers could never reach it
# (a reply that large would cost the rest of the part its CPU before being refused whole)
MOST_NUMBERS = 1 << 20


def number_array(value, what: str, most: int | None = None) -> np.ndarray:
    """``value`` as a fresh array of numbers; a StudentError when it is not one, or has over ``most`` numbers."""
    try:
        arr = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - e.g. ragged lists
        raise StudentError(f"{what} returned {type(value).__name__}, not an array of numbers") from exc
    if arr.dtype.kind not in "biuf":
        raise StudentError(f"{what} returned {type(value).__name__} of dtype {arr.dtype}, not an array of numbers")
    if most is not None and arr.size > most:
        raise StudentError(f"{what} returned an array of shape {arr.shape}, far larger than its inputs call for")
    return np.array(arr)  # a copy: later calls of the student's code cannot change what we report


def need(impl, name: str):
    value = getattr(impl, name, None)
    if value is None:
        raise StudentError(f"your notebooks define no `{name}`: check the name (and that its cell runs)")
    return value


# --- loading ------------------------------------------------------------------------------------

def _exit_is_an_error(status: int = 0) -> None:
    raise SystemExit(f"os._exit({status}) while the notebooks loaded")


class Implementation(types.SimpleNamespace):
    """The graded names, each taken from the notebook the course asks for it in."""


CELL_CPU_SECONDS = 10.0  # a student's cell that runs longer is interrupted (the rest still loads)
GIVEN_CELL_CPU_SECONDS = 2.0  # a course demo that calls a student's looping method: interrupted sooner


def load(folder: str, owners: dict[str, str], stop_on_error: bool = False) -> tuple[Implementation, list[str]]:
    """Run every notebook of ``folder`` (each in its own namespace); the graded names by owner,
    and the student's failed cells in words (the course's locked cells may fail here: the jail's
    dlcore does not compute the references some demos use)."""
    import dlcore.notebook_loader as loader

    spaces, errors = {}, []
    # Nested loads (part 3 loads part 1) behave alike. In the jail, every cell gets a CPU limit, and
    # os._exit in a cell fails that cell instead of the whole load (a course demo that calls a student's
    # method would otherwise turn one broken method into a submission that does not load).
    # A notebook that another loads (part 3 loads part 1) runs once: the load returns its namespace.
    previous = (loader.STOP_ON_ERROR, loader.CELL_CPU_SECONDS, loader.GIVEN_CELL_CPU_SECONDS, loader.REUSE_LOADED,
                os._exit)
    loader.STOP_ON_ERROR = stop_on_error
    if not stop_on_error:
        loader.CELL_CPU_SECONDS, loader.GIVEN_CELL_CPU_SECONDS = CELL_CPU_SECONDS, GIVEN_CELL_CPU_SECONDS
        loader.REUSE_LOADED, os._exit = True, _exit_is_an_error
    try:
        for name in sorted(os.listdir(folder)):
            if name.endswith(".ipynb"):
                try:
                    loaded = loader.run_notebook(os.path.join(folder, name), stop_on_error=stop_on_error)
                except Exception as exc:  # noqa: BLE001 - an unreadable notebook: its names are missing
                    if stop_on_error:
                        raise
                    errors.append(describe(exc))
                    continue
                spaces[name[:-len(".ipynb")]] = loaded.module
                errors += [str(e) for e in loaded.errors if not e.given]
    finally:
        (loader.STOP_ON_ERROR, loader.CELL_CPU_SECONDS, loader.GIVEN_CELL_CPU_SECONDS, loader.REUSE_LOADED,
         os._exit) = previous
    impl = Implementation()
    for graded, stem in owners.items():
        module = spaces.get(stem)
        if module is not None and getattr(module, graded, None) is not None:
            setattr(impl, graded, getattr(module, graded))
    return impl, errors


# --- modules --------------------------------------------------------------------------------------

def make(impl, kind: str, case: ModuleCase):
    """A fresh ``kind`` built as the course's constructor says, with the case's parameters."""
    cls = need(impl, kind)
    dtype = np.dtype(case.dtype)
    cfg = case.config
    if kind == "Linear":
        W = case.params[0]
        m = call("Linear.__init__", cls, W.shape[0], W.shape[1], rng=np.random.default_rng(0), dtype=dtype)
    elif kind == "Conv2d":
        m = call("Conv2d.__init__", cls, int(cfg["c_in"]), int(cfg["c_out"]), int(cfg["k"]),
                 stride=int(cfg["stride"]), padding=int(cfg["padding"]), rng=np.random.default_rng(0), dtype=dtype)
    elif kind == "Dropout":  # its __init__ is given: (p, rng)
        m = call("Dropout.__init__", cls, float(cfg["p"]), rng=np.random.default_rng(int(cfg["seed"])))
    else:
        m = call(f"{kind}.__init__", cls)
    if case.params:  # the names W and b are the course's
        m.W, m.b = (p.astype(dtype) for p in case.params)
    return m


def _grads(m, kind: str) -> list[np.ndarray]:
    return [number_array(g, f"{kind}.grads()[{k}]", MOST_NUMBERS) for k, g in enumerate(call(f"{kind}.grads", m.grads))]


def _fprop(m, kind: str, x: np.ndarray) -> np.ndarray:
    return number_array(call(f"{kind}.fprop", m.fprop, x), f"{kind}.fprop", MOST_NUMBERS)


def _bprop(m, kind: str, g: np.ndarray) -> np.ndarray:
    return number_array(call(f"{kind}.bprop", m.bprop, g), f"{kind}.bprop", MOST_NUMBERS)


def module_case(impl, kind: str, mode: str, case: ModuleCase) -> ModuleResult:
    """``mode``: fprop; bprop (alone, after setting the mandated cache); fb (fprop then bprop);
    args (fb, and the arguments after the calls)."""
    dtype = np.dtype(case.dtype)
    x = case.x.astype(dtype)
    g = None if case.g is None else case.g.astype(dtype)
    try:
        m = make(impl, kind, case)
        out = ModuleResult()
        if mode in ("fprop", "fb", "args"):
            out.y = _fprop(m, kind, x)
        if mode == "bprop":
            for attr, value in case.cache.items():
                setattr(m, attr, value.astype(dtype))
        if mode in ("bprop", "fb", "args"):
            try:
                out.grad_input = _bprop(m, kind, g)
            except StudentError as exc:  # the gradients bprop set before it raised are still read
                out.bprop_error = str(exc)
            out.grads = _grads(m, kind)
        if mode == "args":
            out.x_after, out.g_after = x, g
        return out
    except StudentError as exc:
        return ModuleResult(error=str(exc))


def modules(impl, args: dict) -> dict:
    cases = [from_tree(ModuleCase, c) for c in args["cases"]]
    return {"results": [module_case(impl, args["kind"], args["mode"], c) for c in cases]}


def percall(impl, args: dict) -> dict:
    """fprop(x1), fprop(x2), bprop(g) twice on one module; fprop(x2), bprop(g) on a fresh one."""
    kind = args["kind"]
    first, second = from_tree(ModuleCase, args["first"]), from_tree(ModuleCase, args["second"])
    try:
        m = make(impl, kind, second)
        _fprop(m, kind, first.x.copy())
        _fprop(m, kind, second.x.copy())
        a = ModuleResult(grad_input=_bprop(m, kind, second.g.copy()), grads=_grads(m, kind))
        b = ModuleResult(grad_input=_bprop(m, kind, second.g.copy()), grads=_grads(m, kind))
        fresh = make(impl, kind, second)
        _fprop(fresh, kind, second.x.copy())
        c = ModuleResult(grad_input=_bprop(fresh, kind, second.g.copy()), grads=_grads(fresh, kind))
        return {"results": [a, b, c]}
    except StudentError as exc:
        return {"results": [ModuleResult(error=str(exc))] * 3}


def params(impl, args: dict) -> dict:
    """fprop, bprop; then each parameter of params() shifted by 1 in place, fprop again."""
    kind, case = args["kind"], from_tree(ModuleCase, args["case"])
    try:
        m = make(impl, kind, case)
        out = ParamsResult(y=_fprop(m, kind, case.x.copy()))
        _bprop(m, kind, case.g.copy())
        out.grads = _grads(m, kind)
        live = call(f"{kind}.params", m.params)
        out.n_params = len(live)
        for p in live[:8]:
            saved = np.array(p, copy=True)
            p += 1.0
            out.shifted.append(_fprop(m, kind, case.x.copy()))
            p[...] = saved
        return {"result": out}
    except (StudentError, TypeError, ValueError) as exc:
        return {"result": ParamsResult(error=str(exc))}


def dropout_modes(impl, args: dict) -> dict:
    """fprop and bprop after ``eval()``, with ``training = False`` set directly, and with p = 0."""
    case = from_tree(ModuleCase, args["case"])
    out = {}
    for how in ("eval", "flag", "p0"):
        try:
            this = ModuleCase(case.x, case.g, config={**case.config, "p": 0.0} if how == "p0" else case.config)
            m = make(impl, "Dropout", this)
            if how == "eval":
                call("Dropout.eval", m.eval)
            elif how == "flag":
                m.training = False
            out[how] = ModuleResult(y=_fprop(m, "Dropout", case.x.copy()),
                                    grad_input=_bprop(m, "Dropout", case.g.copy()))
        except StudentError as exc:
            out[how] = ModuleResult(error=str(exc))
    return out


def dropout_masks(impl, args: dict) -> dict:
    """Two fprops of one module, one of a module whose rng has the same seed, one of another seed."""
    case = from_tree(ModuleCase, args["case"])
    other = ModuleCase(case.x, config={**case.config, "seed": float(args["other_seed"])})
    try:
        a, b, c = make(impl, "Dropout", case), make(impl, "Dropout", case), make(impl, "Dropout", other)
        return {"a1": _fprop(a, "Dropout", case.x.copy()), "a2": _fprop(a, "Dropout", case.x.copy()),
                "b1": _fprop(b, "Dropout", case.x.copy()), "c1": _fprop(c, "Dropout", case.x.copy())}
    except StudentError as exc:
        return {"error": str(exc)}


# --- the criterion ----------------------------------------------------------------------------

def _cost(c, y, t) -> np.ndarray:
    cost = number_array(call("CrossEntropy.fprop", c.fprop, y, t), "CrossEntropy.fprop")
    if cost.size != 1:
        raise StudentError(f"CrossEntropy.fprop returned an array of shape {cost.shape}, not one number (the mean)")
    return cost.reshape(())


def criterion_case(impl, mode: str, case: CriterionCase) -> CriterionResult:
    dtype = np.dtype(case.dtype)
    y, t = case.y.astype(dtype), case.t.astype(dtype)
    try:
        c = call("CrossEntropy.__init__", need(impl, "CrossEntropy"))
        out = CriterionResult()
        if mode in ("fprop", "fb", "args"):
            out.cost = _cost(c, y, t)
        if mode == "bprop":
            for attr, value in case.cache.items():
                setattr(c, attr, value.astype(dtype))
        if mode in ("bprop", "fb", "args"):
            out.grad_input = number_array(call("CrossEntropy.bprop", c.bprop), "CrossEntropy.bprop")
        if mode == "args":
            out.y_after, out.t_after = y, t
        return out
    except StudentError as exc:
        return CriterionResult(error=str(exc))


def criteria(impl, args: dict) -> dict:
    cases = [from_tree(CriterionCase, c) for c in args["cases"]]
    return {"results": [criterion_case(impl, args["mode"], c) for c in cases]}


def criterion_percall(impl, args: dict) -> dict:
    first, second = from_tree(CriterionCase, args["first"]), from_tree(CriterionCase, args["second"])
    try:
        cls = need(impl, "CrossEntropy")
        c = call("CrossEntropy.__init__", cls)
        _cost(c, first.y.copy(), first.t.copy())
        _cost(c, second.y.copy(), second.t.copy())
        results = [CriterionResult(grad_input=number_array(call("CrossEntropy.bprop", c.bprop), "CrossEntropy.bprop"))
                   for _ in range(2)]
        fresh = call("CrossEntropy.__init__", cls)
        _cost(fresh, second.y.copy(), second.t.copy())
        results.append(CriterionResult(grad_input=number_array(call("CrossEntropy.bprop", fresh.bprop),
                                                               "CrossEntropy.bprop")))
        return {"results": results}
    except StudentError as exc:
        return {"results": [CriterionResult(error=str(exc))] * 3}


# --- functions of parts 2 and 3 ------------------------------------------------------------------

JACOBIAN_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray | None], np.ndarray]] = {
    # name -> f(x, A); the grader knows each Jacobian in closed form.
    "tanh_affine": lambda x, A: np.tanh(A @ x),  # (4,) -> (3,)
    "row_squares": lambda x, A: (x**2).sum(axis=1),  # (3, 2) -> (3,)
    "sum_sin": lambda x, A: np.sum(np.sin(x)),  # (5,) -> a scalar
    "cube": lambda x, A: x**3,  # element-wise, at large |x|: the step must be relative
    "tanh": lambda x, A: np.tanh(x),  # (3, 4) -> (3, 4)
    "sin_T_x": lambda x, A: np.sin(x).T @ x,  # (4, 2) -> (2, 2)
}


def numerical_jacobian(impl, args: dict) -> dict:
    fn = need(impl, "numerical_jacobian")
    results = []
    for case in args["cases"]:
        f, A = JACOBIAN_FUNCTIONS[case["function"]], case.get("A")
        x = case["x"].copy()
        try:
            J = number_array(call("numerical_jacobian", fn, lambda v, f=f, A=A: f(v, A), x), "numerical_jacobian")
            results.append(FunctionResult(value=J, args_after=[x]))
        except StudentError as exc:
            results.append(FunctionResult(error=str(exc)))
    return {"results": results}


class MatMul:
    """``y = z·A`` for a fixed ``A`` (not graded): a module whose Jacobian the grader knows."""

    def __init__(self, A):
        self.A = A
        self.input_grad, self.training = True, True

    def fprop(self, z):
        return z @ self.A

    def bprop(self, grad_output):
        return grad_output @ self.A.T


class Cube:
    """Element-wise ``y = z³`` (not graded); caches its input."""

    input_grad, training = True, True

    def fprop(self, z):
        self.z = z
        return z**3

    def bprop(self, grad_output):
        return grad_output * 3 * self.z**2


def backprop_jacobian(impl, args: dict) -> dict:
    fn = need(impl, "backprop_jacobian")
    results = []
    for case in args["cases"]:
        module = MatMul(case["A"].copy()) if case["module"] == "matmul" else Cube()
        x = case["x"].copy()
        try:
            J = number_array(call("backprop_jacobian", fn, module, x), "backprop_jacobian")
            results.append(FunctionResult(value=J, args_after=[x]))
        except StudentError as exc:
            results.append(FunctionResult(error=str(exc)))
    return {"results": results}


def max_mixed_error(impl, args: dict) -> dict:
    fn = need(impl, "max_mixed_error")
    results = []
    for case in args["cases"]:
        a, n = case["a"].copy(), case["n"].copy()
        try:
            value = number_array(call("max_mixed_error", fn, a, n), "max_mixed_error")
            results.append(FunctionResult(value=value.astype(np.float64), args_after=[a, n]))
        except StudentError as exc:
            results.append(FunctionResult(error=str(exc)))
    return {"results": results}


def sgd_step(impl, args: dict) -> dict:
    fn = need(impl, "sgd_step")
    params = [p.copy() for p in args["params"]]
    grads = [g.copy() for g in args["grads"]]
    try:
        call("sgd_step", fn, params, grads, float(args["lr"]))
    except StudentError as exc:
        return {"result": FunctionResult(error=str(exc))}
    return {"result": FunctionResult(args_after=[*params, *grads])}  # the caller's arrays, in place or not


class ToyScale:
    """``y = z ⊙ a + c``, element-wise: a toy module (not graded) to test the training loop."""

    input_grad, training = True, True

    def __init__(self, a: np.ndarray, c: np.ndarray) -> None:
        self.a, self.c = a, c
        self.grad_a, self.grad_c = np.zeros_like(a), np.zeros_like(c)

    def fprop(self, z):
        self.z = z
        return z * self.a + self.c

    def bprop(self, g):
        self.grad_a = (g * self.z).sum(axis=0)
        self.grad_c = g.sum(axis=0)
        return g * self.a

    def params(self):
        return [self.a, self.c]

    def grads(self):
        return [self.grad_a, self.grad_c]

    def train(self, mode=True):
        return self

    def eval(self):
        return self


class ToySquaredError:
    """Mean over samples of ``½‖y − t‖²``."""

    def fprop(self, y, t):
        self.d = y - t
        return float(0.5 * np.sum(self.d**2) / len(y))

    def bprop(self):
        return self.d / len(self.d)


def train(impl, args: dict) -> dict:
    fn = need(impl, "train")

    # ``train`` calls the student's sgd_step: during this probe it is replaced by a plain step, so
    # that a broken sgd_step is graded once, by its own test.
    def plain_step(params, grads, lr):
        for p, g in zip(params, grads, strict=True):
            p -= lr * g

    globals_ = getattr(fn, "__globals__", None)
    if isinstance(globals_, dict):
        globals_["sgd_step"] = plain_step
    results = []
    for case in args["cases"]:
        model = ToyScale(case["a"].copy(), case["c"].copy())
        x, t = case["x"].copy(), case["t"].copy()
        try:
            losses = call("train", fn, model, ToySquaredError(), x, t, int(case["epochs"]), int(case["batch_size"]),
                          float(case["lr"]), np.random.default_rng(int(case["seed"])))
            kinds = [isinstance(v, float | np.floating) for v in list(losses)]
            value = number_array(list(losses), "train").astype(np.float64)
            results.append({"losses": value, "floats": np.array(all(kinds)), "a": model.a, "c": model.c,
                            "x_after": x, "t_after": t})
        except (StudentError, TypeError) as exc:
            results.append({"error": str(exc)})
    return {"results": results}


SETTINGS = ("k", "stride", "padding", "p", "shape")  # the course's attribute names of the layers' settings


def builders(impl, args: dict) -> dict:
    """Each builder's model, described: its layers' class names and settings (a Conv2d's k, stride and
    padding, a Dropout's p, ...), and its parameters' shapes and dtypes. Nothing of it runs: a broken
    module is graded by its own checks, not again here."""
    results = []
    for case in args["cases"]:
        name = case["builder"]
        try:
            fn = need(impl, name)
            rng = np.random.default_rng(0)
            model = call(name, fn, rng, np.float32) if case["with_dtype"] else call(name, fn, rng)
            layers = list(call(f"the model of {name}", iter, model))[:64]
            params = list(call(f"{name}(...).params", model.params))[:64]
            settings = []
            for m in layers:
                found = {}
                for attr in SETTINGS:
                    value = getattr(m, attr, None)
                    if isinstance(value, int | float | tuple) and not isinstance(value, bool):
                        found[attr] = [float(v) for v in value][:8] if isinstance(value, tuple) else float(value)
                settings.append(found)
            results.append({"names": [str(type(m).__name__)[:40] for m in layers], "settings": settings,
                            "shapes": [list(np.shape(p)) for p in params],
                            "dtypes": [str(np.asarray(p).dtype) for p in params]})
        except (StudentError, TypeError) as exc:
            results.append({"error": str(exc)})
    return {"results": results}


def momentum(impl, args: dict) -> dict:
    """Steps with the gradients ``grads[s]`` and learning rate ``lrs[s]`` (set on the optimizer before
    step s) on a stand-in model; the parameters and the gradients after each step."""
    dtype = np.dtype(args["dtype"])
    model = TwoParams(args["a"].astype(dtype), args["b"].astype(dtype))
    lrs = args["lrs"]
    try:
        opt = call("Momentum.__init__", need(impl, "Momentum"), model, float(lrs[0]), momentum=float(args["mu"]))
        steps = []
        for s in range(len(lrs)):
            opt.lr = float(lrs[s])
            model.grad_a, model.grad_b = (g.astype(dtype) for g in args["grads"][s])
            call("Momentum.step", opt.step)
            steps.append({"a": np.array(model.a), "b": np.array(model.b), "ga": np.array(model.grad_a),
                          "gb": np.array(model.grad_b)})
        return {"steps": steps}
    except (StudentError, TypeError) as exc:
        return {"error": str(exc)}


class TwoParams:
    """A stand-in model for the optimizer (not graded): two parameters of different shapes whose
    gradients the probe sets before each step."""

    def __init__(self, a: np.ndarray, b: np.ndarray) -> None:
        self.a, self.b = a, b
        self.grad_a, self.grad_b = np.zeros_like(a), np.zeros_like(b)

    def params(self):
        return [self.a, self.b]

    def grads(self):
        return [self.grad_a, self.grad_b]


PROBES: dict[str, Callable[[object, dict], dict]] = {
    "modules": modules, "percall": percall, "params": params, "dropout.modes": dropout_modes,
    "dropout.masks": dropout_masks, "criteria": criteria, "criterion.percall": criterion_percall,
    "numerical_jacobian": numerical_jacobian, "backprop_jacobian": backprop_jacobian,
    "max_mixed_error": max_mixed_error, "sgd_step": sgd_step, "train": train, "builders": builders,
    "momentum": momentum,
}


def run(impl, probe: str, args: dict) -> object:
    """The probe's answer as a tree (what crosses the wire)."""
    return to_tree(PROBES[probe](impl, args))


def serve(impl, probe: str, args: dict, reader) -> None:
    """Inside the jail, in a forked child: run ``probe`` and write its reply (or hold a session)."""
    from . import wire

    if probe == "session":
        from . import session

        session.serve(impl, args, reader, CHANNEL)
        return
    try:
        reply = run(impl, probe, args)
    except StudentError as exc:
        wire.write(CHANNEL, {"error": str(exc)})
        return
    except BaseException as exc:  # noqa: BLE001 - SystemExit and friends from student code
        wire.write(CHANNEL, {"error": f"your code raised {describe(exc)}"})
        return
    wire.write(CHANNEL, {"reply": reply})
