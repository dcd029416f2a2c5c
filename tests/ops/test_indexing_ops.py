"""Picking and placing by index, sorting, running sums and the max/min/median pairs: forward and gradients against
PyTorch, float64 gradcheck and gradgradcheck, and the refusals."""

import numpy as np
import pytest
import torch
from helpers import check_grads, check_torch, distinct, rng

import chainrule as cr

# ----- max / min / median along a dim: (values, indices) ------------------------------------------------------


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize(("shape", "dim"), [((5,), 0), ((3, 4), 1), ((3, 4), -2), ((2, 3, 4), 1)], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_along_dim_match_torch(name, shape, dim, keepdim):
    x = distinct(shape, seed=1).astype(np.float32)
    check_torch(lambda x: getattr(cr, name)(x, dim, keepdim), lambda t: getattr(torch, name)(t, dim, keepdim), [x])
    check_torch(lambda x: getattr(x, name)(dim, keepdim=keepdim), lambda t: getattr(t, name)(dim, keepdim=keepdim),
                [x])


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_pair_is_named_indexable_and_unpacks(name):
    x = cr.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    pair = getattr(cr, name)(x, 1)
    values, indices = pair
    assert pair[0] is pair.values is values and pair[1] is pair.indices is indices and len(pair) == 2
    expected = ([5.0, 7.0], [1, 0]) if name == "max" else ([1.0, 0.0], [0, 1])
    np.testing.assert_array_equal(values.numpy(), expected[0])
    assert indices.dtype == np.int64 and indices.tolist() == expected[1]
    assert repr(pair).startswith(f"chainrule.return_types.{name}(\nvalues=tensor(")
    _, pred = getattr(cr, name)(cr.zeros(2, 3), 1)  # the classifier idiom: one index per row, even for 2 rows
    assert pred.shape == (2,)


def test_max_min_forms_as_torch():
    a, b = cr.tensor([[1.0, 4.0], [3.0, 2.0]]), cr.tensor([[2.0, 2.0], [2.0, 2.0]])
    assert cr.max(a).shape == () and cr.max(a).item() == 4.0 and a.min().item() == 1.0
    np.testing.assert_array_equal(cr.max(a, b).numpy(), [[2, 4], [3, 2]])  # a tensor second: elementwise
    np.testing.assert_array_equal(a.min(b).numpy(), [[1, 2], [2, 2]])
    np.testing.assert_array_equal(cr.amax(a, (0, 1)).numpy(), 4.0)  # several dims: amax, values only


def test_max_along_dim_gives_the_gradient_to_the_first_tie_like_torch():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 1.0]], dtype=np.float32)
    check_torch(lambda x: cr.max(x, 1).values, lambda t: torch.max(t, 1).values, [x])
    xs = cr.tensor(x, requires_grad=True)
    cr.max(xs, 1).values.sum().backward()
    np.testing.assert_array_equal(xs.grad.numpy(), [[0, 1, 0], [1, 0, 0]])
    cr.max(xs).backward()  # no dim: ties share, as torch.max(x)
    np.testing.assert_array_equal(xs.grad.numpy(), [[0, 1.5, 0.5], [1, 0, 0]])


@pytest.mark.parametrize("name", ["max", "min", "median"])
def test_pairs_along_dim_gradcheck(name):
    check_grads(lambda x: getattr(cr, name)(x, 1).values, [distinct((3, 4), seed=2)])
    check_grads(lambda x: getattr(cr, name)(x, 0, keepdim=True).values, [distinct((3, 4), seed=3)])


@pytest.mark.parametrize("shape", [(5,), (4,), (3, 4), (2, 3, 5)], ids=str)
def test_median_matches_torch(shape):
    x = distinct(shape, seed=4).astype(np.float32)
    check_torch(lambda x: cr.median(x), lambda t: torch.median(t), [x])
    check_torch(lambda x: cr.median(x, -1), lambda t: torch.median(t, -1), [x])
    check_torch(lambda x: x.median(0, keepdim=True), lambda t: t.median(0, keepdim=True), [x])


def test_median_is_the_lower_middle_and_shares_ties():
    assert cr.median(cr.tensor([1.0, 5.0, 5.0, 2.0])).item() == 2.0
    x = cr.tensor([3.0, 3.0, 1.0], requires_grad=True)
    cr.median(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, 0.5, 0.0])  # as torch: ties share


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: cr.max(cr.ones(2, 3), (0, 1)), TypeError, r"^max: argument 'dim' must be an int .* cr\.amax"),
    (lambda: cr.min(cr.ones(2, 3), 2), IndexError, r"^min: dim 2 is out of range"),
    (lambda: cr.max(cr.ones(0, 3), 0), ValueError, r"^max: cannot take the max over dim 0 of size 0"),
    (lambda: cr.median(cr.ones(2) > 0), TypeError, r"^median: not defined for bool tensors"),
    (lambda: cr.median(cr.ones(0)), ValueError, r"^median: the tensor is empty"),
])
def test_pair_refusals(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ----- sort, argsort, topk -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("shape", "dim"), [((6,), 0), ((3, 5), -1), ((3, 5), 0), ((2, 3, 4), 1)], ids=str)
@pytest.mark.parametrize("descending", [False, True])
def test_sort_and_argsort_match_torch(shape, dim, descending):
    x = distinct(shape, seed=5).astype(np.float32)
    check_torch(lambda x: cr.sort(x, dim, descending), lambda t: torch.sort(t, dim, descending), [x])
    check_torch(lambda x: x.argsort(dim, descending=descending), lambda t: t.argsort(dim, descending=descending),
                [x], grad=False)
    check_grads(lambda x: cr.sort(x, dim, descending).values, [distinct(shape, seed=6)])


def test_sort_keeps_ties_in_order_and_puts_nan_last():
    x = cr.tensor([2.0, 1.0, 2.0, float("nan"), 1.0])
    assert cr.sort(x).indices.tolist() == [1, 4, 0, 2, 3]
    assert cr.sort(x, descending=True).indices.tolist() == [3, 0, 2, 1, 4]
    for descending in (False, True):
        expected = torch.sort(torch.tensor(x.numpy()), descending=descending, stable=True)
        assert cr.sort(x, descending=descending).indices.tolist() == expected.indices.tolist()
    values, indices = cr.sort(cr.tensor([[3, 1, 2]]))
    assert values.dtype == np.int64 and values.tolist() == [[1, 2, 3]] and indices.tolist() == [[1, 2, 0]]


@pytest.mark.parametrize(("shape", "k", "dim"), [((6,), 3, 0), ((3, 5), 2, -1), ((4, 3), 4, 0), ((3, 5), 0, 1)],
                         ids=str)
@pytest.mark.parametrize("largest", [True, False])
def test_topk_matches_torch(shape, k, dim, largest):
    x = distinct(shape, seed=7).astype(np.float32)
    check_torch(lambda x: cr.topk(x, k, dim, largest), lambda t: torch.topk(t, k, dim, largest), [x])
    check_torch(lambda x: x.topk(k, dim=dim, largest=largest), lambda t: t.topk(k, dim=dim, largest=largest), [x])
    check_grads(lambda x: cr.topk(x, k, dim, largest).values, [distinct(shape, seed=8)])


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: cr.topk(cr.ones(3), 4), ValueError, r"^topk: argument 'k' must be ≤ 3, got 4"),
    (lambda: cr.topk(cr.ones(3), -1), ValueError, r"^topk: argument 'k' must be ≥ 0"),
    (lambda: cr.topk(cr.ones(3) > 0, 1), TypeError, r"^topk: not defined for bool tensors"),
    (lambda: cr.sort(cr.ones(3), 1), IndexError, r"^sort: dim 1 is out of range"),
    (lambda: cr.sort(cr.ones(3), descending="yes"), TypeError, r"^sort: argument 'descending' must be True or False"),
])
def test_sorting_refusals(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ----- gather, scatter, scatter_add, index_select, masked_fill --------------------------------------------------


@pytest.mark.parametrize(("shape", "dim", "index_shape"), [
    ((4,), 0, (6,)), ((3, 4), 1, (3, 5)), ((3, 4), 0, (2, 4)), ((3, 4), 1, (2, 2)), ((2, 3, 4), 2, (2, 3, 3)),
], ids=str)
def test_gather_matches_torch_with_repeated_indices(shape, dim, index_shape):
    x = rng(1).standard_normal(shape).astype(np.float32)
    index = rng(2).integers(0, shape[dim], index_shape)
    check_torch(lambda x, i: cr.gather(x, dim, i), lambda t, i: torch.gather(t, dim, i), [x, index])
    check_torch(lambda x, i: x.gather(dim, i), lambda t, i: t.gather(dim, i), [x, index])
    check_grads(lambda x: cr.gather(x, dim, cr.tensor(index)), [x])


@pytest.mark.parametrize(("shape", "dim", "index_shape"), [((5,), 0, (3,)), ((4, 3), 0, (2, 3)), ((3, 5), 1, (2, 3))],
                         ids=str)
def test_scatter_and_scatter_add_match_torch(shape, dim, index_shape):
    x = rng(3).standard_normal(shape).astype(np.float32)
    src = rng(4).standard_normal(index_shape).astype(np.float32)
    # distinct positions along dim in each slice: scatter's result is then defined (PyTorch leaves repeats open)
    draws = rng(5).random(tuple(shape[dim] if d == dim else n for d, n in enumerate(index_shape)))
    index = np.take(np.argsort(draws, axis=dim), np.arange(index_shape[dim]), axis=dim)
    check_torch(lambda x, i, s: cr.scatter(x, dim, i, s), lambda t, i, s: torch.scatter(t, dim, i, s), [x, index, src])
    check_torch(lambda x, i: cr.scatter(x, dim, i, value=2.5), lambda t, i: torch.scatter(t, dim, i, value=2.5),
                [x, index])
    repeated = rng(7).integers(0, shape[dim], index_shape)  # scatter_add adds repeats up
    check_torch(lambda x, i, s: cr.scatter_add(x, dim, i, s), lambda t, i, s: torch.scatter_add(t, dim, i, s),
                [x, repeated, src])
    check_grads(lambda x, s: cr.scatter(x, dim, cr.tensor(index), s), [x, src])
    check_grads(lambda x, s: cr.scatter_add(x, dim, cr.tensor(repeated), s), [x, src])


def test_scatter_in_place_builds_one_hot_rows():
    labels = cr.tensor([2, 0, 1])
    one_hot = cr.zeros(3, 4).scatter_(1, labels.unsqueeze(1), 1.0)
    np.testing.assert_array_equal(one_hot.numpy(), np.eye(4, dtype=np.float32)[[2, 0, 1]])
    acc = cr.zeros(3).scatter_add_(0, cr.tensor([0, 0, 2]), cr.tensor([1.0, 2.0, 3.0]))
    assert acc.tolist() == [3.0, 0.0, 3.0]


@pytest.mark.parametrize(("shape", "dim", "index"), [((5,), 0, [4, 0, 0]), ((3, 4), 1, [3, 1]), ((3, 4), 0, [])],
                         ids=str)
def test_index_select_matches_torch(shape, dim, index):
    x = rng(8).standard_normal(shape).astype(np.float32)
    idx = np.array(index, dtype=np.int64)
    check_torch(lambda x, i: cr.index_select(x, dim, i), lambda t, i: torch.index_select(t, dim, i), [x, idx])
    check_grads(lambda x: x.index_select(dim, cr.tensor(idx)), [x])


@pytest.mark.parametrize("mask_shape", [(3, 4), (4,), (3, 1)], ids=str)
def test_masked_fill_matches_torch(mask_shape):
    x = rng(9).standard_normal((3, 4)).astype(np.float32)
    mask = rng(10).random(mask_shape) > 0.5
    check_torch(lambda x, m: cr.masked_fill(x, m, -1e9), lambda t, m: t.masked_fill(m, -1e9), [x, mask])
    value = np.array(0.75, dtype=np.float32)  # a 0-d tensor value is differentiable too
    check_torch(lambda x, m, v: x.masked_fill(m, v), lambda t, m, v: t.masked_fill(m, v), [x, mask, value])
    check_grads(lambda x, v: cr.masked_fill(x, cr.tensor(mask), v), [x, np.array(0.5)])
    y = cr.tensor(x)
    assert y.masked_fill_(cr.tensor(mask), 0.0) is y and np.all(y.numpy()[np.broadcast_to(mask, x.shape)] == 0)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: cr.gather(cr.ones(2, 3), 1, cr.tensor([[3]])), IndexError, r"^gather: index\[0, 0\] = 3 is outside "
                                                                        r"\[0, 3\)"),
    (lambda: cr.gather(cr.ones(2, 3), 1, cr.tensor([[-1]])), IndexError, r"^gather: index\[0, 0\] = -1"),
    (lambda: cr.gather(cr.ones(2, 3), 1, cr.tensor([0])), ValueError, r"^gather: index must have as many dims"),
    (lambda: cr.gather(cr.ones(2, 3), 1, cr.tensor([[0.0]])), TypeError, r"^gather: argument 'index' must be an "
                                                                         r"integer"),
    (lambda: cr.gather(cr.ones(2, 3), 1, cr.zeros(3, 1, dtype=cr.long)), ValueError, r"^gather: index \(3, 1\) is "
                                                                                     r"larger than input"),
    (lambda: cr.scatter(cr.ones(3), 0, cr.tensor([0]), cr.ones(1, dtype=cr.double)), TypeError,
     r"^scatter: src has dtype float64 but input has float32"),
    (lambda: cr.scatter(cr.ones(3), 0, cr.tensor([0])), ValueError, r"^scatter: give exactly one of 'src'"),
    (lambda: cr.index_select(cr.ones(3), 0, cr.tensor([[0]])), ValueError, r"^index_select: index must be 1-d"),
    (lambda: cr.index_select(cr.ones(3), 0, cr.tensor([5])), IndexError, r"^index_select: index\[0\] = 5"),
    (lambda: cr.masked_fill(cr.ones(3), cr.tensor([1, 0, 1]), 0.0), TypeError, r"^masked_fill: mask must be a bool"),
    (lambda: cr.masked_fill(cr.ones(3), cr.ones(2, 3) > 0, 0.0), ValueError, r"^masked_fill: mask \(2, 3\) must "
                                                                            r"broadcast to input's shape \(3,\)"),
    (lambda: cr.masked_fill(cr.ones(3), cr.ones(3) > 0, cr.ones(2)), ValueError, r"^masked_fill: value must be a "
                                                                                r"number or a 0-d tensor"),
])
def test_index_refusals(call, error, message):
    with pytest.raises(error, match=message):
        call()
    with pytest.raises(cr.ChainruleError):
        call()


# ----- cumsum ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("shape", "dim"), [((5,), 0), ((3, 4), 1), ((3, 4), -2), ((2, 3, 4), 1)], ids=str)
def test_cumsum_matches_torch(shape, dim):
    x = rng(11).standard_normal(shape).astype(np.float32)
    check_torch(lambda x: cr.cumsum(x, dim), lambda t: torch.cumsum(t, dim), [x])
    check_torch(lambda x: x.cumsum(dim), lambda t: t.cumsum(dim), [x])
    check_grads(lambda x: cr.cumsum(x, dim), [x])


def test_cumsum_dtypes_as_torch():
    assert cr.cumsum(cr.tensor([1, 2, 3], dtype=cr.int32), 0).dtype == np.int64
    assert cr.cumsum(cr.tensor([True, True]), 0).tolist() == [1, 2]
    assert cr.cumsum(cr.ones(2), 0, dtype=cr.float64).dtype == np.float64
    assert cr.cumsum(cr.ones(3), 0).dtype == np.float32


# ----- shape methods: t, repeat, narrow, chunk, view_as, contiguous; mm and bmm ------------------------------------


@pytest.mark.parametrize(("shape", "sizes"), [((3,), (2,)), ((2, 3), (2, 1)), ((2, 3), (1, 2, 2)),
                                              ((2, 1, 3), (1, 3, 2))], ids=str)
def test_repeat_matches_torch(shape, sizes):
    x = rng(12).standard_normal(shape).astype(np.float32)
    check_torch(lambda x: x.repeat(*sizes), lambda t: t.repeat(*sizes), [x])
    check_grads(lambda x: x.repeat(sizes), [x])


@pytest.mark.parametrize(("dim", "start", "length"), [(0, 1, 2), (1, -3, 2), (1, 4, 0)])
def test_narrow_matches_torch(dim, start, length):
    x = rng(13).standard_normal((3, 4)).astype(np.float32)
    check_torch(lambda x: cr.narrow(x, dim, start, length), lambda t: torch.narrow(t, dim, start, length), [x])
    check_grads(lambda x: x.narrow(dim, start, length), [x])


@pytest.mark.parametrize(("n", "chunks"), [(5, 3), (6, 3), (2, 4), (0, 3)])
def test_chunk_matches_torch(n, chunks):
    x = rng(14).standard_normal((n, 2)).astype(np.float32)
    check_torch(lambda x: cr.chunk(x, chunks), lambda t: torch.chunk(t, chunks), [x], grad=n > 0)
    assert [p.shape for p in cr.ones(2, n).chunk(chunks, 1)] == [tuple(p.shape) for p in torch.ones(2, n).chunk(
        chunks, 1)]


def test_t_view_as_contiguous_and_matrix_products_match_torch():
    a, b = rng(15).standard_normal((2, 3)), rng(16).standard_normal((3, 4))
    check_torch(lambda a: a.t(), lambda t: t.t(), [a.astype(np.float32)])
    check_torch(lambda a, b: cr.mm(a, b), lambda a, b: torch.mm(a, b), [a.astype(np.float32), b.astype(np.float32)])
    check_grads(lambda a, b: a.mm(b), [a, b])
    p, q = rng(17).standard_normal((2, 2, 3)), rng(18).standard_normal((2, 3, 4))
    check_torch(lambda p, q: cr.bmm(p, q), lambda p, q: torch.bmm(p, q), [p.astype(np.float32), q.astype(np.float32)])
    check_grads(lambda p, q: p.bmm(q), [p, q])
    v = cr.ones(3)
    assert cr.t(v) is v and cr.t(cr.tensor(2.0)).shape == ()
    x = cr.arange(6.0)
    assert x.view_as(cr.ones(2, 3)).shape == (2, 3) and x.contiguous() is x
    xt = cr.ones(2, 3).t()
    assert not xt.is_contiguous() and xt.contiguous().is_contiguous() and xt.contiguous().shape == (3, 2)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: cr.t(cr.ones(2, 2, 2)), ValueError, r"^t: expects a tensor with at most 2 dims"),
    (lambda: cr.mm(cr.ones(2, 3), cr.ones(2, 3)), ValueError, r"^mm: shapes \(2, 3\) and \(2, 3\) cannot be "
                                                              r"multiplied"),
    (lambda: cr.mm(cr.ones(3), cr.ones(3, 2)), ValueError, r"^mm: both arguments must be 2-d"),
    (lambda: cr.bmm(cr.ones(2, 2, 3), cr.ones(3, 3, 2)), ValueError, r"^bmm: shapes .* do not match"),
    (lambda: cr.ones(2, 3).repeat(2), ValueError, r"^repeat: the number of repeat sizes \(1\) cannot be smaller"),
    (lambda: cr.narrow(cr.ones(3), 0, 2, 2), ValueError, r"^narrow: argument 'length' must be ≤ 1"),
    (lambda: cr.narrow(cr.ones(3), 0, 4, 0), ValueError, r"^narrow: argument 'start' must be ≤ 3"),
    (lambda: cr.chunk(cr.ones(3), 0), ValueError, r"^chunk: argument 'chunks' must be ≥ 1"),
])
def test_shape_refusals(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_float32_stays_float32():
    x = cr.randn(3, 4)
    idx = cr.tensor([[0, 1], [2, 3], [1, 1]])
    outs = [cr.gather(x, 1, idx), cr.sort(x).values, cr.topk(x, 2).values, cr.cumsum(x, 1), cr.max(x, 0).values,
            cr.median(x, 1).values, x.repeat(2, 1), cr.masked_fill(x, x > 0, 0.5), cr.scatter_add(x, 1, idx, x[:, :2])]
    assert all(o.dtype == np.float32 for o in outs)


def test_writing_into_returned_indices_leaves_the_gradient_alone():
    x = cr.tensor([3.0, 1.0, 2.0], requires_grad=True)
    values, indices = cr.sort(x)
    indices[0] = 2  # the graph routes by its own copy
    values.backward(cr.tensor([1.0, 2.0, 3.0]))
    assert x.grad.tolist() == [3.0, 1.0, 2.0]
    index, w = cr.tensor([0, 0]), cr.tensor([1.0, 2.0], requires_grad=True)
    y = cr.gather(w, 0, index)
    index[1] = 1  # nor can a write into the caller's index tensor
    y.sum().backward()
    assert w.grad.tolist() == [2.0, 0.0]
