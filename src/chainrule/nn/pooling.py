"""2-D pooling layers: max, average, power-average (Lp) and adaptive average, with PyTorch's arguments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule.nn import functional as F  # noqa: N812 - PyTorch's conventional name
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "LPPool2d", "MaxPool2d"]

_Size = int | Sequence[int]


class _MaxPoolNd(Module):
    """Max pooling's arguments, forward and repr, shared by the 1-D and 2-D layers (PyTorch's _MaxPoolNd);
    ``_pool`` is the functional each applies."""

    _pool: Any

    def __init__(
        self,
        kernel_size: _Size,
        stride: _Size | None = None,
        padding: _Size = 0,
        dilation: _Size = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Any:  # noqa: A002 - PyTorch's name
        return self._pool(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPoolNd):
    """The maximum over each kh×kw window: (N, C, H, W) → (N, C, H_out, W_out); stride defaults to the kernel.

    With ``return_indices=True`` forward returns (output, indices) as ``F.max_pool2d`` does.
    """

    _pool = staticmethod(F.max_pool2d)


class AvgPool2d(Module):
    """The mean over each kh×kw window; stride defaults to the kernel. ``count_include_pad`` counts padded
    zeros in the divisor; ``divisor_override`` replaces the divisor."""

    def __init__(
        self,
        kernel_size: _Size,
        stride: _Size | None = None,
        padding: _Size = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.avg_pool2d(
            input, self.kernel_size, self.stride, self.padding, ceil_mode=self.ceil_mode,
            count_include_pad=self.count_include_pad, divisor_override=self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class LPPool2d(Module):
    """(Σ_window x^p)^(1/p) over each window, p = ``norm_type`` (p = 1: sum pooling, p → ∞: max pooling).

    ``mean=True`` (a chainrule extension) takes the power mean ((1/|window|)·Σ_window x^p)^(1/p) instead, as
    the course notes define Lp pooling (p = 1: average pooling, p = 2: root mean square).
    """

    def __init__(self, norm_type: float, kernel_size: _Size, stride: _Size | None = None, ceil_mode: bool = False,
                 *, mean: bool = False) -> None:
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode
        self.mean = mean

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.lp_pool2d(input, float(self.norm_type), self.kernel_size, self.stride, ceil_mode=self.ceil_mode,
                           mean=self.mean)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}" + (", mean=True" if self.mean else ""))


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed ``output_size`` (an int, a pair, None keeping that input size), whatever the
    input's H and W: window i along a dim spans [⌊i·H/H_out⌋, ⌈(i+1)·H/H_out⌉)."""

    def __init__(self, output_size: int | None | Sequence[int | None]) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
