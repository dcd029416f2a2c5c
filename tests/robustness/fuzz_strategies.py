"""Building blocks for generated calls: shapes, arrays, dims, numbers, and the wrong values thrown at each slot.

Every generator starts a ``Ctx``: about two calls in three are *tame* (every argument valid, so the result is
compared with PyTorch's), one in three is *wild* (each slot may get a bad value: out of range, huge, of the
wrong type, a mismatched shape). The drawing functions take ``draw`` (``data.draw`` of ``st.data()``) and the
``Ctx``. Arrays are made by NumPy from a drawn seed (fast, and shrinkable through the seed); floats are standard
normal, so ties and kinks (relu at 0, max with equal values) have probability zero unless a special value is
planted on purpose, which switches gradient comparison off for that call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from fuzz_helpers import Raw
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

F32, F64, I64, BOOL = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.bool_)
DTYPES = (F32, F32, F64, I64, BOOL)  # float32 twice: the common case
HUGE = 10**12  # far beyond any buffer a machine can hold, alone or multiplied by a dim
SPECIALS = (np.nan, np.inf, -np.inf, 0.0, -0.0)

class Opaque:
    """An object of no numeric meaning, with a fixed repr and hash (so that Hypothesis' labels, which hash the
    values a strategy samples from, are the same in every process)."""

    def __repr__(self) -> str:
        return "Opaque()"

    def __hash__(self) -> int:
        return 0


# values thrown where a tensor is expected: chainrule must refuse them, or convert them as cr.tensor does
WRONG_TENSORS = (
    Raw("abc"), Raw(None), Raw([1.0, -2.0, 0.5]), Raw([[1, 2], [3]]), Raw(2.5), Raw(True), Raw({"a": 1}),
    Raw(np.array(["a", "b"])), Raw([1, 2]), Raw(np.zeros((2, 2), dtype=np.complex64)), Raw(Opaque()),
)
# values thrown where an int (a size, a stride, a dim) is expected
WRONG_INTS = ("2", None, 1.5, float("nan"), [], (1, 2, 3), True)


def one_in(draw, n: int) -> bool:
    """True with probability about 1/n."""
    return draw(st.integers(0, n - 1)) == 0


class Ctx:
    """What is drawn for one call beyond its arguments: whether it is wild, and whether special values were
    planted (which switches gradient comparison off)."""

    def __init__(self, draw) -> None:
        self.draw = draw
        self.wild = one_in(draw, 3)
        self.special = False

    def bad(self, n: int = 4) -> bool:
        """In a wild call, True about once in ``n`` slots; never in a tame call."""
        return self.wild and n > 0 and one_in(self.draw, n)


def shape(draw, min_dims: int = 0, max_dims: int = 4, min_side: int = 0, max_side: int = 4) -> tuple[int, ...]:
    return draw(array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side))


def two_shapes(draw, ctx: Ctx, max_dims: int = 3, max_side: int = 3) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Two shapes that broadcast, or (wild) two independent shapes, which may not."""
    if ctx.bad(2):
        return shape(draw, 0, max_dims, 0, max_side), shape(draw, 0, max_dims, 0, max_side)
    shapes = draw(mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=max_dims, max_side=max_side))
    return shapes.input_shapes


def array(draw, ctx: Ctx, shape_: Sequence[int], dtype: np.dtype, *, low: int = -3, high: int = 3,
          special: int = 8, positive: bool = False) -> np.ndarray:
    """An array of ``shape_`` and ``dtype``; floats standard normal (|x| + 0.1 if ``positive``), ints in
    [low, high], and, about once in ``special`` draws, NaN, ±inf or a zero planted at random positions."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape_ = tuple(shape_)
    if dtype.kind == "f":
        a = rng.standard_normal(shape_)
        if positive:
            a = np.abs(a) + 0.1
        a = a.astype(dtype)
        if a.size and special and one_in(draw, special):
            value = draw(st.sampled_from(SPECIALS))
            a.reshape(-1)[rng.integers(0, a.size, size=rng.integers(1, 3))] = value
            ctx.special = True
    elif dtype.kind == "b":
        a = rng.random(shape_) < 0.5
    else:
        a = rng.integers(low, high + 1, shape_).astype(dtype)
    return np.asarray(a)


def float_dtype(draw, ctx: Ctx) -> np.dtype:
    """float32 mostly, float64 sometimes; (wild) an integer or bool dtype."""
    if ctx.bad(3):
        return draw(st.sampled_from((I64, BOOL)))
    return draw(st.sampled_from((F32, F32, F64)))


def tensor(draw, ctx: Ctx, shape_: Sequence[int], dtype: np.dtype | None = None, *,
           choices: Sequence[np.dtype] = DTYPES, wrong: int = 6, **kwargs: Any) -> Any:
    """An array argument (its dtype drawn from ``choices`` unless given) or, in wild calls, sometimes a wrong
    value (a string, None, a list, ...)."""
    if ctx.bad(wrong):
        return draw(st.sampled_from(WRONG_TENSORS))
    return array(draw, ctx, shape_, dtype if dtype is not None else draw(st.sampled_from(tuple(choices))), **kwargs)


def dim(draw, ctx: Ctx, ndim: int) -> Any:
    """A dim in range (either sign); wild: one past either end, far out, or of a wrong type."""
    n = max(ndim, 1)
    if ctx.bad(3):
        if one_in(draw, 3):
            return draw(st.sampled_from((10, -10, HUGE, "0", 1.5, None, (0,), [0], True)))
        return draw(st.sampled_from((n, -n - 1)))
    return draw(st.integers(-n, n - 1))


def dims(draw, ctx: Ctx, ndim: int) -> Any:
    """The ``dim`` of a reduction: None, an int, or a tuple of distinct dims (possibly empty); wild: repeated
    or out-of-range dims."""
    kind = draw(st.integers(0, 9))
    if kind <= 2:
        return None
    if kind <= 6:
        return dim(draw, ctx, ndim)
    n = max(ndim, 1)
    if ctx.bad(2):
        return tuple(draw(st.lists(st.integers(-n - 1, n), min_size=0, max_size=3)))
    picked = draw(st.lists(st.integers(0, n - 1), min_size=0, max_size=n, unique=True))
    return tuple(d - n if draw(st.booleans()) else d for d in picked)


def scalar(draw) -> Any:
    """A Python or NumPy number for a tensor slot (binary ops): the ordinary ones and the awkward ones."""
    return draw(st.sampled_from((0, 1, -1, 2, 3, 0.5, -2.5, True, False, float("nan"), float("inf"), 1e30,
                                 2**40, 2**70, np.float64(1.5), np.float32(-0.5), np.int64(2))))


def int_arg(draw, ctx: Ctx, good: Sequence[Any], bad: Sequence[Any] = ()) -> Any:
    """One of ``good``; wild: one of ``bad``, a wrong type, or a huge value."""
    if ctx.bad(3):
        return draw(st.sampled_from(tuple(bad) + WRONG_INTS + (HUGE, -HUGE)))
    return draw(st.sampled_from(tuple(good)))


def pair_arg(draw, ctx: Ctx, good: Sequence[Any], bad: Sequence[Any] = ()) -> Any:
    """An int, a pair of ints (tuple or list); wild: bad or huge values in it, or a malformed pair."""
    kind = draw(st.integers(0, 9))
    if ctx.bad(3):
        if kind <= 6:
            first = draw(st.sampled_from(tuple(bad) + (HUGE,)))
            return first if kind <= 3 else (first, draw(st.sampled_from(tuple(good))))
        return draw(st.sampled_from(((1, 1, 1), "2", (1.5, 1), None, [])))
    first = draw(st.sampled_from(tuple(good)))
    if kind <= 5:
        return first
    second = draw(st.sampled_from(tuple(good)))
    return (first, second) if kind <= 8 else [first, second]


def choice(draw, ctx: Ctx, good: Sequence[Any], bad: Sequence[Any] = ("bogus", None, 3)) -> Any:
    if ctx.bad(3):
        return draw(st.sampled_from(tuple(bad)))
    return draw(st.sampled_from(tuple(good)))


def flag(draw, ctx: Ctx) -> Any:
    """A bool; wild: something that is not one."""
    if ctx.bad(4):
        return draw(st.sampled_from(("yes", None, 2)))
    return draw(st.booleans())


def real(draw, ctx: Ctx, good: Sequence[Any], bad: Sequence[Any] = ()) -> Any:
    """A number from ``good``; wild: one from ``bad``, NaN, or a wrong type."""
    if ctx.bad(3):
        return draw(st.sampled_from(tuple(bad) + ("0.5", None, [0.5], float("nan"))))
    return draw(st.sampled_from(tuple(good)))


_TORCH_DTYPES: dict[Any, Any] = {}


def torch_dtype(np_dtype: Any) -> Any:
    import torch

    if not _TORCH_DTYPES:
        _TORCH_DTYPES.update({np.dtype(np.float16): torch.float16, F32: torch.float32, F64: torch.float64,
                              I64: torch.int64, np.dtype(np.int32): torch.int32, BOOL: torch.bool})
    return _TORCH_DTYPES[np.dtype(np_dtype)]
