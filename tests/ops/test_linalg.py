"""matmul: forward and gradients against PyTorch for every rank combination, float64 gradcheck and gradgradcheck."""

import numpy as np
import pytest
import torch
from helpers import check_grads, check_torch, noncontiguous, rng

import chainrule as cr

# (shape of a, shape of b): NumPy's rules for 1-D operands, batches, and batch broadcasting
SHAPES = [
    ((3, 4), (4, 5)),  # matrix · matrix
    ((4,), (4,)),  # vector · vector → scalar
    ((4,), (4, 5)),  # vector · matrix
    ((3, 4), (4,)),  # matrix · vector
    ((2, 3, 4), (2, 4, 5)),  # batch · batch
    ((2, 1, 3, 4), (5, 4, 2)),  # batch dims broadcast: (2, 1) with (5,) → (2, 5)
    ((1, 3, 4), (2, 4, 5)),  # size-1 batch dim stretched
    ((2, 3, 4), (4, 5)),  # batch · matrix
    ((3, 4), (2, 4, 5)),  # matrix · batch
    ((4,), (2, 4, 5)),  # vector · batch
    ((2, 3, 4), (4,)),  # batch · vector
    ((1, 1), (1, 1)),
]


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_matmul_matches_torch(shapes):
    r = rng(1)
    a = r.standard_normal(shapes[0]).astype(np.float32)
    b = r.standard_normal(shapes[1]).astype(np.float32)
    check_torch(cr.matmul, torch.matmul, [a, b])


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_matmul_operator_and_method_match_torch(shapes):
    r = rng(2)
    a = r.standard_normal(shapes[0]).astype(np.float32)
    b = r.standard_normal(shapes[1]).astype(np.float32)
    check_torch(lambda a, b: a @ b, lambda a, b: a @ b, [a, b])
    check_torch(lambda a, b: a.matmul(b), lambda a, b: a.matmul(b), [a, b])


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_matmul_gradcheck(shapes):
    r = rng(3)
    check_grads(cr.matmul, [r.standard_normal(shapes[0]), r.standard_normal(shapes[1])])


def test_matmul_rhs_operator_with_array():
    a = rng(4).standard_normal((2, 3)).astype(np.float32)
    b = cr.tensor(rng(5).standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    y = a @ b  # ndarray @ Tensor defers to Tensor.__rmatmul__
    assert isinstance(y, cr.Tensor)
    np.testing.assert_allclose(y.numpy(), a @ b.numpy(), rtol=1e-6)


def test_matmul_non_contiguous_arrays():
    r = rng(6)
    a = r.standard_normal((4, 3)).astype(np.float32).T  # a transposed view: (3, 4), Fortran order
    b = noncontiguous(r.standard_normal((4, 5)).astype(np.float32))
    assert not a.flags.c_contiguous and not b.flags.c_contiguous
    check_torch(cr.matmul, torch.matmul, [a, b])
    batch = noncontiguous(r.standard_normal((2, 3, 4)).astype(np.float32)).transpose(0, 2, 1)  # (2, 4, 3)
    check_torch(cr.matmul, torch.matmul, [batch, a])


def test_matmul_of_transposed_views_in_the_graph():
    r = rng(7)
    a = r.standard_normal((4, 3)).astype(np.float32)
    b = r.standard_normal((2, 5, 4)).astype(np.float32)
    check_torch(lambda a, b: a.T @ b.mT, lambda a, b: a.T @ b.mT, [a, b])
    check_grads(lambda a, b: a.T @ b.mT, [a.astype(np.float64), b.astype(np.float64)])


def test_matmul_gradient_only_for_the_input_that_requires_it():
    a = cr.tensor(rng(8).standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    b = cr.tensor(rng(9).standard_normal((4,)).astype(np.float32))
    (a @ b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.broadcast_to(b.numpy(), (3, 4)), rtol=1e-6)
    assert b.grad is None


def test_vector_dot_vector_values():
    a = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = cr.tensor([4.0, 5.0, 6.0], requires_grad=True)
    y = a @ b
    assert y.shape == () and y.item() == 32.0
    y.backward()
    np.testing.assert_array_equal(a.grad.numpy(), [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 2.0, 3.0])


def test_integer_matmul_matches_torch():
    r = rng(10)
    check_torch(cr.matmul, torch.matmul, [r.integers(-3, 4, (2, 3)), r.integers(-3, 4, (3, 2))], grad=False)


def test_integer_with_float_matmul_is_float():
    a = np.array([[1, 2], [3, 4]])
    b = cr.tensor([[0.5, 1.0], [1.5, -1.0]], requires_grad=True)
    y = cr.matmul(a, b)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), a @ b.numpy())
    y.sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), [[4, 4], [6, 6]])


# ----- errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "pattern"),
    [
        ((2, 3), (4, 5), r"^matmul: shapes \(2, 3\) and \(4, 5\) do not chain: a's last dim \(3\) must equal b's"),
        ((2, 3), (4,), r"^matmul: shapes \(2, 3\) and \(4,\) do not chain"),
        ((4,), (3, 2), r"^matmul: shapes \(4,\) and \(3, 2\) do not chain"),
        ((3,), (4,), r"^matmul: shapes \(3,\) and \(4,\) do not chain"),
        ((2, 3, 4), (2, 5, 6), r"^matmul: shapes \(2, 3, 4\) and \(2, 5, 6\) do not chain"),
        ((2, 3, 4), (3, 4, 5), r"^matmul: shapes \(2, 3, 4\) and \(3, 4, 5\) do not broadcast in their batch dims"),
        ((2, 1, 3, 4), (5, 3, 4, 2), r"^matmul: shapes \(2, 1, 3, 4\) and \(5, 3, 4, 2\) do not broadcast"),
        ((), (3,), r"^matmul: both arguments need at least 1 dim, got shapes \(\) and \(3,\)"),
        ((3,), (), r"^matmul: both arguments need at least 1 dim, got shapes \(3,\) and \(\)"),
    ],
    ids=str,
)
def test_matmul_shape_errors_name_op_and_shapes(a, b, pattern):
    with pytest.raises(cr.ShapeError, match=pattern):
        cr.ones(a) @ cr.ones(b)


def test_matmul_refuses_mixed_float_dtypes():
    with pytest.raises(cr.DTypeError, match=r"^matmul: cannot mix floating dtypes float32, float64"):
        cr.ones(2, 2) @ cr.ones(2, 2, dtype=cr.float64)
