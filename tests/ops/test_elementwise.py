"""Elementwise ops: forward and gradients against PyTorch, float64 gradcheck and gradgradcheck."""

import numpy as np
import pytest
import torch
from helpers import away_from_zero, check_grads, check_torch, noncontiguous, rng

import chainrule as cr

BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "maximum": (cr.maximum, torch.maximum),
    "minimum": (cr.minimum, torch.minimum),
    "pow": (lambda a, b: a.abs() ** b, lambda a, b: a.abs() ** b),
}
# (shape of a, shape of b): equal, broadcasting both ways, scalar-like, and rank-changing
SHAPES = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((4, 1), (1, 5)), ((1,), (2, 3)), ((), (3,)), ((5, 1, 3), (4, 1))]


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("shapes", SHAPES)
def test_binary_matches_torch(name, shapes):
    fn, tfn = BINARY[name]
    r = rng(1)
    a = away_from_zero(shapes[0], seed=2).astype(np.float32) + 0.0
    b = (away_from_zero(shapes[1], seed=3) + r.choice([-0.03, 0.03], shapes[1])).astype(np.float32)
    check_torch(fn, tfn, [a, b])


@pytest.mark.parametrize("name", BINARY)
def test_binary_non_contiguous(name):
    fn, tfn = BINARY[name]
    a = noncontiguous(away_from_zero((3, 4), seed=4).astype(np.float32))
    b = noncontiguous(away_from_zero((3, 4), seed=5).astype(np.float32).T.copy().T)
    check_torch(fn, tfn, [a, b])


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((2, 3), (3,)), ((3, 1), (1, 2))])
def test_binary_gradcheck(name, shapes):
    fn, _ = BINARY[name]
    a = away_from_zero(shapes[0], seed=6)
    b = away_from_zero(shapes[1], seed=7) * 1.3  # no ties between a and b
    check_grads(fn, [a, b])


UNARY = {
    "neg": (lambda x: -x, lambda x: -x, None),
    "exp": (cr.exp, torch.exp, None),
    "log": (lambda x: cr.log(x.abs()), lambda x: torch.log(x.abs()), None),
    "sqrt": (lambda x: cr.sqrt(x.abs()), lambda x: torch.sqrt(x.abs()), None),
    "abs": (cr.abs, torch.abs, None),
    "sin": (cr.sin, torch.sin, None),
    "cos": (cr.cos, torch.cos, None),
    "pow_scalar": (lambda x: x**3, lambda x: x**3, None),
    "pow_fraction": (lambda x: x.abs() ** 0.5, lambda x: x.abs() ** 0.5, None),
    "rpow": (lambda x: 2.0**x, lambda x: 2.0**x, None),
    "scalar_ops": (lambda x: (3 - x) * 0.5 / 2 + 1, lambda x: (3 - x) * 0.5 / 2 + 1, None),
    "rdiv": (lambda x: 1.5 / x, lambda x: 1.5 / x, None),
    "clip": (lambda x: cr.clip(x, -0.5, 0.4), lambda x: torch.clamp(x, -0.5, 0.4), None),
    "clip_min": (lambda x: x.clamp(min=-0.2), lambda x: x.clamp(min=-0.2), None),
}


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4)])
def test_unary_matches_torch(name, shape):
    fn, tfn, _ = UNARY[name]
    check_torch(fn, tfn, [away_from_zero(shape, seed=8).astype(np.float32)])


@pytest.mark.parametrize("name", UNARY)
def test_unary_non_contiguous(name):
    fn, tfn, _ = UNARY[name]
    check_torch(fn, tfn, [noncontiguous(away_from_zero((4, 3), seed=9).astype(np.float32))])


@pytest.mark.parametrize("name", UNARY)
def test_unary_gradcheck(name):
    fn, _, _ = UNARY[name]
    x = away_from_zero((3, 4), seed=10)
    if name == "clip":  # stay away from the clip bounds too
        x = np.where(np.abs(np.abs(x) - 0.45) < 0.06, x * 0.5, x)
    check_grads(fn, [x])


def test_where_matches_torch_and_gradcheck():
    r = rng(11)
    cond = r.random((3, 4)) > 0.5
    a = r.standard_normal((3, 4)).astype(np.float32)
    b = r.standard_normal((4,)).astype(np.float32)
    check_torch(lambda a, b: cr.where(cond, a, b), lambda a, b: torch.where(torch.tensor(cond), a, b), [a, b])
    check_grads(lambda a, b: cr.where(cond, a, b), [a.astype(np.float64), b.astype(np.float64)])


def test_where_condition_broadcasts_beyond_inputs():
    cond = np.array([[True], [False]])
    a = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = cr.where(cond, a, 0.0)
    assert y.shape == (2, 3)
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 1.0, 1.0])


def test_maximum_tie_splits_gradient_like_torch():
    a = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    b = np.array([1.0, 5.0, 0.0], dtype=np.float32)
    check_torch(cr.maximum, torch.maximum, [a, b])
    check_torch(cr.minimum, torch.minimum, [a, b])


def test_pow_tensor_exponent_at_zero_base_matches_torch():
    a = np.array([0.0, 2.0, 0.5], dtype=np.float32)
    b = np.array([2.0, 1.5, 3.0], dtype=np.float32)
    check_torch(lambda a, b: a**b, lambda a, b: a**b, [a, b])


def test_scalars_do_not_upcast_float32():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    for y in (x * 0.5, x + np.float64(2.0), 2.0**x, x / 3, x**2.0, cr.maximum(x, 0.5), cr.where(x.numpy() > 1, x, 0.0)):
        assert y.dtype == np.float32
    (x * np.float64(3.0)).sum().backward()
    assert x.grad.dtype == np.float32


def test_mixing_float32_and_float64_tensors_raises():
    x = cr.tensor([1.0, 2.0])
    y = cr.tensor(np.array([1.0, 2.0]))
    with pytest.raises(cr.DTypeError, match=r"mul: cannot mix floating dtypes float32, float64.*x.double\(\)"):
        x * y


def test_int_tensor_meets_float_tensor_in_float_dtype():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    mask = cr.tensor([1, 0])
    y = x * mask
    assert y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0])


def test_broadcast_error_names_op_shapes_and_rule():
    pattern = r"add: shapes \(2, 3\) and \(4,\) do not broadcast: at dim -1 the sizes are 3 vs 4"
    with pytest.raises(cr.ShapeError, match=pattern):
        cr.ones(2, 3) + cr.ones(4)


def test_comparisons_give_boolean_tensors_outside_the_graph():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = x > 1.5
    assert m.dtype == np.bool_ and not m.requires_grad
    np.testing.assert_array_equal(m.numpy(), [False, True, True])
    np.testing.assert_array_equal((x == 2.0).numpy(), [False, True, False])
