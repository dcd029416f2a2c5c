"""Tensor methods a PyTorch program uses, with PyTorch's semantics: formatting, comparisons, dtype aliases and
conversions, type names, new_* factories and in-place random fills."""

import numpy as np
import pytest
import torch

import chainrule as cr


def test_format_of_a_0d_tensor_is_its_number():
    loss = cr.tensor(1.234567)
    assert f"{loss:.4f}" == "1.2346" == f"{torch.tensor(1.234567):.4f}"
    assert f"{cr.tensor(3):>4d}" == "   3" and format(cr.tensor(True)) == "True"
    assert f"{cr.ones(2)}" == str(cr.ones(2))  # an empty spec formats any tensor, as str


@pytest.mark.parametrize("shape", [(1,), (2, 3)])
def test_format_spec_on_a_tensor_with_dims_is_refused_as_torch(shape):
    with pytest.raises(TypeError, match=r"^unsupported format string passed to Tensor.__format__"):
        f"{cr.ones(*shape):.2f}"
    with pytest.raises(TypeError, match=r"^unsupported format string passed to Tensor.__format__"):
        f"{torch.ones(*shape):.2f}"


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparison_methods_match_torch(name):
    a, b = np.array([1.0, 2.0, 3.0], dtype=np.float32), np.array([2.0, 2.0, 2.0], dtype=np.float32)
    expected = getattr(torch.tensor(a), name)(torch.tensor(b)).numpy()
    got = getattr(cr.tensor(a), name)(cr.tensor(b))
    assert got.dtype == np.bool_ and np.array_equal(got.numpy(), expected)
    assert np.array_equal(getattr(cr.tensor(a), name)(2.0).numpy(), getattr(torch.tensor(a), name)(2.0).numpy())


def test_dtype_aliases_are_the_dtypes():
    assert cr.float is cr.float32 and cr.double is cr.float64 and cr.half is cr.float16
    assert cr.long is cr.int64 and cr.int is cr.int32 and cr.bool is cr.bool_ and cr.short == np.int16
    assert cr.zeros(2, dtype=cr.long).dtype == np.int64 and cr.tensor([1.0], dtype=cr.double).dtype == np.float64
    import builtins

    assert builtins.float(2) == 2.0  # the aliases shadow nothing outside chainrule
    assert "float" not in cr.__all__ and "int" not in cr.__all__ and "bool" not in cr.__all__


@pytest.mark.parametrize(("method", "dtype", "name"), [
    ("float", np.float32, "FloatTensor"), ("double", np.float64, "DoubleTensor"), ("half", np.float16, "HalfTensor"),
    ("long", np.int64, "LongTensor"), ("int", np.int32, "IntTensor"), ("short", np.int16, "ShortTensor"),
    ("bool", np.bool_, "BoolTensor"),
])
def test_conversions_and_type_names_match_torch(method, dtype, name):
    x = cr.tensor([0.0, 1.5, -2.0])
    y = getattr(x, method)()
    t = getattr(torch.tensor([0.0, 1.5, -2.0]), method)()
    assert y.dtype == dtype and np.array_equal(y.numpy(), t.numpy())
    assert y.type() == f"chainrule.{name}" and t.type() == f"torch.{name}"
    assert x.type(dtype).dtype == dtype
    assert x.type(f"torch.{name}").dtype == dtype and x.type(f"chainrule.{name}").dtype == dtype


def test_type_refuses_an_unknown_name():
    with pytest.raises(ValueError, match=r"^type: unknown tensor type 'torch.FooTensor'; expected one of"):
        cr.ones(1).type("torch.FooTensor")


def test_new_factories_take_the_tensors_dtype_as_torch():
    x, t = cr.ones(2, dtype=cr.float64), torch.ones(2, dtype=torch.float64)
    cases = [
        (x.new_zeros(2, 3), t.new_zeros(2, 3)), (x.new_zeros((2,)), t.new_zeros((2,))), (x.new_ones(3), t.new_ones(3)),
        (x.new_full((2,), 7), t.new_full((2,), 7)), (x.new_tensor([1, 2]), t.new_tensor([1, 2])),
        (x.new_ones(2, dtype=cr.long), t.new_ones(2, dtype=torch.long)),
        (cr.tensor([1, 2]).new_tensor([1.5]), torch.tensor([1, 2]).new_tensor([1.5])),
    ]
    for got, expected in cases:
        assert got.dtype == expected.numpy().dtype and np.array_equal(got.numpy(), expected.numpy())
    assert x.new_empty(3).shape == (3,) and x.new_empty(3).dtype == np.float64
    assert x.new_zeros(2, requires_grad=True).requires_grad


def test_in_place_random_fills_follow_the_seed():
    cr.manual_seed(3)
    a = cr.zeros(1000).normal_(2.0, 0.5)
    cr.manual_seed(3)
    b = cr.zeros(1000).normal_(2.0, 0.5)
    assert np.array_equal(a.numpy(), b.numpy()) and abs(a.numpy().mean() - 2.0) < 0.1 and a.dtype == np.float32
    u = cr.zeros(1000).uniform_(-1.0, 3.0)
    assert u.numpy().min() >= -1.0 and u.numpy().max() < 3.0 and abs(u.numpy().mean() - 1.0) < 0.2


def test_in_place_methods_refuse_a_leaf_that_requires_grad_while_recording():
    w = cr.zeros(3, requires_grad=True)
    with pytest.raises(cr.BackwardError, match=r"^normal_: a tensor that requires grad cannot be modified in place"):
        w.normal_()
    with cr.no_grad():
        w.uniform_(0.0, 1.0)
    assert w.numpy().max() > 0


def test_dim_and_clone():
    x = cr.ones(2, 3, requires_grad=True)
    assert x.dim() == 2 and cr.tensor(1.0).dim() == 0
    y = x.clone()
    assert y is not x and not np.shares_memory(y.numpy(), x.numpy())
    y.sum().backward()
    assert x.grad.tolist() == [[1.0] * 3] * 2
