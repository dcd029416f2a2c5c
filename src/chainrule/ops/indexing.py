"""Ops that pick or place values by index along one dim: gather, scatter, scatter_add, index_select,
masked_fill, sort, argsort and topk. Derivations: docs/indexing.md.

Notation: along ``dim``, ``index`` names for each output element the input element it comes from (gather) or
goes to (scatter). Moving a value does not change it, so each backward moves the gradient the other way:
gather's backward is a scatter-add of gy into zeros of x's shape, and that scatter-add's backward is a gather.
sort and topk return their values as a gather of x by the indices they found, so their gradient is gather's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.errors import ArgumentError, DTypeError, ShapeError
from chainrule.ops.elementwise import add, where
from chainrule.ops.operands import (
    as_tensor,
    broadcast_shape,
    check_bool,
    check_index_range,
    check_int,
    describe,
    normalize_dim,
)
from chainrule.ops.return_types import sort as sort_result
from chainrule.ops.return_types import topk as topk_result
from chainrule.ops.shape import getitem, reshape, squeeze
from chainrule.tensor import Tensor

__all__ = ["argsort", "gather", "index_select", "masked_fill", "scatter", "scatter_add", "sort", "topk"]


def _positions(index: Any, dim: int) -> tuple[Any, ...]:
    """The full NumPy index of the elements ``index`` names along ``dim``: an open grid (``np.ogrid``) on every
    other dim, ``index`` itself on ``dim``; it broadcasts to index's shape without materialising it."""
    xp = backend.get_array_module(index)
    grid = [xp.arange(n).reshape((1,) * d + (n,) + (1,) * (index.ndim - d - 1)) for d, n in enumerate(index.shape)]
    grid[dim] = index
    return tuple(grid)


class Gather(Function):
    """y[i…] = x[i with i_dim replaced by index[i…]]: ``take_along_axis`` over x cut to index's extent."""

    uses_inputs = False  # backward needs only shapes and the index
    holds = ("index",)  # the caller's index array: backward routes by it, so it stays read-only until then

    def __init__(self, dim: int, index: Any, unique: bool = False) -> None:
        self.dim, self.index, self.unique = dim, index, unique

    def forward(self, x):
        self.x_shape = x.shape
        crop = tuple(slice(None) if d == self.dim else slice(0, n) for d, n in enumerate(self.index.shape))
        return backend.get_array_module(x).take_along_axis(x[crop], self.index, axis=self.dim)

    def backward(self, gy: Tensor) -> Tensor:
        """y = gather(x, dim, index): each yⱼ is one xᵢ, ∂yⱼ/∂xᵢ = 1, so gx = zeros(x.shape) with gy added at
        the gathered positions (an element gathered twice receives both gradients)."""
        return ScatterAddAlong(self.dim, self.index, self.x_shape, self.unique)(gy)


class ScatterAddAlong(Function):
    """zeros(shape) with g added at the positions ``index`` names along ``dim``: gather's backward."""

    uses_inputs = False  # backward needs only the index
    holds = ("index",)

    def __init__(self, dim: int, index: Any, shape: tuple[int, ...], unique: bool = False) -> None:
        self.dim, self.index, self.shape, self.unique = dim, index, shape, unique

    def forward(self, g):
        xp = backend.get_array_module(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        where = _positions(self.index, self.dim)
        if self.unique:  # each position named once (sort, max): a plain assignment, much faster than add.at
            out[where] = g
        else:
            xp.add.at(out, where, g)
        return out

    def backward(self, gout: Tensor) -> Tensor:
        """out = scatter_add(g): ∂out[positions]/∂g = 1, so gg = gather(gout, dim, index)."""
        return Gather(self.dim, self.index, self.unique)(gout)


class Scatter(Function):
    """out = x with src written at the positions ``index`` names along ``dim`` (src has index's shape)."""

    uses_inputs = False  # backward needs only the index and the shapes
    holds = ("index",)

    def __init__(self, dim: int, index: Any) -> None:
        self.dim, self.index = dim, index

    def forward(self, x, src):
        out = x.copy()
        out[_positions(self.index, self.dim)] = src
        return out

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """out = x except at the written positions P, where out = src: ∂out/∂x = [not in P], so gx = gy with
        zeros at P; ∂out[P]/∂src = 1, so gsrc = gather(gy, dim, index)."""
        gx = gsrc = None
        if self.needs_input_grad[0]:
            xp = backend.get_array_module(gy._data)
            kept = xp.ones(gy.shape, dtype=gy.dtype)
            kept[_positions(self.index, self.dim)] = 0
            gx = gy * Tensor(kept)
        if self.needs_input_grad[1]:
            gsrc = Gather(self.dim, self.index)(gy)
        return gx, gsrc


# ----- argument checks --------------------------------------------------------------------------------------


def _index_tensor(op: str, index: Any, name: str = "index") -> Any:
    """``index`` as an int64 array: a Tensor or array of integers (bool and float refused, as PyTorch)."""
    array = as_tensor(op, index, name)._data
    if array.dtype.kind not in "iu":
        raise DTypeError(f"{op}: argument '{name}' must be an integer (int64) tensor, got dtype {array.dtype}; hint: "
                         f"cast it with .long()")
    return array.astype(np.int64)  # a copy: the graph keeps it, and writes to the caller's tensor must not reach it


def _check_along(op: str, x: Tensor, dim: int, index: Any, other: Tensor | None = None, other_name: str = "src"
                 ) -> None:
    """PyTorch's rules for gather and scatter: index has x's number of dims, is no larger than x on every dim but
    ``dim`` (and no larger than ``other`` on any dim), and its values lie in [0, n) for n = x.shape[dim]."""
    if index.ndim != max(x.ndim, 1) and not (x.ndim == 0 and index.ndim == 0):
        raise ShapeError(f"{op}: index must have as many dims as input: index has {index.ndim} ({index.shape}), input "
                         f"{x.ndim} ({x.shape})")
    for d in range(index.ndim):
        if d != dim and x.ndim and index.shape[d] > x.shape[d]:
            raise ShapeError(f"{op}: index {index.shape} is larger than input {x.shape} at dim {d}; every dim but "
                             f"dim {dim} must be no larger than input's")
        if other is not None and other.ndim and index.shape[d] > other.shape[d]:
            raise ShapeError(f"{op}: index {index.shape} is larger than {other_name} {other.shape} at dim {d}")
    n = x.shape[dim] if x.ndim else 1
    if index.size:
        check_index_range(op, "index", index, 0, n, f" (dim {dim} has size {n}); hint: index values count from 0")


def _as_1d(x: Tensor, index: Any) -> tuple[Tensor, Any, bool]:
    """A 0-d input and index gathered or scattered as 1-d of size 1 (PyTorch allows dim 0 of a 0-d tensor)."""
    if x.ndim == 0:
        return reshape(x, (1,)), index.reshape(1), True
    return x, index, False


# ----- gather and scatter -------------------------------------------------------------------------------------


def gather(input: Any, dim: int, index: Any) -> Tensor:  # noqa: A002 - PyTorch's names
    """``out[i][j][k] = input[index[i][j][k]][j][k]`` for dim 0 (likewise for the other dims): values picked along
    ``dim``; out has index's shape. Differentiable in input (gradients add where an index repeats)."""
    x = as_tensor("gather", input)
    d = normalize_dim("gather", dim, x.ndim)
    idx = _index_tensor("gather", index)
    _check_along("gather", x, d, idx)
    x1, idx1, flat = _as_1d(x, idx)
    out = Gather(d, idx1)(x1)
    return reshape(out, ()) if flat else out


def _source(op: str, x: Tensor, index: Any, src: Any, value: Any) -> Tensor:
    """What scatter writes: ``src`` cut to index's shape (a differentiable slice), or ``value`` filled in."""
    if (src is None) == (value is None):
        raise ArgumentError(f"{op}: give exactly one of 'src' (a tensor) and 'value' (a number)")
    if value is None and not isinstance(src, Tensor) and not backend.is_array(src):
        value, src = src, None  # scatter(x, dim, index, 1.5): PyTorch's value overload, positionally
    if value is not None:
        if isinstance(value, Tensor) or backend.is_array(value):
            raise ArgumentError(f"{op}: argument 'value' must be a number, got {describe(value)}; pass a tensor as "
                                f"'src'")
        return Tensor(backend.get_array_module(x._data).full(index.shape, value, dtype=x.dtype))
    s = as_tensor(op, src, "src")
    if s.dtype != x.dtype:
        raise DTypeError(f"{op}: src has dtype {s.dtype} but input has {x.dtype}; they must match (hint: "
                         f"src.to(input.dtype))")
    if s.ndim != index.ndim:
        raise ShapeError(f"{op}: src must have as many dims as index: src {s.shape}, index {index.shape}")
    if s.shape != index.shape:
        s = getitem(s, tuple(slice(0, n) for n in index.shape))
    return s


def scatter(input: Any, dim: int, index: Any, src: Any = None, *, value: Any = None) -> Tensor:  # noqa: A002
    """A copy of ``input`` with ``src`` (or the number ``value``) written along ``dim`` at ``index``:
    ``out[index[i][j]][j] = src[i][j]`` for dim 0. Differentiable in input and src (an index repeated along dim
    writes one of its values, unspecified which, as in PyTorch)."""
    x = as_tensor("scatter", input)
    d = normalize_dim("scatter", dim, x.ndim)
    idx = _index_tensor("scatter", index)
    _check_along("scatter", x, d, idx, src if isinstance(src, Tensor) else None)
    s = _source("scatter", x, idx, src, value)
    x1, idx1, flat = _as_1d(x, idx)
    out = Scatter(d, idx1)(x1, reshape(s, idx1.shape))
    return reshape(out, ()) if flat else out


def scatter_add(input: Any, dim: int, index: Any, src: Any) -> Tensor:  # noqa: A002 - PyTorch's names
    """A copy of ``input`` with ``src`` added along ``dim`` at ``index`` (repeated indices add up):
    ``out[index[i][j]][j] += src[i][j]`` for dim 0. Differentiable in input and src."""
    x = as_tensor("scatter_add", input)
    d = normalize_dim("scatter_add", dim, x.ndim)
    idx = _index_tensor("scatter_add", index)
    _check_along("scatter_add", x, d, idx, src if isinstance(src, Tensor) else None)
    s = _source("scatter_add", x, idx, as_tensor("scatter_add", src, "src"), None)
    x1, idx1, flat = _as_1d(x, idx)
    out = add(x1, ScatterAddAlong(d, idx1, x1.shape)(reshape(s, idx1.shape)))
    return reshape(out, ()) if flat else out


def index_select(input: Any, dim: int, index: Any) -> Tensor:  # noqa: A002 - PyTorch's names
    """The slices of ``input`` along ``dim`` at the positions in ``index`` (a 1-d integer tensor), in that order;
    differentiable in input (gradients add where a position repeats)."""
    x = as_tensor("index_select", input)
    d = normalize_dim("index_select", dim, x.ndim)
    idx = _index_tensor("index_select", index)
    if idx.ndim > 1:
        raise ShapeError(f"index_select: index must be 1-d (or 0-d), got shape {idx.shape}; hint: index.flatten()")
    n = x.shape[d] if x.ndim else 1
    if idx.size:
        check_index_range("index_select", "index", idx, 0, n, f" (dim {dim} has size {n}); hint: positions count "
                          f"from 0")
    idx = idx.reshape(-1)
    if x.ndim == 0:  # PyTorch: one index, 0, and a 0-d result
        if idx.size != 1:
            raise ShapeError(f"index_select: a 0-d input takes exactly one index, got {idx.size}")
        return reshape(getitem(reshape(x, (1,)), (idx,)), ())
    return getitem(x, (slice(None),) * d + (idx,))


def masked_fill(input: Any, mask: Any, value: Any) -> Tensor:  # noqa: A002 - PyTorch's names
    """``input`` with ``value`` (a number, or a 0-d tensor) where the boolean ``mask`` is True; mask broadcasts to
    input's shape. Differentiable in input (zero gradient where filled) and in a tensor value."""
    x = as_tensor("masked_fill", input)
    m = as_tensor("masked_fill", mask, "mask")
    if m.dtype.kind != "b":
        raise DTypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}; hint: compare, e.g. x > 0, "
                         f"or cast with .bool()")
    if broadcast_shape("masked_fill", m.shape, x.shape) != x.shape:
        raise ShapeError(f"masked_fill: mask {m.shape} must broadcast to input's shape {x.shape} without growing it")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ShapeError(f"masked_fill: value must be a number or a 0-d tensor, got a tensor of shape "
                             f"{value.shape}; hint: value.item() or value.reshape(())")
        fill = value if value.dtype == x.dtype else value.to(x.dtype)
    elif isinstance(value, (bool, int, float, np.generic)):
        fill = Tensor(backend.get_array_module(x._data).asarray(value).astype(x.dtype))
    else:
        raise DTypeError(f"masked_fill: value must be a number or a 0-d tensor, got {describe(value)}")
    return where(m, fill, x)


# ----- sorting ------------------------------------------------------------------------------------------------


def _order(x: Any, dim: int, descending: bool) -> Any:
    """The stable sorting permutation of ``x`` along ``dim`` (NaN counts as the largest value, as in PyTorch).

    Descending order that keeps equal values in their original order: sort the reversed array ascending
    (stably), reverse that order, and map the positions back (i ↦ n − 1 − i)."""
    xp = backend.get_array_module(x)
    if not descending:
        return xp.argsort(x, axis=dim, kind="stable")
    n = x.shape[dim]
    return (n - 1) - xp.flip(xp.argsort(xp.flip(x, dim), axis=dim, kind="stable"), dim)


def _sort_args(op: str, x: Any, dim: int, descending: bool, stable: bool) -> tuple[Tensor, int]:
    x = as_tensor(op, x)
    d = normalize_dim(op, dim, x.ndim)
    check_bool(op, "descending", descending)
    check_bool(op, "stable", stable)
    return x, d


def sort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> sort_result:  # noqa: A002
    """(values, indices) of ``input`` sorted along ``dim``; ties keep their order (always stable). values are
    differentiable: each gradient goes back to the element it came from."""
    x, d = _sort_args("sort", input, dim, descending, stable)
    if x.ndim == 0:
        return sort_result(x, Tensor(backend.get_array_module(x._data).zeros((), dtype=np.int64)))
    order = _order(x._data, d, descending).astype(np.int64, copy=False)
    return sort_result(Gather(d, order, unique=True)(x), Tensor(order.copy()))  # the graph keeps its own indices


def argsort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:  # noqa: A002
    """The indices that sort ``input`` along ``dim`` (``sort(...).indices``); not differentiable."""
    x, d = _sort_args("argsort", input, dim, descending, stable)
    if x.ndim == 0:
        return Tensor(backend.get_array_module(x._data).zeros((), dtype=np.int64))
    return Tensor(_order(x._data, d, descending).astype(np.int64, copy=False))


def topk(input: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> topk_result:  # noqa: A002
    """(values, indices) of the ``k`` largest (``largest=False``: smallest) elements along ``dim``, largest first.
    values are differentiable, as sort's."""
    x = as_tensor("topk", input)
    if x.dtype.kind == "b":
        raise DTypeError("topk: not defined for bool tensors (as in PyTorch); hint: cast with .long() or .float()")
    d = normalize_dim("topk", dim, x.ndim)
    check_bool("topk", "largest", largest)
    check_bool("topk", "sorted", sorted)
    n = x.shape[d] if x.ndim else 1
    k = check_int("topk", "k", k, 0, n, hint=f"; hint: k counts elements of dim {dim}, which has size {n}")
    if x.ndim == 0:  # PyTorch gives the 0-d tensor itself, for k = 0 too
        return topk_result(x, Tensor(np.zeros((), dtype=np.int64)))
    order = _order(x._data, d, largest)
    order = order[(slice(None),) * d + (slice(0, k),)].astype(np.int64, copy=False)
    return topk_result(Gather(d, order, unique=True)(x), Tensor(order.copy()))  # the graph keeps its own indices


def _select_along(x: Tensor, d: int, index: Any, keepdim: bool) -> tuple[Tensor, Tensor]:
    """(values, indices) for one position per slice along ``d`` (index with size 1 there): max, min, median."""
    values = Gather(d, index, unique=True)(x)
    indices = Tensor(index.copy())  # the graph keeps its own indices: writes to the returned ones cannot reach it
    if not keepdim:
        values, indices = squeeze(values, d), squeeze(indices, d)
    return values, indices

