"""Which hidden-autograder tests score which nbgrader test cell: one score per part.

nbgrader's test cells run inside the student's kernel (they can be fooled, e.g. by patching
``np.allclose``); the hidden autograder (``autograder/grade.py``) judges outside it. So that an
instructor never sees two different scores for the same part, the score of every autograded test
cell listed in ``HIDDEN_MAP`` is *derived* from the hidden suite: ``points × earned / possible`` of
its hidden tests (by their ``name`` in the results), rounded to 2 decimals. The cells in
``NBGRADER_ONLY`` grade parts that the hidden suite does not test: nbgrader's own score is the only
score of those parts.

Every hidden test belongs to exactly one cell of the part it grades (value tests with the cell that
tests the same method, properties such as float32 or unchanged arguments with the fprop cell, per
call caching and params/grads alignment with the bprop cell; part 4's ReLU, Dropout and Momentum
have one test cell each, which takes all their tests), so that a failure the hidden suite
finds always lowers some nbgrader cell. ``tests/test_hidden_gradebook.py`` checks that this file
covers every autograded test cell of ``solutions/*.ipynb`` exactly once and names every hidden test
exactly once: a new test cell or hidden test without an entry here fails the tests.
"""

from __future__ import annotations

# (notebook, grade_id) -> names of the hidden tests that score the cell.
HIDDEN_MAP: dict[tuple[str, str], tuple[str, ...]] = {}


def _module(cell_prefix: str, kind: str, grads: tuple[str, ...] = ("the gradient w.r.t. the input",),
            fprop_extra: tuple[str, ...] = (), bprop_extra: tuple[str, ...] = ()) -> None:
    HIDDEN_MAP["01_modules", f"test_{cell_prefix}_fprop"] = (
        f"{kind}.fprop matches the expected output", *fprop_extra,
        f"{kind} does not modify its arguments", f"{kind} keeps float32 as float32")
    HIDDEN_MAP["01_modules", f"test_{cell_prefix}_bprop"] = (
        *(f"{kind}.bprop: {g}" for g in grads), *bprop_extra, f"{kind} caches per call and overwrites gradients")
    HIDDEN_MAP["01_modules", f"test_{cell_prefix}_gradcheck"] = (
        f"{kind}.bprop agrees with finite differences of {kind}.fprop",)


_module("linear", "Linear", grads=("the gradient w.r.t. the input", "grad_W", "grad_b"),
        bprop_extra=("Linear.params() and grads() are aligned and live",))
_module("tanh", "Tanh")
_module("softmax", "SoftMax", fprop_extra=("SoftMax is numerically stable (logits of ±1000)",))
_module("cross_entropy", "CrossEntropy", fprop_extra=("CrossEntropy is numerically stable (probabilities of 0)",))
HIDDEN_MAP.update({
    ("02_gradcheck", "test_numerical_jacobian"): ("numerical_jacobian matches the true Jacobian",
                                                  "numerical_jacobian leaves x unchanged"),
    ("03_training", "test_sgd_step"): ("sgd_step updates the parameters in place",
                                       "sgd_step leaves the gradients unchanged"),
    ("03_training", "test_train"): ("train updates the parameters like the course's SGD loop",
                                    "train returns the mean loss of each epoch"),
    # Only when MNIST is graded (not with --no-mnist): otherwise nbgrader's own score stands.
    ("03_training", "test_targets"): ("MNIST: the linear model reaches at most 775 test errors",
                                      "MNIST: the mlp model reaches at most 250 test errors"),
})


def _all(kind: str, names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{kind}{name}" for name in names)


# Part 4 (bonus): ReLU, Dropout and Momentum have one test cell each, which takes all their tests.
HIDDEN_MAP.update({
    ("04_cnn", "test_relu"): _all("ReLU", (".fprop matches the expected output",
                                           ".bprop: the gradient w.r.t. the input",
                                           ".bprop agrees with finite differences of ReLU.fprop",
                                           " does not modify its arguments", " caches per call",
                                           " keeps float32 as float32")),
    ("04_cnn", "test_dropout"): _all("Dropout", (" in train mode drops a fraction p and scales the rest by 1/(1 − p)",
                                                 ".bprop uses the mask of the last fprop",
                                                 " is the identity in eval mode and with p = 0",
                                                 " draws a new mask on every call, from its rng",
                                                 " does not modify its arguments", " keeps float32 as float32")),
    ("04_cnn", "test_momentum"): _all("Momentum", (".step follows v ← μ·v + g, θ ← θ − λ·v for every parameter",
                                                   ".step uses the current learning rate",
                                                   ".step leaves the gradients unchanged",
                                                   " keeps float32 parameters float32")),
    ("04_cnn", "test_conv2d_fprop"): _all("Conv2d", (".fprop matches the expected output",
                                                     " does not modify its arguments", " keeps float32 as float32")),
    ("04_cnn", "test_conv2d_bprop"): _all("Conv2d", (".bprop: the gradient w.r.t. the input", ".bprop: grad_W",
                                                     ".bprop: grad_b",
                                                     ".bprop agrees with finite differences of Conv2d.fprop",
                                                     ".params() and grads() are aligned and live",
                                                     " caches per call and overwrites gradients")),
    # Only when MNIST is graded, like test_targets.
    ("04_cnn", "test_cnn_target"): ("MNIST: the cnn model reaches at most 275 test errors",),
})

# Parts that only nbgrader grades (no hidden test covers them): nbgrader's score is the score.
NBGRADER_ONLY: dict[tuple[str, str], str] = {
    ("02_gradcheck", "test_backprop_jacobian"): "backprop_jacobian is not in the hidden suite",
    ("02_gradcheck", "test_max_mixed_error"): "max_mixed_error is not in the hidden suite",
    ("03_training", "test_models"): "build_linear/build_mlp: the hidden MNIST tests build dlcore's models "
                                    "from the student's modules, not the student's builders",
    ("04_cnn", "test_cnn"): "build_cnn: the hidden CNN target builds dlcore's CNN from the student's modules, not the "
                            "student's builder",
}

MARKER = "**Scores from the hidden autograder**"


def derive(points: float, names: tuple[str, ...], results: dict) -> tuple[float, str] | None:
    """The cell's score and a one-line note, from the hidden results; None when none of ``names``
    was graded in this run (MNIST with ``--no-mnist``): nbgrader's own score then stands."""
    tests = [t for t in results["tests"] if t["name"] in names]
    possible = sum(t["max_score"] for t in tests)
    if not tests or possible <= 0:
        return None
    earned = sum(t["score"] for t in tests)
    score = round(points * earned / possible, 2)
    passed = sum(t["status"] == "passed" for t in tests)
    note = f"{score:g}/{points:g}: {passed}/{len(tests)} hidden tests passed ({earned:g}/{possible:g} points)"
    failed = [f"{t['name']}: {_short(t.get('output', ''))}" for t in tests if t["status"] != "passed"]
    if failed:
        note += "; failed: " + "; ".join(failed)
    return score, note


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
