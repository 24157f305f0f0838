"""Checks of the student functions of parts 2 and 3, and of the model builders.

``numerical_jacobian``, ``backprop_jacobian`` and ``max_mixed_error`` (02) are judged against
closed forms; ``sgd_step`` against ``p − λ·g``; ``train`` (03) against the course's loop run by
the grader (one permutation per epoch from the given rng, the epoch's loss weighted by batch
size) on toy problems; the builders (03, 04) against the reference model with the same
parameters. Properties (arguments unchanged, float32 kept) count together with the values of the
same calls.
"""

from __future__ import annotations

import numpy as np

from autograder.checks.base import PASS, Check, Part, Probe, array, fail, results, same_shape, single, student_error
from autograder.diagnose import Verdict, close, diagnose
from autograder.sandbox.probes import ToyScale, ToySquaredError

GC, TR, CNN = "02_gradcheck", "03_training", "04_cnn"


# --- numerical_jacobian ---------------------------------------------------------------------------

def jacobian_args(rng: np.random.Generator) -> dict:
    return {"cases": [
        {"function": "tanh_affine", "x": rng.standard_normal(4), "A": rng.standard_normal((3, 4))},
        {"function": "row_squares", "x": 3 * rng.standard_normal((3, 2))},
        {"function": "sum_sin", "x": np.array([0.3, -2.0, 150.0, 1e-3, 7.5])},  # large |x|: the step must scale
        {"function": "cube", "x": np.array([1e6, -3e5, 1e-3])},
        {"function": "tanh", "x": rng.standard_normal((3, 4))},
        {"function": "sin_T_x", "x": rng.standard_normal((4, 2))},
    ]}


def true_jacobian(case: dict) -> np.ndarray:
    x, name = case["x"], case["function"]
    if name == "tanh_affine":
        return (1 - np.tanh(case["A"] @ x) ** 2)[:, None] * case["A"]
    if name == "row_squares":
        rows = np.zeros((3, 6))
        for n in range(3):  # ∂(Σ_j X_nj²)/∂X_nj = 2 X_nj, in row-major order of X
            rows[n, 2 * n:2 * n + 2] = 2 * x[n]
        return rows
    if name == "sum_sin":
        return np.cos(x)[None, :]
    if name == "cube":
        return np.diag(3 * x**2)
    if name == "tanh":
        return np.diag(1 - np.tanh(x.ravel()) ** 2)
    # F = sin(X)ᵀ·X, F_ab = Σ_j sin(X_ja) X_jb: ∂F_ab/∂X_jc = [c = a] cos(X_ja) X_jb + [c = b] sin(X_ja)
    n, d = x.shape
    J = np.zeros((d * d, n * d))
    for a in range(d):
        for b in range(d):
            for j in range(n):
                J[a * d + b, j * d + a] += np.cos(x[j, a]) * x[j, b]
                J[a * d + b, j * d + b] += np.sin(x[j, a])
    return J


def mixed_error(got: np.ndarray, expected: np.ndarray) -> float:
    return float(np.max(np.abs(got - expected) / np.maximum(np.maximum(np.abs(got), np.abs(expected)), 1.0)))


def _jacobian_values(result: dict, case: dict) -> str | None:
    J, g = true_jacobian(case), array(result, "value")
    if g is None:
        return "numerical_jacobian returned no array of numbers."
    if g.shape != J.shape:
        return (f"numerical_jacobian: {diagnose(g, J, 'the Jacobian')} It must have one row per entry of f(x) and one "
                "column per entry of x: (f(x).size, x.size).")
    if not np.all(np.isfinite(g)) or mixed_error(g, J) > 1e-6:
        hint = ("The step must be relative for large |x|: h_i = sqrt(eps)·max(|x_i|, 1)." if case["function"] == "cube"
                else "Use central differences (f(x + h e_i) − f(x − h e_i)) / 2h with h_i = sqrt(eps)·max(|x_i|, 1), "
                     "restoring x_i afterwards.")
        return "numerical_jacobian: " + diagnose(g, J, f"the Jacobian of a function {case['function']}", hints={
            "2": "Central differences divide by 2h, the distance between x + h and x − h.",
            "1/2": "Central differences divide by 2h, not 4h.",
            "transpose": "Column i holds the derivatives w.r.t. x_i.", "other": hint, "factor": hint, "close": hint})
    return None


def _each(probe: str, got, args, judge) -> Verdict:
    cases = args[probe]["cases"]
    for result, case in zip(results(got[probe], len(cases)), cases, strict=True):
        problem = student_error(result) or judge(result, case)
        if problem is not None:
            return fail(problem)
    return PASS


def jacobian_values(got, _e, args) -> Verdict:
    return _each("numerical_jacobian", got, args, _jacobian_values)


def _unchanged(result: dict, index: int, original: np.ndarray) -> bool:
    after = array(result, "args_after", index)
    return same_shape(after, original) and np.array_equal(after, original)


def jacobian_input(got, _e, args) -> Verdict:
    def judge(result, case):
        if not _unchanged(result, 0, case["x"]):
            return ("numerical_jacobian modified x: it must restore every entry it perturbs (or work on a float64 "
                    "copy).")
        values = _jacobian_values(result, case)
        return None if values is None else values + " (this test counts once the Jacobians are right)"
    return _each("numerical_jacobian", got, args, judge)


# --- backprop_jacobian ----------------------------------------------------------------------------

def backprop_args(rng: np.random.Generator) -> dict:
    return {"cases": [{"module": "matmul", "A": rng.standard_normal((4, 3)), "x": rng.standard_normal((2, 4))},
                      {"module": "matmul", "A": rng.standard_normal((3, 2)), "x": rng.standard_normal((1, 3))},
                      {"module": "cube", "x": rng.standard_normal((3, 2))},
                      {"module": "cube", "x": rng.standard_normal((1, 2))}]}


def backprop_true(case: dict) -> np.ndarray:
    if case["module"] == "matmul":
        return np.kron(np.eye(case["x"].shape[0]), case["A"].T)  # rows in y.flat order, columns in x.flat order
    return np.diag(3 * case["x"].ravel() ** 2)


def _backprop_values(result: dict, case: dict) -> str | None:
    J, g = backprop_true(case), array(result, "value")
    what = f"the Jacobian of {'y = z·A' if case['module'] == 'matmul' else 'y = z³'} on a batch of {case['x'].shape[0]}"
    if g is not None and g.shape == J.shape and close(g, J):
        return None
    if g is None:
        return "backprop_jacobian returned no array of numbers."
    return "backprop_jacobian: " + diagnose(g, J, what, hints={
        "transpose": "Row j is bprop(e_j), flattened: rows index the outputs (y.flat order), columns the inputs.",
        "other": "Call fprop(x) once, then for each output entry j build e_j (zeros of the output's shape, 1 at "
                 "entry j), and store bprop(e_j) flattened as row j."})


def backprop_values(got, _e, args) -> Verdict:
    return _each("backprop_jacobian", got, args, _backprop_values)


def backprop_input(got, _e, args) -> Verdict:
    def judge(result, case):
        if not _unchanged(result, 0, case["x"]):
            return "backprop_jacobian modified x: never change an argument."
        values = _backprop_values(result, case)
        return None if values is None else values + " (this test counts once the Jacobians are right)"
    return _each("backprop_jacobian", got, args, judge)


# --- max_mixed_error ------------------------------------------------------------------------------

def mixed_args(rng: np.random.Generator) -> dict:
    a = 10 * rng.standard_normal((4, 5))
    n = a + rng.standard_normal((4, 5))
    return {"cases": [{"a": np.array([[1.0, 0.0]]), "n": np.array([[1.0, 0.5]])},  # small: absolute
                      {"a": np.array([[100.0]]), "n": np.array([[101.0]])},  # large: relative
                      {"a": a, "n": n}, {"a": n, "n": a},  # symmetric
                      {"a": a, "n": a.copy()}]}  # identical: 0


def mixed_values(got, _e, args) -> Verdict:
    def judge(result, case):
        value, expected = array(result, "value"), mixed_error(case["a"], case["n"])
        if value is None or value.size != 1:
            got = "nothing" if value is None else f"shape {value.shape}"
            return f"max_mixed_error must return one number, got {got}."
        if not np.isclose(float(value.reshape(())), expected, rtol=1e-9, atol=0):
            return ("max_mixed_error: " + diagnose(value.reshape(1), np.array([expected]), "the value", hints={
                "other": "err_ij = |a_ij − n_ij| / max(|a_ij|, |n_ij|, 1), and the largest of them."}))
        return None
    return _each("max_mixed_error", got, args, judge)


def mixed_args_unchanged(got, e, args) -> Verdict:
    def judge(result, case):
        if not (_unchanged(result, 0, case["a"]) and _unchanged(result, 1, case["n"])):
            return "max_mixed_error modified an argument: never change an argument."
        return None
    verdict = _each("max_mixed_error", got, args, judge)
    if not verdict.passed:
        return verdict
    values = mixed_values(got, e, args)
    return values if values.passed else fail(values.message + " (this test counts once the values are right)")


# --- sgd_step -------------------------------------------------------------------------------------

def sgd_args(rng: np.random.Generator) -> dict:
    params = [rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((4, 2)).astype(np.float32)]
    return {"params": params, "grads": [rng.standard_normal(p.shape).astype(p.dtype) for p in params], "lr": 0.03}


def _sgd_update(reply, a: dict) -> str | None:
    result = single(reply)
    if student_error(result):
        return student_error(result)
    for k, (p, g) in enumerate(zip(a["params"], a["grads"], strict=True)):
        got = array(result, "args_after", k)
        expected = p - a["lr"] * g
        if not same_shape(got, p):
            return f"sgd_step changed the shape of parameter {k}."
        if np.array_equal(got, p):
            return ("sgd_step left the parameters unchanged: update the arrays in place (p -= lr * g); rebinding a "
                    "name (p = p - lr * g) does not change the model's arrays.")
        if got.dtype != p.dtype:
            return f"sgd_step turned a {p.dtype} parameter into {got.dtype}: update it in place."
        if not close(got, expected, rtol=1e-5):
            return "sgd_step: " + diagnose(got - p, -a["lr"] * g, "the update", hints={
                "sign": "Gradient descent moves against the gradient: p ← p − λ·g."})
    return None


def sgd_update_eval(got, _e, args) -> Verdict:
    problem = _sgd_update(got["sgd_step"], args["sgd_step"])
    return PASS if problem is None else fail(problem)


def sgd_grads_eval(got, _e, args) -> Verdict:
    a, reply = args["sgd_step"], got["sgd_step"]
    result = single(reply)
    if student_error(result):
        return fail(student_error(result))
    n = len(a["params"])
    for k, g in enumerate(a["grads"]):
        if not _unchanged(result, n + k, g):
            return fail("sgd_step modified the gradients: it must only update the parameters.")
    problem = _sgd_update(reply, a)
    return PASS if problem is None else fail(problem + " (this test counts once the update is right)")


# --- train ----------------------------------------------------------------------------------------

def train_args(rng: np.random.Generator) -> dict:
    cases = []
    for n, batch_size, epochs in [(23, 5, 3), (7, 1, 2), (4, 10, 2)]:  # a short last batch; batches of 1; one batch
        x = rng.standard_normal((n, 3))
        cases.append({"x": x, "t": 2.0 * x - 1.0 + 0.1 * rng.standard_normal((n, 3)), "a": rng.standard_normal(3),
                      "c": np.zeros(3), "epochs": epochs, "batch_size": batch_size, "lr": 0.1, "seed": n})
    return {"cases": cases}


def expected_training(case: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The course's loop: per epoch one permutation from rng (dlcore's minibatches), a plain SGD step per
    batch, and the epoch's mean loss weighted by batch size."""
    from dlcore.data.batching import minibatches

    model, crit = ToyScale(case["a"].copy(), case["c"].copy()), ToySquaredError()
    rng = np.random.default_rng(int(case["seed"]))
    losses = []
    for _ in range(int(case["epochs"])):
        total, seen = 0.0, 0
        for xb, tb in minibatches(case["x"], case["t"], int(case["batch_size"]), rng):
            cost = crit.fprop(model.fprop(xb), tb)
            model.bprop(crit.bprop())
            for p, g in zip(model.params(), model.grads(), strict=True):
                p -= float(case["lr"]) * g
            total, seen = total + cost * len(xb), seen + len(xb)
        losses.append(total / seen)
    return np.array(losses), model.a, model.c


def _train_params(result: dict, case: dict) -> str | None:
    _, a, c = expected_training(case)
    got_a, got_c = array(result, "a"), array(result, "c")
    where = f"on {len(case['x'])} samples, batches of {case['batch_size']}, {case['epochs']} epochs"
    if same_shape(got_a, a) and np.array_equal(got_a, case["a"]):
        return (f"train ({where}) did not change the model's parameters: call model.bprop(criterion.bprop()) and "
                "sgd_step(model.params(), model.grads(), lr) for every mini-batch.")
    if not (same_shape(got_a, a) and same_shape(got_c, c) and close(got_a, a) and close(got_c, c)):
        return (f"train ({where}): the trained parameters differ from those of the expected loop. Expected: for each "
                "epoch, one shuffle drawn from rng (minibatches(x, t, batch_size, rng) from dlcore.data), then for "
                "each mini-batch fprop, cost, bprop, sgd_step. Use the rng given, and every sample once per epoch.")
    for key, original in (("x_after", case["x"]), ("t_after", case["t"])):
        after = array(result, key)
        if not (same_shape(after, original) and np.array_equal(after, original)):
            return f"train ({where}) modified {'x' if key == 'x_after' else 't'}: never change an argument."
    return None


def train_params_eval(got, _e, args) -> Verdict:
    return _each("train", got, args, _train_params)


def train_losses_eval(got, _e, args) -> Verdict:
    def judge(result, case):
        losses, _, _ = expected_training(case)
        g = array(result, "losses")
        if g is None or g.shape != losses.shape:
            return (f"train must return one mean loss per epoch: a list of {int(case['epochs'])} numbers, got "
                    f"{'nothing' if g is None else f'shape {g.shape}'}.")
        if not close(g, losses):
            return "train: " + diagnose(g, losses, "the per-epoch losses", hints={
                "other": "Each epoch's loss is the mean of the per-sample loss over the epoch: weight each batch's "
                         "cost by its size (the last batch is smaller) and divide by the number of samples."})
        return None
    return _each("train", got, args, judge)


# --- the model builders ---------------------------------------------------------------------------

ARCHITECTURES = {  # builder -> (parameter shapes, whether it takes a dtype); the reference's are what count
    "build_linear": ([(784, 10), (10,)], False),
    "build_mlp": ([(784, 200), (200,), (200, 10), (10,)], False),
    "build_cnn": ([(8, 1, 5, 5), (8,), (16, 8, 5, 5), (16,), (784, 128), (128,), (128, 10), (10,)], True),
}


def builder_args(names: tuple[str, ...]):
    def make(rng: np.random.Generator) -> dict:
        return {"cases": [{"builder": name, "with_dtype": ARCHITECTURES[name][1]} for name in names]}
    return make


def builders_eval(probe: str):
    def evaluate(got, expected, args) -> Verdict:
        cases = args[probe]["cases"]
        for g, e, case in zip(results(got[probe], len(cases)), results(expected[probe], len(cases)), cases,
                              strict=True):
            name = case["builder"]
            if student_error(g):
                return fail(student_error(g))
            if g.get("names") != e["names"]:
                return fail(f"{name}: the model's layers are {g.get('names')}; expected {e['names']}.")
            if g.get("shapes") != e["shapes"]:
                return fail(f"{name}: the parameters' shapes are {g.get('shapes')}; expected {e['shapes']}.")
            if any(d != "float32" for d in g.get("dtypes", [])):
                return fail(f"{name}: the parameters must be float32 (pass dtype=np.float32 to every layer); got "
                            f"{sorted(set(g.get('dtypes', [])))}.")
            for layer, (kind, got_set, exp_set) in enumerate(zip(e["names"], g.get("settings") or [],
                                                                     e["settings"], strict=False)):
                if got_set != exp_set:
                    words = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in exp_set.items())
                    return fail(f"{name}: layer {layer + 1} ({kind}) is not set up as the course's ({words}): check "
                                "its arguments (padding, stride, rates).")
            if len(g.get("settings") or []) != len(e["settings"]):
                return fail(f"{name}: the model's layers could not be described.")
        return PASS
    return evaluate


# --- the table ------------------------------------------------------------------------------------

def gradcheck_parts() -> list[Part]:
    jac = Part("numerical_jacobian", "numerical_jacobian",
               [Probe("numerical_jacobian", "numerical_jacobian", jacobian_args, reference=False)],
               [Check("numerical_jacobian.values", "numerical_jacobian matches the true Jacobian", 4,
                      ("numerical_jacobian",), (GC, "test_numerical_jacobian"), jacobian_values),
                Check("numerical_jacobian.args", "numerical_jacobian leaves x unchanged", 1, ("numerical_jacobian",),
                      (GC, "test_numerical_jacobian"), jacobian_input)])
    back = Part("backprop_jacobian", "backprop_jacobian",
                [Probe("backprop_jacobian", "backprop_jacobian", backprop_args, reference=False)],
                [Check("backprop_jacobian.values", "backprop_jacobian builds the Jacobian row by row from bprop", 2,
                       ("backprop_jacobian",), (GC, "test_backprop_jacobian"), backprop_values),
                 Check("backprop_jacobian.args", "backprop_jacobian leaves x unchanged", 1, ("backprop_jacobian",),
                       (GC, "test_backprop_jacobian"), backprop_input)])
    mixed = Part("max_mixed_error", "max_mixed_error",
                 [Probe("max_mixed_error", "max_mixed_error", mixed_args, reference=False)],
                 [Check("max_mixed_error.values", "max_mixed_error computes the largest mixed error", 1,
                        ("max_mixed_error",), (GC, "test_max_mixed_error"), mixed_values),
                  Check("max_mixed_error.args", "max_mixed_error leaves its arguments unchanged", 1,
                        ("max_mixed_error",), (GC, "test_max_mixed_error"), mixed_args_unchanged)])
    return [jac, back, mixed]


def training_parts() -> list[Part]:
    sgd = Part("sgd_step", "sgd_step", [Probe("sgd_step", "sgd_step", sgd_args, reference=False)],
               [Check("sgd_step.update", "sgd_step updates the parameters in place", 4, ("sgd_step",),
                      (TR, "test_sgd_step"), sgd_update_eval),
                Check("sgd_step.grads", "sgd_step leaves the gradients unchanged", 1, ("sgd_step",),
                      (TR, "test_sgd_step"), sgd_grads_eval)])
    train = Part("train", "train", [Probe("train", "train", train_args, reference=False)],
                 [Check("train.params", "train updates the parameters like the course's SGD loop", 5, ("train",),
                        (TR, "test_train"), train_params_eval),
                  Check("train.losses", "train returns the mean loss of each epoch", 3, ("train",), (TR, "test_train"),
                        train_losses_eval)])
    models = Part("builders", "build_linear and build_mlp",
                  [Probe("builders", "builders", builder_args(("build_linear", "build_mlp")))],
                  [Check("builders.core", "build_linear and build_mlp build the course's models", 1, ("builders",),
                         (TR, "test_models"), builders_eval("builders"))])
    return [sgd, train, models]


def cnn_builder_part() -> Part:
    return Part("build_cnn", "build_cnn", [Probe("build_cnn", "builders", builder_args(("build_cnn",)))],
                [Check("build_cnn", "build_cnn builds the course's CNN", 1, ("build_cnn",), (CNN, "test_cnn"),
                       builders_eval("build_cnn"))])


__all__ = ["Verdict", "cnn_builder_part", "gradcheck_parts", "training_parts"]
