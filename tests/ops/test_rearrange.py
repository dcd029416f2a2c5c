"""flip, roll, tile, repeat_interleave (forward and gradients against PyTorch, gradcheck, gradgradcheck), and the
random draws multinomial and normal (distributions, dtypes, determinism under a seed, refusals)."""

import numpy as np
import pytest
import torch
from helpers import check_grads, check_torch, rng

import chainrule as cr


@pytest.mark.parametrize("shape,dims", [((3, 4), (0,)), ((3, 4), (1,)), ((3, 4), (0, 1)), ((2, 3, 4), (-1, 0)),
                                        ((5,), (0,)), ((2, 3), ())])
def test_flip_matches_torch_and_gradchecks(shape, dims):
    a = rng(0).standard_normal(shape)
    check_torch(lambda x: cr.flip(x, dims), lambda x: torch.flip(x, dims), [a.astype(np.float32)])
    check_grads(lambda x: cr.flip(x, dims), [a])


def test_flip_is_a_copy_and_a_method():
    x = cr.tensor([[1, 2], [3, 4]])
    y = x.flip(0)
    assert y.tolist() == [[3, 4], [1, 2]] and x.flip([0, 1]).tolist() == [[4, 3], [2, 1]]
    assert y._data.flags.writeable and not np.shares_memory(y._data, x._data)
    with pytest.raises(cr.errors.ArgumentError, match=r"^flip: dims \(0, -2\) name an axis more than once"):
        cr.flip(x, (0, -2))


@pytest.mark.parametrize("shape,shifts,dims", [((3, 4), 1, None), ((3, 4), -5, None), ((3, 4), 2, 1),
                                               ((3, 4), (1, -2), (0, 1)), ((2, 3, 4), (5,), (2,)), ((4,), 0, 0)])
def test_roll_matches_torch_and_gradchecks(shape, shifts, dims):
    a = rng(1).standard_normal(shape)
    check_torch(lambda x: cr.roll(x, shifts, dims), lambda x: torch.roll(x, shifts, dims), [a.astype(np.float32)])
    check_grads(lambda x: cr.roll(x, shifts, dims), [a])


def test_roll_refusals():
    with pytest.raises(cr.errors.ArgumentError, match=r"^roll: shifts and dims must have the same length, got 2"):
        cr.roll(cr.ones(2, 2), (1, 2), 0)
    with pytest.raises(cr.errors.ArgumentError, match=r"^roll: without dims, shifts must be one int"):
        cr.roll(cr.ones(2, 2), (1, 2))


@pytest.mark.parametrize("shape,reps", [((3, 4), (2,)), ((3, 4), (2, 1)), ((3,), (2, 3)), ((2, 3), (1, 2, 2)),
                                        ((2, 3), ())])
def test_tile_matches_torch_and_gradchecks(shape, reps):
    a = rng(2).standard_normal(shape)
    check_torch(lambda x: cr.tile(x, reps), lambda x: torch.tile(x, reps), [a.astype(np.float32)])
    check_grads(lambda x: cr.tile(x, reps), [a])
    assert cr.tensor(a).tile(*reps).shape == tuple(torch.tensor(a).tile(*reps).shape) if reps else True


@pytest.mark.parametrize("repeats,dim", [(2, None), (3, 0), (2, 1), (2, -1), ([1, 0, 2], 0), ([2, 1, 1, 3], 1),
                                         ([2], 1)])
def test_repeat_interleave_matches_torch_and_gradchecks(repeats, dim):
    a = rng(3).standard_normal((3, 4))
    r_cr = cr.tensor(repeats) if isinstance(repeats, list) else repeats
    r_t = torch.tensor(repeats) if isinstance(repeats, list) else repeats
    check_torch(lambda x: cr.repeat_interleave(x, r_cr, dim), lambda x: torch.repeat_interleave(x, r_t, dim),
                [a.astype(np.float32)])
    check_grads(lambda x: cr.repeat_interleave(x, r_cr, dim), [a])


def test_repeat_interleave_forms_and_refusals():
    assert cr.repeat_interleave(cr.tensor([1, 2, 0, 3])).tolist() == \
        torch.repeat_interleave(torch.tensor([1, 2, 0, 3])).tolist()
    assert cr.tensor([1, 2]).repeat_interleave(2).tolist() == [1, 1, 2, 2]
    assert cr.repeat_interleave(cr.tensor(5.0), 3).tolist() == [5.0, 5.0, 5.0]
    with pytest.raises(cr.ShapeError, match=r"^repeat_interleave: a 0-d input has no dim 0"):
        cr.repeat_interleave(cr.tensor(5.0), 3, 0)
    with pytest.raises(cr.ShapeError, match=r"^repeat_interleave: repeats has 2 counts but the input has 3 elements"):
        cr.repeat_interleave(cr.ones(3), cr.tensor([1, 2]), 0)
    with pytest.raises(cr.errors.ArgumentError, match=r"^repeat_interleave: argument 'repeats' must hold "
                                                      r"non-negative counts, got -1"):
        cr.repeat_interleave(cr.ones(2), cr.tensor([1, -1]), 0)
    with pytest.raises(cr.errors.ArgumentError, match=r"^repeat_interleave: argument 'repeats' must be ≥ 0, got -2"):
        cr.repeat_interleave(cr.ones(2), -2)
    with pytest.raises(cr.ShapeError, match=r"^repeat_interleave: output_size is 5 but the repeats add up to 4"):
        cr.repeat_interleave(cr.ones(2), 2, output_size=5)


# ----- random draws ------------------------------------------------------------------------------------------


def test_multinomial_with_replacement_follows_the_weights():
    cr.manual_seed(0)
    w = cr.tensor([[1.0, 0.0, 3.0], [0.0, 5.0, 5.0]])
    s = cr.multinomial(w, 20000, replacement=True)
    assert s.shape == (2, 20000) and s.dtype == np.int64 and not s.requires_grad
    freq0 = np.bincount(s.numpy()[0], minlength=3) / 20000
    freq1 = np.bincount(s.numpy()[1], minlength=3) / 20000
    np.testing.assert_allclose(freq0, [0.25, 0.0, 0.75], atol=0.015)
    np.testing.assert_allclose(freq1, [0.0, 0.5, 0.5], atol=0.015)


def test_multinomial_without_replacement_draws_distinct_categories():
    cr.manual_seed(1)
    w = cr.tensor(np.tile([1.0, 2.0, 0.0, 4.0], (500, 1)))
    s = cr.multinomial(w, 3).numpy()
    assert all(len(set(row)) == 3 and 2 not in row for row in s)
    first = np.bincount(s[:, 0], minlength=4) / 500  # the first draw follows the weights: 1/7, 2/7, 0, 4/7
    np.testing.assert_allclose(first, [1 / 7, 2 / 7, 0, 4 / 7], atol=0.06)
    assert cr.tensor([0.2, 0.8]).multinomial(2).shape == (2,)


def test_multinomial_is_reproducible_under_a_seed():
    w = cr.tensor([0.1, 0.2, 0.7])
    cr.manual_seed(5)
    a = cr.multinomial(w, 10, True).tolist()
    cr.manual_seed(5)
    assert cr.multinomial(w, 10, True).tolist() == a
    g = cr.Generator().manual_seed(3)
    assert cr.multinomial(w, 4, True, generator=g).shape == (4,)


@pytest.mark.parametrize("weights,kwargs,message", [
    ([1.0, -1.0], {}, r"^multinomial: the weights must be finite and non-negative"),
    ([0.0, 0.0], {}, r"^multinomial: row 0 of the weights is all zero"),
    ([1.0, 0.0, 1.0], {"num_samples": 3}, r"^multinomial: cannot draw 3 samples without replacement from a row with "
                                          r"only 2 nonzero weights"),
])
def test_multinomial_refusals(weights, kwargs, message):
    with pytest.raises(cr.errors.ArgumentError, match=message):
        cr.multinomial(cr.tensor(weights), kwargs.get("num_samples", 1))
    with pytest.raises(cr.DTypeError, match=r"^multinomial: argument 'input' must be a floating-point tensor"):
        cr.multinomial(cr.tensor([1, 2]), 1)


def test_normal_forms_shapes_dtypes_and_moments():
    cr.manual_seed(0)
    mean = cr.full((4000,), 2.0)
    std = cr.full((4000,), 0.5)
    y = cr.normal(mean, std)
    assert y.shape == (4000,) and y.dtype == np.float32
    assert abs(float(y.mean().item()) - 2.0) < 0.05 and abs(float(cr.std(y).item()) - 0.5) < 0.05
    assert cr.normal(mean, 1.0).shape == (4000,)
    assert cr.normal(0.0, std).shape == (4000,)
    z = cr.normal(1.0, 2.0, (2, 3))
    assert z.shape == (2, 3) and z.dtype == np.float32 and not z.requires_grad
    assert cr.normal(cr.zeros(3, 1, dtype=cr.float64), cr.ones(4, dtype=cr.float64)).shape == (3, 4)


def test_normal_gradient_is_zero_as_torch():
    m, mt = cr.zeros(3, requires_grad=True), torch.zeros(3, requires_grad=True)
    y, yt = cr.normal(m, 1.0), torch.normal(mt, 1.0)
    assert y.requires_grad == yt.requires_grad
    y.sum().backward()
    yt.sum().backward()
    assert m.grad.tolist() == mt.grad.tolist() == [0.0, 0.0, 0.0]
    s = cr.ones(3, requires_grad=True)
    cr.normal(cr.zeros(2, 1), s).sum().backward()  # broadcast parameters: zero gradients of their own shapes
    assert s.grad.shape == (3,) and s.grad.tolist() == [0.0, 0.0, 0.0]


def test_normal_refusals():
    with pytest.raises(cr.errors.ArgumentError, match=r"^normal: argument 'std' must be ≥ 0, got -1"):
        cr.normal(0.0, -1.0, (2,))
    with pytest.raises(cr.errors.ArgumentError, match=r"^normal: with a number mean and std, argument 'size' is "
                                                      r"needed"):
        cr.normal(0.0, 1.0)
    with pytest.raises(cr.errors.ArgumentError, match=r"^normal: argument 'std' must be ≥ 0 everywhere"):
        cr.normal(cr.zeros(2), cr.tensor([1.0, -1.0]))
