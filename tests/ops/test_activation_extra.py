"""elu, gelu (exact and tanh) and softplus: forward, first and second derivatives against PyTorch, float64
gradcheck and gradgradcheck, and the NumPy erf used when SciPy is absent."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF  # noqa: N812 - the usual alias
from helpers import away_from_zero, check_grads, check_torch, noncontiguous, rng

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - the usual alias
from chainrule.ops import activation

ACTIVATIONS = {
    "elu": (F.elu, TF.elu),
    "elu_alpha": (lambda x: F.elu(x, alpha=0.4), lambda x: TF.elu(x, alpha=0.4)),
    "gelu": (F.gelu, TF.gelu),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    "softplus": (F.softplus, TF.softplus),
    "softplus_beta": (lambda x: F.softplus(x, beta=2.5, threshold=4.0),
                      lambda x: TF.softplus(x, beta=2.5, threshold=4.0)),
}


def inputs(shape, seed, scale=3.0):
    """Values away from 0 (elu's kink) and from βx = threshold (softplus's switch)."""
    x = away_from_zero(shape, seed=seed, low=0.05, high=1.0) * scale
    return np.where(np.abs(np.abs(x) * 2.5 - 4.0) < 0.05, x * 0.9, x)


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("shape", [(), (7,), (2, 3, 4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_matches_torch(name, shape, dtype):
    fn, tfn = ACTIVATIONS[name]
    check_torch(fn, tfn, [inputs(shape, seed=1).astype(dtype)])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_large_inputs_match_torch_without_overflow(name):
    fn, tfn = ACTIVATIONS[name]
    x = np.array([-1e4, -300.0, -40.0, -8.0, 8.0, 40.0, 300.0, 1e4], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        check_torch(fn, tfn, [x])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_non_contiguous(name):
    fn, tfn = ACTIVATIONS[name]
    check_torch(fn, tfn, [noncontiguous(inputs((4, 3), seed=2).astype(np.float32))])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_gradcheck(name):
    fn, _ = ACTIVATIONS[name]
    check_grads(fn, [inputs((3, 4), seed=3)])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_second_derivative_matches_torch(name):
    fn, tfn = ACTIVATIONS[name]
    x = inputs((10,), seed=4)
    v = rng(5).standard_normal(10)
    xt = cr.Tensor(x, requires_grad=True)
    (g,) = cr.grad(fn(xt).sum(), xt, create_graph=True)
    (h,) = cr.grad((g * cr.Tensor(v)).sum(), xt)
    tt = torch.tensor(x, requires_grad=True)
    (gt,) = torch.autograd.grad(tfn(tt).sum(), tt, create_graph=True)
    (ht,) = torch.autograd.grad((gt * torch.tensor(v)).sum(), tt)
    np.testing.assert_allclose(g.numpy(), gt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h.numpy(), ht.numpy(), rtol=1e-8, atol=1e-10)


def test_elu_derivative_at_zero_is_alpha_like_torch():
    check_torch(lambda x: F.elu(x, 0.3), lambda x: TF.elu(x, 0.3), [np.zeros(3, dtype=np.float32)])


def test_softplus_threshold_switches_to_identity_like_torch():
    x = np.array([3.9, 4.0, 4.1, 10.0], dtype=np.float32)
    y = F.softplus(cr.Tensor(x), beta=1.0, threshold=4.0)
    assert y.numpy()[2] == x[2] and y.numpy()[3] == x[3]
    check_torch(lambda x: F.softplus(x, 1.0, 4.0), lambda x: TF.softplus(x, 1.0, 4.0), [x])


def test_activations_keep_float32():
    x = cr.Tensor(inputs((5,), seed=6).astype(np.float32), requires_grad=True)
    for fn, _ in ACTIVATIONS.values():
        x.grad = None
        y = fn(x)
        assert y.dtype == np.float32
        y.sum().backward()
        assert x.grad.dtype == np.float32


def test_activation_argument_errors():
    with pytest.raises(ValueError, match="gelu: argument 'approximate' must be 'none' or 'tanh', got 'erf'"):
        F.gelu(cr.ones(2), approximate="erf")
    with pytest.raises(ValueError, match="softplus: argument 'beta' must be positive, got 0"):
        F.softplus(cr.ones(2), beta=0)
    with pytest.raises(cr.DTypeError, match="elu: expected a floating-point tensor"):
        F.elu(cr.tensor([1, 2]))


def test_numpy_erf_fallback_is_accurate():
    x = np.concatenate([np.linspace(-7, 7, 20001), [0.0, -0.0, 2.5, np.nextafter(2.5, 0), 30.0, np.inf, -np.inf]])
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(activation._erf_numpy(x), expected, rtol=3e-15, atol=3e-16)
    assert np.isnan(activation._erf_numpy(np.array([np.nan]))[0])


def test_gelu_without_scipy_matches_torch(monkeypatch):
    monkeypatch.setattr(activation, "_scipy_erf", None)
    for dtype in (np.float32, np.float64):
        check_torch(F.gelu, TF.gelu, [inputs((3, 5), seed=7).astype(dtype)])
