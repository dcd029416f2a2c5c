"""prod and cumprod (exact gradients with zeros), std, norm, dist, and the contractions dot, outer, mv, tensordot,
trace, diag and einsum: forward and gradients against PyTorch, float64 gradcheck and gradgradcheck, refusals."""

import math

import numpy as np
import pytest
import torch
from helpers import check_grads, check_torch, distinct, rng

import chainrule as cr

# ----- prod and cumprod ------------------------------------------------------------------------------------


def _with_zeros(shape, zeros, seed=0):
    """Standard-normal values with ``zeros`` exact zeros planted in the flattened array (one, or two in one
    row: the cases where dividing y by x fails)."""
    a = rng(seed).standard_normal(shape)
    a.reshape(-1)[list(zeros)] = 0.0
    return a


PROD_CASES = [((3, 4), None), ((3, 4), 0), ((3, 4), 1), ((3, 4), -1), ((2, 3, 4), 1), ((5,), 0), ((), None)]


@pytest.mark.parametrize("zeros", [(), (1,), (1, 2), (0, 5, 6, 7)])
@pytest.mark.parametrize("shape_dim", PROD_CASES)
def test_prod_matches_torch_with_zeros(shape_dim, zeros):
    shape, dim = shape_dim
    size = int(np.prod(shape))
    a = _with_zeros(shape, [z for z in zeros if z < size]).astype(np.float32)
    kwargs = {} if dim is None else {"dim": dim}
    check_torch(lambda x: cr.prod(x, **kwargs), lambda x: torch.prod(x, **kwargs), [a])
    if dim is not None:
        check_torch(lambda x: cr.prod(x, dim, keepdim=True), lambda x: torch.prod(x, dim, keepdim=True), [a])


@pytest.mark.parametrize("zeros", [(), (1,), (1, 2)])
@pytest.mark.parametrize("dim", [None, 0, 1])
def test_prod_gradcheck_and_double_backward(dim, zeros):
    a = _with_zeros((3, 4), zeros, seed=1)
    check_grads(lambda x: cr.prod(x, dim), [a])


def test_prod_second_derivative_with_a_zero_matches_torch():
    a = np.array([2.0, 0.0, 3.0, 0.5])
    x, xt = cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    (g,) = cr.grad(cr.prod(x), [x], create_graph=True)
    (gt,) = torch.autograd.grad(torch.prod(xt), [xt], create_graph=True)
    np.testing.assert_allclose(g.numpy(), gt.detach().numpy())
    v = np.array([1.0, -2.0, 0.5, 3.0])
    (h,) = cr.grad((g * cr.tensor(v)).sum(), [x])
    (ht,) = torch.autograd.grad((gt * torch.tensor(v)).sum(), [xt])
    np.testing.assert_allclose(h.numpy(), ht.numpy())


def test_prod_dtypes_match_torch():
    for values in ([1, 2, 3], [True, False]):
        assert cr.prod(cr.tensor(values)).dtype == torch.prod(torch.tensor(values)).numpy().dtype
    assert cr.prod(cr.tensor(np.array([2, 3], dtype=np.int32)), 0).dtype == np.int64
    assert cr.prod(cr.ones(2, 3), dtype=cr.float64).dtype == np.float64
    assert cr.prod(cr.ones(0)).item() == 1.0


CUMPROD_ZEROS = [(), (1,), (0, 3), (2, 6, 9)]


@pytest.mark.parametrize("zeros", CUMPROD_ZEROS)
@pytest.mark.parametrize("shape_dim", [((3, 4), 0), ((3, 4), 1), ((2, 3, 4), -2), ((5,), 0)])
def test_cumprod_matches_torch_with_zeros(shape_dim, zeros):
    shape, dim = shape_dim
    size = int(np.prod(shape))
    a = _with_zeros(shape, [z for z in zeros if z < size], seed=2).astype(np.float32)
    check_torch(lambda x: cr.cumprod(x, dim), lambda x: torch.cumprod(x, dim), [a])


@pytest.mark.parametrize("zeros", CUMPROD_ZEROS)
def test_cumprod_gradcheck_and_double_backward(zeros):
    check_grads(lambda x: cr.cumprod(x, 1), [_with_zeros((2, 5), zeros, seed=3)])


def test_cumprod_dtypes_and_method():
    assert cr.cumprod(cr.tensor([1, 2, 3]), 0).tolist() == [1, 2, 6]
    assert cr.cumprod(cr.tensor([1, 2, 3]), 0).dtype == np.int64
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.cumprod(1).tolist() == [[1.0, 2.0], [3.0, 12.0]]
    assert x.prod().item() == 24.0


# ----- std, norm, dist ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{}, {"dim": 1}, {"dim": (0, 2), "keepdim": True}, {"dim": 0, "correction": 0},
                                    {"dim": -1, "correction": 2}, {"dim": 1, "unbiased": False}])
def test_std_matches_torch(kwargs):
    a = rng(4).standard_normal((3, 4, 5)).astype(np.float32)
    check_torch(lambda x: cr.std(x, **kwargs), lambda x: torch.std(x, **kwargs), [a])


def test_std_positional_forms_match_torch():
    a = rng(5).standard_normal((3, 4)).astype(np.float32)
    x, t = cr.tensor(a), torch.tensor(a)
    np.testing.assert_allclose(cr.std(x, False).numpy(), torch.std(t, False).numpy(), rtol=1e-6)
    np.testing.assert_allclose(cr.std(x, 1, False, True).numpy(), torch.std(t, 1, False, True).numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.std(0).numpy(), t.std(0).numpy(), rtol=1e-6)


def test_std_gradcheck_and_zero_gradient_for_constant_slices():
    check_grads(lambda x: cr.std(x, 1), [rng(6).standard_normal((3, 4))])
    a = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]], dtype=np.float32)
    check_torch(lambda x: cr.std(x, 1), lambda x: torch.std(x, 1), [a])


NORMS = [2, 1, 3, 0.5, math.inf, -math.inf, 0, "fro"]


@pytest.mark.parametrize("p", NORMS)
@pytest.mark.parametrize("dim", [None, 1, (0, 1), -1])
def test_norm_matches_torch(p, dim):
    a = distinct((3, 4), seed=7).astype(np.float32)
    check_torch(lambda x: cr.norm(x, p, dim), lambda x: torch.norm(x, p, dim), [a])
    check_torch(lambda x: x.norm(p, dim, keepdim=True), lambda x: x.norm(p, dim, keepdim=True), [a])


@pytest.mark.parametrize("p", [2, 1, 3, math.inf, -math.inf])
def test_norm_gradcheck_and_double_backward(p):
    check_grads(lambda x: cr.norm(x, p, 1), [distinct((3, 4), seed=8)], second=not math.isinf(p))


def test_norm_of_zeros_and_ties_match_torch():
    a = np.array([[0.0, 0.0, 0.0], [1.0, -1.0, 0.5]], dtype=np.float32)
    for p in (2, 1, 3, math.inf):
        check_torch(lambda x, p=p: cr.norm(x, p, 1), lambda x, p=p: torch.norm(x, p, 1), [a])


@pytest.mark.parametrize("p", [2, 1, math.inf, 0])
def test_dist_matches_torch_with_broadcasting(p):
    a = distinct((3, 4), seed=9).astype(np.float32)
    b = distinct((4,), seed=10).astype(np.float32) * 0.3
    # (PyTorch's backward of the 0-"norm", a count, fails inside; its gradient is zero, checked in test_norm_*)
    check_torch(lambda x, y: cr.dist(x, y, p), lambda x, y: torch.dist(x, y, p), [a, b], grad=p != 0)


def test_norm_and_std_refusals():
    with pytest.raises(cr.DTypeError, match=r"^norm: expected a floating-point tensor, got dtype int64"):
        cr.norm(cr.tensor([1, 2]))
    with pytest.raises(cr.errors.ArgumentError, match=r"^norm: the nuclear norm \(p='nuc'\)"):
        cr.norm(cr.ones(2, 2), "nuc")
    with pytest.raises(cr.errors.ArgumentError, match=r"^norm: argument 'p' must be a number, inf, -inf or 'fro', "
                                                      r"got 'max'"):
        cr.norm(cr.ones(2), "max")
    with pytest.raises(cr.errors.ArgumentError, match=r"^std: give either 'unbiased' or 'correction', not both"):
        cr.std(cr.ones(3), 0, True, correction=1)
    with pytest.raises(cr.DTypeError, match=r"^std: expected a floating-point tensor"):
        cr.std(cr.tensor([1, 2]))


# ----- dot, outer, mv, tensordot, trace, diag ------------------------------------------------------------


def test_dot_outer_mv_match_torch_and_gradcheck():
    v, w = rng(11).standard_normal(4), rng(12).standard_normal(3)
    m = rng(13).standard_normal((3, 4))
    f32 = [np.float32(a) if np.ndim(a) == 0 else a.astype(np.float32) for a in (v, w, m)]
    check_torch(cr.dot, torch.dot, [f32[0], f32[0][::-1].copy()])
    check_torch(cr.outer, torch.outer, [f32[1], f32[0]])
    check_torch(cr.mv, torch.mv, [f32[2], f32[0]])
    check_grads(cr.dot, [v, v * 2])
    check_grads(cr.outer, [w, v])
    check_grads(cr.mv, [m, v])
    assert cr.tensor(v).dot(cr.tensor(v)).shape == ()


def test_dot_and_mv_refusals_name_the_argument():
    with pytest.raises(cr.ShapeError, match=r"^dot: argument 'input' must be 1-D, got shape \(2, 2\)"):
        cr.dot(cr.ones(2, 2), cr.ones(2))
    with pytest.raises(cr.ShapeError, match=r"^dot: both vectors must have one size, got 2 and 3 elements"):
        cr.dot(cr.ones(2), cr.ones(3))
    with pytest.raises(cr.DTypeError, match=r"^dot: argument 'tensor' has dtype float64 but input has dtype float32"):
        cr.dot(cr.ones(2), cr.ones(2, dtype=cr.float64))
    with pytest.raises(cr.ShapeError, match=r"^mv: input \(2, 3\) and vec \(2,\) do not chain"):
        cr.mv(cr.ones(2, 3), cr.ones(2))


@pytest.mark.parametrize("shapes_dims", [
    (((3, 4), (4, 5)), 1), (((2, 3, 4), (3, 4, 5)), 2), (((3, 4), (4, 3)), ([0, 1], [1, 0])),
    (((2, 3), (4,)), 0), (((2, 3, 4), (4, 2, 5)), ([0, 2], [1, 0])), (((3,), (3,)), 1),
])
def test_tensordot_matches_torch_and_gradchecks(shapes_dims):
    (sa, sb), dims = shapes_dims
    a, b = rng(14).standard_normal(sa), rng(15).standard_normal(sb)
    check_torch(lambda x, y: cr.tensordot(x, y, dims), lambda x, y: torch.tensordot(x, y, dims),
                [a.astype(np.float32), b.astype(np.float32)])
    check_grads(lambda x, y: cr.tensordot(x, y, dims), [a, b])


def test_tensordot_refuses_mismatched_sizes():
    with pytest.raises(cr.ShapeError, match=r"^tensordot: contracted dims differ in size: a's dim 1 has 3 and b's "
                                            r"dim 0 has 4"):
        cr.tensordot(cr.ones(2, 3), cr.ones(4, 2), 1)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 2)])
def test_trace_matches_torch_and_gradchecks(shape):
    a = rng(16).standard_normal(shape)
    check_torch(cr.trace, torch.trace, [a.astype(np.float32)])
    check_grads(cr.trace, [a])
    assert cr.trace(cr.tensor(np.arange(4).reshape(2, 2))).dtype == np.int64


@pytest.mark.parametrize("k", [0, 1, -1, 2])
@pytest.mark.parametrize("shape", [(4,), (3, 3), (2, 4), (4, 2)])
def test_diag_matches_torch_and_gradchecks(shape, k):
    a = rng(17).standard_normal(shape)
    check_torch(lambda x: cr.diag(x, k), lambda x: torch.diag(x, k), [a.astype(np.float32)])
    check_grads(lambda x: cr.diag(x, k), [a])
    with pytest.raises(cr.ShapeError, match=r"^diag: argument 'input' must be 1-D or 2-D, got shape \(2, 2, 2\)"):
        cr.diag(cr.ones(2, 2, 2))


# ----- einsum ----------------------------------------------------------------------------------------------

EINSUM = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),  # implicit output: ik
    ("ij->ji", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("ij", [(3, 4)]),  # implicit: the identity
    ("ba", [(3, 4)]),  # implicit: alphabetical order, a transpose
    ("ii->i", [(4, 4)]),  # diagonal
    ("ii", [(4, 4)]),  # trace
    ("iij->j", [(3, 3, 2)]),
    ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bij,bjk->bk", [(2, 3, 4), (2, 4, 5)]),  # i summed from one operand only
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk", [(1, 3, 4), (2, 4, 5)]),  # broadcast batch dims (size 1 against 2)
    ("...ij,jk->...ik", [(2, 2, 3, 4), (4, 5)]),
    ("i...->...", [(3, 2, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),  # bilinear
    (" ij , jk -> ik ", [(3, 4), (4, 5)]),  # spaces
]


@pytest.mark.parametrize("equation,shapes", EINSUM)
def test_einsum_matches_torch(equation, shapes):
    arrays = [rng(20 + i).standard_normal(s).astype(np.float32) for i, s in enumerate(shapes)]
    check_torch(lambda *xs: cr.einsum(equation, *xs), lambda *xs: torch.einsum(equation, *xs), arrays)


@pytest.mark.parametrize("equation,shapes", EINSUM)
def test_einsum_gradcheck_and_double_backward(equation, shapes):
    arrays = [rng(40 + i).standard_normal(s) for i, s in enumerate(shapes)]
    check_grads(lambda *xs: cr.einsum(equation, *xs), arrays)


def test_einsum_accepts_a_list_and_integers():
    a, b = cr.tensor([[1, 2], [3, 4]]), cr.tensor([[5, 6], [7, 8]])
    assert cr.einsum("ij,jk->ik", [a, b]).tolist() == torch.einsum("ij,jk->ik", torch.tensor(a.numpy()),
                                                                    torch.tensor(b.numpy())).tolist()
    assert cr.einsum("ij,jk->ik", a, b).dtype == np.int64


def test_einsum_backward_is_an_einsum():
    a = cr.tensor(rng(60).standard_normal((3, 4)), requires_grad=True)
    b = cr.tensor(rng(61).standard_normal((4, 5)), requires_grad=True)
    y = cr.einsum("ij,jk->ik", a, b)
    (ga,) = cr.grad(y.sum(), [a], create_graph=True)
    assert type(ga.creator).__name__ == "Einsum"


@pytest.mark.parametrize("args,error,message", [
    (("ij,jk->ik", (2, 3), (4, 5)), cr.ShapeError, r"^einsum: subscript 'j' has size 3 in one place and 4 in another"),
    (("ij->ik", (2, 3)), cr.errors.ArgumentError, r"^einsum: output subscript 'k' in 'ij->ik' does not appear"),
    (("ij,jk->ik", (2, 3)), cr.errors.ArgumentError, r"^einsum: equation 'ij,jk->ik' has 2 operand\(s\) but 1"),
    (("ijk->i", (2, 3)), cr.ShapeError, r"^einsum: operand subscripts 'ijk' name 3 dims but the tensor has 2"),
    (("ii->i", (2, 3)), cr.ShapeError, r"^einsum: subscript 'i' has size 2 in one place and 3 in another"),
    (("ii->i", (1, 3)), cr.ShapeError, r"^einsum: subscript 'i' is repeated in 'ii' over dims of different sizes"),
    (("i1->i", (2, 3)), cr.errors.ArgumentError, r"^einsum: equation 'i1->i' has an invalid subscript '1'"),
    (("ij->ii", (2, 2)), cr.errors.ArgumentError, r"^einsum: output subscript 'i' appears more than once"),
])
def test_einsum_refusals_are_one_clear_line(args, error, message):
    equation, *shapes = args
    with pytest.raises(error, match=message):
        cr.einsum(equation, *[cr.ones(*s) for s in shapes])


def test_einsum_refuses_mixed_dtypes():
    with pytest.raises(cr.DTypeError, match=r"^einsum: argument 'operands\[1\]' has dtype float64 but operands\[0\]"):
        cr.einsum("i,i", cr.ones(2), cr.ones(2, dtype=cr.float64))
