"""Shape ops and indexing: forward and gradients against PyTorch, float64 gradcheck and gradgradcheck."""

import numpy as np
import pytest
import torch
from helpers import check_grads, check_torch, noncontiguous, rng
from torch.nn.functional import pad as torch_pad

import chainrule as cr

# name: (chainrule fn, torch fn, input shape); the same lambda usually serves both libraries
UNARY = {
    "reshape": (lambda x: x.reshape(4, 6), lambda t: t.reshape(4, 6), (2, 3, 4)),
    "reshape_tuple": (lambda x: cr.reshape(x, (6, 2, 2)), lambda t: t.reshape((6, 2, 2)), (2, 3, 4)),
    "reshape_infer": (lambda x: x.reshape(2, -1, 3), lambda t: t.reshape(2, -1, 3), (2, 3, 4)),
    "reshape_flat": (lambda x: x.reshape(-1), lambda t: t.reshape(-1), (2, 3, 4)),
    "reshape_to_scalar": (lambda x: x.reshape(()), lambda t: t.reshape(()), (1, 1)),
    "view": (lambda x: x.view(3, 8), lambda t: t.reshape(3, 8), (2, 3, 4)),
    "permute": (lambda x: x.permute(2, 0, 1), lambda t: t.permute(2, 0, 1), (2, 3, 4)),
    "permute_negative": (lambda x: cr.permute(x, (-1, 0, -2)), lambda t: t.permute(-1, 0, -2), (2, 3, 4)),
    "transpose": (lambda x: x.transpose(0, 2), lambda t: t.transpose(0, 2), (2, 3, 4)),
    "transpose_negative": (lambda x: cr.transpose(x, -1, -2), lambda t: t.transpose(-1, -2), (2, 3, 4)),
    "T": (lambda x: x.T, lambda t: t.T, (3, 4)),
    "T_3d": (lambda x: x.T, lambda t: t.permute(2, 1, 0), (2, 3, 4)),
    "mT": (lambda x: x.mT, lambda t: t.mT, (2, 3, 4)),
    "expand": (lambda x: x.expand(2, 3, 4), lambda t: t.expand(2, 3, 4), (3, 1)),
    "expand_keep": (lambda x: cr.expand(x, (2, -1, 4)), lambda t: t.expand(2, -1, 4), (3, 1)),
    "expand_scalar": (lambda x: x.expand(2, 3), lambda t: t.expand(2, 3), ()),
    "broadcast_to": (lambda x: x.broadcast_to((2, 3, 4)), lambda t: t.broadcast_to((2, 3, 4)), (4,)),
    "broadcast_to_middle": (lambda x: cr.broadcast_to(x, (3, 5, 2)), lambda t: t.broadcast_to((3, 5, 2)), (3, 1, 2)),
    "squeeze_all": (lambda x: x.squeeze(), lambda t: t.squeeze(), (1, 3, 1, 4)),
    "squeeze_dim": (lambda x: x.squeeze(0), lambda t: t.squeeze(0), (1, 3, 1, 4)),
    "squeeze_negative": (lambda x: cr.squeeze(x, -2), lambda t: t.squeeze(-2), (1, 3, 1, 4)),
    "squeeze_dims": (lambda x: x.squeeze((0, 2)), lambda t: t.squeeze((0, 2)), (1, 3, 1, 4)),
    "squeeze_scalar": (lambda x: x.squeeze(-1), lambda t: t.squeeze(-1), ()),
    "squeeze_not_one": (lambda x: x.squeeze(1), lambda t: t.squeeze(1), (1, 3, 1, 4)),  # size 3: left as is
    "unsqueeze_front": (lambda x: x.unsqueeze(0), lambda t: t.unsqueeze(0), (3, 4)),
    "unsqueeze_middle": (lambda x: cr.unsqueeze(x, 1), lambda t: t.unsqueeze(1), (3, 4)),
    "unsqueeze_end": (lambda x: x.unsqueeze(-1), lambda t: t.unsqueeze(-1), (3, 4)),
    "unsqueeze_scalar": (lambda x: x.unsqueeze(0), lambda t: t.unsqueeze(0), ()),
    "flatten": (lambda x: x.flatten(), lambda t: t.flatten(), (2, 3, 2, 2)),
    "flatten_from": (lambda x: x.flatten(1), lambda t: t.flatten(1), (2, 3, 2, 2)),
    "flatten_middle": (lambda x: cr.flatten(x, 1, 2), lambda t: t.flatten(1, 2), (2, 3, 2, 2)),
    "flatten_negative": (lambda x: x.flatten(-3, -2), lambda t: t.flatten(-3, -2), (2, 3, 2, 2)),
    "flatten_one_dim": (lambda x: x.flatten(2, 2), lambda t: t.flatten(2, 2), (2, 3, 2, 2)),
    "flatten_scalar": (lambda x: x.flatten(), lambda t: t.flatten(), ()),
    "pad_last": (lambda x: cr.pad(x, (1, 2)), lambda t: torch_pad(t, (1, 2)), (2, 3)),
    "pad_two_dims": (
        lambda x: cr.pad(x, (1, 0, 0, 2), value=-1.5), lambda t: torch_pad(t, (1, 0, 0, 2), value=-1.5), (2, 3),
    ),
    "pad_three_dims": (lambda x: cr.pad(x, (0, 0, 2, 1, 1, 1)), lambda t: torch_pad(t, (0, 0, 2, 1, 1, 1)), (2, 3, 2)),
    "pad_zero": (lambda x: cr.pad(x, (0, 0)), lambda t: torch_pad(t, (0, 0)), (2, 3)),
    "split_pieces_used": (lambda x: cr.split(x, 3)[::2], lambda t: torch.split(t, 3)[::2], (7, 2)),
    "split_one_piece_used": (lambda x: cr.split(x, [2, 4], dim=1)[1], lambda t: torch.split(t, [2, 4], 1)[1], (2, 6)),
}


@pytest.mark.parametrize("name", UNARY)
def test_unary_shape_op_matches_torch(name):
    fn, tfn, shape = UNARY[name]
    check_torch(fn, tfn, [rng(1).standard_normal(shape).astype(np.float32)])


@pytest.mark.parametrize("name", UNARY)
def test_unary_shape_op_non_contiguous(name):
    fn, tfn, shape = UNARY[name]
    check_torch(fn, tfn, [noncontiguous(rng(2).standard_normal(shape).astype(np.float32))])


@pytest.mark.parametrize("name", UNARY)
def test_unary_shape_op_gradcheck(name):
    fn, _, shape = UNARY[name]
    check_grads(fn, [rng(3).standard_normal(shape)])


def test_shape_ops_give_expected_shapes():
    x = cr.ones(2, 3, 4)
    assert x.reshape(4, -1).shape == (4, 6)
    assert x.permute(1, 2, 0).shape == (3, 4, 2)
    assert x.mT.shape == (2, 4, 3) and x.T.shape == (4, 3, 2)
    assert cr.ones(3, 1).expand(2, -1, 5).shape == (2, 3, 5)
    assert cr.ones(1, 3, 1).squeeze().shape == (3,) and cr.ones(1, 3, 1).squeeze(-1).shape == (1, 3)
    assert x.unsqueeze(-1).shape == (2, 3, 4, 1) and x.unsqueeze(3).shape == (2, 3, 4, 1)
    assert x.flatten(0, 1).shape == (6, 4) and x.flatten(1).shape == (2, 12)
    assert cr.pad(x, (1, 2, 3, 4)).shape == (2, 10, 7)


# ----- joining and splitting ----------------------------------------------------------------------------

# name: (chainrule fn of several tensors, torch fn, input shapes)
JOIN = {
    "cat_dim0": (lambda *xs: cr.cat(xs, 0), lambda *ts: torch.cat(ts, 0), [(2, 3), (4, 3)]),
    "cat_last": (lambda *xs: cr.cat(xs, dim=-1), lambda *ts: torch.cat(ts, -1), [(2, 3), (2, 1), (2, 2)]),
    "cat_middle": (lambda *xs: cr.cat(list(xs), 1), lambda *ts: torch.cat(ts, 1), [(2, 1, 3), (2, 2, 3)]),
    "cat_with_empty": (lambda *xs: cr.cat(xs, 0), lambda *ts: torch.cat(ts, 0), [(2, 3), (0, 3), (1, 3)]),
    "concatenate": (lambda *xs: cr.concatenate(xs, 1), lambda *ts: torch.concatenate(ts, 1), [(2, 2), (2, 3)]),
    "stack_dim0": (lambda *xs: cr.stack(xs), lambda *ts: torch.stack(ts), [(2, 3)] * 3),
    "stack_dim1": (lambda *xs: cr.stack(xs, 1), lambda *ts: torch.stack(ts, 1), [(2, 3)] * 3),
    "stack_last": (lambda *xs: cr.stack(xs, -1), lambda *ts: torch.stack(ts, -1), [(2, 3)] * 2),
    "stack_scalars": (lambda *xs: cr.stack(xs), lambda *ts: torch.stack(ts), [()] * 3),
    "split_remainder": (lambda x: cr.split(x, 3), lambda t: torch.split(t, 3), [(7, 2)]),
    "split_even": (lambda x: x.split(2, dim=-1), lambda t: t.split(2, dim=-1), [(3, 6)]),
    "split_sections": (lambda x: cr.split(x, [2, 0, 5]), lambda t: torch.split(t, [2, 0, 5]), [(7, 2)]),
    "split_sections_dim1": (lambda x: x.split([1, 3], 1), lambda t: t.split([1, 3], 1), [(2, 4, 2)]),
    "split_bigger_than_dim": (lambda x: cr.split(x, 5), lambda t: torch.split(t, 5), [(3, 2)]),
    "cat_of_split": (
        lambda x: cr.cat(cr.split(x, 2)[::-1]), lambda t: torch.cat(torch.split(t, 2)[::-1]), [(5, 3)],
    ),
}


@pytest.mark.parametrize("name", JOIN)
def test_join_split_matches_torch(name):
    fn, tfn, shapes = JOIN[name]
    check_torch(fn, tfn, [rng(4 + i).standard_normal(s).astype(np.float32) for i, s in enumerate(shapes)])


@pytest.mark.parametrize("name", JOIN)
def test_join_split_non_contiguous(name):
    fn, tfn, shapes = JOIN[name]
    arrays = [noncontiguous(rng(8 + i).standard_normal(s).astype(np.float32)) for i, s in enumerate(shapes)]
    check_torch(fn, tfn, arrays)


@pytest.mark.parametrize("name", JOIN)
def test_join_split_gradcheck(name):
    fn, _, shapes = JOIN[name]
    check_grads(fn, [rng(12 + i).standard_normal(s) for i, s in enumerate(shapes)])


def test_split_pieces_and_gradient_of_unused_pieces():
    x = cr.tensor(np.arange(14.0).reshape(7, 2), requires_grad=True)
    pieces = cr.split(x, 3)
    assert [p.shape for p in pieces] == [(3, 2), (3, 2), (1, 2)]
    np.testing.assert_array_equal(pieces[2].numpy(), [[12.0, 13.0]])
    (pieces[1] * 2).sum().backward()  # pieces 0 and 2 unused: their rows get zero gradient
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0]] * 3 + [[2, 2]] * 3 + [[0, 0]])


def test_cat_sends_each_input_its_block():
    a = cr.tensor([[1.0, 2.0]], requires_grad=True)
    b = cr.tensor([[3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    y = cr.cat([a, b])
    np.testing.assert_array_equal(y.numpy(), [[1, 2], [3, 4], [5, 6]])
    y.backward(cr.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    np.testing.assert_array_equal(a.grad.numpy(), [[1, 2]])
    np.testing.assert_array_equal(b.grad.numpy(), [[3, 4], [5, 6]])


def test_pad_layout_values():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = cr.pad(x, (1, 0, 0, 1), value=9.0)  # (left, right) of the last dim, then (top, bottom)
    np.testing.assert_array_equal(y.numpy(), [[9, 1, 2], [9, 3, 4], [9, 9, 9]])
    y.backward(cr.tensor(np.arange(9.0, dtype=np.float32).reshape(3, 3)))
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 2], [4, 5]])


# ----- indexing ------------------------------------------------------------------------------------------

IDX = np.array([0, 2, 0, 0])  # repeated: the gradient must add up
MASK_ROWS = np.array([True, False, True, True])
MASK_FULL = rng(20).random((4, 5, 6)) > 0.5
# name: (index for chainrule, index for torch); the input has shape (4, 5, 6)
INDEX = {
    "int": (1, 1),
    "negative_int": (-1, -1),
    "ints": ((1, -2), (1, -2)),
    "element": ((3, 4, -6), (3, 4, -6)),
    "slice": (slice(1, 3), slice(1, 3)),
    "slices_step": ((slice(None, None, 2), slice(1, None, 3)), (slice(None, None, 2), slice(1, None, 3))),
    "slice_negative_bounds": ((slice(-3, -1), slice(None, -2)), (slice(-3, -1), slice(None, -2))),
    "none": ((None, 1), (None, 1)),
    "ellipsis": ((Ellipsis, 2), (Ellipsis, 2)),
    "ellipsis_none": ((0, Ellipsis, None), (0, Ellipsis, None)),
    "none_middle": ((slice(None), None, 1), (slice(None), None, 1)),
    "fancy_repeated": (IDX, torch.tensor(IDX)),
    "fancy_list": ([3, 3, 1], [3, 3, 1]),
    "fancy_negative": (np.array([-1, 3, -4, 0]), torch.tensor([-1, 3, -4, 0])),
    "fancy_2d": (np.array([[0, 1], [1, 1]]), torch.tensor([[0, 1], [1, 1]])),
    "fancy_pairs": ((np.array([0, 0, 3]), np.array([4, 4, 2])), (torch.tensor([0, 0, 3]), torch.tensor([4, 4, 2]))),
    "fancy_broadcast": (
        (np.array([[0], [2]]), np.array([1, 1, 3])), (torch.tensor([[0], [2]]), torch.tensor([1, 1, 3])),
    ),
    "tensor_index": (cr.tensor([3, 1, 3]), torch.tensor([3, 1, 3])),
    "tensor_scalar_index": (cr.tensor(2), torch.tensor(2)),
    "bool_rows": (MASK_ROWS, torch.tensor(MASK_ROWS)),
    "bool_full": (MASK_FULL, torch.tensor(MASK_FULL)),
    "bool_tensor": (cr.tensor(MASK_ROWS), torch.tensor(MASK_ROWS)),
    "mixed_slice_fancy": ((slice(1, 3), [0, 0, 4]), (slice(1, 3), [0, 0, 4])),
    "mixed_int_fancy_step": ((1, [0, 0, 2], slice(None, None, 2)), (1, [0, 0, 2], slice(None, None, 2))),
    "mixed_separated_fancy": (([0, 2, 2], slice(None), [1, 1, 5]), ([0, 2, 2], slice(None), [1, 1, 5])),
    "mixed_ellipsis_fancy": ((Ellipsis, IDX), (Ellipsis, torch.tensor(IDX))),
    "mixed_mask_slice": ((MASK_ROWS, slice(1, 3)), (torch.tensor(MASK_ROWS), slice(1, 3))),
    "mixed_none_fancy": ((None, IDX, 1), (None, torch.tensor(IDX), 1)),
}


@pytest.mark.parametrize("name", INDEX)
def test_getitem_matches_torch(name):
    index, tindex = INDEX[name]
    check_torch(lambda x: x[index], lambda t: t[tindex], [rng(21).standard_normal((4, 5, 6)).astype(np.float32)])


@pytest.mark.parametrize("name", ["slices_step", "fancy_repeated", "bool_full", "mixed_separated_fancy", "element"])
def test_getitem_non_contiguous(name):
    index, tindex = INDEX[name]
    x = noncontiguous(rng(22).standard_normal((4, 5, 6)).astype(np.float32))
    check_torch(lambda x: x[index], lambda t: t[tindex], [x])


@pytest.mark.parametrize("name", INDEX)
def test_getitem_gradcheck(name):
    index, _ = INDEX[name]
    check_grads(lambda x: cr.getitem(x, index), [rng(23).standard_normal((4, 5, 6))])


@pytest.mark.parametrize(
    "index", [np.s_[::-1], np.s_[::-2, 3:0:-1], np.s_[1, ::-1, [0, 0, 5]]], ids=["reverse", "reverse_step", "mixed"]
)
def test_getitem_negative_step_matches_numpy(index):  # PyTorch has no negative steps: NumPy is the reference
    a = rng(24).standard_normal((4, 5, 6))
    g = rng(25).standard_normal(a[index].shape)
    x = cr.tensor(a, requires_grad=True)
    y = x[index]
    np.testing.assert_array_equal(y.numpy(), a[index])
    y.backward(cr.tensor(g))
    expected = np.zeros_like(a)
    np.add.at(expected, index, g)
    np.testing.assert_array_equal(x.grad.numpy(), expected)
    check_grads(lambda x: x[index], [a])


def test_getitem_repeated_indices_add_their_gradients():
    x = cr.zeros(4, requires_grad=True)
    x[[0, 0, 2, 0, -1]].backward(cr.tensor([1.0, 2.0, 3.0, 4.0, 5.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [7.0, 0.0, 3.0, 5.0])
    x = cr.zeros(2, 3, requires_grad=True)
    x[np.array([1, 1]), np.array([2, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 0], [0, 0, 2]])


def test_getitem_mask_gradient_lands_on_selected_elements():
    x = cr.tensor([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]], requires_grad=True)
    y = x[x.numpy() > 0]
    np.testing.assert_array_equal(y.numpy(), [1.0, 3.0, 5.0])
    y.backward(cr.tensor([10.0, 20.0, 30.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [[10, 0, 20], [0, 30, 0]])


# ----- errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda: cr.ones(2, 3).reshape(4, 2), cr.ShapeError, r"^reshape: cannot reshape a tensor of shape \(2, 3\)"),
        (lambda: cr.ones(2, 3).reshape(-1, -1), cr.ShapeError, r"^reshape: invalid shape \(-1, -1\)"),
        (lambda: cr.ones(2, 3).reshape(4, -1), cr.ShapeError, r"^reshape: cannot reshape .* to \(4, -1\)"),
        (lambda: cr.ones(2, 3).permute(0, 0), cr.ShapeError, r"^permute: dims \(0, 0\) must be a permutation"),
        (lambda: cr.ones(2, 3, 4).permute(0, 1), cr.ShapeError, r"^permute: dims \(0, 1\) must be a permutation"),
        (lambda: cr.ones(2, 3).permute(0, 2), IndexError, r"^permute: dim 2 is out of range"),
        (lambda: cr.ones(2, 3).transpose(0, -3), IndexError, r"^transpose: dim -3 is out of range"),
        (lambda: cr.ones(3).mT, IndexError, r"^(transpose|mT): .*-2"),
        (lambda: cr.ones(3).expand(5), cr.ShapeError, r"^expand: cannot expand shape \(3,\) to \(5,\)"),
        (lambda: cr.ones(2, 3).expand(3), cr.ShapeError, r"^expand: 1 sizes given for a tensor of shape \(2, 3\)"),
        (lambda: cr.ones(3).expand(-1, 3), cr.ShapeError, r"^expand: cannot expand shape \(3,\) to \(-1, 3\)"),
        (lambda: cr.ones(2, 3).broadcast_to((3, 3)), cr.ShapeError, r"^broadcast_to: cannot broadcast shape \(2, 3\)"),
        (lambda: cr.ones(2, 3).squeeze(2), IndexError, r"^squeeze: dim 2 is out of range"),
        (lambda: cr.ones(2, 3).squeeze((0, -3)), IndexError, r"^squeeze: dim -3 is out of range"),
        (lambda: cr.tensor(1.0).squeeze(1), IndexError, r"^squeeze: dim 1 is out of range for a tensor with 0 dim"),
        (lambda: cr.ones(2, 3).unsqueeze(3), IndexError, r"^unsqueeze: dim 3 is out of range"),
        (lambda: cr.ones(2, 3).unsqueeze(-4), IndexError, r"^unsqueeze: dim -4 is out of range"),
        (lambda: cr.ones(2, 3, 4).flatten(2, 1), ValueError, r"^flatten: start_dim \(2\) must not come after"),
        (lambda: cr.ones(2, 3).flatten(0, 2), IndexError, r"^flatten: dim 2 is out of range"),
        (lambda: cr.cat([cr.ones(2, 3), cr.ones(3, 2)]), cr.ShapeError, r"^cat: tensors\[1\] has shape \(3, 2\)"),
        (lambda: cr.cat([cr.ones(2, 3), cr.ones(3)]), cr.ShapeError, r"^cat: tensors\[1\] has shape \(3,\)"),
        (lambda: cr.cat([cr.ones(2), cr.ones(2)], 1), IndexError, r"^cat: dim 1 is out of range"),
        (lambda: cr.cat([]), ValueError, r"^cat: expected a non-empty sequence"),
        (lambda: cr.cat([cr.tensor(1.0), cr.tensor(2.0)]), cr.ShapeError, r"^cat: zero-dimensional tensors"),
        (lambda: cr.stack([cr.ones(2, 3), cr.ones(3, 2)]), cr.ShapeError, r"^stack: tensors\[1\] has shape"),
        (lambda: cr.stack([cr.ones(2), cr.ones(2)], 2), IndexError, r"^stack: dim 2 is out of range"),
        (lambda: cr.stack([]), ValueError, r"^stack: expected a non-empty sequence"),
        (lambda: cr.split(cr.ones(7, 2), [2, 3]), cr.ShapeError, r"^split: sections \[2, 3\] must be ≥ 0 and sum"),
        (lambda: cr.split(cr.ones(7, 2), 0), ValueError, r"^split: split_size must be positive, got 0"),
        (lambda: cr.split(cr.ones(7, 2), 2, dim=2), IndexError, r"^split: dim 2 is out of range"),
        (lambda: cr.pad(cr.ones(2, 2), (1,)), cr.ShapeError, r"^pad: expected an even number of pads"),
        (lambda: cr.pad(cr.ones(2), (1, 1, 1, 1)), cr.ShapeError, r"^pad: expected an even number of pads"),
        (lambda: cr.pad(cr.ones(2), (1, -1)), ValueError, r"^pad: pads must be ≥ 0"),
        (lambda: cr.pad(cr.ones(2), (1, 1), mode="bogus"), ValueError, r"^pad: mode .*'bogus'"),
        (lambda: cr.ones(3)[5], IndexError, r"^getitem: index 5 is invalid for a tensor of shape \(3,\)"),
        (lambda: cr.ones(2, 3)[0, 0, 0], IndexError, r"^getitem: index \(0, 0, 0\) is invalid"),
        (lambda: cr.ones(2, 3)[[0, 2]], IndexError, r"^getitem: index .* is invalid for a tensor of shape \(2, 3\)"),
        (lambda: cr.ones(2, 3)[np.array([True, False, True])], IndexError, r"^getitem: index .* is invalid"),
        (lambda: cr.ones(2, 3)[0.5], IndexError, r"^getitem: index 0.5 is invalid"),
    ],
)
def test_shape_errors_name_the_op(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unbind_matches_torch_and_gradcheck(dim):
    x = rng(21).standard_normal((3, 4, 2)).astype(np.float32)
    check_torch(lambda t: cr.unbind(t, dim), lambda t: torch.unbind(t, dim), [x])
    check_grads(lambda t: cr.unbind(t, dim)[1] * 2, [x.astype(np.float64)])  # unused slices get zeros


def test_unbind_backward_writes_each_slice_once():
    # one Function for all slices: its backward is a single stack, whatever the number of slices
    x = cr.tensor(rng(22).standard_normal((50, 3)), requires_grad=True)
    parts = cr.unbind(x)
    assert len({id(p.creator) for p in parts}) == 1
    sum(((p * (i + 1)).sum() for i, p in enumerate(parts)), cr.tensor(0.0, dtype=cr.float64)).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.repeat(np.arange(1.0, 51.0)[:, None], 3, axis=1))
