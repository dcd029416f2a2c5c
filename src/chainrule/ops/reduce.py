"""Reductions over any set of dims: sum, mean, var, amax, amin, logsumexp; max, min and median, which along one
dim also give the positions; and the running sum cumsum. Derivations: docs/reduce.md.

Notation: y = R(x) over the dims D (all dims when ``dim`` is None); gy has y's shape. Every backward first
puts gy back into x's rank (``keep``: size 1 at each reduced dim, a no-op with keepdim=True) and then
broadcasts it over D: an element of x receives the gradient of the one output it contributed to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.broadcast import FAST_SUM_DTYPES, array_sum, broadcast_to
from chainrule.autograd.function import Function
from chainrule.errors import ArgumentTypeError, DTypeError, ShapeError
from chainrule.ops import return_types
from chainrule.ops.elementwise import cast, exp, maximum, minimum
from chainrule.ops.indexing import _select_along
from chainrule.ops.operands import (
    _is_int,
    as_dtype,
    as_tensor,
    check_bool,
    check_number,
    describe,
    float_only,
    normalize_dim,
    normalize_dims,
)
from chainrule.tensor import Tensor

Dims = int | Sequence[int] | None


class _Reduction(Function):
    """Shared bookkeeping: the dims reduced, keepdim, and the shape of gy with the reduced dims kept."""

    def __init__(self, dims: tuple[int, ...], keepdim: bool) -> None:
        self.dims, self.keepdim = dims, keepdim

    def keep(self, g: Tensor) -> Tensor:
        """``g`` (y's shape) reshaped to x's rank with size 1 at each reduced dim."""
        if self.keepdim:
            return g
        shape = tuple(1 if i in self.dims else n for i, n in enumerate(self.inputs[0].shape))
        return g.reshape(shape)


class Sum(_Reduction):
    uses_inputs = False  # backward needs only shapes or what forward saved
    def forward(self, x):
        return array_sum(x, self.dims, self.keepdim)

    def backward(self, gy: Tensor) -> Tensor:
        """y = Σ_D x: ∂y/∂xᵢ = 1 for each i summed into y, so gx = broadcast of gy over D (x.shape)."""
        return broadcast_to(self.keep(gy), self.inputs[0].shape)


class Mean(_Reduction):
    uses_inputs = False  # backward needs only shapes or what forward saved
    def forward(self, x):
        if x.dtype not in FAST_SUM_DTYPES or x.size == 0:
            return x.mean(axis=self.dims, keepdims=self.keepdim)
        return array_sum(x, self.dims, self.keepdim) / x.dtype.type(_count(x.shape, self.dims))

    def backward(self, gy: Tensor) -> Tensor:
        """y = (1/n) Σ_D x with n = ∏_{d∈D} x.shape[d]: gx = broadcast of gy over D, divided by n."""
        x = self.inputs[0]
        return broadcast_to(self.keep(gy), x.shape) * (1.0 / _count(x.shape, self.dims))


class Var(_Reduction):
    def __init__(self, dims: tuple[int, ...], keepdim: bool, correction: int) -> None:
        super().__init__(dims, keepdim)
        self.correction = correction

    def forward(self, x):
        return x.var(axis=self.dims, keepdims=self.keepdim, ddof=self.correction)

    def backward(self, gy: Tensor) -> Tensor:
        """y = Σ_D (x − x̄)² / (n − c): ∂y/∂xᵢ = 2(xᵢ − x̄)/(n − c) (the x̄ terms sum to zero).

        gx = broadcast(gy)·2(x − x̄)/(n − c); x̄ is the mean over D with keepdim, c the correction.
        """
        x = self.inputs[0]
        centered = x - mean(x, self.dims, keepdim=True)
        dof = _count(x.shape, self.dims) - self.correction
        scale = 2.0 / dof if dof > 0 else float("nan")  # no degrees of freedom: undefined, as the forward
        return self.keep(gy) * centered * scale


class _Extremum(_Reduction):
    """max or min over D; the gradient goes to the extreme element(s)."""
    uses_outputs = True  # backward reads the output's values

    largest = True

    def forward(self, x):
        reduce = x.max if self.largest else x.min
        return reduce(axis=self.dims, keepdims=self.keepdim)

    def backward(self, gy: Tensor) -> Tensor:
        """y = max_D x routes gy to the maximum: gx = broadcast(gy)·[x = y] / #{x = y}.

        With k tied extremes each gets gy/k (PyTorch's amax/amin convention), so the gradient still sums
        to gy. The mask is a constant: routing has no second derivative.
        """
        x = self.inputs[0]._data
        y = self.output()._data
        y_kept = y if self.keepdim else y.reshape(tuple(1 if i in self.dims else n for i, n in enumerate(x.shape)))
        hits = x == y_kept
        share = hits / hits.sum(axis=self.dims, keepdims=True)
        return broadcast_to(self.keep(gy), x.shape) * Tensor(share.astype(gy.dtype, copy=False))


class Max(_Extremum):
    largest = True


class Min(_Extremum):
    largest = False


class Median(_Extremum):
    """The lower median of all elements (the smaller middle one for an even count), as PyTorch's median();
    its backward is the extremum's: gy shared among the elements equal to the median."""

    def forward(self, x):
        xp = backend.get_array_module(x)
        flat = x.reshape(-1)
        middle = (flat.size - 1) // 2
        y = xp.partition(flat, middle)[middle]
        if x.dtype.kind == "f" and xp.isnan(flat).any():  # NaN propagates, as in PyTorch
            y = x.dtype.type(xp.nan)
        return xp.asarray(y).reshape((1,) * x.ndim * self.keepdim)


class LogSumExp(_Reduction):
    uses_outputs = True  # backward reads the output's values
    def forward(self, x):
        xp = backend.get_array_module(x)
        m = x.max(axis=self.dims, keepdims=True)
        m = xp.where(xp.isfinite(m), m, x.dtype.type(0))  # all −inf (or inf) slices: no shift
        with np.errstate(divide="ignore"):  # an all −inf slice sums to 0, and log 0 = −inf is its answer
            y = xp.log(xp.exp(x - m).sum(axis=self.dims, keepdims=True)) + m
        return y if self.keepdim else y.squeeze(axis=self.dims)

    def backward(self, gy: Tensor) -> Tensor:
        """y = log Σ_D e^x: ∂y/∂xᵢ = e^(xᵢ − y) = softmax(x)ᵢ over D, so gx = broadcast(gy)·e^(x − y).

        An all −inf slice has y = −inf and no defined softmax: its gradient is NaN (−inf − (−inf)), as PyTorch.
        """
        with np.errstate(invalid="ignore"):  # that NaN is the answer, not an accident to warn about
            return self.keep(gy) * exp(self.inputs[0] - self.keep(self.output()))


def _count(shape: tuple[int, ...], dims: tuple[int, ...]) -> int:
    n = 1
    for d in dims:
        n *= shape[d]
    return n


def _reduce(op: str, cls: type[_Reduction], x: Any, dim: Dims, keepdim: bool, **kwargs: Any) -> Tensor:
    x = as_tensor(op, x)
    dims = normalize_dims(op, dim, x.ndim)
    keepdim = check_bool(op, "keepdim", keepdim)
    for d in dims:
        if x.shape[d] == 0 and cls is not Sum:
            raise ShapeError(
                f"{op}: cannot reduce over dim {d} of size 0 (shape {x.shape}); an empty set has no {op}"
            )
    return cls(dims, keepdim, **kwargs)(x)


def sum(x: Any, dim: Dims = None, keepdim: bool = False) -> Tensor:  # noqa: A001 - PyTorch's name
    """Sum over ``dim`` (an int, several, or None for all)."""
    return _reduce("sum", Sum, x, dim, keepdim)


def mean(x: Any, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Mean over ``dim``."""
    x = as_tensor("mean", x)
    float_only("mean", x)
    return _reduce("mean", Mean, x, dim, keepdim)


def var(x: Any, dim: Dims = None, keepdim: bool = False, correction: int = 1) -> Tensor:
    """Variance over ``dim`` with Bessel's ``correction`` (1: unbiased, PyTorch's default; 0: population)."""
    x = as_tensor("var", x)
    float_only("var", x)
    correction = check_number("var", "correction", correction)
    correction = int(correction) if correction == int(correction) else correction
    return _reduce("var", Var, x, dim, keepdim, correction=correction)


def amax(x: Any, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Largest value over ``dim`` (an int, several, or None for all); values only, ties share the gradient."""
    return _reduce("amax", Max, x, dim, keepdim)


def amin(x: Any, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Smallest value over ``dim``; values only, ties share the gradient."""
    return _reduce("amin", Min, x, dim, keepdim)


def _along(op: str, x: Any, dim: Any, keepdim: bool) -> tuple[Tensor, Tensor]:
    """(values, indices) of the max or min along one dim: the first extreme element of each slice (a NaN counts
    as the extreme, as in PyTorch); the gradient goes to that element alone."""
    if not _is_int(dim):
        raise ArgumentTypeError(
            f"{op}: argument 'dim' must be an int (or a tensor 'other' for the elementwise {op}imum), got "
            f"{describe(dim)}; hint: for several dims use cr.a{op}(x, dims), which gives the values only"
        )
    x = as_tensor(op, x)
    keepdim = check_bool(op, "keepdim", keepdim)
    d = normalize_dim(op, dim, x.ndim)
    if x.ndim == 0:
        return x, Tensor(backend.get_array_module(x._data).zeros((), dtype=np.int64))
    if x.shape[d] == 0:
        raise ShapeError(f"{op}: cannot take the {op} over dim {dim} of size 0 (shape {x.shape}); an empty slice has "
                         f"no {op}")
    positions = _arg_extremum(f"arg{op}", x, d, True)._data
    return _select_along(x, d, positions, keepdim)


def max(input: Any, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001, A002 - PyTorch's names
    """PyTorch's three forms: ``max(x)`` the largest value (a 0-d tensor; ties share the gradient);
    ``max(x, dim, keepdim=False)`` the named pair ``(values, indices)`` along ``dim``; ``max(x, other)`` (a
    tensor) the elementwise maximum. For values over several dims use ``amax``."""
    if dim is None:
        return _reduce("max", Max, input, None, keepdim)
    if isinstance(dim, Tensor) or backend.is_array(dim):
        return maximum(input, dim)
    return return_types.max(*_along("max", input, dim, keepdim))


def min(input: Any, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001, A002 - PyTorch's names
    """``min(x)`` the smallest value; ``min(x, dim, keepdim=False)`` the pair ``(values, indices)``;
    ``min(x, other)`` the elementwise minimum (PyTorch's forms, as ``max``)."""
    if dim is None:
        return _reduce("min", Min, input, None, keepdim)
    if isinstance(dim, Tensor) or backend.is_array(dim):
        return minimum(input, dim)
    return return_types.min(*_along("min", input, dim, keepdim))


def median(input: Any, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A002 - PyTorch's name
    """``median(x)``: the lower median of all elements (0-d); ``median(x, dim, keepdim=False)``: the pair
    ``(values, indices)`` of each slice's lower median along ``dim`` (the gradient goes to that element)."""
    x = as_tensor("median", input)
    if x.dtype.kind == "b":
        raise DTypeError("median: not defined for bool tensors (as in PyTorch); hint: cast with .long() or .float()")
    if dim is None:
        if x.numel() == 0:
            raise ShapeError(f"median: the tensor is empty (shape {x.shape}), so it has no median")
        return Median(tuple(range(x.ndim)), False)(x)
    if not _is_int(dim):
        raise ArgumentTypeError(f"median: argument 'dim' must be an int, got {describe(dim)}")
    keepdim = check_bool("median", "keepdim", keepdim)
    d = normalize_dim("median", dim, x.ndim)
    if x.ndim == 0:
        return return_types.median(x, Tensor(np.zeros((), dtype=np.int64)))
    n = x.shape[d]
    if n == 0:
        raise ShapeError(f"median: cannot take the median over dim {dim} of size 0 (shape {x.shape})")
    xp = backend.get_array_module(x._data)
    order = xp.argsort(x._data, axis=d, kind="stable")  # NaN sorts last, in its original order
    middle = xp.full(x.shape[:d] + (1,) + x.shape[d + 1:], (n - 1) // 2)  # the lower middle
    if x.dtype.kind == "f":  # a slice with NaN has median NaN, at its first NaN (as PyTorch)
        nans = xp.isnan(x._data).sum(axis=d, keepdims=True)
        middle = xp.where(nans > 0, n - nans, middle)
    positions = xp.take_along_axis(order, middle, axis=d).astype(np.int64, copy=False)
    return return_types.median(*_select_along(x, d, positions, keepdim))


def logsumexp(x: Any, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """log Σ exp(x) over ``dim``, computed without overflow."""
    x = as_tensor("logsumexp", x)
    float_only("logsumexp", x)
    return _reduce("logsumexp", LogSumExp, x, dim, keepdim)


def _arg_extremum(op: str, x: Any, dim: int | None, keepdim: bool) -> Tensor:
    x = as_tensor(op, x)
    keepdim = check_bool(op, "keepdim", keepdim)
    find = x._data.argmax if op == "argmax" else x._data.argmin
    if dim is None:  # position in the flattened tensor; keepdim gives every dim size 1, as PyTorch
        if x.numel() == 0:
            raise ShapeError(f"{op}: the tensor is empty (shape {x.shape}), so it has no {op}; hint: check its size")
        return Tensor(backend.get_array_module(x._data).asarray(find(keepdims=keepdim), dtype=np.int64))
    axis = normalize_dim(op, dim, x.ndim)
    if x.ndim == 0:  # the one element is at index 0
        return Tensor(backend.get_array_module(x._data).zeros((), dtype=np.int64))
    if x.shape[axis] == 0:
        raise ShapeError(f"{op}: cannot take the {op} over dim {dim} of size 0 (shape {x.shape})")
    return Tensor(backend.get_array_module(x._data).asarray(find(axis=axis, keepdims=keepdim), dtype=np.int64))


def argmax(x: Any, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the first maximum along ``dim`` (of the flattened tensor when None); not differentiable."""
    return _arg_extremum("argmax", x, dim, keepdim)


def argmin(x: Any, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the first minimum along ``dim``; not differentiable."""
    return _arg_extremum("argmin", x, dim, keepdim)


class CumSum(Function):
    """The running sum along ``dim`` (``reverse``: from the end, the running sum of the flipped input, flipped)."""

    uses_inputs = False  # backward needs only the dim

    def __init__(self, dim: int, reverse: bool = False) -> None:
        self.dim, self.reverse = dim, reverse

    def forward(self, x):
        xp = backend.get_array_module(x)
        if not self.reverse:
            return xp.cumsum(x, axis=self.dim, dtype=x.dtype)
        return xp.flip(xp.cumsum(xp.flip(x, self.dim), axis=self.dim, dtype=x.dtype), self.dim)

    def backward(self, gy: Tensor) -> Tensor:
        """yᵢ = Σ_{j≤i} xⱼ: ∂yᵢ/∂xⱼ = [j ≤ i], so gxⱼ = Σ_{i≥j} gyᵢ, the running sum of gy from the end (and
        the reverse running sum's gradient is the forward running sum)."""
        return CumSum(self.dim, not self.reverse)(gy)


def cumsum(input: Any, dim: int, dtype: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
    """Running sum along ``dim``: yᵢ = x₀ + … + xᵢ. Integer and bool input sum in int64, as PyTorch; ``dtype``
    casts the input first."""
    x = as_tensor("cumsum", input)
    if dtype is not None:
        x = cast(x, as_dtype("cumsum", dtype))
    elif x.dtype.kind in "biu":
        x = cast(x, np.int64)
    d = normalize_dim("cumsum", dim, x.ndim)
    if x.ndim == 0:
        return x
    return CumSum(d)(x)
