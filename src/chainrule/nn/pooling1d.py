"""1-D pooling layers and adaptive max pooling, with PyTorch's arguments and reprs: ``MaxPool1d``,
``AvgPool1d``, ``AdaptiveAvgPool1d``, ``AdaptiveMaxPool1d`` and ``AdaptiveMaxPool2d``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule.nn import functional as F  # noqa: N812 - PyTorch's conventional name
from chainrule.nn.module import Module
from chainrule.nn.pooling import _MaxPoolNd
from chainrule.tensor import Tensor

__all__ = ["AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AvgPool1d", "MaxPool1d"]


def _single(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


class MaxPool1d(_MaxPoolNd):
    """The maximum over each window of ``kernel_size`` along L: (N, C, L) → (N, C, L_out); stride defaults to
    the kernel. With ``return_indices=True`` forward returns (output, indices) as ``F.max_pool1d`` does."""

    _pool = staticmethod(F.max_pool1d)


class AvgPool1d(Module):
    """The mean over each window of ``kernel_size`` along L; stride defaults to the kernel;
    ``count_include_pad`` counts padded zeros in the divisor."""

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        # PyTorch keeps these as 1-tuples (its repr shows kernel_size=(3,))
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    """Average pooling of (N, C, L) to length ``output_size``: window i spans [⌊i·L/out⌋, ⌈(i+1)·L/out⌉)."""

    def __init__(self, output_size: int | Sequence[int]) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.adaptive_avg_pool1d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(Module):
    """Max pooling of (N, C, L) to length ``output_size`` (windows as AdaptiveAvgPool1d's);
    ``return_indices=True`` also returns each maximum's position."""

    def __init__(self, output_size: int | Sequence[int], return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:  # noqa: A002 - PyTorch's name
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max pooling of (N, C, H, W) to ``output_size`` (an int, a pair, None keeping that dim), whatever H and
    W; ``return_indices=True`` also returns each maximum's flat index h·W + w in its input plane."""

    def __init__(self, output_size: int | None | Sequence[int | None], return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:  # noqa: A002 - PyTorch's name
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
