"""Questions about tensors and dtypes, PyTorch's names: is_tensor, numel, is_floating_point, get_default_dtype,
finfo, iinfo; and as_tensor, the conversion that shares memory when it can."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.creation import tensor
from chainrule.errors import ArgumentTypeError, DTypeError
from chainrule.ops.operands import as_dtype, describe
from chainrule.tensor import Tensor

__all__ = ["as_tensor", "finfo", "get_default_dtype", "iinfo", "is_floating_point", "is_tensor", "numel"]


def is_tensor(obj: Any) -> bool:
    """True when ``obj`` is a chainrule Tensor (a Parameter too)."""
    return isinstance(obj, Tensor)


def _tensor_arg(op: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise ArgumentTypeError(f"{op}: argument 'input' must be a Tensor, got {describe(x)}")
    return x


def numel(input: Any) -> int:  # noqa: A002 - PyTorch's name
    """The number of elements of a tensor (1 for a 0-d tensor)."""
    return _tensor_arg("numel", input).numel()


def is_floating_point(input: Any) -> bool:  # noqa: A002 - PyTorch's name
    """True when the tensor's dtype is a floating-point one (float16, float32, float64)."""
    return _tensor_arg("is_floating_point", input).dtype.kind == "f"


def get_default_dtype() -> np.dtype:
    """The dtype of tensors made from Python floats: float32, as PyTorch's default."""
    return dtypes.default_float


class finfo:  # noqa: N801 - PyTorch's name
    """Machine limits of a floating-point dtype (default: float32), as ``torch.finfo``: ``bits``, ``eps`` (the gap
    between 1 and the next number), ``max``, ``min`` (the most negative), ``tiny`` (= ``smallest_normal``, the
    smallest positive normal number), ``resolution`` and ``dtype``; the numbers are Python floats."""

    def __init__(self, type: Any = None) -> None:  # noqa: A002 - PyTorch's name
        dtype = dtypes.default_float if type is None else as_dtype("finfo", type, "type")
        if dtype.kind != "f":
            raise DTypeError(f"finfo: expected a floating-point dtype, got {dtype}; hint: use cr.iinfo for integers")
        info = np.finfo(dtype)
        self.dtype = dtype
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = float(info.resolution)

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:  # noqa: N801 - PyTorch's name
    """Limits of an integer dtype, as ``torch.iinfo``: ``bits``, ``max``, ``min`` (Python ints) and ``dtype``."""

    def __init__(self, type: Any) -> None:  # noqa: A002 - PyTorch's name
        dtype = as_dtype("iinfo", type, "type")
        if dtype.kind not in "iub":
            raise DTypeError(f"iinfo: expected an integer dtype, got {dtype}; hint: use cr.finfo for floats")
        info = np.iinfo(np.uint8 if dtype.kind == "b" else dtype)
        self.dtype = dtype
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` as a tensor, without a copy where it can: a Tensor of the asked dtype and device is returned as
    it is, a NumPy array of the asked dtype is shared (writes show through), anything else is converted as
    ``cr.tensor`` does (Python floats become float32). A dtype or device change is made (and recorded for
    gradients) as ``.to``."""
    if isinstance(data, Tensor):
        out = data
        if dtype is not None:
            out = out.to(as_dtype("as_tensor", dtype))
        return out if device is None else out.to(device)
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf" and device is None and (
            dtype is None or as_dtype("as_tensor", dtype) == data.dtype):
        return Tensor(data)
    return tensor(data, dtype=dtype, device=device)
