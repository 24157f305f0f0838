"""MNIST targets: the student's modules are trained in the sandbox (dlcore's loop, the seed's
hyper-parameters); the grader counts test errors itself with the reference modules' forward pass
on the trained parameters, so the sandbox never sees the test set."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from autograder.checks.base import Arrays, Check, ProbeSpec
from autograder.diagnose import Verdict

HYPER = {"linear": {"epochs": 60, "lr": 0.1, "batch_size": 100, "seed": 0},
         "mlp": {"epochs": 30, "lr": 0.1, "batch_size": 100, "seed": 0},
         # Adam (dlcore's, never the student's Momentum, so a broken optimizer is graded once).
         "cnn": {"epochs": 1, "lr": 1e-3, "batch_size": 100, "seed": 0, "adam": 1}}
TARGETS = {"linear": 775, "mlp": 250, "cnn": 275}
POINTS = {"linear": 10, "mlp": 10, "cnn": 8}
# ~6 s, ~15 s and ~25 s for the reference (the CNN measured on a loaded 2-core machine: 20-27 s)
TIMEOUTS = {"linear": 120.0, "mlp": 180.0, "cnn": 180.0}
CORE, BONUS = ("linear", "mlp"), ("cnn",)
TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")


def data_files(mnist_dir: Path) -> list[Path]:
    """The two training files (raw or gzipped, any accepted name), copied into the sandbox; never the test set."""
    from dlcore.data.mnist import find_idx_file

    files = [find_idx_file(mnist_dir, stem) for stem in TRAIN_FILES]
    if any(f is None for f in files):
        raise FileNotFoundError(f"MNIST training files not found in {mnist_dir}")
    return files


@lru_cache(maxsize=2)
def _test_set(mnist_dir: str) -> tuple[np.ndarray, np.ndarray]:
    from dlcore.data import load_mnist

    m = load_mnist(mnist_dir, dtype=np.float32)
    return m.x_test, m.y_test


def test_errors(model_name: str, params: list[np.ndarray], ref, mnist_dir: Path) -> int:
    """Errors on the 10,000 test digits of the reference architecture carrying ``params``."""
    from dlcore.models import build_model
    from dlcore.train import count_errors

    model, _ = build_model(model_name, ref, np.random.default_rng(0), np.float32)
    for p, value in zip(model.params(), params, strict=True):
        p[...] = value
    x, y = _test_set(str(mnist_dir))
    return count_errors(model, x, y)


def mnist_eval(model_name: str, ref, mnist_dir: Path):
    def evaluate(got: Arrays, _e: Arrays | None, _inputs: Arrays) -> Verdict:
        from dlcore.models import build_model

        shapes = [p.shape for p in build_model(model_name, ref, np.random.default_rng(0), np.float32)[0].params()]
        params = [got.get(f"p{k}") for k in range(len(shapes))]
        if any(p is None for p in params) or [p.shape for p in params] != shapes or f"p{len(shapes)}" in got:
            return Verdict(False, f"the {model_name} model's params() do not have the architecture's shapes.")
        if not all(np.all(np.isfinite(p)) for p in params):
            return Verdict(False, f"training the {model_name} model diverged: its parameters contain NaN or inf.")
        errors = test_errors(model_name, params, ref, mnist_dir)
        h = HYPER[model_name]
        ok = errors <= TARGETS[model_name]
        epochs = f"{h['epochs']} epoch{'s' * (h['epochs'] > 1)}"
        text = (f"your {model_name} model, trained {epochs} ({'Adam' if h.get('adam') else 'SGD'} λ={h['lr']:g}, "
                f"batch {h['batch_size']}, float32, seed {h['seed']}), makes {errors} errors on the 10,000 test "
                "digits; "
                f"the target is at most {TARGETS[model_name]}.")
        return Verdict(ok, text if ok else text + " The unit tests above point at the module to fix.")
    return evaluate


def _required(model_name: str) -> tuple[str, ...]:
    if model_name == "cnn":  # LogSoftMax, NLLLoss, pooling and reshaping are dlcore's own
        kinds = ["Linear", "Conv2d", "ReLU"]
        dropout = ("Dropout in train mode drops a fraction p and scales the rest by 1/(1 − p)",
                   "Dropout.bprop uses the mask of the last fprop")
    else:
        kinds = ["Linear", "SoftMax", "CrossEntropy"] + (["Tanh"] if model_name == "mlp" else [])
        dropout = ()
    grads = {k: ["the gradient w.r.t. the input", "grad_W", "grad_b"] for k in ("Linear", "Conv2d")}
    return tuple(name for kind in kinds for name in
                 [f"{kind}.fprop matches the expected output",
                  *(f"{kind}.bprop: {g}" for g in grads.get(kind, ["the gradient w.r.t. the input"]))]) + dropout


def mnist_table(ref, mnist_dir: Path, names: tuple[str, ...] = CORE) -> tuple[list[ProbeSpec], list[Check]]:
    probes, checks = [], []
    for name in names:
        h = HYPER[name]
        probes.append(ProbeSpec(f"mnist.{name}", f"MNIST {name}",
                                lambda _rng, _ref, h=h: {k: np.array(v) for k, v in h.items()}, mnist=True))
        checks.append(Check(f"MNIST: the {name} model reaches at most {TARGETS[name]} test errors", POINTS[name],
                            f"mnist.{name}", mnist_eval(name, ref, mnist_dir), earned_if_all=_required(name)))
    return probes, checks
