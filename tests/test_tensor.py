"""Tensor basics and the factories."""

import numpy as np
import pytest

import chainrule as cr


def test_defaults_float32_and_int64():
    assert cr.tensor([1.0, 2.0]).dtype == np.float32
    assert cr.tensor(1.5).dtype == np.float32
    assert cr.tensor([1, 2]).dtype == np.int64
    assert cr.tensor(np.array([1.0])).dtype == np.float64  # arrays keep their dtype
    assert cr.tensor([1, 2], dtype=cr.float64).dtype == np.float64
    assert cr.zeros(2, 3).dtype == np.float32 and cr.zeros(2, 3).shape == (2, 3)
    assert cr.ones((2, 3)).shape == (2, 3)


def test_tensor_copies_but_from_numpy_shares():
    a = np.ones(3, dtype=np.float32)
    assert not np.shares_memory(cr.tensor(a).numpy(), a)
    assert np.shares_memory(cr.from_numpy(a).numpy(), a)


def test_attributes():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert x.shape == (2, 2) and x.ndim == 2 and x.numel() == 4 and len(x) == 2 and x.size(1) == 2
    assert x.is_leaf and x.grad is None and x.grad_fn is None and x.device == cr.device("cpu")
    y = x * 2
    assert not y.is_leaf and y.grad_fn is y.creator and type(y.grad_fn).__name__ == "Mul"
    assert isinstance(x.numpy(), np.ndarray) and x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert cr.tensor([3.5]).item() == 3.5 and float(cr.tensor(2.0)) == 2.0
    assert "requires_grad=True" in repr(x) and "grad_fn=<Mul>" in repr(y)


def test_item_on_many_elements_raises():
    with pytest.raises(ValueError, match=r"item: only one-element tensors.*shape \(2,\)"):
        cr.ones(2).item()


def test_random_factories_are_reproducible_with_a_generator():
    a = cr.randn(3, 4, generator=np.random.default_rng(5))
    b = cr.randn(3, 4, generator=np.random.default_rng(5))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.dtype == np.float32
    cr.manual_seed(7)
    c = cr.rand(5)
    cr.manual_seed(7)
    np.testing.assert_array_equal(c.numpy(), cr.rand(5).numpy())
    assert ((c.numpy() >= 0) & (c.numpy() < 1)).all()
    r = cr.randint(0, 3, (100,), generator=np.random.default_rng(0))
    assert r.dtype == np.int64 and set(np.unique(r.numpy())) == {0, 1, 2}


def test_ranges_and_likes():
    np.testing.assert_array_equal(cr.arange(4).numpy(), [0, 1, 2, 3])
    assert cr.arange(4).dtype == np.int64 and cr.arange(0.0, 1.0, 0.25).dtype == np.float32
    np.testing.assert_allclose(cr.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1])
    x = cr.randn(2, 3, dtype=cr.float64)
    assert cr.zeros_like(x).dtype == np.float64 and cr.ones_like(x).numpy().sum() == 6
    assert cr.full_like(x, 2.5).numpy().max() == 2.5
    np.testing.assert_array_equal(cr.eye(2).numpy(), np.eye(2))


def test_dtype_conversions_are_differentiable():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 3
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    assert x.long().dtype == np.int64


def test_numpy_array_on_the_left_defers_to_tensor():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([2.0, 3.0], dtype=np.float32) * x
    assert isinstance(y, cr.Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 3.0])


@pytest.mark.parametrize("data", [np.array(["a", "b"]), np.array([None, 1.0]), np.array([1 + 2j]),
                                  np.array(["2026-01-01"], dtype="datetime64[D]")], ids=str)
def test_the_constructor_refuses_arrays_that_hold_no_numbers(data):
    with pytest.raises(cr.errors.DTypeError, match=r"Tensor: data must hold numbers .* got an array of dtype"):
        cr.Tensor(data)
