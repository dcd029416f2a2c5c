"""Losses: forward and gradients against torch.nn.functional, float64 gradcheck and gradgradcheck, the fused
cross-entropy gradient, stability for huge logits, and argument validation."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF  # noqa: N812 - the usual alias
from helpers import check_grads, check_torch, rng

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - the usual alias

REDUCTIONS = ["mean", "sum", "none"]
# (input shape, target shape) for class-index targets: (N, C), K-dim (N, C, d1) and (N, C, d1, d2)
CLASS_SHAPES = [((6, 5), (6,)), ((3, 4, 5), (3, 5)), ((2, 3, 2, 3), (2, 2, 3))]


def class_targets(shape, n_classes, seed=0, ignore_index=None):
    t = rng(seed).integers(0, n_classes, shape)
    if ignore_index is not None:
        t.flat[::3] = ignore_index
    return t


def logits(shape, seed=0, dtype=np.float32, scale=2.0):
    return (rng(seed).standard_normal(shape) * scale).astype(dtype)


def probabilities(shape, seed=0, dtype=np.float32):
    e = np.exp(rng(seed).standard_normal(shape) * 1.5)
    return (e / e.sum(axis=1, keepdims=True)).astype(dtype)


def torch_weight(w):
    return None if w is None else torch.tensor(w)


def cr_weight(w):
    return None if w is None else cr.Tensor(w)


# ----- cross_entropy ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", CLASS_SHAPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
@pytest.mark.parametrize("ignore", [False, True])
def test_cross_entropy_class_targets_match_torch(reduction, shapes, weighted, smoothing, ignore):
    x_shape, t_shape = shapes
    C = x_shape[1]
    x = logits(x_shape, seed=1)
    t = class_targets(t_shape, C, seed=2, ignore_index=-100 if ignore else None)
    w = rng(3).uniform(0.2, 2.0, C).astype(np.float32) if weighted else None
    check_torch(
        lambda x, t: F.cross_entropy(x, t, weight=cr_weight(w), reduction=reduction, label_smoothing=smoothing),
        lambda x, t: TF.cross_entropy(x, t, weight=torch_weight(w), reduction=reduction, label_smoothing=smoothing),
        [x, t],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("x_shape", [(6, 5), (3, 4, 5), (2, 3, 2, 3)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_probability_targets_match_torch(reduction, x_shape, weighted, smoothing):
    C = x_shape[1]
    w = rng(4).uniform(0.2, 2.0, C).astype(np.float32) if weighted else None
    check_torch(  # the target requires grad too: its gradient is −r·(1 − ε)·w·log p
        lambda x, t: F.cross_entropy(x, t, weight=cr_weight(w), reduction=reduction, label_smoothing=smoothing),
        lambda x, t: TF.cross_entropy(x, t, weight=torch_weight(w), reduction=reduction, label_smoothing=smoothing),
        [logits(x_shape, seed=5), probabilities(x_shape, seed=6)],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_float64_matches_torch(reduction):
    x = logits((4, 6), seed=7, dtype=np.float64)
    t = class_targets((4,), 6, seed=8)
    w = rng(9).uniform(0.5, 1.5, 6)
    check_torch(
        lambda x, t: F.cross_entropy(x, t, cr.Tensor(w), reduction=reduction, label_smoothing=0.1),
        lambda x, t: TF.cross_entropy(x, t, torch.tensor(w), reduction=reduction, label_smoothing=0.1),
        [x, t],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_unbatched_matches_torch(reduction):
    x = logits((5,), seed=10)
    check_torch(lambda x, t: F.cross_entropy(x, t, reduction=reduction),
                lambda x, t: TF.cross_entropy(x, t, reduction=reduction), [x, np.array(3)])
    p = probabilities((1, 5), seed=11)[0]
    check_torch(lambda x, t: F.cross_entropy(x, t, reduction=reduction, label_smoothing=0.1),
                lambda x, t: TF.cross_entropy(x, t, reduction=reduction, label_smoothing=0.1), [x, p])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_custom_ignore_index_matches_torch(reduction):
    x = logits((8, 4), seed=12)
    t = np.array([0, 1, 2, 3, 2, 2, 1, 0])
    w = np.array([1.0, 2.0, 0.5, 3.0], dtype=np.float32)
    check_torch(
        lambda x, t: F.cross_entropy(x, t, cr.Tensor(w), ignore_index=2, reduction=reduction, label_smoothing=0.3),
        lambda x, t: TF.cross_entropy(x, t, torch.tensor(w), ignore_index=2, reduction=reduction, label_smoothing=0.3),
        [x, t],
    )


def test_cross_entropy_all_targets_ignored_matches_torch():
    x = logits((3, 4), seed=13)
    t = np.full(3, -100)
    mean = F.cross_entropy(cr.Tensor(x), cr.Tensor(t))
    assert np.isnan(mean.item()) and np.isnan(TF.cross_entropy(torch.tensor(x), torch.tensor(t)).item())
    check_torch(lambda x, t: F.cross_entropy(x, t, reduction="sum"),
                lambda x, t: TF.cross_entropy(x, t, reduction="sum"), [x, t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_class_targets_gradcheck(reduction, weighted, smoothing):
    w = rng(14).uniform(0.5, 2.0, 4) if weighted else None
    t = np.array([[0, 3, -100], [2, 1, 1]])

    def fn(x):
        return F.cross_entropy(x, t, cr_weight(w), reduction=reduction, label_smoothing=smoothing)

    check_grads(fn, [logits((2, 4, 3), seed=15, dtype=np.float64)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_probability_targets_gradcheck(reduction, smoothing):
    w = rng(16).uniform(0.5, 2.0, 3)

    def fn(x, t):
        return F.cross_entropy(x, t, cr.Tensor(w), reduction=reduction, label_smoothing=smoothing)

    check_grads(fn, [logits((4, 3), seed=17, dtype=np.float64), probabilities((4, 3), seed=18, dtype=np.float64)])


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    x = logits((5, 7), seed=19, dtype=np.float64)
    t = class_targets((5,), 7, seed=20)
    xt = cr.Tensor(x, requires_grad=True)
    F.cross_entropy(xt, t).backward()
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    expected = (p - np.eye(7)[t]) / 5
    np.testing.assert_allclose(xt.grad.numpy(), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_fused_cross_entropy_equals_composed_softmax_log_nll(weighted, reduction):
    x = logits((3, 5, 4), seed=21, dtype=np.float64)
    t = class_targets((3, 4), 5, seed=22, ignore_index=-100)
    w = rng(23).uniform(0.5, 2.0, 5) if weighted else None
    g = rng(24).standard_normal(() if reduction != "none" else (3, 4))
    grads = []
    for composed in (False, True):
        xt = cr.Tensor(x, requires_grad=True)
        if composed:
            y = F.nll_loss(cr.log(F.softmax(xt, dim=1)), t, cr_weight(w), reduction=reduction)
        else:
            y = F.cross_entropy(xt, t, cr_weight(w), reduction=reduction)
        y.backward(cr.Tensor(g))
        grads.append((y.numpy(), xt.grad.numpy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-12)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-10, atol=1e-14)


def test_fused_cross_entropy_second_derivative_equals_composed():
    x = logits((3, 4), seed=25, dtype=np.float64)
    t = np.array([1, 0, 3])
    v = cr.Tensor(rng(26).standard_normal((3, 4)))
    hvps = []
    for composed in (False, True):
        xt = cr.Tensor(x, requires_grad=True)
        y = F.nll_loss(F.log_softmax(xt, 1), t) if composed else F.cross_entropy(xt, t)
        (g,) = cr.grad(y, xt, create_graph=True)
        (h,) = cr.grad((g * v).sum(), xt)
        hvps.append(h.numpy())
    np.testing.assert_allclose(hvps[0], hvps[1], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_is_stable_for_logits_of_1e4(dtype, smoothing):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [-1e4, -1e4, -1e4], [0.0, 1e4, -1e4]], dtype=dtype)
    t = np.array([0, 1, 2, 0])
    xt = cr.Tensor(x, requires_grad=True)
    y = F.cross_entropy(xt, t, label_smoothing=smoothing)
    y.backward()
    assert np.isfinite(y.item()) and np.all(np.isfinite(xt.grad.numpy()))
    check_torch(lambda x, t: F.cross_entropy(x, t, reduction="none", label_smoothing=smoothing),
                lambda x, t: TF.cross_entropy(x, t, reduction="none", label_smoothing=smoothing), [x, t])
    p = np.zeros((4, 3), dtype=dtype)
    p[np.arange(4), t] = 1
    check_torch(lambda x, p: F.cross_entropy(x, p), lambda x, p: TF.cross_entropy(x, p), [x, p])


def test_cross_entropy_masked_logits_minus_inf_stay_finite_like_torch():
    x = np.array([[2.0, -np.inf, 0.5], [-np.inf, 1.0, 3.0]], dtype=np.float32)
    t = np.array([0, 2])
    check_torch(F.cross_entropy, TF.cross_entropy, [x, t])


def test_cross_entropy_out_of_range_target_names_value_and_position():
    x = cr.zeros(5, 10)
    with pytest.raises(ValueError, match=r"^cross_entropy: target\[3\] = 12 is outside \[0, 10\)"):
        F.cross_entropy(x, np.array([0, 1, 2, 12, 4]))
    with pytest.raises(ValueError, match=r"cross_entropy: target\[1, 2\] = -1 is outside \[0, 10\)"):
        F.cross_entropy(cr.zeros(2, 10, 3), np.array([[0, 1, 2], [3, 4, -1]]))
    with pytest.raises(ValueError, match=r"nll_loss: target\[0\] = 10 is outside \[0, 10\)"):
        F.nll_loss(x, np.array([10, 1, 2, 3, 4]))
    F.cross_entropy(x, np.array([0, 1, -100, 3, 4]))  # ignore_index is allowed


def test_cross_entropy_argument_errors():
    x = cr.zeros(4, 3)
    t = np.array([0, 1, 2, 0])
    with pytest.raises(ValueError, match="cross_entropy: argument 'reduction' must be one of"):
        F.cross_entropy(x, t, reduction="avg")
    with pytest.raises(cr.ShapeError, match=r"cross_entropy: argument 'weight' must have shape \(3,\)"):
        F.cross_entropy(x, t, weight=cr.ones(4))
    with pytest.raises(cr.ShapeError, match=r"class-index target must have shape \(4,\).*got \(4, 1\)"):
        F.cross_entropy(x, t[:, None])
    with pytest.raises(cr.ShapeError, match=r"class probabilities and must have the input's shape \(4, 3\)"):
        F.cross_entropy(x, cr.zeros(4))
    with pytest.raises(cr.DTypeError, match="cross_entropy: argument 'target' has dtype float64 but input"):
        F.cross_entropy(x, np.zeros((4, 3)))
    with pytest.raises(cr.DTypeError, match="cross_entropy: argument 'input' must be a floating-point tensor"):
        F.cross_entropy(cr.tensor(t), t)
    with pytest.raises(ValueError, match="label_smoothing' must lie in"):
        F.cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match="ignore_index .* not supported for class-probability targets"):
        F.cross_entropy(x, cr.zeros(4, 3), ignore_index=1)


def test_cross_entropy_keeps_float32():
    x = cr.Tensor(logits((4, 3)), requires_grad=True)
    p = cr.Tensor(probabilities((4, 3)), requires_grad=True)
    for y in (F.cross_entropy(x, np.array([0, 1, 2, 1]), cr.ones(3), label_smoothing=0.1), F.cross_entropy(x, p)):
        assert y.dtype == np.float32
        x.grad = p.grad = None
        y.backward()
        assert x.grad.dtype == np.float32


# ----- nll_loss --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", CLASS_SHAPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(reduction, shapes, weighted):
    x_shape, t_shape = shapes
    C = x_shape[1]
    x = np.log(probabilities(x_shape, seed=30))
    t = class_targets(t_shape, C, seed=31, ignore_index=-100)
    w = rng(32).uniform(0.2, 2.0, C).astype(np.float32) if weighted else None
    check_torch(lambda x, t: F.nll_loss(x, t, cr_weight(w), reduction=reduction),
                lambda x, t: TF.nll_loss(x, t, torch_weight(w), reduction=reduction), [x, t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_gradcheck(reduction):
    w = rng(33).uniform(0.5, 2.0, 4)
    t = np.array([[0, 3, -100], [2, 1, 1]])
    check_grads(lambda x: F.nll_loss(x, t, cr.Tensor(w), reduction=reduction), [logits((2, 4, 3), seed=34)])


# ----- binary_cross_entropy ----------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_shape", [None, (3, 4), (4,)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_matches_torch(reduction, weight_shape, dtype):
    r = rng(40)
    x = r.uniform(0.02, 0.98, (3, 4)).astype(dtype)
    t = r.uniform(0, 1, (3, 4)).astype(dtype)
    t[0] = [0, 1, 0, 1]  # hard labels too
    w = None if weight_shape is None else r.uniform(0.5, 2.0, weight_shape).astype(dtype)
    check_torch(lambda x, t: F.binary_cross_entropy(x, t, None if w is None else cr.Tensor(w), reduction=reduction),
                lambda x, t: TF.binary_cross_entropy(x, t, None if w is None else torch.tensor(w), reduction=reduction),
                [x, t])


def test_binary_cross_entropy_clamps_log_at_minus_100_like_torch():
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.5], dtype=np.float32)
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.3], dtype=np.float32)
    y = F.binary_cross_entropy(cr.Tensor(x), cr.Tensor(t), reduction="none")
    np.testing.assert_allclose(y.numpy(), TF.binary_cross_entropy(torch.tensor(x), torch.tensor(t),
                                                                   reduction="none").numpy(), rtol=1e-6)
    assert y.numpy()[0] == 100 and y.numpy()[1] == 100
    xs = np.array([1e-7, 1 - 1e-7, 0.3], dtype=np.float64)  # near the ends the gradient is (x − t)/(x(1 − x))
    check_torch(lambda x, t: F.binary_cross_entropy(x, t, reduction="sum"),
                lambda x, t: TF.binary_cross_entropy(x, t, reduction="sum"), [xs, np.array([1.0, 0.0, 0.5])], rtol=1e-9)


def test_binary_cross_entropy_refuses_values_outside_0_1():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input\[2\] = 1.5 is outside \[0, 1\]"):
        F.binary_cross_entropy(cr.tensor([0.1, 0.2, 1.5]), cr.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: target\[0\] = -0.5 is outside \[0, 1\]"):
        F.binary_cross_entropy(cr.tensor([0.1, 0.2, 0.5]), cr.tensor([-0.5, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"input\[0\] = nan"):
        F.binary_cross_entropy(cr.tensor([float("nan")]), cr.tensor([1.0]))
    with pytest.raises(cr.ShapeError, match=r"binary_cross_entropy: target must have the input's shape \(3,\)"):
        F.binary_cross_entropy(cr.tensor([0.1, 0.2, 0.5]), cr.tensor([[0.0, 1.0, 1.0]]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_gradcheck(reduction):
    r = rng(41)
    w = cr.Tensor(r.uniform(0.5, 2.0, (3,)))
    check_grads(lambda x, t: F.binary_cross_entropy(x, t, w, reduction=reduction),
                [r.uniform(0.1, 0.9, (2, 3)), r.uniform(0, 1, (2, 3))])


# ----- binary_cross_entropy_with_logits ------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_matches_torch(reduction, weighted, pos_weighted, dtype):
    r = rng(42)
    z = (r.standard_normal((5, 3)) * 4).astype(dtype)
    t = r.uniform(0, 1, (5, 3)).astype(dtype)
    w = r.uniform(0.5, 2.0, (5, 1)).astype(dtype) if weighted else None
    pw = r.uniform(0.5, 3.0, (3,)).astype(dtype) if pos_weighted else None

    def wrap(lib, a):
        return None if a is None else lib(a)

    check_torch(
        lambda z, t: F.binary_cross_entropy_with_logits(z, t, wrap(cr.Tensor, w), reduction, wrap(cr.Tensor, pw)),
        lambda z, t: TF.binary_cross_entropy_with_logits(z, t, wrap(torch.tensor, w), reduction=reduction,
                                                         pos_weight=wrap(torch.tensor, pw)),
        [z, t],
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_is_stable_for_logits_of_1e4(dtype):
    z = np.array([1e4, -1e4, 1e4, -1e4, 0.0], dtype=dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.5], dtype=dtype)
    zt = cr.Tensor(z, requires_grad=True)
    y = F.binary_cross_entropy_with_logits(zt, cr.Tensor(t), reduction="none")
    y.sum().backward()
    np.testing.assert_array_equal(y.numpy(), [0.0, 0.0, 1e4, 1e4, math.log(2)] if dtype == np.float64 else
                                  np.array([0.0, 0.0, 1e4, 1e4, math.log(2)], dtype=dtype))
    np.testing.assert_array_equal(zt.grad.numpy(), np.array([0.0, 0.0, 1.0, -1.0, 0.0], dtype=dtype))
    check_torch(lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction="none", pos_weight=cr.full((5,), 2.0,
                                                                                                           dtype=dtype)),
                lambda z, t: TF.binary_cross_entropy_with_logits(z, t, reduction="none",
                                                                 pos_weight=torch.full((5,), 2.0, dtype=z.dtype)),
                [z, t])


def test_bce_with_logits_gradient_is_sigmoid_minus_target():
    z = rng(43).standard_normal((4, 3)) * 3
    t = rng(44).uniform(0, 1, (4, 3))
    zt = cr.Tensor(z, requires_grad=True)
    F.binary_cross_entropy_with_logits(zt, cr.Tensor(t), reduction="sum").backward()
    np.testing.assert_allclose(zt.grad.numpy(), 1 / (1 + np.exp(-z)) - t, rtol=1e-12, atol=1e-15)


def test_bce_with_logits_equals_sigmoid_then_bce():
    z = rng(45).standard_normal((4, 3))
    t = rng(46).uniform(0, 1, (4, 3))
    a = cr.Tensor(z, requires_grad=True)
    b = cr.Tensor(z, requires_grad=True)
    ya = F.binary_cross_entropy_with_logits(a, cr.Tensor(t))
    yb = F.binary_cross_entropy(cr.sigmoid(b), cr.Tensor(t))
    ya.backward()
    yb.backward()
    np.testing.assert_allclose(ya.item(), yb.item(), rtol=1e-12)
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_gradcheck(reduction):
    r = rng(47)
    arrays = [r.standard_normal((3, 4)) * 2, r.uniform(0, 1, (3, 4)), r.uniform(0.5, 2, (3, 1)),
              r.uniform(0.5, 3, (4,))]
    check_grads(lambda z, t, w, pw: F.binary_cross_entropy_with_logits(z, t, w, reduction, pos_weight=pw), arrays)
    check_grads(lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction=reduction), arrays[:2])


# ----- regression losses -------------------------------------------------------------------------------------

REGRESSION = {
    "mse": (F.mse_loss, TF.mse_loss),
    "l1": (F.l1_loss, TF.l1_loss),
    "smooth_l1": (F.smooth_l1_loss, TF.smooth_l1_loss),
    "smooth_l1_beta_0.4": (lambda x, t, reduction: F.smooth_l1_loss(x, t, reduction, beta=0.4),
                           lambda x, t, reduction: TF.smooth_l1_loss(x, t, reduction=reduction, beta=0.4)),
    "smooth_l1_beta_0": (lambda x, t, reduction: F.smooth_l1_loss(x, t, reduction, beta=0.0),
                         lambda x, t, reduction: TF.smooth_l1_loss(x, t, reduction=reduction, beta=0.0)),
}


def regression_pair(shape, seed, dtype=np.float64):
    """x, t with |x − t| in [0.05, 3] and away from the smooth_l1 switch points 0.4 and 1."""
    r = rng(seed)
    d = r.choice([0.1, 0.25, 0.6, 0.8, 1.5, 2.5], shape) * r.choice([-1.0, 1.0], shape)
    t = r.standard_normal(shape)
    return (t + d).astype(dtype), t.astype(dtype)


@pytest.mark.parametrize("name", REGRESSION)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_regression_losses_match_torch(name, reduction, dtype):
    fn, tfn = REGRESSION[name]
    check_torch(lambda x, t: fn(x, t, reduction=reduction), lambda x, t: tfn(x, t, reduction=reduction),
                list(regression_pair((3, 5), seed=50, dtype=dtype)))


@pytest.mark.parametrize("name", REGRESSION)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_gradcheck(name, reduction):
    fn, _ = REGRESSION[name]
    check_grads(lambda x, t: fn(x, t, reduction=reduction), list(regression_pair((2, 3), seed=51)))


def test_regression_loss_warns_on_broadcasting_shapes_like_torch():
    with pytest.warns(UserWarning, match=r"mse_loss: target shape \(3,\) differs from input shape \(3, 1\)"):
        y = F.mse_loss(cr.zeros(3, 1), cr.ones(3), reduction="none")
    assert y.shape == (3, 3)


def test_regression_loss_errors():
    with pytest.raises(ValueError, match="smooth_l1_loss: argument 'beta' must be ≥ 0"):
        F.smooth_l1_loss(cr.zeros(3), cr.zeros(3), beta=-1.0)
    with pytest.raises(cr.DTypeError, match="l1_loss: argument 'target' has dtype float64 but input has dtype float32"):
        F.l1_loss(cr.zeros(3), np.zeros(3))
    with pytest.raises(cr.ShapeError, match="mse_loss: shapes"):
        F.mse_loss(cr.zeros(3), cr.zeros(4))


# ----- gaussian_nll_loss -------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1), (1, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gaussian_nll_loss_matches_torch(reduction, full, var_shape, dtype):
    r = rng(60)
    x, t = (r.standard_normal((4, 3)).astype(dtype) for _ in range(2))
    v = r.uniform(0.2, 2.0, var_shape).astype(dtype)
    check_torch(lambda x, t, v: F.gaussian_nll_loss(x, t, v, full=full, reduction=reduction),
                lambda x, t, v: TF.gaussian_nll_loss(x, t, v, full=full, reduction=reduction), [x, t, v])


def test_gaussian_nll_loss_float_var_and_eps_clamp_match_torch():
    r = rng(61)
    x, t = r.standard_normal((2, 3)), r.standard_normal((2, 3))
    check_torch(lambda x, t: F.gaussian_nll_loss(x, t, 0.5), lambda x, t: TF.gaussian_nll_loss(x, t, 0.5), [x, t])
    v = np.array([[1e-9, 0.5, 0.0], [2.0, 1e-3, 0.7]])  # entries below eps are raised to eps in the value only
    check_torch(lambda x, t, v: F.gaussian_nll_loss(x, t, v, eps=1e-2, reduction="sum"),
                lambda x, t, v: TF.gaussian_nll_loss(x, t, v, eps=1e-2, reduction="sum"), [x, t, v], rtol=1e-9)


def test_gaussian_nll_loss_errors():
    with pytest.raises(ValueError, match=r"gaussian_nll_loss: var\[1\] = -1.0 is outside \[0, ∞\)"):
        F.gaussian_nll_loss(cr.zeros(3), cr.zeros(3), cr.tensor([1.0, -1.0, 2.0]))
    with pytest.raises(cr.ShapeError, match=r"gaussian_nll_loss: var of shape \(2, 2\) does not fit input"):
        F.gaussian_nll_loss(cr.zeros(4, 3), cr.zeros(4, 3), cr.ones(2, 2))
    with pytest.raises(ValueError, match="var' must be non-negative"):
        F.gaussian_nll_loss(cr.zeros(3), cr.zeros(3), -1.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_nll_loss_gradcheck(reduction):
    r = rng(62)
    check_grads(lambda x, t, v: F.gaussian_nll_loss(x, t, v, full=True, reduction=reduction),
                [r.standard_normal((3, 2)), r.standard_normal((3, 2)), r.uniform(0.3, 2.0, (3, 2))])
    check_grads(lambda x, t, v: F.gaussian_nll_loss(x, t, v, reduction=reduction),
                [r.standard_normal((3, 2)), r.standard_normal((3, 2)), r.uniform(0.3, 2.0, (3,))])


# ----- mixture_density_nll ---------------------------------------------------------------------------------------


def torch_mixture_nll(pi_logits, mu, log_sigma, target, reduction="mean"):
    """Reference built from torch.distributions: a MixtureSameFamily of diagonal Gaussians."""
    if mu.ndim == 2:
        mu, log_sigma, target = mu[..., None], log_sigma[..., None], target[:, None]
    components = torch.distributions.Independent(torch.distributions.Normal(mu, log_sigma.exp()), 1)
    mixture = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(logits=pi_logits), components)
    loss = -mixture.log_prob(target)
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def mixture_arrays(N, K, D, seed, dtype=np.float64):
    r = rng(seed)
    mu_shape = (N, K) if D is None else (N, K, D)
    return [r.standard_normal((N, K)).astype(dtype), r.standard_normal(mu_shape).astype(dtype),
            r.uniform(-1.0, 0.5, mu_shape).astype(dtype),
            r.standard_normal((N,) if D is None else (N, D)).astype(dtype)]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("D", [None, 1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mixture_density_nll_matches_torch_distributions(reduction, D, dtype):
    check_torch(lambda *a: F.mixture_density_nll(*a, reduction=reduction),
                lambda *a: torch_mixture_nll(*a, reduction=reduction), mixture_arrays(5, 3, D, seed=70, dtype=dtype))


@pytest.mark.parametrize("D", [None, 2])
def test_mixture_density_nll_gradcheck(D):
    check_grads(F.mixture_density_nll, mixture_arrays(3, 2, D, seed=71))
    check_grads(lambda *a: F.mixture_density_nll(*a, reduction="none"), mixture_arrays(2, 3, D, seed=72))


def test_mixture_density_nll_is_stable_far_from_every_component():
    pi, mu, log_sigma, _ = mixture_arrays(4, 3, 2, seed=73)
    target = np.full((4, 2), 1e3)  # every density underflows to 0 in linear space
    args = [cr.Tensor(a, requires_grad=True) for a in (pi, mu, log_sigma)]
    y = F.mixture_density_nll(*args, cr.Tensor(target))
    y.backward()
    assert np.isfinite(y.item()) and y.item() > 1e5
    assert all(np.all(np.isfinite(a.grad.numpy())) for a in args)
    expected = torch_mixture_nll(*(torch.tensor(a) for a in (pi, mu, log_sigma, target)))
    np.testing.assert_allclose(y.item(), expected.item(), rtol=1e-10)


def test_mixture_density_nll_with_one_component_is_gaussian_nll():
    pi, mu, log_sigma, target = mixture_arrays(6, 1, None, seed=74)
    y = F.mixture_density_nll(pi, mu, log_sigma, target)
    g = F.gaussian_nll_loss(cr.Tensor(mu[:, 0]), cr.Tensor(target), cr.Tensor(np.exp(2 * log_sigma[:, 0])), full=True)
    np.testing.assert_allclose(y.item(), g.item(), rtol=1e-12)


def test_mixture_density_nll_shape_errors():
    pi, mu, log_sigma, target = (cr.Tensor(a) for a in mixture_arrays(4, 3, 2, seed=75))
    with pytest.raises(cr.ShapeError, match=r"mu must have shape \(4, 3\) or \(4, 3, D\)"):
        F.mixture_density_nll(pi, mu[:, :2], log_sigma, target)
    with pytest.raises(cr.ShapeError, match=r"log_sigma must have mu's shape \(4, 3, 2\)"):
        F.mixture_density_nll(pi, mu, log_sigma[..., :1], target)
    with pytest.raises(cr.ShapeError, match=r"target must have shape \(4, 2\)"):
        F.mixture_density_nll(pi, mu, log_sigma, target[:, 0])
    with pytest.raises(cr.ShapeError, match=r"pi_logits must have shape \(N, K\)"):
        F.mixture_density_nll(pi[0], mu, log_sigma, target)


# ----- across losses ---------------------------------------------------------------------------------------------


def test_every_loss_keeps_float32():
    r = rng(80)
    x = cr.Tensor(r.uniform(0.1, 0.9, (4, 3)).astype(np.float32), requires_grad=True)
    t = cr.Tensor(r.uniform(0, 1, (4, 3)).astype(np.float32))
    args32 = [cr.Tensor(a, requires_grad=True) for a in mixture_arrays(4, 3, 2, seed=81, dtype=np.float32)]
    losses = [
        lambda: F.cross_entropy(x, np.array([0, 1, 2, 0]), label_smoothing=0.1),
        lambda: F.nll_loss(x, np.array([0, 1, 2, 0])),
        lambda: F.binary_cross_entropy(x, t, cr.ones(3)),
        lambda: F.binary_cross_entropy_with_logits(x, t, pos_weight=cr.ones(3)),
        lambda: F.mse_loss(x, t), lambda: F.l1_loss(x, t), lambda: F.smooth_l1_loss(x, t, beta=0.5),
        lambda: F.gaussian_nll_loss(x, t, t + 0.5, full=True),
    ]
    for make in losses:
        x.grad = None
        y = make()
        assert y.dtype == np.float32
        y.backward()
        assert x.grad.dtype == np.float32
    y = F.mixture_density_nll(*args32)
    assert y.dtype == np.float32
    y.backward()
    assert all(a.grad.dtype == np.float32 for a in args32)


def test_loss_docstrings_name_the_output_layer_and_cost():
    assert "Bernoulli/sigmoid/BCE" in F.binary_cross_entropy.__doc__
    assert "Bernoulli/sigmoid/BCE" in F.binary_cross_entropy_with_logits.__doc__
    assert "categorical/softmax/cross-entropy" in F.cross_entropy.__doc__
    assert "categorical/log-softmax/NLL" in F.nll_loss.__doc__
    assert "Gaussian/linear/MSE" in F.mse_loss.__doc__
    assert "Gaussian/linear/NLL" in F.gaussian_nll_loss.__doc__
    assert "Gaussian mixture/mixture density/NLL" in F.mixture_density_nll.__doc__
