"""Probes: the only code that calls student functions. Runs inside the sandbox (and, in the
grader's own process, on the reference implementation to get the expected values).

A probe takes the implementation (a module loaded from notebooks), its inputs (arrays generated
by the grader) and returns a dict of numeric arrays. It decides nothing: the grader compares.
This file is copied into the sandbox, so it must hold no answers; the toy modules used to test
``train`` are not graded modules.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

Arrays = dict[str, np.ndarray]
STAGE_FD: int | None = None  # set by the runner: where to write which student call is running
CURRENT = "your code"  # the student call running now


def stage(name: str) -> None:
    """Record which student call runs now, for the message if it hangs or crashes the process."""
    global CURRENT
    CURRENT = name
    if STAGE_FD is not None:
        data = name.encode()[:200]
        os.ftruncate(STAGE_FD, 0)
        os.pwrite(STAGE_FD, data, 0)


class StudentError(Exception):
    """A student call failed; the message names the call."""


def call(name: str, fn: Callable, *args, **kwargs):
    stage(name)
    return fn(*args, **kwargs)


def _num(value, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as exc:  # e.g. ragged lists
        raise StudentError(f"{what} returned {type(value).__name__}, not an array of numbers") from exc
    if arr.dtype.kind not in "biuf":
        raise StudentError(f"{what} returned {type(value).__name__} of dtype {arr.dtype}, not an array of numbers")
    return arr


def _need(impl, name: str):
    if not hasattr(impl, name):
        raise StudentError(f"your notebooks define no `{name}`: check the name")
    return getattr(impl, name)


# --- the graded modules -----------------------------------------------------------------------

# Cache attributes the course text mandates; bprop probes set them instead of calling fprop.
CACHES = {"Linear": ("z",), "Tanh": ("y",), "SoftMax": ("y",)}


def _make(impl, kind: str, inp: Arrays, i: int, dtype=np.float64):
    cls = _need(impl, kind)
    if kind == "Linear":
        W = inp[f"W{i}"]
        m = call("Linear.__init__", cls, W.shape[0], W.shape[1], np.random.default_rng(0), dtype)
    elif kind == "Conv2d":  # cfg: (C_in, C_out, k, stride, padding)
        c_in, c_out, k, stride, padding = (int(v) for v in inp[f"cfg{i}"])
        m = call("Conv2d.__init__", cls, c_in, c_out, k, stride=stride, padding=padding,
                 rng=np.random.default_rng(0), dtype=dtype)
    elif kind == "Dropout":  # its __init__ is given: (p, rng)
        return call("Dropout.__init__", cls, float(inp[f"p{i}"]), rng=np.random.default_rng(int(inp[f"seed{i}"])))
    else:
        return call(f"{kind}.__init__", cls)
    m.W = inp[f"W{i}"].astype(dtype)  # the names W and b are given by the course's __init__
    m.b = inp[f"b{i}"].astype(dtype)
    return m


def _shapes(inp: Arrays) -> list[int]:
    return sorted(int(k[1:]) for k in inp if k.startswith("x") and k[1:].isdigit())


def _grads(m, kind: str, out: Arrays, prefix: str) -> None:
    for k, g in enumerate(call(f"{kind}.grads", m.grads)):
        out[f"{prefix}_{k}"] = _num(g, f"{kind}.grads()[{k}]").copy()


def module_fprop(impl, inp: Arrays, kind: str) -> Arrays:
    out = {}
    for i in _shapes(inp):
        m = _make(impl, kind, inp, i)
        out[f"y{i}"] = _num(call(f"{kind}.fprop", m.fprop, inp[f"x{i}"].copy()), f"{kind}.fprop")
    return out


def module_bprop(impl, inp: Arrays, kind: str) -> Arrays:
    """bprop alone: the cache is set from the reference's values, so a wrong fprop can't fail it."""
    out = {}
    for i in _shapes(inp):
        m = _make(impl, kind, inp, i)
        for attr in CACHES[kind]:
            setattr(m, attr, inp[f"cache_{attr}{i}"].copy())
        out[f"gi{i}"] = _num(call(f"{kind}.bprop", m.bprop, inp[f"g{i}"].copy()), f"{kind}.bprop")
        _grads(m, kind, out, f"gp{i}")
    return out


def _failure(exc: Exception) -> np.ndarray:
    """``call raised Type: message (notebook, line)`` as an array, like the runner's messages."""
    import traceback

    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith("<notebook"):
            where = f" ({frame.filename.strip('<>')}, line {frame.lineno})"
    return np.array(f"{CURRENT} raised {type(exc).__name__}: {str(exc)[:300]}{where}")


def module_fb(impl, inp: Arrays, kind: str) -> Arrays:
    """fprop then bprop on every case: part 4's bprop is graded through the student's own cache,
    whatever its names (the notebook's tests set ``self.z``/``self.cols``; the grader does not).

    An exception in bprop costs that case only (``err{i}``, a message) so that the grader can tell
    which configurations fail (e.g. only those with padding); the gradients of the parameters that
    bprop set before raising are still read.
    """
    out = {}
    for i in _shapes(inp):
        m = _make(impl, kind, inp, i)
        out[f"y{i}"] = _num(call(f"{kind}.fprop", m.fprop, inp[f"x{i}"].copy()), f"{kind}.fprop").copy()
        try:
            out[f"gi{i}"] = _num(call(f"{kind}.bprop", m.bprop, inp[f"g{i}"].copy()), f"{kind}.bprop")
        except NotImplementedError:
            raise
        except Exception as exc:  # noqa: BLE001 - the student's bug, reported per case
            out[f"err{i}"] = _failure(exc)
        _grads(m, kind, out, f"gp{i}")
    return out


FD_STEP = 1e-6


def module_fd(impl, inp: Arrays, kind: str) -> Arrays:
    """Central differences of the student's own fprop along random directions, and its bprop."""
    out = {}
    for i in _shapes(inp):
        x, v = inp[f"x{i}"], inp[f"vx{i}"]
        m = _make(impl, kind, inp, i)
        out[f"xp{i}"] = _num(call(f"{kind}.fprop", m.fprop, x + FD_STEP * v), f"{kind}.fprop")
        out[f"xm{i}"] = _num(call(f"{kind}.fprop", m.fprop, x - FD_STEP * v), f"{kind}.fprop")
        for k, p in enumerate(call(f"{kind}.params", m.params)):
            saved = p.copy()
            for sign, tag in ((1, "p"), (-1, "m")):
                p[...] = saved + sign * FD_STEP * inp[f"vp{i}_{k}"]
                out[f"p{k}{tag}{i}"] = _num(call(f"{kind}.fprop", m.fprop, x.copy()), f"{kind}.fprop")
            p[...] = saved
        call(f"{kind}.fprop", m.fprop, x.copy())
        out[f"gi{i}"] = _num(call(f"{kind}.bprop", m.bprop, inp[f"g{i}"].copy()), f"{kind}.bprop")
        _grads(m, kind, out, f"gp{i}")
    return out


def module_params(impl, inp: Arrays, kind: str) -> Arrays:
    i = _shapes(inp)[-1]
    m = _make(impl, kind, inp, i)
    x = inp[f"x{i}"]
    y0 = _num(call(f"{kind}.fprop", m.fprop, x.copy()), f"{kind}.fprop").copy()
    call(f"{kind}.bprop", m.bprop, inp[f"g{i}"].copy())
    params, grads = call(f"{kind}.params", m.params), call(f"{kind}.grads", m.grads)
    out = {"n_params": np.array(len(params)), "n_grads": np.array(len(grads)),
           "shapes_match": np.array(len(params) == len(grads)
                                    and all(np.shape(p) == np.shape(g) for p, g in zip(params, grads, strict=False)))}
    live = True
    for p in params:  # an optimizer updates params() in place: the module must see the change
        saved = p.copy()
        p += 1.0
        live &= not np.array_equal(_num(call(f"{kind}.fprop", m.fprop, x.copy()), f"{kind}.fprop"), y0)
        p[...] = saved
    out["live"] = np.array(live)
    return out


def module_inputs(impl, inp: Arrays, kind: str) -> Arrays:
    out = {}
    for i in _shapes(inp):
        m = _make(impl, kind, inp, i)
        x, g = inp[f"x{i}"].copy(), inp[f"g{i}"].copy()
        call(f"{kind}.fprop", m.fprop, x)
        call(f"{kind}.bprop", m.bprop, g)
        out[f"x{i}"], out[f"g{i}"] = x, g
    return out


def module_percall(impl, inp: Arrays, kind: str) -> Arrays:
    """fprop(x1), fprop(x2), bprop twice; and a fresh module on x2 alone. Student vs student."""
    out = {}
    x1, x2, g = inp["x1"], inp["x2"], inp["g2"]
    m = _make(impl, kind, inp, 2)
    call(f"{kind}.fprop", m.fprop, x1.copy())
    call(f"{kind}.fprop", m.fprop, x2.copy())
    out["gi_a"] = _num(call(f"{kind}.bprop", m.bprop, g.copy()), f"{kind}.bprop").copy()
    _grads(m, kind, out, "gp_a")
    out["gi_b"] = _num(call(f"{kind}.bprop", m.bprop, g.copy()), f"{kind}.bprop").copy()
    _grads(m, kind, out, "gp_b")
    fresh = _make(impl, kind, inp, 2)
    call(f"{kind}.fprop", fresh.fprop, x2.copy())
    out["gi_c"] = _num(call(f"{kind}.bprop", fresh.bprop, g.copy()), f"{kind}.bprop").copy()
    _grads(fresh, kind, out, "gp_c")
    return out


def module_float32(impl, inp: Arrays, kind: str) -> Arrays:
    i = _shapes(inp)[-1]
    m = _make(impl, kind, inp, i, dtype=np.float32)
    y = _num(call(f"{kind}.fprop", m.fprop, inp[f"x{i}"].astype(np.float32)), f"{kind}.fprop")
    gi = _num(call(f"{kind}.bprop", m.bprop, inp[f"g{i}"].astype(np.float32)), f"{kind}.bprop")
    out = {"y": y, "gi": gi}
    _grads(m, kind, out, "gp")
    return out


# --- the criterion ----------------------------------------------------------------------------

def _ce(impl):
    return call("CrossEntropy.__init__", _need(impl, "CrossEntropy"))


def _cost(c, y, t) -> np.ndarray:
    return _num(call("CrossEntropy.fprop", c.fprop, y, t), "CrossEntropy.fprop")


def ce_fprop(impl, inp: Arrays) -> Arrays:
    return {f"c{i}": _cost(_ce(impl), inp[f"x{i}"].copy(), inp[f"t{i}"].copy()) for i in _shapes(inp)}


def ce_bprop(impl, inp: Arrays) -> Arrays:
    out = {}
    for i in _shapes(inp):
        c = _ce(impl)
        c.y, c.t = inp[f"x{i}"].copy(), inp[f"t{i}"].copy()  # the mandated cache: floored y, and t
        out[f"gi{i}"] = _num(call("CrossEntropy.bprop", c.bprop), "CrossEntropy.bprop")
    return out


def ce_fd(impl, inp: Arrays) -> Arrays:
    out = {}
    for i in _shapes(inp):
        y, t, v = inp[f"x{i}"], inp[f"t{i}"], inp[f"vx{i}"]
        c = _ce(impl)
        out[f"xp{i}"] = _cost(c, y + FD_STEP * v, t.copy())
        out[f"xm{i}"] = _cost(c, y - FD_STEP * v, t.copy())
        _cost(c, y.copy(), t.copy())
        out[f"gi{i}"] = _num(call("CrossEntropy.bprop", c.bprop), "CrossEntropy.bprop")
    return out


def ce_inputs(impl, inp: Arrays) -> Arrays:
    out = {}
    for i in _shapes(inp):
        c = _ce(impl)
        y, t = inp[f"x{i}"].copy(), inp[f"t{i}"].copy()
        _cost(c, y, t)
        call("CrossEntropy.bprop", c.bprop)
        out[f"x{i}"], out[f"t{i}"] = y, t
    return out


def ce_percall(impl, inp: Arrays) -> Arrays:
    c = _ce(impl)
    _cost(c, inp["x1"].copy(), inp["t1"].copy())
    _cost(c, inp["x2"].copy(), inp["t2"].copy())
    out = {"gi_a": _num(call("CrossEntropy.bprop", c.bprop), "CrossEntropy.bprop").copy()}
    out["gi_b"] = _num(call("CrossEntropy.bprop", c.bprop), "CrossEntropy.bprop").copy()
    fresh = _ce(impl)
    _cost(fresh, inp["x2"].copy(), inp["t2"].copy())
    out["gi_c"] = _num(call("CrossEntropy.bprop", fresh.bprop), "CrossEntropy.bprop").copy()
    return out


def ce_float32(impl, inp: Arrays) -> Arrays:
    i = _shapes(inp)[-1]
    c = _ce(impl)
    cost = _cost(c, inp[f"x{i}"].astype(np.float32), inp[f"t{i}"].astype(np.float32))
    return {"c": cost.astype(np.float64), "gi": _num(call("CrossEntropy.bprop", c.bprop), "CrossEntropy.bprop")}


# --- functions: numerical_jacobian, sgd_step, train --------------------------------------------

def jacobian_functions(inp: Arrays) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The functions whose Jacobians are asked for (the grader knows them in closed form)."""
    A = inp["A"]
    return {
        "tanh_affine": lambda x: np.tanh(A @ x),  # (4,) -> (3,)
        "row_squares": lambda X: (X**2).sum(axis=1),  # (3, 2) -> (3,)
        "sum_sin": lambda x: np.sum(np.sin(x)),  # (5,) -> scalar
    }


def jacobian(impl, inp: Arrays) -> Arrays:
    fn = _need(impl, "numerical_jacobian")
    out = {}
    for name, f in jacobian_functions(inp).items():
        x = inp[f"x_{name}"].copy()
        out[f"J_{name}"] = _num(call("numerical_jacobian", fn, f, x), "numerical_jacobian")
        out[f"x_{name}"] = x
    return out


def sgd(impl, inp: Arrays) -> Arrays:
    fn = _need(impl, "sgd_step")
    params = [inp["p0"].copy(), inp["p1"].copy()]
    grads = [inp["g0"].copy(), inp["g1"].copy()]
    call("sgd_step", fn, params, grads, float(inp["lr"]))
    return {"p0": params[0], "p1": params[1], "g0": grads[0], "g1": grads[1]}


class ToyScale:
    """y = x * a + c, element-wise: a toy module (not graded) to test the training loop."""

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


class ToySquaredError:
    """Mean over samples of ½‖y − t‖²."""

    def fprop(self, y, t):
        self.d = y - t
        return float(0.5 * np.sum(self.d**2) / len(y))

    def bprop(self):
        return self.d / len(self.d)


def correct_sgd_step(params, grads, lr) -> None:
    for p, g in zip(params, grads, strict=True):
        p -= lr * g


def train(impl, inp: Arrays) -> Arrays:
    fn = _need(impl, "train")
    # train may call the student's sgd_step: give it a correct one so a broken sgd_step is
    # only graded once, by its own test.
    impl.sgd_step = correct_sgd_step
    model = ToyScale(inp["a"].copy(), inp["c"].copy())
    rng = np.random.default_rng(int(inp["seed"]))
    losses = call("train", fn, model, ToySquaredError(), inp["x"].copy(), inp["t"].copy(), int(inp["epochs"]),
                  int(inp["batch_size"]), float(inp["lr"]), rng)
    return {"losses": _num(list(losses), "train").astype(np.float64), "a": model.a, "c": model.c}


# --- part 4: Dropout's modes and masks, Momentum --------------------------------------------------

def dropout_modes(impl, inp: Arrays) -> Arrays:
    """fprop and bprop after ``eval()``, with ``training = False`` set directly, and with p = 0."""
    out = {}
    x, g = inp["x0"], inp["g0"]
    for how in ("eval", "flag", "p0"):
        m = _make(impl, "Dropout", {**inp, "p0": np.array(0.0)} if how == "p0" else inp, 0)
        if how == "eval":
            call("Dropout.eval", m.eval)
        elif how == "flag":
            m.training = False
        out[f"y_{how}"] = _num(call("Dropout.fprop", m.fprop, x.copy()), "Dropout.fprop").copy()
        out[f"gi_{how}"] = _num(call("Dropout.bprop", m.bprop, g.copy()), "Dropout.bprop").copy()
    return out


def dropout_masks(impl, inp: Arrays) -> Arrays:
    """Two fprops of one module, and one of a module whose rng has the same seed."""
    a, b = _make(impl, "Dropout", inp, 0), _make(impl, "Dropout", inp, 0)
    x = inp["x0"]
    return {"a1": _num(call("Dropout.fprop", a.fprop, x.copy()), "Dropout.fprop").copy(),
            "a2": _num(call("Dropout.fprop", a.fprop, x.copy()), "Dropout.fprop").copy(),
            "b1": _num(call("Dropout.fprop", b.fprop, x.copy()), "Dropout.fprop").copy()}


class ToyTwoParams:
    """A stand-in model for the optimizer (not graded): two parameters of different shapes whose
    gradients the probe sets before each step."""

    def __init__(self, a: np.ndarray, b: np.ndarray) -> None:
        self.a, self.b = a, b
        self.grad_a, self.grad_b = np.zeros_like(a), np.zeros_like(b)

    def params(self):
        return [self.a, self.b]

    def grads(self):
        return [self.grad_a, self.grad_b]


def momentum(impl, inp: Arrays, dtype=np.float64) -> Arrays:
    """Steps with the gradients ``ga{s}``, ``gb{s}`` and learning rate ``lr[s]`` (set on the optimizer
    before step s); the parameters and the gradients after each step."""
    cls = _need(impl, "Momentum")
    model = ToyTwoParams(inp["a"].astype(dtype), inp["b"].astype(dtype))
    lrs = inp["lr"]
    opt = call("Momentum.__init__", cls, model, float(lrs[0]), momentum=float(inp["mu"]))
    out = {}
    for s in range(len(lrs)):
        opt.lr = float(lrs[s])
        model.grad_a, model.grad_b = inp[f"ga{s}"].astype(dtype), inp[f"gb{s}"].astype(dtype)
        call("Momentum.step", opt.step)
        out[f"a{s}"], out[f"b{s}"] = model.a.copy(), model.b.copy()
        out[f"ga{s}"], out[f"gb{s}"] = model.grad_a.copy(), model.grad_b.copy()
    return out


# --- MNIST --------------------------------------------------------------------------------------

def mnist(impl, inp: Arrays, model_name: str) -> Arrays:
    """Train the student's modules through dlcore's own loop; return the trained parameters."""
    from dlcore.data import one_hot
    from dlcore.data.idx import read_idx
    from dlcore.data.mnist import find_idx_file
    from dlcore.models import build_model
    from dlcore.optim import Adam
    from dlcore.train import SGD, train_epoch

    # The grader copied the two training files under their own names (raw or gzipped).
    x = read_idx(find_idx_file("data", "train-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32)
    x /= 255
    t = one_hot(read_idx(find_idx_file("data", "train-labels-idx1-ubyte")).astype(np.int64))
    rng = np.random.default_rng(int(inp["seed"]))
    stage(f"building the {model_name} model (your modules' __init__)")
    model, criterion = build_model(model_name, impl, rng, np.float32)
    # dlcore's optimizers, never the student's Momentum: a broken optimizer is graded once, by its test.
    optimizer = (Adam if int(inp.get("adam", 0)) else SGD)(model, float(inp["lr"]))
    losses = []
    for _ in range(int(inp["epochs"])):
        stage(f"training the {model_name} model on MNIST (fprop/bprop of your modules)")
        losses.append(train_epoch(model, criterion, optimizer, x, t, int(inp["batch_size"]), rng))
    out = {f"p{k}": _num(p, "params()") for k, p in enumerate(model.params())}
    out["losses"] = np.array(losses, dtype=np.float64)
    return out


def _bind(fn, *args):
    return lambda impl, inp: fn(impl, inp, *args)


PROBES: dict[str, Callable[[object, Arrays], Arrays]] = {
    **{f"{kind}.{what}": _bind(fn, kind)
       for kind in ("Linear", "Tanh", "SoftMax")
       for what, fn in (("fprop", module_fprop), ("bprop", module_bprop), ("fd", module_fd),
                        ("params", module_params), ("inputs", module_inputs), ("percall", module_percall),
                        ("float32", module_float32))},
    "SoftMax.stable": _bind(module_fprop, "SoftMax"),
    "CrossEntropy.fprop": ce_fprop, "CrossEntropy.bprop": ce_bprop, "CrossEntropy.fd": ce_fd,
    "CrossEntropy.inputs": ce_inputs, "CrossEntropy.percall": ce_percall, "CrossEntropy.float32": ce_float32,
    "CrossEntropy.stable": ce_fprop,
    "numerical_jacobian": jacobian, "sgd_step": sgd, "train": train,
    "mnist.linear": _bind(mnist, "linear"), "mnist.mlp": _bind(mnist, "mlp"),
    # part 4 (bonus)
    **{f"{kind}.{what}": _bind(fn, kind)
       for kind in ("ReLU", "Conv2d")
       for what, fn in (("fprop", module_fprop), ("bprop", module_fb), ("fd", module_fd), ("inputs", module_inputs),
                        ("percall", module_percall), ("float32", module_float32))},
    "Conv2d.params": _bind(module_params, "Conv2d"),
    "Dropout.train": _bind(module_fb, "Dropout"), "Dropout.modes": dropout_modes, "Dropout.masks": dropout_masks,
    "Dropout.inputs": _bind(module_inputs, "Dropout"), "Dropout.float32": _bind(module_float32, "Dropout"),
    "Momentum.steps": momentum, "Momentum.float32": _bind(momentum, np.float32),
    "mnist.cnn": _bind(mnist, "cnn"),
}
