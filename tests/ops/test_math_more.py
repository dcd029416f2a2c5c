"""More elementwise math (log1p ... tan, atan2, lerp, fmod, remainder), rounding and sign, nan_to_num, and the
predicates: forward and gradients against PyTorch, float64 gradcheck and gradgradcheck, dtypes, edge values, and
the one-line refusals."""

import numpy as np
import pytest
import torch
from helpers import away_from_zero, check_grads, check_torch, rng

import chainrule as cr

# name → (chainrule fn, torch fn, input maker): inputs in each function's domain
POSITIVE = {"log2", "log10", "rsqrt"}
UNARY = ["log1p", "expm1", "log2", "log10", "exp2", "erf", "rsqrt", "reciprocal", "square", "tan"]


def _domain(name, shape, seed=0, dtype=np.float64):
    x = away_from_zero(shape, seed=seed, low=0.2, high=1.2)
    if name in POSITIVE:
        x = np.abs(x)
    if name == "log1p":
        x = np.abs(x) - 0.5  # in (−1, ∞)
    return x.astype(dtype)


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4)])
def test_unary_matches_torch(name, shape):
    check_torch(getattr(cr, name), getattr(torch, name), [_domain(name, shape, dtype=np.float32)])


@pytest.mark.parametrize("name", UNARY)
def test_unary_gradcheck_and_double_backward(name):
    check_grads(getattr(cr, name), [_domain(name, (2, 3), seed=1)])


@pytest.mark.parametrize("name", UNARY)
def test_unary_method_equals_function(name):
    x = cr.tensor(_domain(name, (4,), dtype=np.float32))
    np.testing.assert_array_equal(getattr(x, name)().numpy(), getattr(cr, name)(x).numpy())


@pytest.mark.parametrize("name", [n for n in UNARY if n != "square"])
def test_unary_integer_input_is_float32_as_torch(name):
    ints = np.array([1, 2, 3], dtype=np.int64)
    y, yt = getattr(cr, name)(cr.tensor(ints)), getattr(torch, name)(torch.tensor(ints))
    assert y.dtype == np.float32 and yt.dtype == torch.float32
    np.testing.assert_allclose(y.numpy(), yt.numpy(), rtol=1e-6)


def test_square_keeps_integers_and_bool_becomes_int64():
    assert cr.square(cr.tensor([2, -3])).tolist() == [4, 9]
    assert cr.square(cr.tensor([2, -3])).dtype == np.int64
    assert cr.square(cr.tensor([True, False])).dtype == torch.square(torch.tensor([True, False])).numpy().dtype


def test_unary_edge_values_match_torch():
    x = np.array([0.0, -0.0, -1.0, np.inf, -np.inf, np.nan, 1e-8], dtype=np.float32)
    for name in UNARY:
        y, yt = getattr(cr, name)(cr.tensor(x)), getattr(torch, name)(torch.tensor(x))
        np.testing.assert_allclose(y.numpy(), yt.numpy(), rtol=1e-6, equal_nan=True, err_msg=name)


def test_log1p_and_expm1_are_accurate_near_zero():
    x = cr.tensor(np.array([1e-10, -1e-12], dtype=np.float64))
    np.testing.assert_allclose(cr.log1p(x).numpy(), [1e-10 - 5e-21, -1e-12], rtol=1e-12)
    np.testing.assert_allclose(cr.expm1(x).numpy(), [1e-10 + 5e-21, -1e-12], rtol=1e-12)


# ----- binary ---------------------------------------------------------------------------------------------

SHAPES = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((4, 1), (1, 5)), ((), (3,))]


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("name", ["atan2", "fmod", "remainder"])
def test_binary_matches_torch(name, shapes):
    a = away_from_zero(shapes[0], seed=2).astype(np.float32) * 3
    b = away_from_zero(shapes[1], seed=3).astype(np.float32)
    check_torch(getattr(cr, name), getattr(torch, name), [a, b])


@pytest.mark.parametrize("name", ["atan2", "fmod", "remainder"])
def test_binary_gradcheck(name):
    a = away_from_zero((2, 3), seed=4) * 3 + 0.05  # away from the jumps of fmod at multiples of b
    b = away_from_zero((3,), seed=5)
    check_grads(getattr(cr, name), [a, b])


def test_fmod_and_remainder_signs_and_integers_match_torch():
    a, b = np.array([5, -5, 5, -5]), np.array([3, 3, -3, -3])
    for name in ("fmod", "remainder"):
        y, yt = getattr(cr, name)(cr.tensor(a), cr.tensor(b)), getattr(torch, name)(torch.tensor(a), torch.tensor(b))
        assert y.dtype == np.int64
        assert y.tolist() == yt.tolist()
    assert (cr.tensor([5.5, -5.5]) % 2).tolist() == (torch.tensor([5.5, -5.5]) % 2).tolist()
    assert (7 % cr.tensor([3, -3])).tolist() == (7 % torch.tensor([3, -3])).tolist()


def test_integer_modulo_by_zero_is_refused():
    with pytest.raises(cr.ChainruleError, match=r"fmod: integer division by zero"):
        cr.fmod(cr.tensor([5, 3]), 0)
    assert np.isnan(cr.remainder(cr.tensor([5.0]), 0.0).numpy()).all()


@pytest.mark.parametrize("weight", [0.3, 0.75])
@pytest.mark.parametrize("shapes", SHAPES)
def test_lerp_scalar_weight_matches_torch(shapes, weight):
    a = rng(6).standard_normal(shapes[0]).astype(np.float32)
    b = rng(7).standard_normal(shapes[1]).astype(np.float32)
    check_torch(lambda s, e: cr.lerp(s, e, weight), lambda s, e: torch.lerp(s, e, weight), [a, b])


def test_lerp_tensor_weight_matches_torch_and_gradchecks():
    s, e = rng(8).standard_normal((2, 3)), rng(9).standard_normal((3,))
    w = rng(10).uniform(-0.5, 1.5, (2, 1))  # both branches (|w| < 0.5 and beyond)
    check_torch(cr.lerp, torch.lerp, [s.astype(np.float32), e.astype(np.float32), w.astype(np.float32)])
    check_grads(cr.lerp, [s, e, w])


def test_lerp_is_exact_at_the_ends():
    s, e = cr.tensor([1.0, 1e8]), cr.tensor([3.0, 1.0])
    assert cr.lerp(s, e, 1.0).tolist() == [3.0, 1.0]
    assert cr.lerp(s, e, 0.0).tolist() == [1.0, 1e8]


def test_atan2_quadrants_and_integers():
    a, b = np.array([1.0, 1.0, -1.0, -1.0, 0.0]), np.array([1.0, -1.0, 1.0, -1.0, -1.0])
    np.testing.assert_allclose(cr.atan2(cr.tensor(a), cr.tensor(b)).numpy(),
                               torch.atan2(torch.tensor(a), torch.tensor(b)).numpy())
    assert cr.atan2(cr.tensor([1]), cr.tensor([1])).dtype == np.float32


# ----- rounding and sign ---------------------------------------------------------------------------------

STEPS = ["sign", "floor", "ceil", "round", "trunc"]


@pytest.mark.parametrize("name", STEPS)
def test_steps_match_torch_with_a_zero_gradient(name):
    x = np.array([-2.5, -1.5, -0.5, -0.0, 0.0, 0.5, 1.5, 2.5, 0.7, -0.7, np.nan, np.inf], dtype=np.float32)
    y, yt = getattr(cr, name)(cr.tensor(x)), getattr(torch, name)(torch.tensor(x))
    np.testing.assert_array_equal(y.numpy(), yt.numpy())
    xg = cr.tensor(x[:10], requires_grad=True)
    getattr(cr, name)(xg).sum().backward()
    assert xg.grad.dtype == np.float32 and xg.grad.tolist() == [0.0] * 10


@pytest.mark.parametrize("name", STEPS)
def test_steps_keep_integer_dtypes(name):
    x = np.array([-3, 0, 4], dtype=np.int64)
    y, yt = getattr(cr, name)(cr.tensor(x)), getattr(torch, name)(torch.tensor(x))
    assert y.dtype == np.int64 and y.tolist() == yt.tolist()
    x32 = cr.tensor(np.array([-3, 0, 4], dtype=np.int32))
    assert getattr(cr, name)(x32).dtype == np.int32


@pytest.mark.parametrize("name", STEPS)
def test_steps_gradcheck_passes_zero(name):
    check_grads(getattr(cr, name), [away_from_zero((2, 3), seed=11) + 0.2])  # no ties at the jumps


def test_round_decimals_matches_torch():
    x = rng(12).standard_normal((5,)).astype(np.float32) * 100
    for d in (1, 2, -1):
        np.testing.assert_allclose(cr.round(cr.tensor(x), decimals=d).numpy(),
                                   torch.round(torch.tensor(x), decimals=d).numpy(), rtol=1e-6)
    with pytest.raises(cr.DTypeError, match=r"round: decimals=1 needs a floating-point tensor, got dtype int64"):
        cr.round(cr.tensor([1, 2]), decimals=1)


def test_sign_of_bool_is_bool_and_the_other_steps_refuse_bool_as_torch():
    assert cr.sign(cr.tensor([True, False])).tolist() == [True, False]
    for name in ("floor", "ceil", "round", "trunc"):
        with pytest.raises(cr.DTypeError, match=rf"^{name}: not defined for bool tensors"):
            getattr(cr, name)(cr.tensor([True]))


def test_nan_to_num_matches_torch_and_its_gradient_is_zero_off_the_finite():
    x = np.array([1.0, np.nan, np.inf, -np.inf, -2.0], dtype=np.float32)
    for kwargs in ({}, {"nan": 0.5, "posinf": 9.0, "neginf": -9.0}):
        y, yt = cr.nan_to_num(cr.tensor(x), **kwargs), torch.nan_to_num(torch.tensor(x), **kwargs)
        np.testing.assert_array_equal(y.numpy(), yt.numpy())
    xg, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    cr.nan_to_num(xg).sum().backward()
    torch.nan_to_num(xt).sum().backward()
    np.testing.assert_array_equal(xg.grad.numpy(), xt.grad.numpy())
    assert cr.nan_to_num(cr.tensor([1, 2])).dtype == np.int64
    check_grads(cr.nan_to_num, [rng(13).standard_normal((2, 3))])


# ----- predicates ------------------------------------------------------------------------------------------


def test_isnan_isinf_isfinite_match_torch_and_are_bool():
    x = np.array([1.0, np.nan, np.inf, -np.inf, 0.0], dtype=np.float32)
    for name in ("isnan", "isinf", "isfinite"):
        y = getattr(cr, name)(cr.tensor(x, requires_grad=True))
        assert y.dtype == np.bool_ and not y.requires_grad
        assert y.tolist() == getattr(torch, name)(torch.tensor(x)).tolist()
        assert getattr(cr, name)(cr.tensor([1, 2])).tolist() == getattr(torch, name)(torch.tensor([1, 2])).tolist()


@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical_binary_match_torch_with_broadcasting(name):
    a = np.array([[0.0, 1.0, np.nan], [2.0, 0.0, -1.0]], dtype=np.float32)
    b = np.array([1, 0, 0], dtype=np.int64)
    y = getattr(cr, name)(cr.tensor(a), cr.tensor(b))
    assert y.dtype == np.bool_
    assert y.tolist() == getattr(torch, name)(torch.tensor(a), torch.tensor(b)).tolist()
    assert getattr(cr.tensor(a), name)(cr.tensor(b)).tolist() == y.tolist()


def test_logical_not_any_all_count_nonzero_match_torch():
    x = np.array([[0.0, 1.0, 0.0], [2.0, 0.0, -1.0]], dtype=np.float32)
    c, t = cr.tensor(x), torch.tensor(x)
    assert cr.logical_not(c).tolist() == torch.logical_not(t).tolist()
    for dim in (None, 0, 1, (0, 1)):
        kw = {} if dim is None else {"dim": dim}
        assert cr.any(c, **kw).tolist() == torch.any(t, **kw).tolist()
        assert cr.all(c, **kw).tolist() == torch.all(t, **kw).tolist()
        assert cr.count_nonzero(c, **kw).tolist() == torch.count_nonzero(t, **kw).tolist()
    assert cr.any(c, 1, keepdim=True).shape == (2, 1)
    assert cr.any(c, ()).tolist() == torch.any(t, dim=()).tolist()  # an empty dim list: elementwise, as torch
    assert cr.any(c).dtype == np.bool_ and cr.count_nonzero(c).dtype == np.int64
    assert c.any().item() is True and c.all().item() is False


def test_isclose_allclose_equal_match_torch():
    a = np.array([1.0, np.nan, np.inf, 1.0], dtype=np.float32)
    b = np.array([1.0 + 1e-6, np.nan, np.inf, 1.1], dtype=np.float32)
    for kwargs in ({}, {"equal_nan": True}, {"rtol": 0.2, "atol": 0.0}):
        assert cr.isclose(cr.tensor(a), cr.tensor(b), **kwargs).tolist() == \
            torch.isclose(torch.tensor(a), torch.tensor(b), **kwargs).tolist()
        assert cr.allclose(cr.tensor(a[:1]), cr.tensor(b[:1]), **kwargs) is \
            torch.allclose(torch.tensor(a[:1]), torch.tensor(b[:1]), **kwargs)
    assert cr.equal(cr.tensor([1, 2]), cr.tensor([1.0, 2.0])) is True
    assert cr.equal(cr.tensor([1, 2]), cr.tensor([[1, 2]])) is False
    assert cr.equal(cr.tensor([np.nan]), cr.tensor([np.nan])) is False
    with pytest.raises(cr.DTypeError, match=r"isclose: argument 'other' has dtype int64 but input has dtype float32"):
        cr.isclose(cr.tensor([1.0]), cr.tensor([1]))


def test_nonzero_matches_torch_in_both_forms():
    x = np.array([[0, 1, 0], [2, 0, 3]])
    assert cr.nonzero(cr.tensor(x)).tolist() == torch.nonzero(torch.tensor(x)).tolist()
    got = cr.nonzero(cr.tensor(x), as_tuple=True)
    want = torch.nonzero(torch.tensor(x), as_tuple=True)
    assert [g.tolist() for g in got] == [w.tolist() for w in want]
    assert cr.nonzero(cr.tensor(5.0)).shape == tuple(torch.nonzero(torch.tensor(5.0)).shape)
    assert cr.nonzero(cr.zeros(2, 3)).shape == (0, 2)
    assert cr.tensor(x).nonzero().dtype == np.int64


@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (4,)), ((1, 4), (3, 1)), ((), ())])
def test_masked_select_matches_torch_with_gradient(shapes):
    x = rng(14).standard_normal(shapes[0]).astype(np.float32)
    mask = rng(15).random(shapes[1]) < 0.5
    check_torch(lambda a: cr.masked_select(a, cr.tensor(mask)), lambda a: torch.masked_select(a, torch.tensor(mask)),
                [x])
    check_grads(lambda a: cr.masked_select(a, cr.tensor(mask)), [x.astype(np.float64)])


def test_masked_select_refuses_a_non_bool_mask():
    with pytest.raises(cr.DTypeError, match=r"masked_select: argument 'mask' must be a bool tensor, got dtype int64"):
        cr.masked_select(cr.ones(3), cr.tensor([1, 0, 1]))


def test_predicates_refuse_non_tensors_in_one_line():
    with pytest.raises(cr.DTypeError, match=r"^isnan: argument 'input' must be a Tensor"):
        cr.isnan("abc")
    with pytest.raises(cr.ShapeError, match=r"^logical_and: shapes \(2,\) and \(3,\) do not broadcast"):
        cr.logical_and(cr.ones(2), cr.ones(3))
    with pytest.raises(cr.ChainruleError, match=r"^any: dim 2 is out of range"):
        cr.any(cr.ones(2, 2), 2)


# ----- top-level helpers -------------------------------------------------------------------------------------


def test_dtype_and_tensor_helpers_match_torch():
    assert cr.finfo(cr.float32).eps == torch.finfo(torch.float32).eps
    assert cr.finfo(cr.float64).max == torch.finfo(torch.float64).max
    assert cr.finfo(cr.float32).tiny == torch.finfo(torch.float32).tiny
    assert cr.finfo().bits == 32 and cr.finfo(cr.float16).min == torch.finfo(torch.float16).min
    assert (cr.iinfo(cr.int32).max, cr.iinfo(cr.int64).min) == (torch.iinfo(torch.int32).max,
                                                                  torch.iinfo(torch.int64).min)
    assert cr.iinfo(cr.uint8).bits == 8
    with pytest.raises(cr.DTypeError, match=r"finfo: expected a floating-point dtype, got int64"):
        cr.finfo(cr.int64)
    with pytest.raises(cr.DTypeError, match=r"iinfo: expected an integer dtype, got float32"):
        cr.iinfo(cr.float32)
    assert cr.get_default_dtype() == cr.float32
    x = cr.ones(2, 3)
    assert cr.is_tensor(x) and not cr.is_tensor(np.ones(2))
    assert cr.numel(x) == 6 and cr.numel(cr.tensor(1.0)) == 1
    assert cr.is_floating_point(x) and not cr.is_floating_point(cr.tensor([1]))
    assert x.is_floating_point()
    with pytest.raises(cr.errors.ArgumentTypeError, match=r"numel: argument 'input' must be a Tensor, got list"):
        cr.numel([1, 2])


def test_as_tensor_shares_memory_when_it_can():
    a = np.zeros(3, dtype=np.float64)
    t = cr.as_tensor(a)
    a[0] = 5.0
    assert t.dtype == np.float64 and t.tolist()[0] == 5.0
    x = cr.ones(2)
    assert cr.as_tensor(x) is x
    assert cr.as_tensor(x, dtype=cr.float64).dtype == np.float64
    assert cr.as_tensor([1.0, 2.0]).dtype == np.float32 and cr.as_tensor([1, 2]).dtype == np.int64
    assert cr.as_tensor(a, dtype=cr.float32).dtype == np.float32


def test_inference_mode_is_no_grad_as_context_and_decorator():
    w = cr.ones(2, requires_grad=True)
    with cr.inference_mode():
        assert not (w * 2).requires_grad
    with cr.inference_mode(False):
        assert (w * 2).requires_grad

    @cr.inference_mode()
    def called(v):
        return v * 2

    @cr.inference_mode
    def bare(v):
        return v * 2

    assert not called(w).requires_grad and not bare(w).requires_grad
    assert cr.is_grad_enabled()
