"""Products: prod (over all elements or along one dim) and the running product cumprod. Derivations:
docs/reduce.md ("Products").

Notation (docs/notation.md): x has n elements along the reduced dim; gy = ∂L/∂y has y's shape. The gradient of
a product with respect to one factor is the product of all the *other* factors. Dividing y by that factor is
wrong where it is 0, so the rules below never divide where x has zeros: they multiply exclusive running
products (prod) or a triangle of partial products (cumprod), which is exact with any number of zeros.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.ops.elementwise import cast, where
from chainrule.ops.operands import as_dtype, as_tensor, check_bool, normalize_dim
from chainrule.ops.rearrange import flip, movedim
from chainrule.ops.reduce import cumsum
from chainrule.ops.shape import cat
from chainrule.tensor import Tensor

__all__ = ["cumprod", "prod"]


def _xp(x: Any):
    return backend.get_array_module(x)


def _exclusive_left(x: Tensor) -> Tensor:
    """Along the last dim: eᵢ = x₀·…·xᵢ₋₁ (e₀ = 1), a differentiable running product shifted by one."""
    ones = Tensor(_xp(x._data).ones(x.shape[:-1] + (1,), dtype=x.dtype))
    return cumprod(cat([ones, x[..., :-1]], -1), -1)


class Prod(Function):
    """The product of the elements along the last dim (the public ``prod`` moves the reduced dim last)."""

    def forward(self, x):
        return x.prod(axis=-1)

    def backward(self, gy: Tensor) -> Tensor:
        """y = Π_j x_j over the last dim (n): ∂y/∂x_i = Π_{j≠i} x_j = (Π_{j<i} x_j)·(Π_{j>i} x_j).

        gx = gy[..., None] · L · R, with L the exclusive running product from the left and R from the right
        (each (..., n)): no division, so exact where x has zeros (as PyTorch's)."""
        x = self.inputs[0]
        if x.shape[-1] == 0:  # an empty product is the constant 1
            return Tensor(_xp(x._data).zeros(x.shape, dtype=x.dtype))
        left = _exclusive_left(x)
        right = flip(_exclusive_left(flip(x, (-1,))), (-1,))
        return gy.unsqueeze(-1) * left * right

    def fast_backward(self, gy: Any) -> Any:
        """The same products on arrays."""
        x = self.inputs[0]._data
        xp = _xp(x)
        if x.shape[-1] == 0:
            return xp.zeros(x.shape, dtype=x.dtype)
        ones = xp.ones(x.shape[:-1] + (1,), dtype=x.dtype)
        left = xp.cumprod(xp.concatenate([ones, x[..., :-1]], -1), -1)
        right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(x, -1)[..., :-1]], -1), -1), -1)
        return gy[..., None] * left * right


class Cumprod(Function):
    """The running product along the last dim (the public ``cumprod`` moves the dim last)."""

    uses_outputs = True  # backward reads y

    def forward(self, x):
        return _xp(x).cumprod(x, axis=-1, dtype=x.dtype)

    def backward(self, gy: Tensor) -> Tensor:
        """yᵢ = Π_{k≤i} x_k: ∂yᵢ/∂x_j = Π_{k≤i, k≠j} x_k for j ≤ i, else 0; gx_j = Σ_{i≥j} gyᵢ·∂yᵢ/∂x_j.

        Where x has no zeros, ∂yᵢ/∂x_j = yᵢ/x_j, so gx = revcumsum(gy·y) / x (revcumsum: the running sum from
        the end), O(n). Where it has zeros, gx_j = Σ_{i≥j} gyᵢ·Π_{k≤i, k≠j} x_k as written: the factors as an
        (n, n) matrix with x_j replaced by 1 in row j (x, y, gy, gx: (..., n); the matrix (..., n, n)), its
        running product along each row, masked to i ≥ j, contracted with gy. O(n²), and a polynomial in x, so
        its own derivatives are exact too (double backward); ``fast_backward`` gives the same values in O(n)."""
        x = self.inputs[0]
        if not bool((x._data == 0).any()):
            return _revcumsum(gy * self.output()) / x
        xp = _xp(x._data)
        n = x.shape[-1]
        factors = where(xp.eye(n, dtype=bool), Tensor(xp.ones((), dtype=x.dtype)), x.unsqueeze(-2))
        partial = cumprod(factors, -1) * Tensor(xp.triu(xp.ones((n, n), dtype=x.dtype)))  # [j, i]: i ≥ j only
        return (partial * gy.unsqueeze(-2)).sum(-1)

    def fast_backward(self, gy: Any) -> Any:
        """The same values in O(n) on arrays. With z the first zero of a row: for j < z, ∂yᵢ/∂x_j = yᵢ/x_j still
        (both 0 for i ≥ z), gx_j = revcumsum(gy·y)_j / x_j; for j = z, ∂yᵢ/∂x_z = Pᵢ, the running product of x
        with x_z replaced by 1, gx_z = Σ_{i≥z} gyᵢ·Pᵢ; for j > z every product holds x_z = 0, gx_j = 0. (Not a
        differentiable form: gx_j for j > z is 0 here but depends on x_z, which a second derivative sees.)"""
        x = self.inputs[0]._data
        y = self.output()._data
        xp = _xp(x)
        left = xp.flip(xp.cumsum(xp.flip(gy * y, -1), -1), -1)
        if not bool((x == 0).any()):
            return left / x
        before, at = _around_first_zero(x)
        left = left / xp.where(before, x, x.dtype.type(1))
        p = xp.cumprod(xp.where(at, x.dtype.type(1), x), axis=-1)
        at_z = xp.where(before, 0, gy * p).sum(-1, keepdims=True)
        return xp.where(before, left, xp.where(at, at_z, 0)).astype(x.dtype, copy=False)


def _around_first_zero(x: Any) -> tuple[Any, Any]:
    """Boolean masks along the last dim, relative to each row's first zero z (z = n for a row without zeros):
    positions before z, and z itself."""
    xp = _xp(x)
    n = x.shape[-1]
    zero = x == 0
    z = xp.where(zero.any(-1), zero.argmax(-1), n)[..., None]
    pos = xp.arange(n)
    return pos < z, pos == z


def _revcumsum(g: Tensor) -> Tensor:
    return flip(cumsum(flip(g, (-1,)), -1), (-1,))


def prod(input: Any, dim: int | None = None, keepdim: bool = False, *,  # noqa: A002 - PyTorch's names
         dtype: Any = None) -> Tensor:
    """The product of all elements (a 0-d tensor), or along ``dim`` (one int, as PyTorch). Integer and bool
    input multiply in int64, as PyTorch; ``dtype`` casts the input first. The gradient is exact where input has
    zeros (the product of the other factors)."""
    x = as_tensor("prod", input)
    keepdim = check_bool("prod", "keepdim", keepdim)
    if dtype is not None:
        x = cast(x, as_dtype("prod", dtype))
    elif x.dtype.kind in "biu":
        x = cast(x, np.int64)
    if dim is None:
        y = Prod()(x.reshape(-1))
        return y.reshape((1,) * x.ndim) if keepdim else y
    d = normalize_dim("prod", dim, x.ndim)
    if x.ndim == 0:
        return x
    y = Prod()(movedim(x, d, -1))
    return y.unsqueeze(d) if keepdim else y


def cumprod(input: Any, dim: int, *, dtype: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
    """Running product along ``dim``: yᵢ = x₀·…·xᵢ. Integer and bool input multiply in int64, as PyTorch;
    ``dtype`` casts the input first. The gradient is exact where input has zeros."""
    x = as_tensor("cumprod", input)
    if dtype is not None:
        x = cast(x, as_dtype("cumprod", dtype))
    elif x.dtype.kind in "biu":
        x = cast(x, np.int64)
    d = normalize_dim("cumprod", dim, x.ndim)
    if x.ndim == 0:
        return x
    if d == x.ndim - 1:
        return Cumprod()(x)
    return movedim(Cumprod()(movedim(x, d, -1)), -1, d)
