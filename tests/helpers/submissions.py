"""Synthetic submissions for the grader's tests: the reference, a release-like notebook, mutants
(realistic bugs made by string edits of the reference source) and adversarial notebooks.

A submission is a mapping ``{notebook stem: Jupytext source}``, built into notebooks by the
course's own build (``autograder.instructor.build``); the reference is ``solutions/src/*.py``. Run
as a module to write every submission in nbgrader's ``submitted/<student>/<assignment>/`` layout:
``python -m helpers.submissions OUT_DIR`` (from ``tests/``).
"""

from __future__ import annotations

import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.instructor.build import build_notebook
from helpers import REPO

SOURCES = {path.stem: path.read_text() for path in sorted((REPO / "solutions" / "src").glob("*.py"))}
MODULES_SOURCE = SOURCES["01_modules"]


def notebook(stem: str, source: str) -> nbformat.NotebookNode:
    """The notebook of ``source``, built as the course's notebook ``stem`` (its test cells' points)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{stem}.py"
        path.write_text(source)
        return build_notebook(path, stem)


def write_submission(folder: Path, sources: dict[str, str] = SOURCES) -> Path:
    """A student's folder: one notebook per ``{stem: source}`` entry."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem, source in sources.items():
        nbformat.write(notebook(stem, source), folder / f"{stem}.ipynb")
    return folder


def with_notebook(stem: str, source: str) -> dict[str, str]:
    """The reference submission with notebook ``stem`` replaced by ``source``."""
    return {**SOURCES, stem: source}


def release(source: str) -> str:
    """What students receive: every solution region replaced by ``raise NotImplementedError()``."""
    pattern = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION\n", re.S | re.M)
    return pattern.sub(lambda m: f"{m.group(1)}raise NotImplementedError()\n", source)


def released(sources: dict[str, str] = SOURCES) -> dict[str, str]:
    """The untouched release of every notebook."""
    return {stem: release(source) for stem, source in sources.items()}


def edit(source: str, old: str, new: str) -> str:
    if source.count(old) != 1:
        raise ValueError(f"mutation target not found exactly once: {old!r}")
    return source.replace(old, new)


@dataclass(frozen=True)
class Mutant:
    """A buggy submission and the exact tests it must fail (all others must pass)."""

    name: str
    target: str  # the notebook (stem) whose source is edited
    edits: tuple[tuple[str, str], ...]
    fails: frozenset[str]

    def sources(self) -> dict[str, str]:
        source = SOURCES[self.target]
        for old, new in self.edits:
            source = edit(source, old, new)
        return with_notebook(self.target, source)


def _m(name, target, old, new, *fails):
    target = {"modules": "01_modules", "gradcheck": "02_gradcheck", "training": "03_training", "cnn": "04_cnn"}[target]
    edits = tuple(zip(old, new, strict=True)) if isinstance(old, tuple) else ((old, new),)
    return Mutant(name, target, edits, frozenset(fails))


PARTS = {"01_modules": "part1", "02_gradcheck": "part2", "03_training": "part3", "04_cnn": "part4"}


def _module(kind: str, *what: str) -> set[str]:
    """Check ids of a module kind: ``_module("linear", "fprop", "args")``."""
    return {f"{kind}.{w}" for w in what}


# A bprop value wrong fails every check that compares bprop's values (fd, args, percall, float32,
# params): properties count only together with the values of the calls they are about.
LINEAR_BPROP_CHAIN = _module("linear", "fd", "params", "args", "percall", "float32")
MUTANTS = [
    _m("linear_grad_W_transposed", "modules", "self.grad_W = self.z.T @ grad_output",
       "self.grad_W = grad_output.T @ self.z", "linear.bprop.grad_w", *LINEAR_BPROP_CHAIN),
    _m("linear_grad_W_mean", "modules", "self.grad_W = self.z.T @ grad_output",
       "self.grad_W = self.z.T @ grad_output / len(grad_output)", "linear.bprop.grad_w", *LINEAR_BPROP_CHAIN),
    _m("linear_bias_not_summed", "modules", "self.grad_b = grad_output.sum(axis=0)", "self.grad_b = grad_output",
       "linear.bprop.grad_b", *LINEAR_BPROP_CHAIN),
    _m("linear_no_bias", "modules", "return z @ self.W + self.b", "return z @ self.W",
       *_module("linear", "fprop", "fd", "params", "args", "float32")),
    _m("linear_grads_accumulated", "modules",
       "self.grad_W = self.z.T @ grad_output\n        self.grad_b = grad_output.sum(axis=0)",
       "self.grad_W += self.z.T @ grad_output\n        self.grad_b += grad_output.sum(axis=0)", "linear.percall"),
    _m("linear_stale_cache", "modules", "        self.z = z\n",
       "        if getattr(self, 'z', None) is None:\n            self.z = z\n", "linear.percall"),
    _m("tanh_derivative_from_input", "modules",
       ("self.y = np.tanh(z)\n        return self.y", "return grad_output * (1.0 - self.y**2)"),
       ("self.z = z\n        self.y = np.tanh(z)\n        return self.y", "return grad_output * (1.0 - self.z**2)"),
       *_module("tanh", "bprop.input", "fd", "args", "percall", "float32")),
    _m("tanh_applied_twice", "modules", "return grad_output * (1.0 - self.y**2)",
       "return grad_output * (1.0 - np.tanh(self.y) ** 2)",
       *_module("tanh", "bprop.input", "fd", "args", "percall", "float32")),
    _m("softmax_no_max_shift", "modules", "e = np.exp(z - z.max(axis=1, keepdims=True))", "e = np.exp(z)",
       "softmax.stable"),
    _m("softmax_wrong_axis", "modules",
       "e = np.exp(z - z.max(axis=1, keepdims=True))\n        self.y = e / e.sum(axis=1, keepdims=True)",
       "e = np.exp(z - z.max(axis=0, keepdims=True))\n        self.y = e / e.sum(axis=0, keepdims=True)",
       *_module("softmax", "fprop", "fd", "stable", "args", "percall", "float32")),
    _m("softmax_input_in_place", "modules", "e = np.exp(z - z.max(axis=1, keepdims=True))",
       "z -= z.max(axis=1, keepdims=True)\n        e = np.exp(z)", "softmax.args"),
    _m("softmax_float64", "modules", "e = np.exp(z - z.max(axis=1, keepdims=True))",
       "e = np.exp(z - z.max(axis=1, keepdims=True)).astype(np.float64)", "softmax.float32"),
    _m("ce_missing_1_over_N", "modules", "return -self.t / self.y / self.y.shape[0]", "return -self.t / self.y",
       *_module("crossentropy", "bprop.input", "fd", "args", "percall", "float32")),
    _m("ce_no_floor", "modules", "self.y = np.maximum(y, np.finfo(y.dtype).tiny)", "self.y = y", "crossentropy.stable"),
    _m("jacobian_divides_by_h", "gradcheck", "columns.append((plus - minus) / (up - down))",
       "columns.append((plus - minus) / (up - old))", "numerical_jacobian.values", "numerical_jacobian.args"),
    _m("jacobian_absolute_step", "gradcheck", "h = np.sqrt(np.finfo(np.float64).eps) * max(abs(old), 1.0)",
       "h = np.sqrt(np.finfo(np.float64).eps)", "numerical_jacobian.values", "numerical_jacobian.args"),
    _m("jacobian_modifies_x", "gradcheck",
       ("    x = np.array(x, dtype=np.float64)  # a copy", "        x.flat[i] = old\n        columns"),
       ("    x = np.asarray(x, dtype=np.float64)  # no copy", "        columns"), "numerical_jacobian.args"),
    _m("backprop_jacobian_columns", "gradcheck", "return np.stack(rows, axis=0)", "return np.stack(rows, axis=1)",
       "backprop_jacobian.values", "backprop_jacobian.args"),
    _m("mixed_error_relative_only", "gradcheck",
       "np.maximum(np.maximum(np.abs(a), np.abs(n)), 1.0)", "np.maximum(np.abs(a), np.abs(n)) + 1e-12",
       "max_mixed_error.values", "max_mixed_error.args"),
    _m("sgd_wrong_sign", "training", "p -= lr * g", "p += lr * g", "sgd_step.update", "sgd_step.grads"),
    _m("train_unweighted_mean", "training",
       "total += float(cost) * len(x_batch)\n        losses.append(total / len(x))",
       "total += float(cost)\n        losses.append(total / -(-len(x) // batch_size))", "train.losses"),
    _m("train_ignores_rng", "training", "in minibatches(x, t, batch_size, rng):",
       "in minibatches(x, t, batch_size, np.random.default_rng()):", "train.params", "train.losses"),
    _m("mlp_float64", "training", "return Sequential(Linear(784, 200, rng=rng, dtype=np.float32), Tanh(),",
       "return Sequential(Linear(784, 200, rng=rng), Tanh(),", "builders.core"),
    # part 4 (bonus)
    _m("relu_grad_times_output", "cnn", "return grad_output * (self.y > 0)", "return grad_output * self.y",
       *_module("relu", "bprop.input", "fd", "args", "percall", "float32")),
    _m("relu_grad_everywhere", "cnn", "return grad_output * (self.y > 0)", "return grad_output",
       *_module("relu", "bprop.input", "fd", "args", "percall", "float32")),
    _m("dropout_no_scaling", "cnn", "self.mask = keep.astype(z.dtype) / z.dtype.type(1 - self.p)",
       "self.mask = keep.astype(z.dtype)", *_module("dropout", "train", "bprop", "masks", "args", "float32")),
    _m("dropout_in_eval_mode", "cnn", "if not self.training or self.p == 0:", "if self.p == 0:", "dropout.modes"),
    _m("dropout_fixed_mask", "cnn", "keep = self.rng.random(z.shape) >= self.p",
       "keep = np.random.default_rng(0).random(z.shape) >= self.p", "dropout.masks"),
    _m("dropout_global_rng", "cnn", "keep = self.rng.random(z.shape) >= self.p",
       "keep = np.random.random(z.shape) >= self.p", "dropout.masks"),
    _m("momentum_velocity_not_kept", "cnn", "v *= self.momentum\n            v += g",
       "v = self.momentum * v + g", *_module("momentum", "steps", "lr", "grads", "float32")),
    _m("momentum_step_before_velocity", "cnn",
       "v *= self.momentum\n            v += g\n            p -= self.lr * v",
       "p -= self.lr * v\n            v *= self.momentum\n            v += g",
       *_module("momentum", "steps", "lr", "grads", "float32")),
    _m("conv_flipped_kernel", "cnn", "y = self.W.reshape(len(self.W), -1) @ self.cols",
       "y = self.W[..., ::-1, ::-1].reshape(len(self.W), -1) @ self.cols",
       *_module("conv2d", "fprop", "fd", "params", "args", "float32")),
    _m("conv_bprop_wrong_padding", "cnn", "self.z.shape, self.k, self.k, self.stride, self.padding)",
       "self.z.shape, self.k, self.k, self.stride, 0)",
       *_module("conv2d", "bprop.input", "fd", "args", "percall", "float32")),
    _m("conv_bprop_wrong_stride", "cnn", "self.z.shape, self.k, self.k, self.stride, self.padding)",
       "self.z.shape, self.k, self.k, 1, self.padding)",
       *_module("conv2d", "bprop.input", "fd", "params", "args", "percall", "float32")),
    _m("conv_grad_b_not_summed_over_pixels", "cnn", "self.grad_b = g_m.sum(axis=1)",
       "self.grad_b = grad_output.sum(axis=0)",
       *_module("conv2d", "bprop.grad_b", "fd", "params", "args", "percall", "float32")),
]


def part_of(mutant: Mutant) -> str:
    return PARTS[mutant.target]


# --- adversarial submissions --------------------------------------------------------------------

def _cell(code: str) -> str:
    return f'\n# %% kind="solution" grade_id="extra"\n{code}\n'


def _into(source: str, anchor: str, code: str) -> str:
    """Insert ``code`` (indented like the anchor) just before ``anchor``."""
    indent = anchor[: len(anchor) - len(anchor.lstrip())]
    return edit(source, anchor, "".join(indent + line + "\n" for line in code.splitlines()) + anchor)


LINEAR_FPROP = "        self.z = z\n        return z @ self.W + self.b"
LINEAR_BPROP = "        self.grad_W = self.z.T @ grad_output"
TANH_BPROP = "        return grad_output * (1.0 - self.y**2)"
SOFTMAX_FPROP = "        e = np.exp(z - z.max(axis=1, keepdims=True))"
CE_FPROP = "        self.y = np.maximum(y, np.finfo(y.dtype).tiny)"

SPY_PATHS = [str(REPO / "solutions" / "01_modules.ipynb"), str(REPO / "solutions" / "src" / "01_modules.py"),
             str(REPO / "autograder" / "grade.py"), str(REPO / "autograder" / "checks" / "modules.py"),
             "/work/main/solutions/01_modules.ipynb", "../solutions/01_modules.ipynb",
             "/autograder/source/solutions/01_modules.ipynb", "/etc/shadow", "/root/.bash_history"]

ZEROS_MODULES = '''
# %% kind="readonly" grade_id="imports"
import numpy as np

from dlcore import Criterion, Module, normal_weights, zero_bias

# %% kind="solution" grade_id="linear"
class Linear(Module):
    def __init__(self, d_in, d_out, rng=None, dtype=np.float64):
        self.W = normal_weights(d_in, d_out, rng, dtype)
        self.b = zero_bias(d_out, dtype)
        self.grad_W, self.grad_b = np.zeros_like(self.W), np.zeros_like(self.b)

    def fprop(self, z):  # the shapes the visible tests assert, nothing else
        return np.zeros((len(z), self.W.shape[1]), dtype=z.dtype)

    def bprop(self, g):
        return np.zeros((len(g), self.W.shape[0]), dtype=g.dtype)

    def params(self):
        return [self.W, self.b]

    def grads(self):
        return [self.grad_W, self.grad_b]

class Tanh(Module):
    def fprop(self, z):
        return np.zeros_like(z)

    def bprop(self, g):
        return np.zeros_like(g)

class SoftMax(Tanh):
    def fprop(self, z):
        return np.full_like(z, 1.0 / z.shape[1])

class CrossEntropy(Criterion):
    def fprop(self, y, t):
        self.shape = y.shape
        return 0.0

    def bprop(self):
        return np.zeros(self.shape)
'''

ZEROS_FUNCTIONS = '''
# %% kind="solution" grade_id="functions"
import numpy as np

def numerical_jacobian(f, x):
    return np.zeros((np.asarray(f(x)).size, np.asarray(x).size))

def backprop_jacobian(module, x):
    y = module.fprop(x)
    return np.zeros((y.size, x.size))

def max_mixed_error(analytic, numerical):
    return 0.0
'''

ZEROS_TRAINING = '''
# %% kind="solution" grade_id="functions"
import numpy as np

def sgd_step(params, grads, lr):
    pass

def train(model, criterion, x, t, epochs, batch_size, lr, rng):
    return [0.0] * epochs
'''

# Found at load time through the interpreter (no name of the grader's is needed): the probes module
# the runner imported, whose functions it patches to answer without calling any student code.
FORGER = '''import sys as _sys
import numpy as _np
_probes = next(m for n, m in list(_sys.modules.items()) if n.endswith("probes") and hasattr(m, "PROBES"))
_real = dict(_probes.PROBES)

def _forge(impl, args, _name=None):
    tree = _real[_name](impl, args) if _name not in ("modules", "percall", "params", "criteria") else None
    if _name == "modules":  # arguments "unchanged", float32 "kept", finite differences "consistent"
        out = []
        for case in args["cases"]:
            x = case["x"].astype(case.get("dtype", "float64"))
            g = case.get("g")
            out.append({"y": _np.zeros_like(x), "grad_input": _np.zeros_like(x), "x_after": x,
                        "g_after": g if g is None else g.astype(x.dtype),
                        "grads": [_np.zeros_like(p) for p in case.get("params", [])]})
        return {"results": out}
    if _name == "percall":  # three identical answers: "caches per call"
        case = args["second"]
        same = {"grad_input": _np.zeros_like(case["x"]), "grads": [_np.zeros_like(p) for p in case.get("params", [])]}
        return {"results": [same, same, same]}
    if _name == "params":  # "aligned and live"
        case = args["case"]
        y = _np.zeros((len(case["x"]), case["params"][0].shape[1]))
        return {"result": {"y": y, "shifted": [y + 1, y + 2], "grads": [_np.zeros_like(p) for p in case["params"]],
                           "n_params": 2}}
    if _name == "criteria":
        return {"results": [{"cost": _np.array(0.0), "grad_input": _np.zeros_like(c["y"]), "y_after": c["y"],
                             "t_after": c["t"]} for c in args["cases"]]}
    return tree

for _n in ("modules", "percall", "params", "criteria"):
    _probes.PROBES[_n] = (lambda n: lambda impl, args: _forge(impl, args, n))(_n)
'''

# Graded functions delegated to dlcore's references, by every route: a plain call, importlib, and
# the library's source read from disk and run.
DELEGATOR = '''
# %% kind="solution" grade_id="delegating"
import importlib
import inspect

import numpy as np


def numerical_jacobian(f, x):
    source = open(importlib.import_module("dlcore.gradcheck").__file__).read()
    namespace = {}
    exec(compile(source, "gradcheck", "exec"), namespace)
    return namespace["numerical_jacobian"](f, x)


def backprop_jacobian(module, x):
    gradcheck = importlib.import_module("dlcore.gradcheck")
    return gradcheck._Jacobians(lambda: module.fprop(x), lambda e: [module.bprop(e)], [x]).block(0)[0]


def max_mixed_error(analytic, numerical):
    import dlcore.gradcheck as gc

    return gc._compare("x", analytic.shape, analytic.shape, analytic, numerical, 1e-6).max_rel_error
'''

DELEGATOR_TRAINING = '''
# %% kind="solution" grade_id="delegating"
from types import SimpleNamespace

from dlcore import SGD, train_epoch


def sgd_step(params, grads, lr):
    SGD(SimpleNamespace(params=lambda: params, grads=lambda: grads), lr).step()


def train(model, criterion, x, t, epochs, batch_size, lr, rng):
    return [train_epoch(model, criterion, SGD(model, lr), x, t, batch_size, rng) for _ in range(epochs)]
'''

SHM_WRITER = '''import ctypes as _ct
import os as _os
try:
    with open("/dev/shm/dlcore-left-behind", "wb") as _f:
        _f.write(b"0" * (32 << 20))
except OSError:
    pass
try:
    _libc = _ct.CDLL(None, use_errno=True)
    _id = _libc.shmget(0x0D1C0E, 1 << 20, 0o1666)  # IPC_CREAT | 0666
except OSError:
    pass
'''

SHM_READER = '''import ctypes as _ct
import os as _os
_found = []
if _os.path.isdir("/dev/shm") and any(n.startswith("dlcore-left") for n in _os.listdir("/dev/shm")):
    _found.append("/dev/shm")
try:
    if _ct.CDLL(None, use_errno=True).shmget(0x0D1C0E, 0, 0o666) >= 0:
        _found.append("System V shared memory")
except OSError:
    pass
if _found:
    return z @ self.W  # what another grading left behind was found: the wrong answer, to be seen
'''

CHANNEL_GARBAGE = '''import os as _os
import sys as _sys
for _fd in range(3, 64):
    try:
        _os.write(_fd, b"\\\\xff" * 4096)
    except OSError:
        pass
'''

FLOOD = '''import os as _os
import struct as _struct
import sys as _sys
import json as _json
# A frame of 100,000 arrays, then one header of 2 MB, straight onto every writable descriptor.
_header = _json.dumps({"body": {"reply": [{"$array": i} for i in range(100_000)]},
                       "arrays": [{"dtype": "<f8", "shape": [1]}] * 100_000}).encode()
for _fd in range(3, 64):
    try:
        _os.write(_fd, _struct.pack(">Q", len(_header)) + _header)
    except OSError:
        pass
'''

NESTED = '''import os as _os
_p = "/box/deep"
for _i in range(3000):
    _p += "/d"
    try:
        _os.mkdir(_p)
    except OSError:
        break
'''


@dataclass(frozen=True)
class Adversary:
    """A hostile notebook 01 (the other notebooks the reference's, the release's, or stand-ins), the
    class of attack of issue 10 it stands for, and the exact check ids it must fail."""

    name: str
    modules: str  # 01_modules
    what: str
    fails: frozenset[str]
    others: str = "reference"  # "reference", "release", "zeros" or "delegator"
    fails_all: bool = False  # every check fails (a release-like submission)

    def sources(self) -> dict[str, str]:
        others = {"reference": SOURCES, "release": released(),
                  "zeros": {"02_gradcheck": ZEROS_FUNCTIONS, "03_training": ZEROS_TRAINING},
                  # the reference's notebooks, each ending with a cell that redefines the graded functions
                  "delegator": {**SOURCES, "02_gradcheck": SOURCES["02_gradcheck"] + DELEGATOR,
                                "03_training": SOURCES["03_training"] + DELEGATOR_TRAINING}}
        rest = {stem: src for stem, src in others[self.others].items() if stem != "01_modules"}
        return {"01_modules": self.modules, **rest}


LINEAR_FPROP_CHAIN = _module("linear", "fprop", "fd", "params", "args", "percall", "float32")
LINEAR_BPROP_ALL = {*_module("linear", "bprop.input", "bprop.grad_w", "bprop.grad_b"), *LINEAR_BPROP_CHAIN}


def adversaries() -> list[Adversary]:
    ref_m, rel_m = MODULES_SOURCE, release(MODULES_SOURCE)
    patch = ("import numpy as _np\n_np.allclose = lambda *a, **k: True\n_np.array_equal = lambda *a, **k: True\n"
             "_np.isclose = lambda *a, **k: True\n_np.testing.assert_allclose = lambda *a, **k: None\n")
    fake = ('import json, os\n_r = json.dumps({"score": 100, "max_score": 100, "tests": []})\nprint(_r)\n'
            "for _p in ('results.json', '../results.json', '/autograder/results/results.json'):\n"
            "    try:\n        open(_p, 'w').write(_r)\n    except OSError:\n        pass\n")
    spy = (f"import os\n_readable = []\nfor _p in {SPY_PATHS!r}:\n"
           "    try:\n        open(_p).read(10)\n        _readable.append(_p)\n"
           "    except OSError:\n        pass\n"
           "for _name in ('autograder.checks', 'solutions'):\n    try:\n        __import__(_name)\n"
           "        _readable.append('import ' + _name)\n    except ImportError:\n        pass\n")
    spy_use = ("if _readable:\n    raise RuntimeError('spy: READ ' + repr(_readable))\n"
               "raise RuntimeError('spy: nothing readable')")
    nothing = frozenset()
    return [
        # earlier attacks
        Adversary("patch_allclose", rel_m + _cell(patch), "patches numpy.allclose/array_equal/np.testing", nothing,
                  "release", fails_all=True),
        Adversary("exit_at_load", ref_m + _cell("import os\nos._exit(0)\n"),
                  "os._exit(0) at the top level of a cell: that cell fails, the rest still runs", nothing),
        Adversary("kill_at_load", ref_m + _cell("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"),
                  "kills its own process while the notebooks load: nothing loads", nothing, fails_all=True),
        Adversary("loop_at_load", ref_m + _cell("while True:\n    pass\n"),
                  "an endless loop at the top level of a cell: that cell is interrupted, the rest still runs", nothing),
        Adversary("exit_in_fprop", _into(ref_m, LINEAR_FPROP, "import os\nos._exit(0)"), "os._exit(0) in Linear.fprop",
                  frozenset(LINEAR_FPROP_CHAIN)),
        Adversary("sys_exit_in_bprop", _into(ref_m, LINEAR_BPROP, "raise SystemExit(0)"), "sys.exit in Linear.bprop",
                  frozenset(LINEAR_BPROP_ALL)),
        Adversary("infinite_loop", _into(ref_m, TANH_BPROP, "while True:\n    pass"), "endless loop in Tanh.bprop",
                  frozenset(_module("tanh", "bprop.input", "fd", "args", "percall", "float32"))),
        Adversary("memory_hog", _into(ref_m, SOFTMAX_FPROP, "_hog = np.ones(50 * 2**30 // 8)"),
                  "allocates 50 GB in SoftMax.fprop",
                  frozenset(_module("softmax", "fprop", "fd", "stable", "args", "percall", "float32"))),
        Adversary("fork_bomb", _into(ref_m, CE_FPROP, "import os\nwhile True:\n    try:\n        os.fork()\n"
                                                      "    except OSError:\n        pass"),
                  "fork bomb in CrossEntropy.fprop",
                  frozenset(_module("crossentropy", "fprop", "bprop.input", "fd", "stable", "args", "percall",
                                    "float32"))),
        Adversary("fake_results", rel_m + _cell(fake), "prints and writes a fake results.json", nothing, "release",
                  fails_all=True),
        Adversary("read_grader_files", _into(ref_m + _cell(spy), LINEAR_FPROP, spy_use),
                  "reads solutions/, autograder/ and root-only files, and imports autograder",
                  frozenset(LINEAR_FPROP_CHAIN)),
        Adversary("hardcoded_shapes", ZEROS_MODULES,
                  "hard-codes what the visible tests check (shapes, zeros): no property without values", nothing,
                  "zeros", fails_all=True),
        # issue 10, class 7: forged probe answers, with modules that compute nothing
        Adversary("forged_probes", rel_m + _cell(FORGER),
                  "replaces the probe functions to answer every property check without computing", nothing,
                  "release", fails_all=True),
        # class 8: the library's references
        Adversary("delegates_to_library", ref_m, "numerical_jacobian, backprop_jacobian, max_mixed_error, sgd_step "
                  "and train call dlcore's references (by call, importlib and the library's source)",
                  frozenset({"numerical_jacobian.values", "numerical_jacobian.args", "backprop_jacobian.values",
                             "backprop_jacobian.args", "max_mixed_error.values", "max_mixed_error.args",
                             "sgd_step.update", "sgd_step.grads", "train.params", "train.losses"}), "delegator"),
        # class 4: what a grading leaves in /dev/shm or System V shared memory, seen by a later one
        Adversary("shm_writer", _into(ref_m, LINEAR_FPROP, SHM_WRITER),
                  "leaves 32 MB in /dev/shm and a System V segment", nothing),
        Adversary("shm_reader", _into(ref_m, LINEAR_FPROP, SHM_READER),
                  "answers wrong if it finds what another grading left behind", nothing),
        # class 5: what the grader reads
        # (a course demo calls Linear.fprop while the notebooks load: the channel is broken before any
        # probe runs, so nothing loads, which is all such code earns)
        Adversary("channel_garbage", _into(ref_m, LINEAR_FPROP, CHANNEL_GARBAGE + "import os\nos._exit(0)"),
                  "writes garbage on the grader's channel from Linear.fprop", nothing, fails_all=True),
        Adversary("channel_flood", _into(ref_m, LINEAR_FPROP, FLOOD + "import os\nos._exit(0)"),
                  "sends a frame of 100,000 arrays and a 2 MB header from Linear.fprop", nothing, fails_all=True),
        Adversary("huge_error", _into(ref_m, LINEAR_FPROP, "raise ValueError('x' * (240 << 20))"),
                  "raises an error whose message is 240 MB", frozenset(LINEAR_FPROP_CHAIN)),
        Adversary("wrong_shapes", _into(ref_m, LINEAR_FPROP, "return np.ones(128)"),
                  "returns an array of the wrong shape (broadcasting would blow up the grader)",
                  frozenset(_module("linear", "fprop", "fd", "params", "args", "float32", "percall"))),
        Adversary("nested_folders", ref_m + _cell(NESTED), "3,000 nested folders in the jail's /box", nothing),
        Adversary("big_outputs", _into(ref_m, LINEAR_FPROP, "return np.ones((4096, 4096))"),
                  "returns 128 MB arrays from Linear.fprop (refused in the jail: more than the grader reads)",
                  frozenset(LINEAR_FPROP_CHAIN)),
    ]


def write_links(folder: Path) -> Path:
    """A submission of links and a folder where notebooks should be (issue 10, class 2): 01 links to the
    solutions, 02 to a root-only file, 03 to /dev/zero, and 04_cnn.ipynb is a directory."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "01_modules.ipynb").symlink_to(REPO / "solutions" / "01_modules.ipynb")
    (folder / "02_gradcheck.ipynb").symlink_to("/etc/shadow")
    (folder / "03_training.ipynb").symlink_to("/dev/zero")
    (folder / "04_cnn.ipynb").mkdir()
    (folder / "04_cnn.ipynb" / "x.ipynb").write_text("{}")
    return folder


def write_all(out: Path, assignment: str = "ps1") -> dict[str, Path]:
    """Every submission under ``out/submitted/<student>/<assignment>/``; returns student -> folder."""
    subs = {"reference": SOURCES, "release": released()}
    subs.update({f"mutant_{m.name}": m.sources() for m in MUTANTS})
    subs.update({f"adversary_{a.name}": a.sources() for a in adversaries()})
    folders = {name: write_submission(out / "submitted" / name / assignment, src) for name, src in subs.items()}
    folders["adversary_links"] = write_links(out / "submitted" / "adversary_links" / assignment)
    return folders


if __name__ == "__main__":
    for name, path in write_all(Path(sys.argv[1])).items():
        print(name, path)
