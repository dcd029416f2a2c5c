"""Padding layers, PyTorch's: ``ZeroPad1d/2d``, ``ConstantPad1d/2d``, ``ReflectionPad1d/2d``,
``ReplicationPad1d/2d`` and ``CircularPad1d/2d``. ``padding`` is an int (every side) or PyTorch's tuple
(left, right) for 1-D, (left, right, top, bottom) for 2-D; each layer is ``F.pad`` with its mode."""

from __future__ import annotations

from collections.abc import Sequence

from chainrule.errors import ArgumentError
from chainrule.nn import functional as F  # noqa: N812 - PyTorch's conventional name
from chainrule.nn.module import Module
from chainrule.ops.operands import check_number, int_tuple
from chainrule.tensor import Tensor

__all__ = [
    "CircularPad1d", "CircularPad2d", "ConstantPad1d", "ConstantPad2d", "ReflectionPad1d", "ReflectionPad2d",
    "ReplicationPad1d", "ReplicationPad2d", "ZeroPad1d", "ZeroPad2d",
]


class _PadNd(Module):
    _sides = 2
    _mode = "constant"

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__()
        name = type(self).__name__
        pads = int_tuple(name, "padding", padding)
        if len(pads) == 1 and not isinstance(padding, (tuple, list)):
            pads = pads * self._sides
        if len(pads) != self._sides or min(pads) < 0:
            raise ArgumentError(f"{name}: padding must be an int ≥ 0 or {self._sides} ints ≥ 0 "
                                f"({'left, right' + (', top, bottom' if self._sides == 4 else '')}), got {padding!r}")
        self.padding = pads

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.pad(input, self.padding, mode=self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: int | Sequence[int], value: float) -> None:
        super().__init__(padding)
        check_number(type(self).__name__, "value", value, nan=True)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.pad(input, self.padding, mode="constant", value=self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with ``value``: (*, L) → (*, left + L + right)."""


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims with ``value``: (*, H, W) → (*, top + H + bottom, left + W + right)."""

    _sides = 4


class ZeroPad1d(_ConstantPadNd):
    """Pad the last dim with zeros."""

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ZeroPad1d):
    """Pad the last two dims with zeros."""

    _sides = 4


class ReflectionPad1d(_PadNd):
    """Pad the last dim with its reflection at the edges (the edge itself not repeated); pads < L."""

    _mode = "reflect"


class ReflectionPad2d(ReflectionPad1d):
    """Pad the last two dims with their reflection (the edges not repeated); pads < the padded size."""

    _sides = 4


class ReplicationPad1d(_PadNd):
    """Pad the last dim by repeating its edge values."""

    _mode = "replicate"


class ReplicationPad2d(ReplicationPad1d):
    """Pad the last two dims by repeating their edge values."""

    _sides = 4


class CircularPad1d(_PadNd):
    """Pad the last dim by wrapping around (periodic boundary)."""

    _mode = "circular"


class CircularPad2d(CircularPad1d):
    """Pad the last two dims by wrapping around (periodic boundary)."""

    _sides = 4
