"""Copying a tensor between devices (``Tensor.to(device)``, ``.cpu()``, ``.cuda()``), differentiably.

Notation: y = x, with y on device d' and x on device d. The copy is the identity on the values, so its backward
is the identity too, carried the other way: dL/dx = dL/dy copied back to d (PyTorch's rule: the gradient of a
tensor always lives on the tensor's device). That backward is itself a ``to`` call, so it is differentiable
again.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Function
from chainrule.devices import check_available, device, move
from chainrule.tensor import Tensor


class ToDevice(Function):
    """y = x on another device; backward: dL/dx = (dL/dy on x's device)."""

    uses_inputs = False  # the rule needs only where x lived, not its values

    def __init__(self, target: device, source: device) -> None:
        self.target, self.source = target, source

    def forward(self, x: Any) -> Any:
        return move(x, self.target)

    def backward(self, gy: Tensor) -> Tensor:
        """dL/dx_i = dL/dy_i (y_i = x_i), on x's device: the upstream gradient copied back."""
        return to_device(gy, self.source)


def to_device(x: Tensor, target: Any, op: str = "to", copy: bool = False) -> Tensor:
    """``x`` on ``target`` (a device or a device string); ``x`` itself when it is there already (a copy with
    ``copy=True``). Gradients flow back to ``x``'s device."""
    target = check_available(op, target)
    source = x.device
    if source == target:
        return x.clone() if copy else x
    return ToDevice(target, source)(x)
