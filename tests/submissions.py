"""Synthetic submissions for the grader's tests: the reference, a release-like notebook, mutants
(realistic bugs made by string edits of the reference source) and adversarial notebooks.

A submission is a mapping ``{notebook stem: Jupytext source}``, built into notebooks by the
course's own ``solutions/build.py``; the reference is ``solutions/src/*.py``. Run as a script to write
every submission in nbgrader's ``submitted/<student>/<assignment>/`` layout:
``python tests/submissions.py OUT_DIR``.
"""

from __future__ import annotations

import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "solutions"))
from build import build_notebook  # noqa: E402  (solutions/build.py: Jupytext source -> nbgrader notebook)

SOURCES = {path.stem: path.read_text() for path in sorted((REPO / "solutions" / "src").glob("*.py"))}
MODULES_SOURCE = SOURCES["01_modules"]


def _notebook(source: str) -> nbformat.NotebookNode:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nb.py"
        path.write_text(source)
        return build_notebook(path)


def write_submission(folder: Path, sources: dict[str, str] = SOURCES) -> Path:
    """A student's folder: one notebook per ``{stem: source}`` entry."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem, source in sources.items():
        nbformat.write(_notebook(source), folder / f"{stem}.ipynb")
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


L, T, S, C = "Linear", "Tanh", "SoftMax", "CrossEntropy"
R, D, K = "ReLU", "Dropout", "Conv2d"
FD = "bprop agrees with finite differences of {0}.fprop"
# A wrong rule fails both value tests, and the properties are then not credited (earned_if_any).
MOMENTUM_ALL = ("Momentum.step follows v ← μ·v + g, θ ← θ − λ·v for every parameter",
                "Momentum.step uses the current learning rate", "Momentum.step leaves the gradients unchanged",
                "Momentum keeps float32 parameters float32")
MUTANTS = [
    _m("linear_grad_W_transposed", "modules", "self.grad_W = self.z.T @ grad_output",
       "self.grad_W = grad_output.T @ self.z",
       f"{L}.bprop: grad_W", f"{L}.{FD.format(L)}", f"{L}.params() and grads() are aligned and live"),
    _m("linear_grad_W_mean", "modules", "self.grad_W = self.z.T @ grad_output",
       "self.grad_W = self.z.T @ grad_output / len(grad_output)",
       f"{L}.bprop: grad_W", f"{L}.{FD.format(L)}"),
    _m("linear_bias_not_summed", "modules", "self.grad_b = grad_output.sum(axis=0)", "self.grad_b = grad_output",
       f"{L}.bprop: grad_b", f"{L}.params() and grads() are aligned and live"),
    _m("linear_no_bias", "modules", "return z @ self.W + self.b", "return z @ self.W",
       f"{L}.fprop matches the expected output", f"{L}.{FD.format(L)}",
       f"{L}.params() and grads() are aligned and live"),
    _m("linear_grads_accumulated", "modules",
       "self.grad_W = self.z.T @ grad_output\n        self.grad_b = grad_output.sum(axis=0)",
       "self.grad_W += self.z.T @ grad_output\n        self.grad_b += grad_output.sum(axis=0)",
       f"{L} caches per call and overwrites gradients"),
    _m("linear_stale_cache", "modules", "        self.z = z\n",
       "        if getattr(self, 'z', None) is None:\n            self.z = z\n",
       f"{L} caches per call and overwrites gradients"),
    _m("tanh_derivative_from_input", "modules",
       ("self.y = np.tanh(z)\n        return self.y", "return grad_output * (1.0 - self.y**2)"),
       ("self.z = z\n        self.y = np.tanh(z)\n        return self.y", "return grad_output * (1.0 - self.z**2)"),
       f"{T}.bprop: the gradient w.r.t. the input", f"{T}.{FD.format(T)}"),
    _m("tanh_applied_twice", "modules", "return grad_output * (1.0 - self.y**2)",
       "return grad_output * (1.0 - np.tanh(self.y) ** 2)",
       f"{T}.bprop: the gradient w.r.t. the input", f"{T}.{FD.format(T)}"),
    _m("softmax_no_max_shift", "modules", "e = np.exp(z - z.max(axis=1, keepdims=True))", "e = np.exp(z)",
       f"{S} is numerically stable (logits of ±1000)"),
    _m("softmax_wrong_axis", "modules",
       "e = np.exp(z - z.max(axis=1, keepdims=True))\n        self.y = e / e.sum(axis=1, keepdims=True)",
       "e = np.exp(z - z.max(axis=0, keepdims=True))\n        self.y = e / e.sum(axis=0, keepdims=True)",
       f"{S}.fprop matches the expected output", f"{S}.{FD.format(S)}",
       f"{S} is numerically stable (logits of ±1000)"),
    _m("softmax_input_in_place", "modules", "e = np.exp(z - z.max(axis=1, keepdims=True))",
       "z -= z.max(axis=1, keepdims=True)\n        e = np.exp(z)",
       f"{S} does not modify its arguments"),
    _m("softmax_float64", "modules", "e = np.exp(z - z.max(axis=1, keepdims=True))",
       "e = np.exp(z - z.max(axis=1, keepdims=True)).astype(np.float64)",
       f"{S} keeps float32 as float32"),
    _m("ce_missing_1_over_N", "modules", "return -self.t / self.y / self.y.shape[0]", "return -self.t / self.y",
       f"{C}.bprop: the gradient w.r.t. the input", f"{C}.{FD.format(C)}"),
    _m("ce_no_floor", "modules", "self.y = np.maximum(y, np.finfo(y.dtype).tiny)", "self.y = y",
       f"{C} is numerically stable (probabilities of 0)"),
    _m("jacobian_divides_by_h", "gradcheck", "columns.append((plus - minus) / (up - down))",
       "columns.append((plus - minus) / (up - old))",
       "numerical_jacobian matches the true Jacobian", "numerical_jacobian leaves x unchanged"),
    _m("jacobian_modifies_x", "gradcheck",
       ("    x = np.array(x, dtype=np.float64)  # a copy", "        x.flat[i] = old\n        columns"),
       ("    x = np.asarray(x, dtype=np.float64)  # no copy", "        columns"),
       "numerical_jacobian leaves x unchanged"),
    _m("sgd_wrong_sign", "training", "p -= lr * g", "p += lr * g",
       "sgd_step updates the parameters in place", "sgd_step leaves the gradients unchanged"),
    _m("train_unweighted_mean", "training",
       "total += float(cost) * len(x_batch)\n        losses.append(total / len(x))",
       "total += float(cost)\n        losses.append(total / -(-len(x) // batch_size))",
       "train returns the mean loss of each epoch"),
    _m("train_ignores_rng", "training", "in minibatches(x, t, batch_size, rng):",
       "in minibatches(x, t, batch_size, np.random.default_rng()):",
       "train updates the parameters like the course's SGD loop", "train returns the mean loss of each epoch"),
    # part 4 (bonus)
    _m("relu_grad_times_output", "cnn", "return grad_output * (self.y > 0)", "return grad_output * self.y",
       f"{R}.bprop: the gradient w.r.t. the input", f"{R}.{FD.format(R)}"),
    _m("relu_grad_everywhere", "cnn", "return grad_output * (self.y > 0)", "return grad_output",
       f"{R}.bprop: the gradient w.r.t. the input", f"{R}.{FD.format(R)}"),
    _m("dropout_no_scaling", "cnn", "self.mask = keep.astype(z.dtype) / z.dtype.type(1 - self.p)",
       "self.mask = keep.astype(z.dtype)", f"{D} in train mode drops a fraction p and scales the rest by 1/(1 − p)"),
    _m("dropout_in_eval_mode", "cnn", "if not self.training or self.p == 0:", "if self.p == 0:",
       f"{D} is the identity in eval mode and with p = 0"),
    _m("momentum_velocity_not_kept", "cnn", "v *= self.momentum\n            v += g",
       "v = self.momentum * v + g", *MOMENTUM_ALL),
    _m("momentum_step_before_velocity", "cnn",
       "v *= self.momentum\n            v += g\n            p -= self.lr * v",
       "p -= self.lr * v\n            v *= self.momentum\n            v += g", *MOMENTUM_ALL),
    _m("conv_flipped_kernel", "cnn", "y = self.cols @ self.W.reshape(len(self.W), -1).T + self.b",
       "y = self.cols @ self.W[..., ::-1, ::-1].reshape(len(self.W), -1).T + self.b",
       f"{K}.fprop matches the expected output", f"{K}.{FD.format(K)}"),
    _m("conv_bprop_wrong_padding", "cnn", "self.z.shape, self.k, self.k, self.stride, self.padding)",
       "self.z.shape, self.k, self.k, self.stride, 0)", f"{K}.bprop: the gradient w.r.t. the input",
       f"{K}.{FD.format(K)}", f"{K} does not modify its arguments", f"{K} caches per call and overwrites gradients"),
    _m("conv_bprop_wrong_stride", "cnn", "self.z.shape, self.k, self.k, self.stride, self.padding)",
       "self.z.shape, self.k, self.k, 1, self.padding)", f"{K}.bprop: the gradient w.r.t. the input",
       f"{K}.{FD.format(K)}", f"{K}.params() and grads() are aligned and live", f"{K} does not modify its arguments",
       f"{K} caches per call and overwrites gradients", f"{K} keeps float32 as float32"),
    _m("conv_grad_b_not_summed_over_pixels", "cnn", "self.grad_b = g.sum(axis=(0, 1, 2))",
       "self.grad_b = grad_output.sum(axis=0)", f"{K}.bprop: grad_b",
       f"{K}.{FD.format(K)}", f"{K}.params() and grads() are aligned and live"),
]


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
             "/work/main/solutions/01_modules.ipynb", "../solutions/01_modules.ipynb"]

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

def sgd_step(params, grads, lr):
    pass

def train(model, criterion, x, t, epochs, batch_size, lr, rng):
    return [0.0] * epochs
'''


SYMLINKER = """import os
for _f in os.listdir("out"):
    if _f.endswith(".stage"):
        for _ext, _make in ((".npz", lambda p: os.symlink("/etc/shadow", p)), (".status", os.mkfifo)):
            try:
                _make("out/" + _f[:-6] + _ext)
            except OSError:
                pass
os._exit(0)"""


@dataclass(frozen=True)
class Adversary:
    name: str
    modules: str  # 01_modules; the other notebooks are the reference's, or the release's
    what: str  # what it tries, for the report
    others: str = "reference"  # "reference", "release", or "zeros" (one notebook of stand-ins)

    def sources(self) -> dict[str, str]:
        others = {"reference": SOURCES, "release": released(), "zeros": {"02_functions": ZEROS_FUNCTIONS}}
        rest = {stem: src for stem, src in others[self.others].items() if stem != "01_modules"}
        return {"01_modules": self.modules, **rest}


def adversaries() -> list[Adversary]:
    ref_m, rel_m = MODULES_SOURCE, release(MODULES_SOURCE)
    patch = ("class _Cheat:\n    import numpy as _np\n    _np.allclose = lambda *a, **k: True\n"
             "    _np.array_equal = lambda *a, **k: True\n    _np.isclose = lambda *a, **k: True\n"
             "    _np.testing.assert_allclose = lambda *a, **k: None\n")
    fake = ('class _Fake:\n    import json, os\n    _r = json.dumps({"score": 100, "max_score": 100, "tests": []})\n'
            "    print(_r)\n    for _p in ('results.json', '../results.json', '/autograder/results/results.json'):\n"
            "        try:\n            open(_p, 'w').write(_r)\n        except OSError:\n            pass\n")
    spy = (f"class _Spy:\n    import os\n    readable = []\n    for _p in {SPY_PATHS!r}:\n"
           "        try:\n            open(_p).read(10)\n            readable.append(_p)\n"
           "        except OSError:\n            pass\n"
           "    try:\n        import autograder.checks\n        readable.append('import autograder')\n"
           "    except ImportError:\n        pass\n")
    spy_use = ("if _Spy.readable:\n    from dlcore import load_implementation\n"
               "    raise RuntimeError('spy: READ ' + repr(_Spy.readable))\n"
               "raise RuntimeError('spy: nothing readable')")
    return [
        Adversary("patch_allclose", rel_m + _cell(patch), "patches numpy.allclose/array_equal/np.testing", "release"),
        Adversary("exit_at_load", ref_m + _cell("import os\nclass _Bye:\n    os._exit(0)\n"),
                  "os._exit(0) in a class body, at load time"),
        Adversary("loop_at_load", ref_m + _cell("class _Forever:\n    while True:\n        pass\n"),
                  "endless loop in a class body, at load time"),
        Adversary("exit_in_fprop", _into(ref_m, LINEAR_FPROP, "import os\nos._exit(0)"),
                  "os._exit(0) in Linear.fprop"),
        Adversary("symlink_outputs", _into(ref_m, LINEAR_FPROP, SYMLINKER),
                  "replaces its outputs by a symlink to /etc/shadow and a FIFO, then exits"),
        Adversary("sys_exit_in_bprop", _into(ref_m, LINEAR_BPROP, "raise SystemExit(0)"),
                  "sys.exit in Linear.bprop"),
        Adversary("infinite_loop", _into(ref_m, TANH_BPROP, "while True:\n    pass"),
                  "endless loop in Tanh.bprop"),
        Adversary("memory_hog", _into(ref_m, SOFTMAX_FPROP, "_hog = np.ones(50 * 2**30 // 8)"),
                  "allocates 50 GB in SoftMax.fprop"),
        Adversary("fork_bomb", _into(ref_m, CE_FPROP, "import os\nwhile True:\n    try:\n        os.fork()\n"
                                                      "    except OSError:\n        pass"),
                  "fork bomb in CrossEntropy.fprop"),
        Adversary("fake_results", rel_m + _cell(fake), "prints and writes a fake results.json", "release"),
        Adversary("read_grader_files", _into(ref_m + _cell(spy), LINEAR_FPROP, spy_use),
                  "reads solutions/ and autograder/ (and imports autograder)"),
        Adversary("hardcoded_shapes", ZEROS_MODULES,
                  "hard-codes what the visible tests check (shapes, gradcheck of a constant)", "zeros"),
    ]


def write_all(out: Path, assignment: str = "ps1") -> dict[str, Path]:
    """Every submission under ``out/submitted/<student>/<assignment>/``; returns student -> folder."""
    subs = {"reference": SOURCES, "release": released()}
    subs.update({f"mutant_{m.name}": m.sources() for m in MUTANTS})
    subs.update({f"adversary_{a.name}": a.sources() for a in adversaries()})
    return {name: write_submission(out / "submitted" / name / assignment, src) for name, src in subs.items()}


if __name__ == "__main__":
    for name, path in write_all(Path(sys.argv[1])).items():
        print(name, path)
