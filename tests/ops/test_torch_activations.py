"""relu6, hardtanh, hardswish, hardsigmoid, threshold, prelu, selu, silu, mish, logsigmoid, softmin and glu:
forward and gradients against PyTorch (float32 and float64, several shapes, the kinks themselves), float64
gradcheck and gradgradcheck, second derivatives against PyTorch, and the one-line refusals."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF  # noqa: N812 - the usual alias
from helpers import check_grads, check_torch, noncontiguous, rng

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - the usual alias
from chainrule.errors import ChainruleError

W3 = np.array([0.25, -0.5, 1.5])  # prelu's per-channel slopes

ACTIVATIONS = {
    "relu6": (F.relu6, TF.relu6),
    "hardtanh": (F.hardtanh, TF.hardtanh),
    "hardtanh_bounds": (lambda x: F.hardtanh(x, -2.0, 0.5), lambda x: TF.hardtanh(x, -2.0, 0.5)),
    "hardswish": (F.hardswish, TF.hardswish),
    "hardsigmoid": (F.hardsigmoid, TF.hardsigmoid),
    "threshold": (lambda x: F.threshold(x, 0.5, -2.0), lambda x: TF.threshold(x, 0.5, -2.0)),
    "prelu": (lambda x: F.prelu(x, cr.tensor(np.array([0.3], dtype=x.dtype))),
              lambda x: TF.prelu(x, torch.tensor(np.array([0.3], dtype=x.numpy(force=True).dtype)))),
    "selu": (F.selu, TF.selu),
    "silu": (F.silu, TF.silu),
    "mish": (F.mish, TF.mish),
    "logsigmoid": (F.logsigmoid, TF.logsigmoid),
    "softmin": (lambda x: F.softmin(x, -1), lambda x: TF.softmin(x, -1)),
    "softmin_dtype": (lambda x: F.softmin(x, 0, dtype=cr.float64), lambda x: TF.softmin(x, 0, dtype=torch.float64)),
    "glu": (F.glu, TF.glu),
    "glu_dim0": (lambda x: F.glu(x, 0), lambda x: TF.glu(x, 0)),
}
SMOOTH = {"selu", "silu", "mish", "logsigmoid", "softmin", "softmin_dtype", "glu", "glu_dim0"}
KINKS = np.array([-6.0, -3.0, -2.0, -1.0, 0.0, 0.5, 1.0, 3.0, 6.0])  # every op's kink is one of these


def inputs(shape, seed, scale=4.0):
    """Random values kept 0.02 away from every kink (finite differences straddle none)."""
    x = rng(seed).uniform(-1, 1, shape) * scale
    near = np.abs(x[..., None] - KINKS).min(-1) < 0.02
    return np.where(near, x + 0.05, x)


def shapes_for(name):
    if name.startswith("glu"):
        return [(4,), (2, 6), (4, 3, 2)] if name == "glu_dim0" else [(4,), (2, 6), (3, 2, 4)]
    return [(), (7,), (2, 3, 4)]


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch(name, dtype):
    fn, tfn = ACTIVATIONS[name]
    for i, shape in enumerate(shapes_for(name)):
        check_torch(fn, tfn, [inputs(shape, seed=i).astype(dtype)])


@pytest.mark.parametrize("name", sorted(set(ACTIVATIONS) - SMOOTH - {"prelu"}) + ["prelu"])
def test_derivative_at_the_kinks_is_torchs(name):
    """At exactly a kink each op takes PyTorch's one-sided choice (hardtanh: 0 at the bounds, hardswish:
    x/3 + ½ at ±3, threshold: 0 at the threshold, prelu: the slope at 0)."""
    fn, tfn = ACTIVATIONS[name]
    check_torch(fn, tfn, [KINKS.astype(np.float32)])
    check_torch(fn, tfn, [KINKS.astype(np.float64)])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_gradcheck(name):
    fn, _ = ACTIVATIONS[name]
    check_grads(fn, [inputs(shapes_for(name)[1], seed=3)])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_second_derivative_matches_torch(name):
    fn, tfn = ACTIVATIONS[name]
    shape = shapes_for(name)[1]
    x, v = inputs(shape, seed=4), rng(5).standard_normal(shape)
    xt = cr.Tensor(x, requires_grad=True)
    (g,) = cr.grad(fn(xt).sum(), xt, create_graph=True)
    tt = torch.tensor(x, requires_grad=True)
    (gt,) = torch.autograd.grad(tfn(tt).sum(), tt, create_graph=True)
    np.testing.assert_allclose(g.numpy(), gt.detach().numpy(), rtol=1e-10, atol=1e-12)
    try:
        (ht,) = torch.autograd.grad((gt * torch.tensor(v)).sum(), tt, allow_unused=True, materialize_grads=True)
    except RuntimeError:  # torch has no double backward for hardsigmoid; piecewise linear, it is 0
        ht = torch.zeros_like(tt)
    if not g.requires_grad:  # piecewise linear: the gradient is a constant of x, its derivative 0
        assert not np.any(ht.numpy())
        return
    (h,) = cr.grad((g * cr.Tensor(v)).sum(), xt)
    np.testing.assert_allclose(h.numpy(), ht.numpy(), rtol=1e-8, atol=1e-10)


def test_large_inputs_do_not_overflow():
    x = np.array([-1e4, -300.0, -40.0, -8.0, 8.0, 40.0, 300.0, 1e4], dtype=np.float32)
    for name in ("selu", "silu", "mish", "logsigmoid", "hardswish", "hardsigmoid"):
        fn, tfn = ACTIVATIONS[name]
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            check_torch(fn, tfn, [x])


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4), (2, 3, 2, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prelu_per_channel_matches_torch(shape, dtype):
    x = inputs(shape, seed=6).astype(dtype)
    check_torch(F.prelu, TF.prelu, [x, W3.astype(dtype)])
    check_grads(F.prelu, [x, W3])


def test_prelu_shared_weight_on_a_0d_and_1d_input():
    for shape in [(), (5,)]:
        x = inputs(shape, seed=7)
        check_torch(F.prelu, TF.prelu, [x, np.array([0.2])])


def test_non_contiguous_and_float32_kept():
    x = noncontiguous(inputs((4, 6), seed=8).astype(np.float32))
    for name, (fn, tfn) in ACTIVATIONS.items():
        if name == "softmin_dtype":
            continue
        check_torch(fn, tfn, [x])
        assert fn(cr.Tensor(x)).dtype == np.float32


def test_inplace_writes_into_the_input_when_no_gradient_is_recorded():
    for fn, tfn in [(F.relu6, TF.relu6), (F.hardswish, TF.hardswish), (F.selu, TF.selu), (F.silu, TF.silu),
                    (F.mish, TF.mish), (F.hardsigmoid, TF.hardsigmoid)]:
        x = inputs((6,), seed=9).astype(np.float32)
        t = cr.Tensor(x.copy())
        out = fn(t, inplace=True)
        assert out is t
        np.testing.assert_allclose(t.numpy(), tfn(torch.tensor(x)).numpy(), rtol=1e-6, atol=1e-6)
    t = cr.Tensor(np.array([0.2, 0.9], dtype=np.float32))
    assert F.hardtanh(t, inplace=True) is t and F.threshold(t, 0.5, 0.0, inplace=True) is t
    np.testing.assert_array_equal(t.numpy(), np.array([0.0, 0.9], dtype=np.float32))


def test_softmin_without_dim_warns_and_picks_torchs_dim():
    x = inputs((2, 3), seed=10)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
        y = F.softmin(cr.Tensor(x))
    np.testing.assert_allclose(y.numpy(), TF.softmin(torch.tensor(x), dim=1).numpy(), rtol=1e-12)


def one_line(error, *fragments):
    text = str(error.value)
    assert isinstance(error.value, ChainruleError) and "\n" not in text
    for fragment in fragments:
        assert fragment in text, (fragment, text)


def test_bad_arguments_are_refused_in_one_line():
    x = cr.randn(2, 4)
    with pytest.raises(ValueError) as e:
        F.glu(cr.randn(2, 3))
    one_line(e, "glu", "Halving dimension must be even", "dimension 1 is size 3")
    with pytest.raises(ValueError) as e:
        F.glu(cr.tensor(1.0))
    one_line(e, "glu", "scalars")
    with pytest.raises(IndexError) as e:
        F.glu(x, 2)
    one_line(e, "glu", "dim 2 is out of range")
    with pytest.raises(ValueError) as e:
        F.hardtanh(x, 1.0, -1.0)
    one_line(e, "hardtanh", "'min_val' (1) must not exceed 'max_val' (-1)")
    with pytest.raises(ValueError) as e:
        F.prelu(x, cr.ones(3))
    one_line(e, "prelu", "weight has 3 elements", "4 channels", "PReLU(num_parameters=")
    with pytest.raises(TypeError) as e:
        F.prelu(x, cr.ones(4, dtype=cr.float64))
    one_line(e, "prelu", "'weight' has dtype float64 but input has dtype float32")
    for fn in (F.relu6, F.selu, F.silu, F.mish, F.hardswish, F.hardsigmoid, F.logsigmoid):
        with pytest.raises(TypeError) as e:
            fn(cr.tensor([1, 2]))
        one_line(e, "expected a floating-point tensor, got dtype int64")
    with pytest.raises(TypeError) as e:
        F.threshold(x, "a", 0.0)
    one_line(e, "threshold", "'threshold' must be a number")


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_empty_input_matches_torch(name):
    fn, tfn = ACTIVATIONS[name]
    check_torch(fn, tfn, [np.zeros((0, 4, 2), dtype=np.float32)])
