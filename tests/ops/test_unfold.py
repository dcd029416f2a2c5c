"""unfold (im2col) and fold (col2im) against PyTorch, their gradients (each the other's adjoint), gradchecks."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF  # noqa: N812 - the usual alias
from helpers import check_grads, check_torch, rng

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - the usual alias
from chainrule.errors import ShapeError

# (N, C, H, W), kernel, dilation, padding, stride
CASES = [
    ((2, 3, 5, 6), 2, 1, 0, 1),
    ((1, 2, 7, 7), 3, 1, 1, 2),
    ((2, 1, 8, 9), (2, 3), (2, 1), (1, 2), (2, 3)),
    ((1, 4, 6, 6), (3, 1), 1, 0, 1),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unfold_matches_torch(case, dtype):
    shape, k, d, p, s = case
    check_torch(lambda x: F.unfold(x, k, d, p, s), lambda x: TF.unfold(x, k, d, p, s),
                [rng(1).standard_normal(shape).astype(dtype)])


@pytest.mark.parametrize("case", CASES)
def test_fold_matches_torch(case):
    shape, k, d, p, s = case
    cols = TF.unfold(torch.zeros(shape), k, d, p, s).shape
    check_torch(lambda u: F.fold(u, shape[2:], k, d, p, s), lambda u: TF.fold(u, shape[2:], k, d, p, s),
                [rng(2).standard_normal(tuple(cols)).astype(np.float32)])


def test_unbatched_and_modules():
    x = rng(3).standard_normal((2, 5, 5)).astype(np.float32)
    u = cr.nn.Unfold(3, padding=1)(cr.tensor(x))
    np.testing.assert_allclose(u.numpy(), TF.unfold(torch.tensor(x), 3, padding=1).numpy())
    y = cr.nn.Fold((5, 5), 3, padding=1)(u)
    np.testing.assert_allclose(y.numpy(), TF.fold(torch.tensor(u.numpy()), (5, 5), 3, padding=1).numpy(), rtol=1e-6)


def test_fold_of_unfold_counts_each_pixel_s_windows():
    """fold(unfold(1)) = how many windows cover each pixel: the adjoint pair, seen on ones."""
    ones = cr.ones(1, 1, 4, 4)
    counts = F.fold(F.unfold(ones, 3, padding=1), (4, 4), 3, padding=1).numpy()[0, 0]
    np.testing.assert_array_equal(counts, [[4, 6, 6, 4], [6, 9, 9, 6], [6, 9, 9, 6], [4, 6, 6, 4]])


def test_gradcheck_and_gradgradcheck():
    check_grads(lambda x: F.unfold(x, (2, 3), 1, (1, 0), (1, 2)) ** 2, [rng(4).standard_normal((2, 2, 5, 6))])
    check_grads(lambda u: F.fold(u, (4, 5), 2, 1, 0, 1) ** 2, [rng(5).standard_normal((1, 8, 12))])


def test_errors_name_the_op_and_the_shapes():
    with pytest.raises(ShapeError, match="unfold: input must be 4-D"):
        F.unfold(cr.zeros(3, 4), 2)
    with pytest.raises(ShapeError, match="fold: the input has 7 columns"):
        F.fold(cr.zeros(1, 4, 7), (3, 3), 2)
    with pytest.raises(ShapeError, match="must be a multiple of the kernel's size"):
        F.fold(cr.zeros(1, 5, 4), (3, 3), 2)
    with pytest.raises(ShapeError, match="does not fit"):
        F.unfold(cr.zeros(1, 1, 2, 2), 3)


def test_a_convolution_by_hand_with_unfold_equals_conv2d():
    """(W as a matrix) @ unfold(X): the convolution, values and gradients (the identity the docs state)."""
    r = rng(6)
    x, w = r.standard_normal((2, 3, 6, 5)), r.standard_normal((4, 3, 3, 2))

    def by_hand(x, w):
        cols = F.unfold(x, (3, 2), padding=1, stride=2)
        return (w.reshape(4, -1) @ cols).reshape(2, 4, 3, 3)

    a = [cr.tensor(v, requires_grad=True) for v in (x, w)]
    b = [cr.tensor(v, requires_grad=True) for v in (x, w)]
    y1, y2 = by_hand(*a), F.conv2d(*b, padding=1, stride=2)
    np.testing.assert_allclose(y1.numpy(), y2.numpy(), rtol=1e-12)
    g = cr.tensor(r.standard_normal(y1.shape))
    y1.backward(g)
    y2.backward(g)
    for p, q in zip(a, b):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12)
