"""Parameter handling shared by the distributions (PyTorch's ``torch.distributions.utils``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend, dtypes
from chainrule.errors import DTypeError
from chainrule.ops import broadcast_to, clamp, log, sigmoid, softmax
from chainrule.ops.operands import as_tensor, broadcast_shape, describe
from chainrule.tensor import Tensor

__all__ = ["broadcast_all", "clamp_probs", "logits_to_probs", "probs_to_logits"]


def broadcast_all(op: str, **params: Any) -> dict[str, Tensor]:
    """The parameters as floating-point Tensors of one dtype, broadcast to one shape (differentiably).

    Python numbers take the dtype of the tensors among the parameters (float32 when there are none); tensors of
    different float dtypes are refused rather than silently upcast.
    """
    tensors: dict[str, Tensor] = {}
    numbers: dict[str, float] = {}
    for name, value in params.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            numbers[name] = float(value)
            continue
        t = as_tensor(op, value, name)
        if t.dtype.kind != "f":
            raise DTypeError(f"{op}: argument '{name}' must be a floating-point tensor, got {describe(t)}; hint: "
                             f"call .float() first")
        tensors[name] = t
    kinds = {t.dtype for t in tensors.values()}
    if len(kinds) > 1:
        listed = ", ".join(f"{n} is {t.dtype}" for n, t in tensors.items())
        raise DTypeError(f"{op}: the parameters must share one dtype, got {listed}; hint: cast one of them, e.g. "
                         f".double() or .float()")
    dtype = kinds.pop() if kinds else np.dtype(dtypes.float32)
    shape = broadcast_shape(op, *(t.shape for t in tensors.values())) if tensors else ()
    xp = backend.get_array_module(*(t._data for t in tensors.values())) if tensors else np
    out: dict[str, Tensor] = {}
    for name in params:
        if name in numbers:
            out[name] = Tensor(xp.full(shape, numbers[name], dtype=dtype))
        else:
            t = tensors[name]
            out[name] = t if t.shape == shape else broadcast_to(t, shape)
    return out


def clamp_probs(probs: Tensor) -> Tensor:
    """probs clamped to [ε, 1 − ε] (ε the dtype's machine epsilon), so that their logs are finite."""
    eps = float(np.finfo(probs.dtype).eps)
    return clamp(probs, min=eps, max=1 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """log p (categorical: logits up to a constant), or log p − log(1 − p) (binary), on clamped probabilities."""
    p = clamp_probs(probs)
    return log(p) - log(1 - p) if is_binary else log(p)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """σ(logits) (binary) or softmax(logits) over the last dim (categorical)."""
    return sigmoid(logits) if is_binary else softmax(logits, -1)
