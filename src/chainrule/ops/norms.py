"""Spread and size: std, norm (vector p-norms, 'fro', ±inf), dist. Derivations: docs/reduce.md ("Standard
deviation and norms").

Notation (docs/notation.md): y = R(x) over the dims D; gy has y's shape and is first put back into x's rank
(size 1 at each reduced dim) so that it broadcasts over D. Where y = 0 (all of a slice zero, or no spread) the
derivative of a root does not exist; the gradient there is 0, as PyTorch's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.errors import ArgumentError, ArgumentTypeError, ShapeError
from chainrule.ops.elementwise import abs as _abs
from chainrule.ops.elementwise import cast, sub, where
from chainrule.ops.operands import (
    as_dtype,
    as_tensor,
    binary,
    check_bool,
    check_number,
    describe,
    float_only,
    normalize_dims,
)
from chainrule.ops.reduce import _count, _Reduction, mean
from chainrule.ops.rounding import sign
from chainrule.tensor import Tensor

__all__ = ["dist", "norm", "std"]


def _xp(x: Any):
    return backend.get_array_module(x)


def _zero_where(mask: Any, t: Tensor) -> Tensor:
    """``t`` with 0 where the boolean array ``mask`` holds (a constant choice: no gradient through the mask)."""
    return where(Tensor(mask), Tensor(_xp(mask).zeros((), dtype=t.dtype)), t)


class Std(_Reduction):
    uses_outputs = True  # backward divides by y

    def __init__(self, dims: tuple[int, ...], keepdim: bool, correction: float) -> None:
        super().__init__(dims, keepdim)
        self.correction = correction

    def forward(self, x):
        with np.errstate(divide="ignore", invalid="ignore"):  # no degrees of freedom: NaN or inf, as PyTorch
            return _xp(x).std(x, axis=self.dims, keepdims=self.keepdim, ddof=self.correction).astype(x.dtype)

    def backward(self, gy: Tensor) -> Tensor:
        """y = √(Σ_D (x − x̄)² / (n − c)): ∂y/∂xᵢ = (xᵢ − x̄) / ((n − c)·y) (the x̄ terms sum to zero, as in var).

        gx = broadcast(gy)·(x − x̄) / ((n − c)·y), and 0 where y = 0 (a constant slice), as PyTorch."""
        x = self.inputs[0]
        if x.numel() == 0:  # nothing to differentiate (and no mean to center on)
            return Tensor(_xp(x._data).zeros(x.shape, dtype=x.dtype))
        y = self.keep(self.output())
        centered = x - mean(x, self.dims, keepdim=True)
        dof = _count(x.shape, self.dims) - self.correction
        with np.errstate(divide="ignore", invalid="ignore"):
            g = self.keep(gy) * centered / (y * dof)
        return _zero_where(y._data == 0, g)


class Norm(_Reduction):
    """The vector p-norm (Σ_D |x|^p)^(1/p) over D; p = ±inf the largest (smallest) |x|, p = 0 the number of
    nonzero elements."""

    uses_outputs = True  # backward divides by y

    def __init__(self, dims: tuple[int, ...], keepdim: bool, p: float) -> None:
        super().__init__(dims, keepdim)
        self.p = p

    def forward(self, x):
        xp, p = _xp(x), self.p
        a = xp.abs(x)
        kw = {"axis": self.dims, "keepdims": self.keepdim}
        if p == math.inf:
            return a.max(**kw)
        if p == -math.inf:
            return a.min(**kw)
        if p == 0:
            return (x != 0).sum(**kw).astype(x.dtype)
        if p == 1:
            return a.sum(**kw)
        if p == 2:
            return xp.sqrt((x * x).sum(**kw))
        with np.errstate(divide="ignore", over="ignore"):
            return ((a ** x.dtype.type(p)).sum(**kw) ** x.dtype.type(1 / p)).astype(x.dtype)

    def backward(self, gy: Tensor) -> Tensor:
        """y = (Σ_D |x|^p)^(1/p): ∂y/∂xᵢ = sign(xᵢ)·|xᵢ|^(p−1) / y^(p−1).

        p = 2: gx = gy·x / y; p = 1: gx = gy·sign(x); p = ±inf: gy·sign(x) shared by the elements whose |x|
        equals y (ties split it evenly, as amax); p = 0: a count, gx = 0. Where y = 0 the gradient is 0, as
        PyTorch's; for p < 1 the elements equal to 0 get 0 too (their derivative is infinite)."""
        x, p = self.inputs[0], self.p
        g = self.keep(gy)
        if p == 0:
            return Tensor(_xp(x._data).zeros(x.shape, dtype=x.dtype))
        if p == 1:
            return g * sign(x)
        y = self.keep(self.output())
        if math.isinf(p):
            hits = _xp(x._data).abs(x._data) == y._data
            share = hits / hits.sum(axis=self.dims, keepdims=True)
            return g * sign(x) * Tensor(share.astype(x.dtype, copy=False))
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 2:
                gx = g * x / y
            else:
                ax = _abs(x)
                gx = g * sign(x) * _zero_where(x._data == 0, ax ** (p - 1)) / y ** (p - 1)
        return _zero_where(_xp(y._data).broadcast_to(y._data == 0, x.shape), gx)


def _correction(op: str, unbiased: Any, correction: Any) -> float:
    if correction is not None:
        if unbiased is not None:
            raise ArgumentError(f"{op}: give either 'unbiased' or 'correction', not both")
        c = check_number(op, "correction", correction)
        return int(c) if c == int(c) else c
    if unbiased is None:
        return 1
    return 1 if check_bool(op, "unbiased", unbiased) else 0


def std(input: Any, dim: Any = None, unbiased: bool | None = None,  # noqa: A002 - PyTorch's names
        keepdim: bool = False, *, correction: float | None = None) -> Tensor:
    """Standard deviation over ``dim`` (an int, several, or None for all) with Bessel's ``correction`` (1,
    the default: divide by n − 1; 0: by n). PyTorch's forms: ``std(x, dim, correction=0, keepdim=True)``,
    ``std(x, unbiased)`` and ``std(x, dim, unbiased, keepdim)``. The gradient is 0 where the deviation is 0."""
    if isinstance(dim, (bool, np.bool_)):  # std(x, False): the old unbiased form
        dim, unbiased = None, dim
    x = as_tensor("std", input)
    float_only("std", x)
    c = _correction("std", unbiased, correction)
    dims = normalize_dims("std", dim, x.ndim)
    keepdim = check_bool("std", "keepdim", keepdim)
    return Std(dims, keepdim, c)(x)


def _order(op: str, p: Any) -> float | str:
    if isinstance(p, str):
        if p == "fro":
            return p
        if p == "nuc":
            raise ArgumentError(f"{op}: the nuclear norm (p='nuc') needs singular values, which chainrule does not "
                                f"compute; hint: p='fro', a number, inf or -inf")
        raise ArgumentError(f"{op}: argument 'p' must be a number, inf, -inf or 'fro', got {p!r}")
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(f"{op}: argument 'p' must be a number, inf, -inf or 'fro', got {describe(p)}")
    return check_number(op, "p", p)


def norm(input: Any, p: float | str | None = "fro", dim: int | Sequence[int] | None = None,  # noqa: A002
         keepdim: bool = False, dtype: Any = None) -> Tensor:
    """The vector p-norm (Σ|x|^p)^(1/p) over ``dim`` (an int, several, or None for all), as PyTorch's
    ``norm``: ``p`` a number (2 by default through 'fro', the square root of the sum of squares), ``inf``
    (the largest |x|), ``-inf`` (the smallest) or 0 (the count of nonzero elements). Floating point only;
    ``dtype`` casts the input first."""
    x = as_tensor("norm", input)
    if dtype is not None:
        x = cast(x, as_dtype("norm", dtype))
    float_only("norm", x)
    order = _order("norm", 2 if p is None else p)
    if order == "fro":
        if dim is not None and not isinstance(dim, (bool, np.bool_)) and isinstance(dim, (list, tuple)) \
                and len(dim) > 2:
            raise ArgumentError(f"norm: the Frobenius norm takes at most 2 dims, got dim={tuple(dim)}")
        order = 2.0
    dims = normalize_dims("norm", dim, x.ndim)
    keepdim = check_bool("norm", "keepdim", keepdim)
    _no_empty_extremum("norm", x, dims, order)
    return Norm(dims, keepdim, order)(x)


def _no_empty_extremum(op: str, x: Tensor, dims: tuple[int, ...], order: float) -> None:
    """The ±inf-norm is a max or a min: refused over an empty slice, which has none (as PyTorch)."""
    if math.isinf(order):
        for d in dims:
            if x.shape[d] == 0:
                raise ShapeError(f"{op}: the {order:g}-norm of an empty slice (dim {d} of shape {x.shape}) is "
                                 f"undefined; hint: use p=2 or check the sizes")


def dist(input: Any, other: Any, p: float = 2) -> Tensor:  # noqa: A002 - PyTorch's names
    """The p-norm of ``input − other`` over all elements (broadcasting): ``norm(input − other, p)``."""
    order = _order("dist", p)
    if order == "fro":
        raise ArgumentError("dist: argument 'p' must be a number, inf or -inf, got 'fro'")
    for name, v in (("input", input), ("other", other)):
        float_only("dist", as_tensor("dist", v, name), name)  # as norm: floats only (PyTorch's vector_norm too)
    a, b = binary("dist", input, other)
    diff = sub(a, b)
    dims = tuple(range(diff.ndim))
    if diff.ndim == 0 or diff.numel() == 0:
        _no_empty_extremum("dist", diff.reshape(-1), (0,), order)
    return Norm(dims, False, order)(diff)
