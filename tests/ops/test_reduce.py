"""Reductions: forward and gradients against PyTorch over every kind of dim, float64 gradcheck and gradgradcheck."""

import warnings

import numpy as np
import pytest
import torch
from helpers import check_grads, check_torch, distinct, noncontiguous, rng

import chainrule as cr


def _tdim(dim, ndim):
    """PyTorch's spelling of ``dim``: None (all dims) becomes the tuple of every dim, which all its reductions take."""
    return tuple(range(ndim)) if dim is None else dim


# name: (chainrule fn(x, dim, keepdim), torch fn(t, dim, keepdim))
REDUCTIONS = {
    "sum": (cr.sum, lambda t, d, k: torch.sum(t, _tdim(d, t.ndim), keepdim=k)),
    "mean": (cr.mean, lambda t, d, k: torch.mean(t, _tdim(d, t.ndim), keepdim=k)),
    "var_c0": (
        lambda x, d, k: cr.var(x, d, k, correction=0),
        lambda t, d, k: torch.var(t, _tdim(d, t.ndim), correction=0, keepdim=k),
    ),
    "var_c1": (
        lambda x, d, k: cr.var(x, d, k, correction=1),
        lambda t, d, k: torch.var(t, _tdim(d, t.ndim), correction=1, keepdim=k),
    ),
    "var_default": (lambda x, d, k: x.var(d, k), lambda t, d, k: torch.var(t, _tdim(d, t.ndim), keepdim=k)),
    "amax": (cr.amax, lambda t, d, k: torch.amax(t, _tdim(d, t.ndim), keepdim=k)),
    "amin": (cr.amin, lambda t, d, k: torch.amin(t, _tdim(d, t.ndim), keepdim=k)),
    "amax_method": (lambda x, d, k: x.amax(d, k), lambda t, d, k: torch.amax(t, _tdim(d, t.ndim), keepdim=k)),
    "amin_method": (lambda x, d, k: x.amin(d, k), lambda t, d, k: torch.amin(t, _tdim(d, t.ndim), keepdim=k)),
    "logsumexp": (cr.logsumexp, lambda t, d, k: torch.logsumexp(t, _tdim(d, t.ndim), keepdim=k)),
}
# (shape, dim): all dims, one dim, negative dims, tuples (unsorted, mixed signs), every dim named, a 0-d tensor
DIMS = [
    ((), None), ((5,), None), ((5,), 0), ((5,), -1), ((3, 4), None), ((3, 4), 1), ((3, 4), -2),
    ((2, 3, 4), 1), ((2, 3, 4), (0, 2)), ((2, 3, 4), (-1, 0)), ((2, 3, 4), (2, -2, 0)), ((2, 3, 4), [1, 2]),
]


def _reduced_count(shape, dim):
    if dim is None:
        return int(np.prod(shape))
    dims = (dim,) if isinstance(dim, int) else dim
    return int(np.prod([shape[d] for d in dims]))


# correction 1 over a single element divides by zero: those pairs are left out
CASES = [
    (name, case) for name in REDUCTIONS for case in DIMS
    if name not in ("var_c1", "var_default") or _reduced_count(*case) > 1
]


@pytest.mark.parametrize(("name", "case"), CASES, ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_reduction_matches_torch(name, case, keepdim):
    shape, dim = case
    fn, tfn = REDUCTIONS[name]
    x = distinct(shape, seed=1).astype(np.float32)
    check_torch(lambda x: fn(x, dim, keepdim), lambda t: tfn(t, dim, keepdim), [x])


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("dim", [0, -1, None])
def test_reduction_non_contiguous(name, dim):
    fn, tfn = REDUCTIONS[name]
    x = noncontiguous(distinct((3, 4), seed=2).astype(np.float32))
    check_torch(lambda x: fn(x, dim, False), lambda t: tfn(t, dim, False), [x])


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize(
    "case", [((3, 4), None, False), ((3, 4), -1, False), ((2, 3, 4), (0, 2), True), ((2, 3, 4), 1, True)], ids=str
)
def test_reduction_gradcheck(name, case):
    shape, dim, keepdim = case
    fn, _ = REDUCTIONS[name]
    check_grads(lambda x: fn(x, dim, keepdim), [distinct(shape, seed=3)])  # distinct: no ties for max/min


def test_sum_of_integers_and_booleans_matches_torch():
    ints = rng(4).integers(-5, 5, (3, 4))
    check_torch(lambda x: cr.sum(x, 1), lambda t: torch.sum(t, 1), [ints], grad=False)
    check_torch(lambda x: cr.sum(x), lambda t: torch.sum(t), [ints > 0], grad=False)


def test_var_values_for_both_corrections():
    x = cr.tensor([[1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 2.0, 2.0]])
    np.testing.assert_allclose(cr.var(x, 1, correction=0).numpy(), [1.25, 0.0])
    np.testing.assert_allclose(cr.var(x, 1, correction=1).numpy(), [5 / 3, 0.0], rtol=1e-6)
    np.testing.assert_allclose(x.var(1).numpy(), [5 / 3, 0.0], rtol=1e-6)  # default: unbiased, like PyTorch


# ----- ties: max/min split the gradient evenly among tied extremes, like torch.amax/amin ----------------


@pytest.mark.parametrize("name", ["amax", "amin"])
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2), (1, 2)], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_extremum_ties_split_gradient_like_torch(name, dim, keepdim):
    fn, tfn = REDUCTIONS[name]
    x = rng(5).integers(0, 3, (2, 3, 4)).astype(np.float32)  # three values in 24 places: many ties
    check_torch(lambda x: fn(x, dim, keepdim), lambda t: tfn(t, dim, keepdim), [x])


def test_extremum_tie_values():
    x = cr.tensor([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 5.0]], requires_grad=True)
    cr.amax(x, 1).backward(cr.tensor([1.0, 2.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0.5, 0.5, 0], [0.5, 0.5, 0.5, 0.5]])
    x = cr.tensor([[1.0, 3.0], [1.0, 2.0]], requires_grad=True)
    cr.amin(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.5, 0], [0.5, 0]])  # the gradient still sums to 1


# ----- logsumexp: stable for huge logits, −inf slices -------------------------------------------------------


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_huge_logits_match_torch(dim, dtype):
    x = np.array([[1e4, -1e4, 1e4], [-1e4, -1e4, -1e4], [1e4, 0.0, -1e4], [3.0, -2.0, 1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow on the way
        check_torch(lambda x: cr.logsumexp(x, dim), lambda t: torch.logsumexp(t, _tdim(dim, 2)), [x])
    y = cr.logsumexp(cr.tensor(x), 1).numpy()
    np.testing.assert_allclose(y[:2], [1e4 + np.log(2), -1e4 + np.log(3)], rtol=1e-6)


def test_logsumexp_with_minus_inf_entries_matches_torch():
    x = np.array([[0.0, -np.inf, 1.0], [-np.inf, 2.0, -np.inf]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_torch(lambda x: cr.logsumexp(x, 1), lambda t: torch.logsumexp(t, 1), [x])


def test_logsumexp_all_minus_inf_slice_is_minus_inf_like_torch():
    x = np.array([[-np.inf, -np.inf, -np.inf], [0.0, 1.0, -np.inf]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = cr.logsumexp(cr.tensor(x), 1)
        # the empty slice's gradient is NaN (undefined), as in PyTorch; the other row's is its softmax
        check_torch(lambda x: cr.logsumexp(x, 1, keepdim=True), lambda t: torch.logsumexp(t, 1, keepdim=True), [x])
    assert y.numpy()[0] == -np.inf
    np.testing.assert_allclose(y.numpy()[1], np.log(1 + np.e))


# ----- argmax / argmin -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dim", [None, 0, 1, -1, -3])
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax_argmin_match_torch(name, dim, keepdim):
    x = rng(6).integers(0, 4, (3, 4, 5)).astype(np.float32)  # ties: both return the first extreme
    x[0, 0, 0] = 9.0 if name == "argmax" else -9.0
    got = getattr(cr, name)(cr.tensor(x, requires_grad=True), dim, keepdim)
    expected = getattr(torch, name)(torch.tensor(x), dim, keepdim).numpy()
    assert got.shape == expected.shape and got.dtype == expected.dtype == np.int64
    np.testing.assert_array_equal(got.numpy(), expected)
    assert not got.requires_grad and got.creator is None


def test_argmax_first_of_ties_and_method():
    x = cr.tensor([[1.0, 3.0, 3.0], [2.0, 1.0, 1.0]])
    np.testing.assert_array_equal(cr.argmax(x, 1).numpy(), [1, 0])
    np.testing.assert_array_equal(cr.argmin(x, 1).numpy(), [0, 1])
    np.testing.assert_array_equal(x.argmax(0).numpy(), [1, 0, 0])
    assert cr.argmax(x).item() == 1 and cr.argmin(x).item() == 0


# ----- errors ----------------------------------------------------------------------------------------------

OPS = {
    "sum": cr.sum, "mean": cr.mean, "var": cr.var, "amax": cr.amax, "amin": cr.amin, "logsumexp": cr.logsumexp,
}


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dim", [2, -3, (0, 5)], ids=str)
def test_reduction_bad_dim_raises_index_error_naming_op(op, dim):
    with pytest.raises(IndexError, match=rf"^{op}: dim -?\d is out of range for a tensor with 2 dimensions"):
        OPS[op](cr.ones(2, 3), dim)


@pytest.mark.parametrize("op", OPS)
def test_reduction_repeated_dim_raises(op):
    with pytest.raises(ValueError, match=rf"^{op}: dim \(1, -1\) names an axis more than once"):
        OPS[op](cr.ones(2, 3), (1, -1))


@pytest.mark.parametrize("op", ["mean", "var", "amax", "amin", "logsumexp"])
def test_reduction_over_empty_dim_raises(op):
    with pytest.raises(ValueError, match=rf"^{op}: cannot reduce over dim 0 of size 0"):
        OPS[op](cr.zeros(0, 3), 0)


def test_sum_over_empty_dim_is_zero():
    np.testing.assert_array_equal(cr.sum(cr.zeros(0, 3), 0).numpy(), [0.0, 0.0, 0.0])


@pytest.mark.parametrize("op", ["mean", "var", "logsumexp"])
def test_float_only_reductions_refuse_integers(op):
    with pytest.raises(cr.DTypeError, match=rf"^{op}: expected a floating-point tensor, got dtype int64"):
        OPS[op](cr.tensor([1, 2, 3]))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_bad_dim(name):
    fn = getattr(cr, name)
    with pytest.raises(IndexError, match=rf"^{name}: dim 2 is out of range"):
        fn(cr.ones(2, 3), 2)
    with pytest.raises(TypeError, match=rf"^{name}: dim must be an int, got tuple"):
        fn(cr.ones(2, 3), (0, 1))
