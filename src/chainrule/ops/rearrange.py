"""Rearranging elements: flip, roll, tile, repeat_interleave. Derivations: docs/shape.md ("Flip, roll, tile,
repeat_interleave").

Notation (docs/notation.md): each op moves or copies elements without changing them, so gx collects gy from the
positions each element of x went to: a permutation (flip, roll) sends gy back by the inverse permutation; a
copy (tile, repeat_interleave) sums gy over the copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError
from chainrule.ops.indexing import index_select
from chainrule.ops.operands import _is_int, as_tensor, check_int, check_size, describe, int_tuple, normalize_dim
from chainrule.ops.shape import permute, repeat
from chainrule.tensor import Tensor

__all__ = ["flip", "repeat_interleave", "roll", "tile"]


def _xp(x: Any):
    return backend.get_array_module(x)


def movedim(x: Tensor, source: int, destination: int) -> Tensor:
    """``x`` with dim ``source`` moved to ``destination`` (both may be negative), the others in order."""
    order = list(range(x.ndim))
    src, dst = source % x.ndim, destination % x.ndim
    order.insert(dst, order.pop(src))
    return x if order == list(range(x.ndim)) else permute(x, tuple(order))


class Flip(Function):
    uses_inputs = False  # backward needs only the dims

    def __init__(self, dims: tuple[int, ...]) -> None:
        self.dims = dims

    def forward(self, x):
        return _xp(x).flip(x, self.dims).copy()  # a copy, as PyTorch's: the result owns its memory

    def backward(self, gy: Tensor) -> Tensor:
        """y = x reversed along D: a permutation that is its own inverse, so gx = gy reversed along D."""
        return Flip(self.dims)(gy)


class Roll(Function):
    uses_inputs = False  # backward needs only the shifts

    def __init__(self, shifts: tuple[int, ...], dims: tuple[int, ...] | None) -> None:
        self.shifts, self.dims = shifts, dims

    def forward(self, x):
        xp = _xp(x)
        if self.dims is None:  # the flattened tensor, rolled, in x's shape
            return xp.roll(x.reshape(-1), self.shifts[0]).reshape(x.shape)
        return xp.roll(x, self.shifts, self.dims)

    def backward(self, gy: Tensor) -> Tensor:
        """y[(i + s) mod n] = x[i] along each rolled dim: the inverse permutation rolls back, gx = roll(gy, −s)."""
        return Roll(tuple(-s for s in self.shifts), self.dims)(gy)


def _dims_arg(op: str, dims: Any, ndim: int) -> tuple[int, ...]:
    raw = int_tuple(op, "dims", dims)
    out = tuple(normalize_dim(op, d, ndim) for d in raw)
    if len(set(out)) != len(out):
        raise ArgumentError(f"{op}: dims {tuple(raw)} name an axis more than once")
    return out


def flip(input: Any, dims: Any) -> Tensor:  # noqa: A002 - PyTorch's names
    """``input`` with the order of its elements reversed along each dim in ``dims`` (a copy, as PyTorch)."""
    x = as_tensor("flip", input)
    d = _dims_arg("flip", dims, x.ndim)
    if x.ndim == 0:
        return Flip(())(x)
    return Flip(d)(x)


def roll(input: Any, shifts: Any, dims: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
    """``input`` rolled by ``shifts`` along ``dims`` (elements pushed off one end come back at the other); with
    ``dims`` None, the flattened tensor is rolled and the shape restored, as PyTorch."""
    x = as_tensor("roll", input)
    s = int_tuple("roll", "shifts", shifts)
    if dims is None:
        if len(s) != 1:
            raise ArgumentError(f"roll: without dims, shifts must be one int, got {tuple(s)}; hint: pass dims with "
                                f"one dim per shift")
        return Roll(s, None)(x)
    if x.ndim == 0:
        raise ShapeError(f"roll: a 0-d tensor has no dim {dims!r}; hint: leave dims out (None) to roll it whole")
    d = tuple(normalize_dim("roll", v, x.ndim) for v in int_tuple("roll", "dims", dims))
    if len(d) != len(s):
        raise ArgumentError(f"roll: shifts and dims must have the same length, got {len(s)} shifts {tuple(s)} and "
                            f"{len(d)} dims {tuple(d)}")
    return Roll(s, d)(x)


def tile(input: Any, dims: Sequence[int]) -> Tensor:  # noqa: A002 - PyTorch's names
    """``input`` repeated ``dims[i]`` times along each dim; fewer ``dims`` than input's dims are padded with 1s in
    front (``repeat`` of the padded sizes, as PyTorch). The gradient sums gy over the copies."""
    x = as_tensor("tile", input)
    reps = int_tuple("tile", "dims", dims)
    for r in reps:
        if r < 0:
            raise ArgumentError(f"tile: argument 'dims' must hold non-negative counts, got {tuple(reps)}")
    reps = (1,) * (x.ndim - len(reps)) + tuple(reps)
    return repeat(x, reps)


def repeat_interleave(input: Any, repeats: Any = None, dim: int | None = None, *,  # noqa: A002 - PyTorch's names
                      output_size: int | None = None) -> Tensor:
    """Each element of ``input`` repeated ``repeats`` times (an int, or a tensor of one count per element) along
    ``dim``, the copies of one element next to each other; with ``dim`` None, of the flattened input. With
    ``repeats`` None, ``input`` holds the counts and the result repeats 0, 1, 2, ... (PyTorch's one-argument
    form).

    It is ``index_select`` of ``input`` along ``dim`` by the index 0,…,0, 1,…,1, …: the gradient sums gy over
    each element's copies (index_select's backward, index_add)."""
    if repeats is None:  # repeat_interleave(counts): arange(len(counts)) repeated by counts
        if dim is not None:
            raise ArgumentError("repeat_interleave: without repeats (the one-argument form, input holds the counts) "
                                f"there is no dim to pass, got dim={dim!r}; hint: repeat_interleave(x, repeats, dim)")
        counts = _counts("repeat_interleave", input, None)
        xp = _xp(counts)
        return Tensor(xp.repeat(xp.arange(counts.shape[0], dtype=np.int64), counts))
    x = as_tensor("repeat_interleave", input)
    if dim is None:
        x, d = x.reshape(-1), 0
    else:
        if x.ndim == 0:  # as PyTorch: a 0-d input repeats only flattened
            raise ShapeError(f"repeat_interleave: a 0-d input has no dim {dim!r}; hint: pass dim=None")
        d = normalize_dim("repeat_interleave", dim, x.ndim)
    n = x.shape[d]
    xp = _xp(x._data)
    if _is_int(repeats) or (isinstance(repeats, Tensor) and repeats.ndim == 0 and repeats.dtype.kind in "iu"):
        r = check_int("repeat_interleave", "repeats", int(repeats.item() if isinstance(repeats, Tensor) else repeats),
                      0)
        check_size("repeat_interleave", "the result", (n * r,) + x.shape[:d] + x.shape[d + 1:], x.dtype)
        check_size("repeat_interleave", "the index", (n * r,), np.int64)  # even when the result is empty
        index = xp.repeat(xp.arange(n, dtype=np.int64), r)
    else:
        counts = _counts("repeat_interleave", repeats, n)
        check_size("repeat_interleave", "the result", (int(counts.sum()),) + x.shape[:d] + x.shape[d + 1:], x.dtype)
        check_size("repeat_interleave", "the index", (int(counts.sum()),), np.int64)
        index = xp.repeat(xp.arange(n, dtype=np.int64), counts)
    if output_size is not None:
        check_int("repeat_interleave", "output_size", output_size, 0)
        if output_size != index.shape[0]:
            raise ShapeError(f"repeat_interleave: output_size is {output_size} but the repeats add up to "
                             f"{index.shape[0]}; hint: pass their sum, or leave output_size out")
    return index_select(x, d, Tensor(index))


def _counts(op: str, repeats: Any, n: int | None) -> Any:
    """``repeats`` as a 1-D array of non-negative int64 counts (``n`` of them when given; a single count is
    broadcast to all ``n``)."""
    if not isinstance(repeats, Tensor) and not backend.is_array(repeats):  # as PyTorch: an int or a tensor
        raise ArgumentTypeError(f"{op}: argument 'repeats' must be an int or a tensor of ints, got "
                                f"{describe(repeats)}")
    r = as_tensor(op, repeats, "repeats")
    if r.dtype.kind not in "iu":
        raise DTypeError(f"{op}: argument 'repeats' must hold integers, got dtype {r.dtype}; hint: call .long()")
    if r.ndim > 1:
        raise ShapeError(f"{op}: argument 'repeats' must be 0-d or 1-d, got shape {r.shape}")
    counts = r._data.reshape(-1).astype(np.int64)
    if bool((counts < 0).any()):
        raise ArgumentError(f"{op}: argument 'repeats' must hold non-negative counts, got {int(counts.min())}")
    if n is not None and counts.shape[0] == 1:  # one count for every element, as PyTorch broadcasts it
        counts = _xp(counts).full(n, counts[0], dtype=np.int64)
    if n is not None and counts.shape[0] != n:
        raise ShapeError(f"{op}: repeats has {counts.shape[0]} counts but the input has {n} elements along the "
                         f"dim; hint: give one count per element, or one int for all")
    return counts
