"""Pooling against PyTorch: forward values and every gradient (ties included), second derivatives, float64
gradcheck and gradgradcheck, PyTorch's divisors, −inf padding, and the argument checks."""

import contextlib
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF  # noqa: N812 - the usual names
from helpers import check_grads, check_torch, distinct, noncontiguous, rng

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812
from chainrule import compiled
from chainrule.ops.pool import MaxPool2dScatter


def _normal(shape, seed=0, dtype=np.float32):
    return rng(seed).standard_normal(shape).astype(dtype)


def _positive(shape, seed=0, low=0.5, high=1.5, dtype=np.float32):
    return rng(seed).uniform(low, high, shape).astype(dtype)


# ----- max pooling ----------------------------------------------------------------------------------------

# input shape, then max_pool2d's kernel_size, stride, padding, dilation, ceil_mode
MAX_CASES = [
    ((2, 3, 8, 8), 2, None, 0, 1, False),
    ((2, 3, 7, 9), 3, 2, 1, 1, False),  # overlapping windows, padding, odd sizes
    ((2, 3, 7, 9), 3, 2, 1, 1, True),
    ((1, 2, 9, 10), (3, 2), (2, 1), (1, 0), 1, False),  # non-square kernel and stride, overlap along W
    ((2, 2, 10, 7), (2, 3), 3, (1, 1), 1, True),  # stride 3, a window cut by ceil_mode
    ((2, 2, 11, 11), 3, 3, 0, 1, True),
    ((2, 2, 9, 8), 3, 1, 1, 2, False),  # dilation
    ((1, 3, 10, 9), (2, 3), (2, 1), (1, 1), (3, 2), True),  # dilation, non-square everything
    ((3, 7, 6), 2, 1, 1, 1, False),  # unbatched (C, H, W)
    ((2, 3, 9, 7), 2, None, 0, 1, False),  # disjoint 2×2 windows; the last row and column are in none
    ((1, 2, 10, 10), 5, None, 0, 1, False),  # disjoint windows too large for the per-offset passes
]


def _max(case, **extra):
    _, k, s, p, d, c = case
    return (
        lambda x: F.max_pool2d(x, k, s, p, d, c, **extra),
        lambda x: TF.max_pool2d(x, k, s, p, d, c, **extra),
    )


@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool2d_matches_torch(case):
    check_torch(*_max(case), [_normal(case[0], seed=1)])


@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool2d_return_indices_match_torch(case):
    x = _normal(case[0], seed=2)
    y, idx = _max(case, return_indices=True)[0](cr.tensor(x))
    yt, idxt = _max(case, return_indices=True)[1](torch.tensor(x))
    np.testing.assert_array_equal(y.numpy(), yt.numpy())
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx.numpy(), idxt.numpy())


@pytest.mark.parametrize("case", MAX_CASES[1:8:2] + [MAX_CASES[0]] + MAX_CASES[-2:])
@pytest.mark.parametrize("values", ["constant", "integers"])
def test_max_pool2d_ties_go_to_the_first_maximum_like_torch(case, values):
    """Ties: PyTorch routes the whole gradient to the first maximum in row-major window order, never splits."""
    shape = case[0]
    x = np.full(shape, 0.5, np.float32) if values == "constant" else rng(3).integers(-1, 2, shape).astype(np.float32)
    check_torch(*_max(case), [x])
    check_torch(*_max(case, return_indices=True), [x])


def test_max_pool2d_tie_rule_by_hand():
    x = cr.tensor([[[[1.0, 2.0, 2.0], [2.0, 0.0, 2.0]]]], requires_grad=True)
    F.max_pool2d(x, (2, 3)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[0, 1, 0], [0, 0, 0]]]])


def test_max_pool2d_pads_with_minus_infinity():
    """All-negative input with padding: zero padding would win every border window; −inf never does."""
    x = -_positive((2, 2, 5, 6), seed=4)
    y = F.max_pool2d(cr.tensor(x), 3, 2, 1)
    assert (y.numpy() < 0).all()
    check_torch(lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), lambda x: TF.max_pool2d(x, 3, 2, 1, ceil_mode=True),
                [x])


def test_max_pool2d_nan_and_minus_infinity_like_torch():
    x = _normal((1, 2, 5, 6), seed=5)
    x[0, 0, 1, 2] = x[0, 0, 1, 3] = np.nan
    x[0, 1] = -np.inf
    for fn, tfn in (_max(((), 3, 2, 1, 1, True), return_indices=True), _max(((), 2, 1, 0, 1, False))):
        ys, yts = fn(cr.tensor(x)), tfn(torch.tensor(x))
        for y, yt in zip(ys if isinstance(ys, tuple) else [ys], yts if isinstance(yts, tuple) else [yts]):
            np.testing.assert_array_equal(y.numpy(), yt.numpy())


def test_max_pool2d_stores_a_small_offset_not_the_windows():
    x = cr.tensor(_normal((2, 3, 8, 8)), requires_grad=True)
    y = F.max_pool2d(x, 3, 1, 1)
    assert y.dtype == np.float32
    assert y.creator.argmax.offset.dtype == np.uint8
    assert y.creator.argmax.offset.shape == y.shape
    big = F.max_pool2d(cr.tensor(_normal((1, 1, 20, 20)), requires_grad=True), 17)
    assert big.creator.argmax.offset.dtype == np.int16


def test_max_pool2d_non_contiguous_and_float64():
    fn, tfn = _max(MAX_CASES[2])
    check_torch(fn, tfn, [noncontiguous(_normal((2, 3, 7, 9), seed=6))])
    check_torch(fn, tfn, [_normal((2, 3, 7, 9), seed=7, dtype=np.float64)])


# 2×2 windows of stride 2 have a compiled kernel (chainrule.compiled.pool) when Numba is installed; both it and
# the NumPy loop are checked against PyTorch and against each other. Input shape, padding, ceil_mode:
PAIR_CASES = [
    ((2, 3, 8, 8), 0, False),
    ((2, 3, 9, 7), 0, False),  # the last row and column are in no window
    ((2, 3, 9, 7), 0, True),  # ceil_mode: the last windows are cut by the border
    ((1, 2, 6, 7), 1, False),  # padding
    ((3, 5, 4), 1, True),  # unbatched
]


def _pair_input(shape, values, seed=0, dtype=np.float32):
    r = rng(seed)
    if values == "integers":  # many ties
        return r.integers(-1, 2, shape).astype(dtype)
    x = r.standard_normal(shape).astype(dtype)
    if values == "nan_inf":  # a NaN, two NaNs in one window, and a plane of −inf
        x[..., 0, 1, 0] = np.nan
        x[..., 0, 3, 2] = x[..., 0, 3, 3] = np.nan
        x[..., -1, :, :] = -np.inf
    return x


KERNELS_OFF = "the compiled kernels are off (Numba not installed, or CHAINRULE_COMPILED=0)"


@pytest.fixture(params=["compiled", "numpy"])
def path(request):
    """Run the test with the compiled kernels, then with the NumPy loops."""
    if request.param == "numpy":
        with compiled.disabled():
            yield request.param
    elif not compiled.enabled():
        pytest.skip(KERNELS_OFF)
    else:
        yield request.param


@pytest.mark.parametrize("case", PAIR_CASES)
@pytest.mark.parametrize("values", ["normal", "integers", "nan_inf"])
def test_max_pool2d_2x2_matches_torch_compiled_and_numpy(case, values, path):
    shape, pad, ceil = case
    x = _pair_input(shape, values)
    check_torch(lambda x: F.max_pool2d(x, 2, 2, pad, 1, ceil), lambda x: TF.max_pool2d(x, 2, 2, pad, 1, ceil), [x])
    check_torch(lambda x: F.max_pool2d(x, 2, 2, pad, 1, ceil, return_indices=True),
                lambda x: TF.max_pool2d(x, 2, 2, pad, 1, ceil, return_indices=True), [x])


@pytest.mark.parametrize("kernel", [2, 3])
def test_max_pool2d_infinite_upstream_gradient_leaves_zeros_elsewhere_like_torch(kernel, path):
    """gy = ±inf or NaN reaches the window's maximum only; the other elements get 0 (a product gy·0 would make
    them NaN)."""
    x = _normal((2, 3, 6, 6), seed=8)
    gy = _normal((2, 3, 6 // kernel, 6 // kernel), seed=9)
    gy[0, 0, 0, 0], gy[1, 2, 1, 1], gy[0, 1, 1, 0] = np.inf, -np.inf, np.nan
    xc = cr.tensor(x, requires_grad=True)
    F.max_pool2d(xc, kernel).backward(cr.tensor(gy))
    xt = torch.tensor(x, requires_grad=True)
    TF.max_pool2d(xt, kernel).backward(torch.tensor(gy))
    np.testing.assert_array_equal(xc.grad.numpy(), xt.grad.numpy())


@pytest.mark.parametrize("case", PAIR_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool2d_2x2_compiled_kernel_equals_the_numpy_loop(case, dtype):
    """Bit for bit: values, indices and the input gradient, on ties, NaN and −inf, and a non-contiguous input."""
    if not compiled.enabled():
        pytest.skip(KERNELS_OFF)
    shape, pad, ceil = case
    for values in ("normal", "integers", "nan_inf"):
        x0 = noncontiguous(_pair_input(shape, values, seed=1, dtype=dtype))
        results = []
        for use_compiled in (True, False):
            with contextlib.nullcontext() if use_compiled else compiled.disabled():
                x = cr.tensor(x0, requires_grad=True)
                y, idx = F.max_pool2d(x, 2, 2, pad, 1, ceil, return_indices=True)
                y.backward(cr.tensor(_normal(y.shape, seed=2, dtype=dtype)))
                results.append((y.numpy(), idx.numpy(), x.grad.numpy()))
        for a, b in zip(*results):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case", [MAX_CASES[2], MAX_CASES[3], MAX_CASES[7], ((2, 2, 6, 6), 2, None, 0, 1, False)])
def test_max_pool2d_gradcheck(case):
    shape = case[0]
    check_grads(_max(case)[0], [distinct((1,) + shape[1:], seed=8)])


def _double_backward(pool, tpool):
    """(x, gy) ↦ gx with create_graph, to compare with PyTorch: its gradients are the second derivatives."""
    def cr_fn(x, gy):
        return cr.grad(pool(x), x, gy, create_graph=True)[0]

    def torch_fn(x, gy):
        return torch.autograd.grad(tpool(x), x, gy, create_graph=True)[0]

    return cr_fn, torch_fn


def _linear_double_backward(pool, tpool, x):
    """gy ↦ gx at a fixed x: for max and average pooling gx is linear in gy and ∂gx/∂x = 0."""
    cr_fn, torch_fn = _double_backward(pool, tpool)
    return (lambda gy: cr_fn(cr.tensor(x, requires_grad=True), gy),
            lambda gy: torch_fn(torch.tensor(x, requires_grad=True), gy))


@pytest.mark.parametrize("case", [MAX_CASES[1], MAX_CASES[4]])
def test_max_pool2d_double_backward_matches_torch(case):
    fn, tfn = _max(case)
    x = _normal(case[0], seed=9)
    gy = _normal(fn(cr.tensor(x)).shape, seed=10)
    check_torch(*_linear_double_backward(fn, tfn, x), [gy])


def test_max_pool2d_backward_is_a_function_that_gathers():
    x = cr.tensor([[[[1.0, 3.0], [2.0, 0.0]]]], requires_grad=True)
    gy = cr.tensor([[[[5.0]]]], requires_grad=True)
    (gx,) = cr.grad(F.max_pool2d(x, 2), x, gy, create_graph=True)
    assert isinstance(gx.creator, MaxPool2dScatter)
    np.testing.assert_array_equal(gx.numpy(), [[[[0, 5], [0, 0]]]])
    (ggy,) = cr.grad(gx, gy, cr.tensor([[[[10.0, 20.0], [30.0, 40.0]]]]))
    np.testing.assert_array_equal(ggy.numpy(), [[[[20.0]]]])  # ggx gathered at the argmax


# ----- average pooling ------------------------------------------------------------------------------------

# input shape, then avg_pool2d's kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
AVG_CASES = [
    ((2, 3, 8, 8), 2, None, 0, False, True, None),
    ((2, 3, 7, 9), 3, 2, 1, False, True, None),
    ((2, 3, 7, 9), 3, 2, 1, False, False, None),
    ((2, 3, 7, 9), 3, 2, 1, True, True, None),  # ceil_mode: the last window is clipped at the padded border
    ((2, 3, 7, 9), 3, 2, 1, True, False, None),
    ((1, 2, 9, 10), (3, 2), (2, 1), (1, 0), False, True, None),  # non-square kernel: kh/kw swaps would show
    ((1, 2, 3, 8), (1, 3), (1, 2), 0, True, False, None),
    ((2, 2, 10, 7), (2, 3), 3, (1, 1), True, True, None),  # stride 3
    ((2, 2, 10, 7), (2, 3), 3, (1, 1), True, False, None),
    ((2, 2, 11, 11), 3, 3, 1, True, True, 4),  # divisor_override
    ((2, 2, 6, 7), 2, 1, 1, False, False, 3),
    ((3, 7, 6), (2, 3), 1, 1, False, True, None),  # unbatched
]


def _avg(case):
    _, k, s, p, c, inc, div = case
    return (
        lambda x: F.avg_pool2d(x, k, s, p, c, inc, div),
        lambda x: TF.avg_pool2d(x, k, s, p, c, inc, div),
    )


@pytest.mark.parametrize("case", AVG_CASES)
def test_avg_pool2d_matches_torch(case):
    check_torch(*_avg(case), [_normal(case[0], seed=11)])


def test_avg_pool2d_non_square_kernel_gradient_by_hand():
    """kernel (1, 3) over a (1, 4) row with stride 1: the middle elements lie in two windows."""
    x = cr.tensor(np.arange(4, dtype=np.float32).reshape(1, 1, 1, 4), requires_grad=True)
    y = F.avg_pool2d(x, (1, 3), 1)
    np.testing.assert_allclose(y.numpy().ravel(), [1.0, 2.0])
    y.backward(cr.tensor(np.array([[[[3.0, 6.0]]]], dtype=np.float32)))
    np.testing.assert_allclose(x.grad.numpy().ravel(), [1.0, 3.0, 3.0, 2.0])


def test_avg_pool2d_non_contiguous_and_float64():
    fn, tfn = _avg(AVG_CASES[4])
    check_torch(fn, tfn, [noncontiguous(_normal((2, 3, 7, 9), seed=12))])
    check_torch(fn, tfn, [_normal((2, 3, 7, 9), seed=13, dtype=np.float64)])


@pytest.mark.parametrize("case", [AVG_CASES[4], AVG_CASES[5], AVG_CASES[9]])
def test_avg_pool2d_gradcheck(case):
    check_grads(_avg(case)[0], [_normal((1,) + case[0][1:], seed=14, dtype=np.float64)])


def test_avg_pool2d_double_backward_matches_torch():
    fn, tfn = _avg(AVG_CASES[8])
    x = _normal(AVG_CASES[8][0], seed=15)
    gy = _normal(fn(cr.tensor(x)).shape, seed=16)
    check_torch(*_linear_double_backward(fn, tfn, x), [gy])


# ----- power-average (Lp) pooling -------------------------------------------------------------------------

# kernel_size, stride, ceil_mode
LP_CASES = [(2, None, False), (3, 2, False), ((3, 2), (2, 1), True), ((2, 3), 3, True)]


def _lp(p, case):
    k, s, c = case
    return lambda x: F.lp_pool2d(x, p, k, s, c), lambda x: TF.lp_pool2d(x, p, k, s, c)


@pytest.mark.parametrize("p", [1, 2, 3, 10, 1.5])
@pytest.mark.parametrize("case", LP_CASES)
def test_lp_pool2d_matches_torch(p, case):
    check_torch(*_lp(p, case), [_positive((2, 3, 7, 8), seed=17)])


@pytest.mark.parametrize("p", [1, 2, 3])
def test_lp_pool2d_mixed_signs_match_torch(p):
    """x^p, not |x|^p, as PyTorch: p = 1 sums signed values; odd p > 1 gives NaN on a negative sum."""
    x = _normal((2, 2, 6, 7), seed=18)
    with np.errstate(invalid="ignore"):
        check_torch(*_lp(p, LP_CASES[2]), [x])


def test_lp_pool2d_large_p_matches_torch():
    x = _positive((2, 2, 6, 6), seed=19, low=0.5, high=2.0)
    check_torch(*_lp(50, LP_CASES[1]), [x])
    check_torch(*_lp(float("inf"), LP_CASES[2]), [_normal((2, 2, 6, 6), seed=20)])
    check_torch(*_lp(-float("inf"), LP_CASES[2]), [_normal((2, 2, 6, 6), seed=21)])


def test_lp_pool2d_zero_window_sum_has_zero_gradient_like_torch():
    x = np.array([[[[1.0, -1.0, 0.0, 0.0], [2.0, -2.0, 0.0, 0.0], [1.0, 2.0, 0.5, 3.0], [0.5, 1.0, 2.0, 1.0]]]],
                 dtype=np.float32)
    for p in (1, 2, 3):
        check_torch(*_lp(p, (2, None, False)), [x])
    xt = cr.tensor(x, requires_grad=True)
    F.lp_pool2d(xt, 2, 2).sum().backward()
    assert np.isfinite(xt.grad.numpy()).all()
    np.testing.assert_array_equal(xt.grad.numpy()[0, 0, :2, 2:], 0)


def test_lp_pool2d_padding_extension_is_zero_padding():
    x = _positive((1, 2, 5, 6), seed=22)
    y = F.lp_pool2d(cr.tensor(x), 2, 3, 2, padding=1)
    expected = torch.sqrt(TF.avg_pool2d(torch.tensor(x) ** 2, 3, 2, 1, divisor_override=1))
    np.testing.assert_allclose(y.numpy(), expected.numpy(), rtol=1e-5)


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("case", [LP_CASES[1], LP_CASES[2]])
def test_lp_pool2d_gradcheck(p, case):
    check_grads(_lp(p, case)[0], [_positive((1, 1, 6, 7), seed=23, dtype=np.float64)])


def test_lp_pool2d_double_backward_matches_torch():
    """Second derivatives of (Σ x^p)^(1/p) against PyTorch; the reference sums windows with Tensor.unfold (the
    double backward of F.avg_pool2d makes PyTorch load its compiler, seconds of imports)."""
    (kh, kw), (sh, sw), p = (2, 3), (2, 3), 3

    def reference(x):
        return x.unfold(2, kh, sh).unfold(3, kw, sw).pow(p).sum((-1, -2)).pow(1 / p)

    x = _positive((2, 2, 7, 8), seed=24)
    check_torch(lambda x: F.lp_pool2d(x, p, (kh, kw), (sh, sw)), reference, [x])
    gy = _normal(reference(torch.tensor(x)).shape, seed=25)
    check_torch(*_double_backward(lambda x: F.lp_pool2d(x, p, (kh, kw), (sh, sw)), reference), [x, gy])


def _lp_mean(p, case):
    """The power mean ((1/|P|)·Σ x^p)^(1/p), and PyTorch's power sum divided by (kh·kw)^(1/p), which equals it."""
    k, s, c = case
    kh, kw = (k, k) if isinstance(k, int) else k
    return (lambda x: F.lp_pool2d(x, p, k, s, c, mean=True),
            lambda x: TF.lp_pool2d(x, p, k, s, c) / (kh * kw) ** (1 / p))


@pytest.mark.parametrize("p", [1, 2, 3, 1.5])
@pytest.mark.parametrize("case", LP_CASES)
def test_lp_pool2d_mean_is_the_power_sum_over_the_kernel_area_as_in_torch(p, case):
    check_torch(*_lp_mean(p, case), [_positive((2, 3, 7, 8), seed=30)])


def test_lp_pool2d_mean_values_by_hand():
    """One 2×2 window [1, 2; 3, 4]: the root mean square √7.5, the mean 2.5, and the gradient x/(4·y) for p = 2."""
    x = cr.tensor(np.array([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=np.float64), requires_grad=True)
    y = F.lp_pool2d(x, 2, 2, mean=True)
    assert y.item() == pytest.approx(math.sqrt(7.5), rel=1e-15)
    assert F.lp_pool2d(x, 1, 2, mean=True).item() == 2.5
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), x.numpy() / (4 * math.sqrt(7.5)), rtol=1e-14)
    assert F.lp_pool2d(x, float("inf"), 2, mean=True).item() == 4.0  # the limit p → ∞ of the mean is the max


def test_lp_pool2d_mean_zero_window_has_zero_gradient_and_float32_stays_float32():
    x = np.zeros((1, 1, 4, 4), dtype=np.float32)
    x[0, 0, 2:, 2:] = 1.5
    xt = cr.tensor(x, requires_grad=True)
    y = F.lp_pool2d(xt, 2, 2, mean=True)
    assert y.dtype == cr.float32
    y.sum().backward()
    assert xt.grad.dtype == cr.float32
    np.testing.assert_array_equal(xt.grad.numpy()[0, 0, :2, :2], 0)
    np.testing.assert_allclose(xt.grad.numpy()[0, 0, 2:, 2:], 0.25, rtol=1e-6)  # x/(4·y) = 1.5/(4·1.5)


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("case", [LP_CASES[1], LP_CASES[2]])
def test_lp_pool2d_mean_gradcheck_and_gradgradcheck(p, case):
    check_grads(_lp_mean(p, case)[0], [_positive((1, 1, 6, 7), seed=31, dtype=np.float64)])


def test_lp_pool2d_mean_double_backward_matches_torch():
    (kh, kw), (sh, sw), p = (2, 3), (2, 3), 3

    def reference(x):
        return x.unfold(2, kh, sh).unfold(3, kw, sw).pow(p).mean((-1, -2)).pow(1 / p)

    def pool(x):
        return F.lp_pool2d(x, p, (kh, kw), (sh, sw), mean=True)

    x = _positive((2, 2, 7, 8), seed=32)
    check_torch(pool, reference, [x])
    gy = _normal(reference(torch.tensor(x)).shape, seed=33)
    check_torch(*_double_backward(pool, reference), [x, gy])


def test_lp_pool2d_mean_must_be_a_bool():
    with pytest.raises(TypeError, match=r"lp_pool2d: argument 'mean' must be True or False, got .*str"):
        F.lp_pool2d(cr.tensor(_positive((1, 1, 4, 4))), 2, 2, mean="yes")


# ----- adaptive average pooling ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, size",
    [((2, 3, 8, 8), 4), ((2, 3, 7, 9), (3, 4)), ((2, 3, 7, 9), (None, 5)), ((1, 2, 3, 5), (5, 7)),
     ((2, 3, 6, 6), 1), ((3, 10, 7), (4, None))],
)
def test_adaptive_avg_pool2d_matches_torch(shape, size):
    check_torch(lambda x: F.adaptive_avg_pool2d(x, size), lambda x: TF.adaptive_avg_pool2d(x, size),
                [_normal(shape, seed=26)])


@pytest.mark.parametrize("size", [(3, 4), 2])
def test_adaptive_avg_pool2d_gradcheck(size):
    check_grads(lambda x: F.adaptive_avg_pool2d(x, size), [_normal((1, 2, 7, 8), seed=27, dtype=np.float64)])


# ----- argument checks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda x: F.max_pool2d(x, 7), cr.ShapeError, r"max_pool2d: kernel_size 7×7 is larger than the padded input"),
        (lambda x: F.max_pool2d(x, 3, dilation=3), cr.ShapeError, r"max_pool2d: kernel_size 3×3 \(dilated to 7×7\)"),
        (lambda x: F.avg_pool2d(x, 2, stride=0), ValueError, r"avg_pool2d: stride must be positive"),
        (lambda x: F.max_pool2d(x, 2, stride=(1, 0)), ValueError, r"max_pool2d: stride must be positive"),
        (lambda x: F.max_pool2d(x, 3, padding=-1), ValueError, r"max_pool2d: padding must be non-negative"),
        (lambda x: F.avg_pool2d(x, 2, padding=2), ValueError, r"avg_pool2d: padding \(2, 2\) must be at most half"),
        (lambda x: F.max_pool2d(x, (3, 2), padding=(1, 2)), ValueError, r"max_pool2d: padding .* at most half"),
        (lambda x: F.max_pool2d(x, 0), ValueError, r"max_pool2d: kernel_size must be positive"),
        (lambda x: F.max_pool2d(x, 2, dilation=0), ValueError, r"max_pool2d: dilation must be positive"),
        (lambda x: F.max_pool2d(x, "2"), TypeError, r"max_pool2d: kernel_size must be an int or a pair"),
        (lambda x: F.max_pool2d(x[0, 0], 2), cr.ShapeError, r"max_pool2d: expected a 3-D \(C, H, W\) or 4-D"),
        (lambda x: F.avg_pool2d(x.reshape(1, 1, 1, 5, 6), 2), cr.ShapeError, r"avg_pool2d: expected a 3-D"),
        (lambda x: F.avg_pool2d(x, 2, divisor_override=0), ValueError, r"avg_pool2d: divisor_override must not be"),
        (lambda x: F.lp_pool2d(x, 0, 2), ValueError, r"lp_pool2d: norm_type must be positive"),
        (lambda x: F.lp_pool2d(x, 2, 6), cr.ShapeError, r"lp_pool2d: kernel_size 6×6 is larger"),
        (lambda x: F.adaptive_avg_pool2d(x, (0, 2)), ValueError, r"adaptive_avg_pool2d: output_size entries"),
        (lambda x: F.max_pool2d(x.long(), 2), cr.DTypeError, r"max_pool2d: expected a floating-point tensor"),
    ],
)
def test_pool_argument_errors_name_the_op_and_argument(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(cr.tensor(_normal((1, 1, 5, 6))))


def test_torch_accepts_what_we_accept_at_the_limits():
    """padding = kernel // 2 and a kernel as large as the padded input are allowed, as in PyTorch."""
    x = _normal((1, 2, 5, 6), seed=28)
    check_torch(lambda x: F.max_pool2d(x, (5, 4), 1, (2, 2)), lambda x: TF.max_pool2d(x, (5, 4), 1, (2, 2)), [x])
    check_torch(lambda x: F.avg_pool2d(x, (9, 10), 1, (2, 2)), lambda x: TF.avg_pool2d(x, (9, 10), 1, (2, 2)), [x])


def test_max_pool2d_without_grad_skips_the_argmax():
    x = _normal((2, 3, 7, 9), seed=29)
    expected = TF.max_pool2d(torch.tensor(x), 3, 2, 1).numpy()
    np.testing.assert_array_equal(F.max_pool2d(cr.tensor(x), 3, 2, 1).numpy(), expected)
    with cr.no_grad():
        np.testing.assert_array_equal(F.max_pool2d(cr.tensor(x, requires_grad=True), 3, 2, 1).numpy(), expected)
