"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_`` (PyTorch's ``nn.utils``)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from chainrule import backend
from chainrule.errors import ArgumentError
from chainrule.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _with_grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``; returns the norm before, a
    0-d Tensor of the gradients' dtype (float32 when no parameter has a gradient), as PyTorch.

    The joint p-norm is (Σ_params ‖g‖_p^p)^(1/p) (the max for p = inf). Gradients are multiplied by
    min(1, max_norm / (norm + 1e-6)), as PyTorch does, so their direction is kept. This is the usual remedy for
    exploding gradients in backpropagation through time.
    """
    if max_norm < 0:
        raise ArgumentError(f"clip_grad_norm_: max_norm must be ≥ 0, got {max_norm}")
    params = _with_grads(parameters)
    if not params:
        return Tensor(np.zeros((), dtype=np.float32))
    grads = [p.grad._data for p in params if p.grad._data.size]
    if norm_type == math.inf:
        total = max((float(abs(g).max()) for g in grads), default=0.0)
    elif norm_type == 2:
        total = math.sqrt(sum(float((g * g).sum()) for g in grads))
    else:
        total = sum(float((abs(g) ** norm_type).sum()) for g in grads) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}; "
            f"set error_if_nonfinite=False to clip anyway"
        )
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for p in params:
            p.grad = Tensor(p.grad._data * p.grad.dtype.type(scale))
    grad = params[0].grad._data
    return Tensor(backend.get_array_module(grad).asarray(total, dtype=grad.dtype))  # on the gradients' device


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element into [−clip_value, clip_value]."""
    if clip_value < 0:
        raise ArgumentError(f"clip_grad_value_: clip_value must be ≥ 0, got {clip_value}")
    for p in _with_grads(parameters):
        c = p.grad.dtype.type(clip_value)
        p.grad = Tensor(p.grad._data.clip(-c, c))
