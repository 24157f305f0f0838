"""The comparison every check uses: float32 rounding passes, mistakes do not, and the words fit the error."""

import numpy as np

from autograder.diagnose import close, diagnose


def _softmax_bprop(z: np.ndarray, g: np.ndarray, logsumexp: bool) -> np.ndarray:
    if logsumexp:
        m = z.max(axis=1, keepdims=True)
        y = np.exp(z - (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True))))
    else:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        y = e / e.sum(axis=1, keepdims=True)
    return y * (g - (g * y).sum(axis=1, keepdims=True))


def test_float32_formulas_that_differ_only_by_rounding_are_close():
    rng = np.random.default_rng(0)
    for _ in range(50):
        z = (3 * rng.standard_normal((13, 7))).astype(np.float32)
        g = rng.standard_normal((13, 7)).astype(np.float32)
        a, b = _softmax_bprop(z, g, True), _softmax_bprop(z, g, False)
        assert a.dtype == np.float32 and close(a, b)


def test_float32_mistakes_are_not_close():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((13, 7)).astype(np.float32)
    g = rng.standard_normal((13, 7)).astype(np.float32)
    right = _softmax_bprop(z, g, False)
    assert not close(2 * right, right)
    assert not close(right * np.float32(1.001), right)
    assert not close(right.T.copy().T[:, ::-1], right)


def test_float64_keeps_its_tight_tolerance():
    x = np.linspace(-1, 1, 12).reshape(3, 4)
    assert close(x + 1e-12, x)
    assert not close(x * (1 + 1e-4), x)
    assert not close(x.astype(np.float32).astype(np.float64) * (1 + 1e-4), x)


def test_a_tiny_error_is_not_explained_as_a_formula_mistake():
    x = np.random.default_rng(2).standard_normal((5, 3))
    message = diagnose(x * (1 + 1e-5), x, "grad_input", batch=5, hints={"other": "Is the sum taken over each row?"})
    assert "close to the expected values" in message and "sum" not in message
    message = diagnose(2 * x, x, "grad_input", batch=5, hints={"2": "Is the 2 of the square in twice?"})
    assert "twice too large" in message
