"""Small helpers shared by the layer modules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.nn.parameter import Parameter
from chainrule.ops.operands import (
    as_dtype,
    check_int,
    check_size,
    reduction_arg,  # noqa: F401 - the layers' losses take it from here
)
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


def affine_parameters(module: Any, shape: tuple[int, ...], dtype: Any, layer: str, affine: bool, bias: bool) -> None:
    """A normalisation layer's ``weight`` and ``bias`` of ``shape`` (registered as None when ``affine`` or
    ``bias`` is off, so the state_dict keys are PyTorch's); their values come from ``reset_parameters``."""
    module.register_parameter("weight", empty_parameter(shape, dtype, layer) if affine else None)
    module.register_parameter("bias", empty_parameter(shape, dtype, layer) if affine and bias else None)
