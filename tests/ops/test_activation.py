"""Activations: forward and gradients against PyTorch, extreme inputs, float64 gradcheck and gradgradcheck."""

import warnings

import numpy as np
import pytest
import torch
from helpers import away_from_zero, check_grads, check_torch, noncontiguous
from torch.nn.functional import leaky_relu as torch_leaky_relu

import chainrule as cr

ELEMENTWISE = {
    "tanh": (cr.tanh, torch.tanh),
    "tanh_method": (lambda x: x.tanh(), lambda t: t.tanh()),
    "sigmoid": (cr.sigmoid, torch.sigmoid),
    "sigmoid_method": (lambda x: x.sigmoid(), lambda t: t.sigmoid()),
    "relu": (cr.relu, torch.relu),
    "relu_method": (lambda x: x.relu(), lambda t: t.relu()),
    "leaky_relu": (cr.leaky_relu, torch_leaky_relu),
    "leaky_relu_0.2": (lambda x: cr.leaky_relu(x, 0.2), lambda t: torch_leaky_relu(t, 0.2)),
    "leaky_relu_slope_kw": (
        lambda x: cr.leaky_relu(x, negative_slope=1.5), lambda t: torch_leaky_relu(t, negative_slope=1.5),
    ),
    "leaky_relu_negative_slope": (lambda x: cr.leaky_relu(x, -0.3), lambda t: torch_leaky_relu(t, -0.3)),
}


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_activation_matches_torch(name, shape, dtype):
    fn, tfn = ELEMENTWISE[name]
    check_torch(fn, tfn, [(away_from_zero(shape, seed=1, high=3.0)).astype(dtype)])


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_activation_non_contiguous(name):
    fn, tfn = ELEMENTWISE[name]
    check_torch(fn, tfn, [noncontiguous(away_from_zero((4, 3), seed=2, high=3.0).astype(np.float32))])


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_activation_gradcheck(name):
    fn, _ = ELEMENTWISE[name]
    check_grads(fn, [away_from_zero((3, 4), seed=3, high=3.0)])  # away from relu's kink at 0


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "leaky_relu_0.2"])
def test_kink_at_zero_matches_torch(name):
    fn, tfn = ELEMENTWISE[name]
    check_torch(fn, tfn, [np.array([-1.0, -0.0, 0.0, 2.0], dtype=np.float32)])


def test_relu_and_leaky_relu_values():
    x = cr.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    np.testing.assert_array_equal(cr.relu(x).numpy(), [0.0, 0.0, 3.0])
    np.testing.assert_allclose(cr.leaky_relu(x, 0.1).numpy(), [-0.2, 0.0, 3.0], rtol=1e-6)
    cr.leaky_relu(x, 0.1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.1, 0.1, 1.0], rtol=1e-6)  # slope at 0, as PyTorch


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_inputs_saturate_without_overflow(name, dtype):
    fn, tfn = ELEMENTWISE[name]
    x = np.array([-1e4, -100.0, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0, 1e4], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings on the way
        check_torch(fn, tfn, [x])
        y = fn(cr.tensor(x)).numpy()
    assert np.all(np.isfinite(y))
    low, high = (0.0, 1.0) if name == "sigmoid" else (-1.0, 1.0)
    assert y[0] == low and y[-1] == high


def test_sigmoid_keeps_tiny_values_for_very_negative_inputs():
    y = cr.sigmoid(cr.tensor(np.array([-100.0, -700.0]))).numpy()
    np.testing.assert_allclose(y, np.exp([-100.0, -700.0]), rtol=1e-12)  # not rounded to 0 by 1 − σ(−x)


# ----- softmax and log_softmax -----------------------------------------------------------------------------

SOFTMAX = {
    "softmax": (cr.softmax, torch.softmax),
    "log_softmax": (cr.log_softmax, torch.log_softmax),
    "softmax_method": (lambda x, d: x.softmax(d), lambda t, d: t.softmax(d)),
    "log_softmax_method": (lambda x, d: x.log_softmax(d), lambda t, d: t.log_softmax(d)),
}
# (shape, dim): every dim of a 3-D tensor, negative dims, a vector, a 0-d tensor
SOFTMAX_DIMS = [((2, 3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), 2), ((2, 3, 4), -1), ((2, 3, 4), -3), ((5,), 0), ((), 0)]


@pytest.mark.parametrize("name", SOFTMAX)
@pytest.mark.parametrize("case", SOFTMAX_DIMS, ids=str)
def test_softmax_matches_torch(name, case):
    shape, dim = case
    fn, tfn = SOFTMAX[name]
    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32) * 3
    check_torch(lambda x: fn(x, dim), lambda t: tfn(t, dim), [x])


@pytest.mark.parametrize("name", SOFTMAX)
@pytest.mark.parametrize("dim", [0, -1])
def test_softmax_non_contiguous(name, dim):
    fn, tfn = SOFTMAX[name]
    x = noncontiguous(np.random.default_rng(5).standard_normal((3, 4)).astype(np.float32))
    check_torch(lambda x: fn(x, dim), lambda t: tfn(t, dim), [x])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("case", [((3, 4), -1), ((2, 3, 4), 1), ((2, 3, 4), 0)], ids=str)
def test_softmax_gradcheck(name, case):
    shape, dim = case
    fn, _ = SOFTMAX[name]
    check_grads(lambda x: fn(x, dim), [np.random.default_rng(6).standard_normal(shape)])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_huge_logits_are_stable(name, dim, dtype):
    fn, tfn = SOFTMAX[name]
    x = np.array([[1e4, -1e4, 0.0], [1e4, 1e4, -1e4], [-1e4, -1e4, -1e4], [5.0, -3.0, 1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_torch(lambda x: fn(x, dim), lambda t: tfn(t, dim), [x])
        y = fn(cr.tensor(x), dim).numpy()
    assert np.all(np.isfinite(y))


def test_softmax_values():
    x = cr.tensor([[1e4, 1e4, -1e4], [0.0, np.log(3.0), -1e4]])
    p = cr.softmax(x, -1).numpy()
    np.testing.assert_allclose(p, [[0.5, 0.5, 0.0], [0.25, 0.75, 0.0]], rtol=1e-6)
    expected = [[-np.log(2), -np.log(2), -2e4 - np.log(2)], [np.log(0.25), np.log(0.75), -1e4 - np.log(4)]]
    np.testing.assert_allclose(cr.log_softmax(x, -1).numpy(), expected, rtol=1e-6)
    q = cr.softmax(cr.tensor(np.random.default_rng(7).standard_normal((3, 4, 5))), 1).numpy()
    np.testing.assert_allclose(q.sum(axis=1), np.ones((3, 5)), rtol=1e-12)


# ----- errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [2, -3])
def test_softmax_bad_dim_names_the_op(op, dim):
    with pytest.raises(IndexError, match=rf"^{op}: dim {dim} is out of range for a tensor with 2 dimensions"):
        getattr(cr, op)(cr.ones(2, 3), dim)


@pytest.mark.parametrize("op", ["tanh", "sigmoid", "relu", "leaky_relu", "softmax", "log_softmax"])
def test_activations_refuse_integer_tensors(op):
    with pytest.raises(cr.DTypeError, match=rf"^{op}: expected a floating-point tensor, got dtype int64"):
        getattr(cr, op)(cr.tensor([1, 2, 3]))
