"""gradcheck and gradgradcheck: they pass correct rules and catch wrong ones with a useful report."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.function import Function


class _OffByTwo(Function):
    """sin with a wrong backward: 2·cos x."""

    def forward(self, x):
        return np.sin(x)

    def backward(self, gy):
        return gy * cr.cos(self.inputs[0]) * 2


class _WrongSecondDerivative(Function):
    """x³ whose first derivative is right but written with a constant, so its second derivative is lost."""

    def forward(self, x):
        return x**3

    def backward(self, gy):
        return gy * cr.Tensor(3 * self.inputs[0].numpy() ** 2)


def _x(shape=(2, 3), seed=0):
    return cr.tensor(np.random.default_rng(seed).uniform(0.2, 1.0, shape), requires_grad=True)


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_gradcheck_passes_a_correct_rule(mode):
    assert cr.gradcheck(lambda x: cr.sin(x) * x, [_x()], mode=mode)


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_gradcheck_report_names_input_element_values_errors_tolerances(mode):
    x = _x()
    y = cr.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(cr.GradcheckError) as info:
        cr.gradcheck(lambda y, x: y * _OffByTwo()(x), [y, x], mode=mode)
    report = str(info.value)
    assert "input 1 (shape (2, 3))" in report
    assert "worst element (" in report
    assert "numeric" in report and "analytic" in report
    assert "abs error" in report and "rel error" in report
    assert "atol=1e-05" in report and "rtol=0.001" in report
    assert "of 6 compared values fail" in report or "of 36 compared values fail" in report


def test_gradcheck_worst_element_is_the_wrong_one():
    class WrongAtOne(Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            bump = np.zeros(gy.shape)
            bump[1, 2] = 0.5
            return gy * 2 + cr.Tensor(bump)

    pattern = r"worst element \(1, 2\).*\n.*\n.*\n.*\n  6 of 36 compared values fail"
    with pytest.raises(cr.GradcheckError, match=pattern):
        cr.gradcheck(lambda x: WrongAtOne()(x), [_x((2, 3))], mode="full")


def test_gradcheck_random_direction_handles_large_inputs():
    x = _x((64, 64))
    assert cr.gradcheck(lambda x: (cr.tanh(x) @ x).sum(), [x], mode="auto")
    with pytest.raises(cr.GradcheckError, match="input 0 .*shape \\(64, 64\\)"):
        cr.gradcheck(lambda x: _OffByTwo()(x), [x], mode="fast")


def test_gradcheck_requires_float64():
    with pytest.raises(cr.DTypeError, match="input 0 has dtype float32.*float64"):
        cr.gradcheck(cr.sin, [cr.ones(3, requires_grad=True)])


def test_gradcheck_returns_false_without_raising():
    assert cr.gradcheck(lambda x: _OffByTwo()(x), [_x()], raise_exception=False) is False


def test_gradcheck_flags_inputs_on_a_kink():
    x = cr.tensor(np.array([0.5, 0.0, -0.5]), requires_grad=True)
    with pytest.raises(cr.GradcheckError, match=r"worst element \(1,\)(.|\n)*one-sided differences disagree"):
        cr.gradcheck(cr.relu, [x], mode="full")


def test_gradgradcheck_passes_correct_second_derivatives():
    assert cr.gradgradcheck(lambda x: cr.tanh(x) * cr.exp(x), [_x()])


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable():
    x = _x()
    assert cr.gradcheck(lambda x: _WrongSecondDerivative()(x), [x])  # first order is right
    with pytest.raises(cr.GradcheckError):
        cr.gradgradcheck(lambda x: _WrongSecondDerivative()(x), [x])


def test_gradcheck_with_multiple_outputs_and_non_tensor_args():
    x = _x((4,))
    assert cr.gradcheck(lambda x, k: cr.split(x * k, 2), [x, 3.0])
