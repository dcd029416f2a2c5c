"""Small helpers shared by the layer modules."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.errors import ArgumentError
from chainrule.nn.parameter import Parameter
from chainrule.ops.operands import as_dtype, check_int, check_size
from chainrule.tensor import Tensor, as_array


def _pair(x: Any) -> tuple[Any, ...]:
    """``2`` → ``(2, 2)``; a sequence is kept (as a tuple)."""
    if isinstance(x, Sequence) and not isinstance(x, str):
        return tuple(x)
    return (x, x)


def empty_parameter(shape: Sequence[int], dtype: Any, layer: str = "layer") -> Parameter:
    """An uninitialised Parameter of ``shape`` and ``dtype`` (the layer's ``reset_parameters`` fills it).

    A shape larger than this machine's memory is refused (ResourceError naming ``layer`` and the shape) before
    anything is allocated."""
    dtype = as_dtype(layer, dtype)
    check_size(layer, "a parameter", shape, dtype, hint="; hint: check the layer's sizes (features, channels)")
    return Parameter(np.empty(tuple(shape), dtype=dtype))


def check_count(layer: str, name: str, value: Any, minimum: int = 0) -> int:
    """A size argument of a layer's constructor (features, channels, ...): an int ≥ ``minimum``."""
    return check_int(layer, name, value, minimum, hint=f"; hint: {name} is a count, pass an int ≥ {minimum}")


def optional_tensor(x: Any) -> Tensor | None:
    """None stays None; a Tensor stays itself; an array or list becomes a Tensor."""
    if x is None or isinstance(x, Tensor):
        return x
    return Tensor(as_array(x))


def no_inplace(layer: str, inplace: bool) -> None:
    if inplace:
        raise ArgumentError(
            f"{layer}: chainrule has no in-place ops; inplace=True is not supported (use inplace=False)"
        )


REDUCTIONS = ("none", "mean", "sum")


def reduction_arg(size_average: bool | None, reduce: bool | None, reduction: str, layer: str = "loss") -> str:
    """PyTorch's legacy (size_average, reduce) pair mapped to ``reduction``; ``reduction`` checked."""
    if size_average is not None or reduce is not None:
        warnings.warn(
            "size_average and reduce args will be deprecated, please use reduction='mean', 'sum' or 'none' instead",
            stacklevel=3,
        )
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = ("mean" if size_average else "sum") if reduce else "none"
    if reduction not in REDUCTIONS:
        raise ArgumentError(
            f"{layer}: {reduction!r} is not a valid value for argument 'reduction'; expected one of {REDUCTIONS}"
        )
    return reduction
