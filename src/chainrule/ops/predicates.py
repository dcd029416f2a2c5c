"""Tests on values, outside the graph: isnan, isinf, isfinite, the logical ops, any, all, isclose, allclose, equal,
count_nonzero, nonzero; and masked_select, the differentiable selection by a mask.

A predicate's result is a bool tensor (or a Python bool) that does not require grad, as in PyTorch: a test has no
derivative. Any nonzero value (NaN included) counts as True, as in PyTorch and C.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend
from chainrule.errors import DTypeError
from chainrule.ops.operands import (
    as_tensor,
    binary,
    broadcast_shape,
    check_bool,
    check_number,
    normalize_dims,
    same_dtype,
)
from chainrule.ops.shape import broadcast_to, getitem
from chainrule.tensor import Tensor

__all__ = [
    "all", "allclose", "any", "count_nonzero", "equal", "isclose", "isfinite", "isinf", "isnan", "logical_and",
    "logical_not", "logical_or", "logical_xor", "masked_select", "nonzero",
]


def _xp(x: Any):
    return backend.get_array_module(x)


def _test(op: str, x: Any, fn: str, default: bool) -> Tensor:
    x = as_tensor(op, x)
    if x.dtype.kind != "f":  # integers are never NaN or infinite
        return Tensor(_xp(x._data).full(x.shape, default, dtype=bool))
    return Tensor(getattr(_xp(x._data), fn)(x._data))


def isnan(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """True where ``input`` is NaN (a bool tensor; always False for integers)."""
    return _test("isnan", input, "isnan", False)


def isinf(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """True where ``input`` is +inf or −inf (a bool tensor; always False for integers)."""
    return _test("isinf", input, "isinf", False)


def isfinite(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """True where ``input`` is neither NaN nor ±inf (a bool tensor; always True for integers)."""
    return _test("isfinite", input, "isfinite", True)


def _logical(op: str, a: Any, b: Any) -> Tensor:
    a, b = as_tensor(op, a, "input"), as_tensor(op, b, "other")
    broadcast_shape(op, a.shape, b.shape)
    return Tensor(getattr(_xp(a._data), op)(a._data != 0, b._data != 0))


def logical_and(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """``input and other`` elementwise (nonzero is True), broadcasting: a bool tensor."""
    return _logical("logical_and", input, other)


def logical_or(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """``input or other`` elementwise (nonzero is True), broadcasting: a bool tensor."""
    return _logical("logical_or", input, other)


def logical_xor(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """Exactly one of ``input`` and ``other`` nonzero, elementwise, broadcasting: a bool tensor."""
    return _logical("logical_xor", input, other)


def logical_not(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """True where ``input`` is zero: a bool tensor."""
    x = as_tensor("logical_not", input)
    return Tensor(x._data == 0)


def _all_or_any(op: str, input: Any, dim: Any, keepdim: bool) -> Tensor:
    x = as_tensor(op, input)
    # an empty dim list reduces nothing here (PyTorch's any and all: the elementwise test), unlike sum's
    dims = () if isinstance(dim, (tuple, list)) and not dim else normalize_dims(op, dim, x.ndim)
    keepdim = check_bool(op, "keepdim", keepdim)
    result = getattr(_xp(x._data), op)(x._data != 0, axis=dims, keepdims=keepdim)
    # PyTorch keeps uint8 for uint8 input (its old bool); every other dtype gives bool
    return Tensor(_xp(x._data).asarray(result, dtype=np.uint8 if x.dtype == np.uint8 else bool))


def any(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002 - PyTorch's names
    """Whether any element over ``dim`` (an int, several, or None for all) is nonzero: a bool tensor."""
    return _all_or_any("any", input, dim, keepdim)


def all(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002 - PyTorch's names
    """Whether every element over ``dim`` (an int, several, or None for all) is nonzero: a bool tensor."""
    return _all_or_any("all", input, dim, keepdim)


def _close_operands(op: str, input: Any, other: Any, rtol: Any, atol: Any, equal_nan: Any):
    a, b = as_tensor(op, input, "input"), as_tensor(op, other, "other")
    same_dtype(op, a, b, "other")  # PyTorch refuses mixed dtypes here, even int with float
    broadcast_shape(op, a.shape, b.shape)
    rtol = check_number(op, "rtol", rtol, 0)
    atol = check_number(op, "atol", atol, 0)
    return a, b, rtol, atol, check_bool(op, "equal_nan", equal_nan)


def isclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08,  # noqa: A002 - PyTorch's names
            equal_nan: bool = False) -> Tensor:
    """|input − other| ≤ atol + rtol·|other| elementwise (equal infinities are close; NaN only with
    ``equal_nan``), broadcasting: a bool tensor. Both tensors must have one dtype, as in PyTorch."""
    return _isclose("isclose", input, other, rtol, atol, equal_nan)


def _isclose(op: str, input: Any, other: Any, rtol: Any, atol: Any, equal_nan: Any) -> Tensor:  # noqa: A002
    a, b, rtol, atol, equal_nan = _close_operands(op, input, other, rtol, atol, equal_nan)
    if a.dtype.kind != "f":
        x, y = a._data.astype(np.float64), b._data.astype(np.float64)
    else:
        x, y = a._data, b._data
    with np.errstate(invalid="ignore", over="ignore"):
        return Tensor(_xp(x).isclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08,  # noqa: A002 - PyTorch's names
             equal_nan: bool = False) -> bool:
    """True when every element of ``isclose(input, other, ...)`` is: a Python bool."""
    return bool(_isclose("allclose", input, other, rtol, atol, equal_nan)._data.all())


def equal(input: Any, other: Any) -> bool:  # noqa: A002 - PyTorch's name
    """True when both tensors have the same shape and the same values (NaN equals nothing): a Python bool.

    The values are compared after promoting to one dtype, as PyTorch's ``equal`` does (1 equals 1.0)."""
    a, b = as_tensor("equal", input, "input"), as_tensor("equal", other, "other")
    if a.shape != b.shape:
        return False
    if a.dtype != b.dtype:
        a, b = binary("equal", a, b) if {a.dtype.kind, b.dtype.kind} != {"f"} else (a.double(), b.double())
    return bool((a._data == b._data).all())


def count_nonzero(input: Any, dim: Any = None) -> Tensor:  # noqa: A002 - PyTorch's name
    """The number of nonzero elements over ``dim`` (an int, several, or None for all): an int64 tensor."""
    x = as_tensor("count_nonzero", input)
    dims = normalize_dims("count_nonzero", dim, x.ndim)
    counts = (x._data != 0).sum(axis=dims)
    return Tensor(_xp(x._data).asarray(counts, dtype=np.int64))


def nonzero(input: Any, *, as_tuple: bool = False) -> Any:  # noqa: A002 - PyTorch's name
    """The indices of the nonzero elements in row-major order: an int64 tensor of shape (count, input.ndim), or
    with ``as_tuple`` one 1-D index tensor per dim (a 0-d input counts as 1-D), as PyTorch."""
    x = as_tensor("nonzero", input)
    as_tuple = check_bool("nonzero", "as_tuple", as_tuple)
    xp = _xp(x._data)
    data = x._data.reshape(1) if x.ndim == 0 else x._data
    found = tuple(xp.asarray(i, dtype=np.int64) for i in xp.nonzero(data))
    if as_tuple:
        return tuple(Tensor(i) for i in found)
    if x.ndim == 0:
        return Tensor(xp.zeros((found[0].shape[0], 0), dtype=np.int64))
    return Tensor(xp.stack(found, axis=1) if found else xp.zeros((0, 0), dtype=np.int64))


def masked_select(input: Any, mask: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """The elements of ``input`` where ``mask`` (bool) is True, in row-major order, as a 1-D tensor; both
    broadcast first. Differentiable: the gradient goes back to the selected elements (zero elsewhere).

    It is ``input`` broadcast to the common shape, indexed by the broadcast mask: the gradient of boolean
    indexing scatters gy into those positions, and the broadcast sums it back to input's shape.
    """
    x = as_tensor("masked_select", input, "input")
    m = as_tensor("masked_select", mask, "mask")
    if m.dtype.kind != "b":
        raise DTypeError(f"masked_select: argument 'mask' must be a bool tensor, got dtype {m.dtype}; hint: build it "
                         f"with a comparison, e.g. x > 0")
    shape = broadcast_shape("masked_select", x.shape, m.shape)
    xb = x if x.shape == shape else broadcast_to(x, shape)
    mb = m._data if m.shape == shape else _xp(m._data).broadcast_to(m._data, shape)
    if not shape:  # a 0-d pair: indexing a 0-d array by a 0-d mask gives 0 or 1 elements
        return getitem(xb.reshape(1), mb.reshape(1))
    return getitem(xb, mb)
