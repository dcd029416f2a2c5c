"""Turning an op's arguments into Tensors it can compute with, or refusing them with a clear message.

Shared by every op family so that each check and each message is written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import backend, dtypes
from chainrule.errors import DTypeError, ShapeError
from chainrule.tensor import Tensor, as_array


def as_tensor(op: str, x: Any, name: str = "input") -> Tensor:
    """``x`` as a Tensor (arrays and Python numbers are wrapped, never copied)."""
    if isinstance(x, Tensor):
        return x
    try:
        return Tensor(as_array(x))
    except (TypeError, ValueError) as e:
        raise DTypeError(f"{op}: argument '{name}' must be a Tensor, array or number, got {type(x).__name__}") from e


def _is_scalar(x: Any) -> bool:
    return isinstance(x, (bool, int, float, np.generic)) or (backend.is_array(x) and x.ndim == 0)


def binary(op: str, a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Two operands of one dtype whose shapes broadcast.

    Python numbers and NumPy scalars take the other operand's dtype (no upcast: ``x * 0.5`` stays float32);
    an integer tensor meeting a float tensor takes the float dtype; two float dtypes may not mix.
    """
    if not isinstance(a, Tensor) and _is_scalar(a) and isinstance(b, Tensor):
        a = Tensor(_scalar_array(a, b.dtype, b.data))
    elif not isinstance(b, Tensor) and _is_scalar(b) and isinstance(a, Tensor):
        b = Tensor(_scalar_array(b, a.dtype, a.data))
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


def _scalar_array(value: Any, dtype: np.dtype, like: Any) -> Any:
    """A 0-d array holding a Python or NumPy scalar in ``dtype`` (float if the value is fractional)."""
    value = value.item() if hasattr(value, "item") else value
    if dtype.kind != "f" and isinstance(value, float):
        dtype = dtypes.default_float
    return backend.get_array_module(like).asarray(value, dtype=dtype)


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


def normalize_dim(op: str, dim: int, ndim: int) -> int:
    """``dim`` as a non-negative axis of a tensor with ``ndim`` dimensions."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(
            f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions "
            f"(expected a dim in [{-max(ndim, 1)}, {max(ndim, 1) - 1}])"
        )
    return int(dim) % max(ndim, 1)


def normalize_dims(op: str, dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """``dim`` (None for all, an int, or several) as a sorted tuple of distinct non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    axes = tuple(sorted({normalize_dim(op, d, ndim) for d in dims}))
    if len(axes) != len(dims):
        raise ValueError(f"{op}: dim {tuple(dims)} names an axis more than once")
    if ndim == 0:
        return ()
    return axes


def float_only(op: str, x: Tensor) -> None:
    """Refuse integer input where the op is only defined on floats."""
    if x.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating-point tensor, got dtype {x.dtype}; hint: call .float() first")
