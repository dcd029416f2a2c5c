"""Turning an op's arguments into what it can compute with, or refusing them with a clear message.

Shared by every op family so that each check and each message is written once. Every refusal is a
``ChainruleError`` (see chainrule/errors.py and docs/errors.md) whose message names the op, the argument, what
was expected and what came, usually with a hint. All checks are O(1) Python on shapes, dtypes and numbers,
except ``first_outside``, the vectorised range check of index and probability tensors (one pass over the data,
as PyTorch does).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import backend, dtypes
from chainrule.autograd.grad_mode import is_grad_enabled
from chainrule.errors import (
    ArgumentError,
    ArgumentTypeError,
    DTypeError,
    IndexRangeError,
    IndexValueError,
    ResourceError,
    ShapeError,
)
from chainrule.tensor import Tensor, as_array

_NUMERIC = "biuf"  # bool, signed and unsigned ints, floats: the dtypes chainrule computes with
_INT64 = np.iinfo(np.int64)


def describe(x: Any) -> str:
    """A short description of a value for an error message: its type, and its value when short."""
    if isinstance(x, Tensor):
        return f"a Tensor of dtype {x.dtype} and shape {x.shape}"
    if backend.is_array(x):
        return f"an array of dtype {x.dtype} and shape {x.shape}"
    text = repr(x)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(x).__name__} {text}"


# ----- tensors ---------------------------------------------------------------------------------------------


def as_tensor(op: str, x: Any, name: str = "input") -> Tensor:
    """``x`` as a Tensor (arrays and Python numbers are wrapped, never copied); refuses what holds no numbers."""
    if isinstance(x, Tensor):
        if x.dtype.kind not in _NUMERIC:
            raise DTypeError(f"{op}: argument '{name}' must hold numbers (bool, int or float), got dtype {x.dtype}")
        return x
    try:
        array = as_array(x)
    except (TypeError, ValueError, OverflowError) as e:
        raise DTypeError(
            f"{op}: argument '{name}' must be a Tensor (or an array or number), got {describe(x)}; hint: build "
            f"it with cr.tensor(...) from a rectangular nested list of numbers"
        ) from e
    if array.dtype.kind not in _NUMERIC:
        raise DTypeError(
            f"{op}: argument '{name}' must be a Tensor of numbers (bool, int or float), got {describe(x)}, which "
            f"is dtype {array.dtype}; hint: pass a Tensor, e.g. cr.tensor([1.0, 2.0])"
        )
    return Tensor(array)


def float_only(op: str, x: Tensor, name: str = "input") -> None:
    """Refuse integer input where the op is only defined on floats."""
    if x.dtype.kind != "f":
        raise DTypeError(
            f"{op}: expected a floating-point tensor, got dtype {x.dtype} (argument '{name}'); hint: call .float() "
            f"first"
        )


def same_dtype(op: str, x: Tensor, other: Tensor, name: str, reference: str = "input") -> None:
    """Refuse ``other`` unless it has ``x``'s dtype."""
    if other.dtype != x.dtype:
        raise DTypeError(
            f"{op}: argument '{name}' has dtype {other.dtype} but {reference} has dtype {x.dtype}; "
            f"cast one of them (.float() or .double())"
        )


def _is_scalar(x: Any) -> bool:
    return isinstance(x, (bool, int, float, np.generic)) or (backend.is_array(x) and x.ndim == 0)


def scalar_dtype(op: str, value: Any, dtype: np.dtype) -> np.dtype:
    """The dtype a Python or NumPy number takes next to a tensor of ``dtype`` (PyTorch's rule: a number is
    weak, it changes the dtype only when it is of a higher category, bool < int < float: ``x * 0.5`` stays
    float32, ``mask + 1`` is int64, ``counts * 0.5`` is float32)."""
    if isinstance(value, (bool, np.bool_)):
        return dtype
    if isinstance(value, (int, np.integer)):
        if not _INT64.min <= int(value) <= _INT64.max:
            raise ArgumentError(
                f"{op}: the Python int {value} does not fit in int64; hint: write it as a float ({float(value)!r})"
            )
        return dtypes.int64 if dtype.kind == "b" else dtype
    return dtype if dtype.kind == "f" else dtypes.default_float


def scalar_array(op: str, value: Any, dtype: np.dtype, like: Any) -> Any:
    """A 0-d array holding a Python or NumPy number in the dtype it takes next to a tensor of ``dtype``."""
    if type(value) is float and dtype.kind == "f":  # the common case, x * 0.5: the tensor's dtype
        return backend.get_array_module(like).asarray(value, dtype=dtype)
    if backend.is_array(value):  # a 0-d array
        value = value.item()
    target = scalar_dtype(op, value, dtype)
    value = value.item() if hasattr(value, "item") else value
    if target.kind in "iu" and isinstance(value, (int, np.integer)):
        info = np.iinfo(target)
        if not info.min <= int(value) <= info.max:
            raise ArgumentError(f"{op}: the number {value} does not fit in the tensor's dtype {target}")
    return backend.get_array_module(like).asarray(value, dtype=target)


def binary(op: str, a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Two operands of one dtype whose shapes broadcast.

    Python numbers and NumPy scalars are weak (``scalar_dtype``): ``x * 0.5`` stays float32; an integer or
    bool tensor meeting a float tensor takes the float dtype, bool meeting int takes int; two float dtypes
    may not mix.
    """
    if not isinstance(a, Tensor) and not isinstance(b, Tensor) and _is_scalar(a) and _is_scalar(b):
        # two numbers: each takes the default dtype of its kind (float32, int64, bool), NumPy ones too
        a, b = (v.item() if hasattr(v, "item") else v for v in (a, b))
    if not isinstance(a, Tensor) and _is_scalar(a) and isinstance(b, Tensor):
        a = Tensor(scalar_array(op, a, b.dtype, b._data))
    elif not isinstance(b, Tensor) and _is_scalar(b) and isinstance(a, Tensor):
        b = Tensor(scalar_array(op, b, a.dtype, a._data))
    a = as_tensor(op, a, "a")
    b = as_tensor(op, b, "b")
    if a.dtype != b.dtype:
        dtype = dtypes.result_dtype(op, a.dtype, b.dtype)
        if a.dtype != dtype:
            a = a.to(dtype)
        if b.dtype != dtype:
            b = b.to(dtype)
    if a.shape != b.shape:
        broadcast_shape(op, a.shape, b.shape)
    return a, b


def broadcast_shape(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast of ``shapes``, or a ShapeError naming the op, the shapes and the axis that fails."""
    ndim = max(len(s) for s in shapes)
    result = []
    for axis in range(-ndim, 0):
        sizes = {s[axis] for s in shapes if len(s) >= -axis} - {1}
        if len(sizes) > 1:
            listed = " and ".join(str(s) for s in shapes)
            raise ShapeError(
                f"{op}: shapes {listed} do not broadcast: at dim {axis} the sizes are "
                f"{' vs '.join(str(s[axis]) if len(s) >= -axis else '-' for s in shapes)}; broadcasting aligns "
                f"shapes from the right and each pair of sizes must be equal or one of them 1"
            )
        result.append(sizes.pop() if sizes else 1)
    return tuple(result)


# ----- dims ------------------------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    """An int or a NumPy int, not a bool (``type(value) is int`` first: the common case, and fast)."""
    return type(value) is int or (isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)))


def normalize_dim(op: str, dim: Any, ndim: int) -> int:
    """``dim`` as a non-negative axis of a tensor with ``ndim`` dimensions (a 0-d tensor accepts 0 and −1)."""
    if not _is_int(dim):
        raise ArgumentTypeError(f"{op}: dim must be an int, got {type(dim).__name__} {dim!r}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexRangeError(
            f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions "
            f"(expected a dim in [{-max(ndim, 1)}, {max(ndim, 1) - 1}])"
        )
    return int(dim) % max(ndim, 1)


def normalize_dims(op: str, dim: Any, ndim: int) -> tuple[int, ...]:
    """``dim`` (None or an empty sequence for all, as PyTorch; an int; or several) as a sorted tuple of distinct
    non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    if _is_int(dim):
        dims: tuple[Any, ...] = (dim,)
    elif isinstance(dim, (tuple, list)):
        dims = tuple(dim)
        if not dims:  # PyTorch's sum, mean, var, amax read an empty dim list as "every dim"
            return tuple(range(ndim))
    else:
        raise ArgumentTypeError(f"{op}: dim must be None, an int or a tuple of ints, got {describe(dim)}")
    axes = tuple(sorted({normalize_dim(op, d, ndim) for d in dims}))
    if len(axes) != len(dims):
        raise ArgumentError(f"{op}: dim {tuple(dims)} names an axis more than once")
    if ndim == 0:
        return ()
    return axes


# ----- plain arguments: ints, pairs, numbers, flags, choices, dtypes ---------------------------------------------


def check_int(op: str, name: str, value: Any, minimum: int | None = None, maximum: int | None = None, *,
              hint: str = "") -> int:
    """``value`` as an int (NumPy ints too, bools not), within [minimum, maximum] when given. ``hint``, if
    given, is appended to the message (say how to fix it, e.g. "; hint: ...")."""
    if not _is_int(value):
        raise ArgumentTypeError(f"{op}: argument '{name}' must be an int, got {describe(value)}{hint}")
    if minimum is not None and value < minimum:
        raise ArgumentError(f"{op}: argument '{name}' must be ≥ {minimum}, got {value}{hint}")
    if maximum is not None and value > maximum:
        raise ArgumentError(f"{op}: argument '{name}' must be ≤ {maximum}, got {value}{hint}")
    return int(value)


def int_tuple(op: str, name: str, value: Any) -> tuple[int, ...]:
    """A shape-like argument: a list or tuple of ints (an int alone is a 1-tuple)."""
    if _is_int(value):
        return (int(value),)
    if not isinstance(value, (tuple, list)) or not all(_is_int(v) for v in value):
        raise ArgumentTypeError(f"{op}: argument '{name}' must be a tuple of ints, got {describe(value)}")
    return tuple(int(v) for v in value)


def int_pair(op: str, name: str, value: Any, minimum: int, bound: str | None = None,
             single: bool = True) -> tuple[int, int]:
    """An int or a pair of ints (height, width) — or, with ``single``, a 1-sequence — each ≥ ``minimum``.
    ``bound`` words the limit in the message ("positive"); the default is "≥ minimum"."""
    sizes = (1, 2) if single else (2,)
    if type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int:
        pair = value  # the common case (layers pass pairs), without the general checks below
    elif _is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) in sizes and all(_is_int(v) for v in value):
        pair = (int(value[0]), int(value[-1]))
    else:
        raise ArgumentTypeError(
            f"{op}: {name} must be an int or a pair of ints (height, width), got {describe(value)}"
        )
    if min(pair) < minimum:
        raise ArgumentError(f"{op}: {name} must be {bound or f'≥ {minimum}'}, got {value!r}")
    return pair


def check_number(op: str, name: str, value: Any, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False, nan: bool = False, finite: bool = False,
                 hint: str = "") -> float:
    """A real number (int or float, not bool), optionally within [low, high] (``low_open``, ``high_open``:
    the bound itself excluded); NaN only if ``nan``, ±inf not if ``finite``. ``hint`` is appended to the message."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(f"{op}: argument '{name}' must be a number, got {describe(value)}{hint}")
    value = float(value)
    if math.isnan(value):
        if nan:
            return value
        expected = f" {_range(low, high, low_open, high_open)}" if low is not None or high is not None else ""
        raise ArgumentError(f"{op}: argument '{name}' must not be NaN (expected a number{expected}){hint}")
    if finite and math.isinf(value):
        raise ArgumentError(f"{op}: argument '{name}' must be a finite number, got {value:g}{hint}")
    if ((low is not None and (value < low or (low_open and value == low)))
            or (high is not None and (value > high or (high_open and value == high)))):
        verb = "lie" if low is not None and high is not None else "be"
        raise ArgumentError(
            f"{op}: argument '{name}' must {verb} {_range(low, high, low_open, high_open)}, got {value:g}{hint}"
        )
    return value


def _range(low: float | None, high: float | None, low_open: bool, high_open: bool = False) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '≥'} {low:g}"
    return f"{'<' if high_open else '≤'} {high:g}"


def check_bool(op: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"{op}: argument '{name}' must be True or False, got {describe(value)}")
    return bool(value)


def check_choice(op: str, name: str, value: Any, options: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise ArgumentError(f"{op}: argument '{name}' must be one of {listed}, got {describe(value)}")
    return value


def as_dtype(op: str, value: Any, name: str = "dtype") -> np.dtype:
    """A dtype argument (cr.float32, np.float64, 'int64', float, ...) as a NumPy dtype chainrule computes with."""
    if value is None or isinstance(value, (bool, int, float)):
        raise ArgumentTypeError(f"{op}: argument '{name}' must be a dtype such as cr.float32, got {describe(value)}")
    try:
        dtype = np.dtype(value)
    except (TypeError, ValueError) as e:
        raise ArgumentTypeError(
            f"{op}: argument '{name}' must be a dtype such as cr.float32, got {describe(value)}"
        ) from e
    if dtype.kind not in _NUMERIC:
        raise DTypeError(f"{op}: cannot convert to dtype {dtype}; chainrule computes with bool, int and float dtypes")
    return dtype


# ----- data-dependent checks (vectorised) and sizes ----------------------------------------------------------


def first_outside(op: str, name: str, values: Any, bad: Any, expected: str, hint: str = "",
                  error: type[Exception] = ArgumentError) -> None:
    """Raise ``error`` naming the first element of ``values`` where the boolean array ``bad`` holds, if any.

    One vectorised pass (``bad.any()``); the position is looked up only when there is something to report.
    """
    if not bool(bad.any()):
        return
    bad = backend.to_numpy(bad)
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    array = backend.to_numpy(values)
    value = array[index] if index else array.item()
    position = f"[{', '.join(map(str, index))}]" if index else ""
    raise error(f"{op}: {name}{position} = {value} is outside {expected}{hint}")


def check_index_range(op: str, name: str, values: Any, low: int, high: int, hint: str = "") -> None:
    """Refuse integer indices outside [low, high) (class labels, embedding rows) with an IndexValueError."""
    first_outside(op, name, values, (values < low) | (values >= high), f"[{low}, {high})", hint, IndexValueError)


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 1 << 40


MEMORY_BYTES = _memory_bytes()  # this machine's memory: no single buffer can be larger


_SIZE_HINT = "; hint: a size this large is usually a wrong padding, stride, output size or count"


def check_size(op: str, what: str, shape: Sequence[int], dtype: Any, hint: str = _SIZE_HINT) -> None:
    """Refuse, before allocating it, a buffer of ``shape`` larger than this machine's memory (ResourceError)."""
    numel = 1
    for n in shape:
        numel *= int(n)
    nbytes = numel * np.dtype(dtype).itemsize
    if nbytes > MEMORY_BYTES:
        raise ResourceError(
            f"{op}: {what} would have shape {tuple(int(n) for n in shape)} ({numel:.3g} elements, "
            f"{nbytes / 2**30:.3g} GiB), more than this machine's memory ({MEMORY_BYTES / 2**30:.3g} GiB){hint}"
        )


def written_back(x: Tensor, y: Tensor, inplace: bool) -> Tensor:
    """PyTorch's ``inplace=True`` for an activation or dropout: the result ``y`` written into ``x``, and ``x``
    returned. Where gradients are being recorded for ``x`` the result is returned out of place instead: the
    values are the same, and the graph stays exact (chainrule records no in-place ops)."""
    if not inplace or (x.requires_grad and is_grad_enabled()) or x.dtype != y.dtype or x.shape != y.shape:
        return y
    return x.copy_(y)


def reduction_arg(size_average: bool | None, reduce: bool | None, reduction: str, op: str) -> str:
    """PyTorch's legacy (size_average, reduce) pair mapped to ``reduction`` (with its warning); then checked
    (``kl_div`` also takes 'batchmean', which it checks itself)."""
    if size_average is not None or reduce is not None:
        warnings.warn(
            "size_average and reduce args will be deprecated, please use reduction='mean', 'sum' or 'none' instead",
            stacklevel=3,
        )
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = ("mean" if size_average else "sum") if reduce else "none"
    if reduction not in ("none", "mean", "sum"):
        extra = ", 'batchmean'" if op == "kl_div" else ""
        raise ArgumentError(
            f"{op}: {reduction!r} is not a valid value for argument 'reduction'; expected one of "
            f"('none', 'mean', 'sum'{extra})"
        )
    return reduction
