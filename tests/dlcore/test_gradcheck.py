"""gradcheck itself: it must pass correct modules and catch wrong ones, with a readable report."""

import numpy as np
import pytest

from dlcore import Module, Sequential, gradcheck, numerical_jacobian


def test_numerical_jacobian_of_a_known_function():
    a = np.random.default_rng(0).standard_normal((3, 4))
    x = np.random.default_rng(1).standard_normal(4)
    jac = numerical_jacobian(lambda v: np.tanh(a @ v), x)
    expected = (1 - np.tanh(a @ x) ** 2)[:, None] * a
    np.testing.assert_allclose(jac, expected, atol=1e-7)


def test_numerical_jacobian_step_scales_with_x():
    """h_i = sqrt(eps) max(|x_i|, 1): the derivative of x**2 at 1e8 is still accurate."""
    jac = numerical_jacobian(lambda v: v**2, np.array([1e8, 1e-3]))
    np.testing.assert_allclose(np.diag(jac), [2e8, 2e-3], rtol=1e-6, atol=1e-8)


def _buggy(reference, bug):
    class Buggy(reference.Linear):
        def bprop(self, grad_output):
            grad_input = super().bprop(grad_output)
            if bug == "transpose":
                return grad_output @ self.W.T[::-1]
            if bug == "missing_bias_sum":
                self.grad_b = grad_output[0]
            if bug == "scaled_W":
                self.grad_W = self.grad_W / len(grad_output)
            return grad_input

    return Buggy


@pytest.mark.parametrize("bug, block", [("transpose", "input"), ("missing_bias_sum", "b"), ("scaled_W", "W")])
@pytest.mark.parametrize("subset", [None, 10])
def test_catches_a_wrong_bprop(reference, bug, block, subset):
    rng = np.random.default_rng(0)
    layer = _buggy(reference, bug)(6, 4, rng=rng)
    report = gradcheck(layer, rng.standard_normal((5, 6)), subset=subset)
    assert not report.passed
    failing = [b.name for b in report.blocks if b.max_rel_error >= report.tolerance]
    assert failing == [block], str(report)
    assert "FAIL" in str(report) and "FAILED" in report._repr_html_()


def test_catches_a_wrong_bprop_on_a_large_layer_subset(reference):
    rng = np.random.default_rng(1)
    layer = _buggy(reference, "scaled_W")(784, 200, rng=rng)
    assert not gradcheck(layer, rng.random((8, 784)), subset=5)


def test_catches_a_criterion_without_the_mean(reference):
    class Summed(reference.CrossEntropy):
        def bprop(self):
            return super().bprop() * len(self.y)

    rng = np.random.default_rng(2)
    y = reference.SoftMax().fprop(rng.standard_normal((4, 3)))
    report = gradcheck(Summed(), y, np.eye(3)[[0, 1, 2, 0]])
    assert not report.passed


def test_catches_nan_gradients():
    class NaNGrad(Module):
        def fprop(self, z):
            return z * 2

        def bprop(self, grad_output):
            return grad_output * np.nan

    report = gradcheck(NaNGrad(), np.ones((2, 2)))
    assert not report.passed and report.max_rel_error == np.inf


def test_report_names_the_worst_entry(reference):
    rng = np.random.default_rng(3)
    report = gradcheck(_buggy(reference, "missing_bias_sum")(3, 2, rng=rng), rng.standard_normal((4, 3)))
    text = str(report)
    assert "gradcheck Buggy: FAILED" in text
    assert "∂out[" in text and "/∂b[" in text
    assert report.blocks[2].entries_checked == report.blocks[2].entries_total == 4 * 2 * 2


def test_refuses_float32_parameters(reference):
    with pytest.raises(TypeError, match="float64"):
        gradcheck(reference.Linear(3, 2, dtype=np.float32), np.ones((1, 3)))


def test_names_a_wrong_shape():
    class WrongShape(Module):
        def fprop(self, z):
            return z.sum(axis=1, keepdims=True)

        def bprop(self, grad_output):
            return grad_output

    with pytest.raises(ValueError, match=r"bprop has shape \(2, 1\).*\(2, 3\)"):
        gradcheck(WrongShape(), np.ones((2, 3)))


def test_names_an_input_modified_in_place():
    class InPlace(Module):
        def fprop(self, z):
            z *= 1.0000001
            return z.copy()

        def bprop(self, grad_output):
            return grad_output

    with pytest.raises(ValueError, match="modified its input in place"):
        gradcheck(InPlace(), np.ones((2, 3)))


def test_does_not_modify_x_or_params(reference):
    rng = np.random.default_rng(4)
    layer = reference.Linear(3, 2, rng=rng)
    w = layer.W.copy()
    x = rng.standard_normal((2, 3))
    x_copy = x.copy()
    gradcheck(layer, x)
    np.testing.assert_array_equal(layer.W, w)
    np.testing.assert_array_equal(x, x_copy)


def test_summarize_one_line_per_module(reference):
    from dlcore.gradcheck import summarize

    rng = np.random.default_rng(5)
    good = gradcheck(reference.Linear(3, 2, rng=rng), rng.standard_normal((2, 3)))
    broken = reference.Tanh()
    broken.bprop = lambda g: 2 * g * (1 - broken.y**2)  # twice the true derivative
    bad = gradcheck(broken, rng.standard_normal((2, 3)))
    summary = summarize({"Linear(3, 2)": good, "Tanh, doubled": bad})
    assert not summary.passed and not bool(summary)
    text = str(summary)
    assert text.splitlines()[0] == "gradcheck summary: 1/2 modules passed"
    lines = text.splitlines()[2:]
    assert lines[0].split()[0] == "Linear(3," and lines[0].rstrip().endswith("ok")
    assert "input, W, b" in lines[0] and f"{good.max_rel_error:.2e}" in lines[0]
    assert lines[1].rstrip().endswith("FAIL") and f"{bad.max_rel_error:.2e}" in lines[1]
    assert f"{sum(b.entries_total for b in good.blocks)}/" in lines[0]
    html = summary._repr_html_()
    assert html.count("<tr>") == 3 and "Tanh, doubled" in html and "FAIL" in html
    assert summarize({"Linear": good}).passed
    net = Sequential(reference.Linear(3, 2, rng=rng), reference.Linear(2, 2, rng=rng))
    assert "input + 4 parameters" in str(summarize({"net": gradcheck(net, rng.standard_normal((2, 3)))}))


def test_summarize_rejects_what_is_not_a_report():
    from dlcore.gradcheck import summarize

    with pytest.raises(ValueError):
        summarize({})
    with pytest.raises(TypeError, match="gradcheck"):
        summarize({"Linear": True})
