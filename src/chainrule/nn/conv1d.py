"""1-D convolution layers, ``Conv1d`` and ``ConvTranspose1d``, with PyTorch's arguments, initialisation and
state_dict layout: weight (out_channels, in_channels/groups, k) for Conv1d, (in_channels, out_channels/groups,
k) for ConvTranspose1d, bias (out_channels,)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.errors import ArgumentError, ArgumentTypeError
from chainrule.nn import functional as F  # noqa: N812 - PyTorch's conventional name
from chainrule.nn.conv import _ConvNd
from chainrule.nn.parameter import Parameter
from chainrule.ops.conv1d import single
from chainrule.ops.operands import int_tuple
from chainrule.tensor import Tensor

__all__ = ["Conv1d", "ConvTranspose1d"]


class _Conv1dBase(_ConvNd):
    """The 2-D layer's checks and initialisation on a (1, k) kernel, then the attributes and the weight in their
    1-D form: kaiming_uniform_ draws the same values for (…, 1, k) as for (…, k) (same fan_in, same count)."""

    def _init_1d(self, kernel_size: Any, stride: Any, padding: Any, dilation: Any, output_padding: Any,
                 transposed: bool, groups: int, bias: bool, padding_mode: str, dtype: Any,
                 generator: np.random.Generator | None, in_channels: int, out_channels: int) -> None:
        name = type(self).__name__
        k = single(name, "kernel_size", kernel_size, 1)
        s = single(name, "stride", stride, 1)
        d = single(name, "dilation", dilation, 1)
        p: Any = padding if isinstance(padding, str) else single(name, "padding", padding, 0)
        op = single(name, "output_padding", output_padding, 0)
        dtype = dtypes.default_float if dtype is None else dtype  # PyTorch's None: the default float dtype
        _ConvNd.__init__(self, in_channels, out_channels, (1, k), (1, s), p if isinstance(p, str) else (0, p),
                         (1, d), transposed, (0, op), groups, bias, padding_mode, dtype, generator)
        self.kernel_size, self.stride, self.dilation, self.output_padding = (k,), (s,), (d,), (op,)
        if not isinstance(self.padding, str):
            self.padding = (p,)
        self.weight = Parameter(self.weight.data.reshape(self.weight.shape[:2] + (k,)))


class Conv1d(_Conv1dBase):
    """1-D convolution (a correlation, as PyTorch): input (N, C_in, L) or (C_in, L) → (N, C_out, L_out).

    PyTorch's arguments and parameters: ``weight`` (out_channels, in_channels/groups, k), ``bias``
    (out_channels,), initialised by kaiming_uniform_(a=√5) and U(−1/√fan_in, 1/√fan_in). ``padding`` is an
    int, 'valid' or 'same' (stride 1); ``padding_mode`` 'zeros', 'reflect', 'replicate' or 'circular'.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] | str = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        *,
        device: Any = None,
        dtype: Any = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        self._init_1d(kernel_size, stride, padding, dilation, 0, False, groups, bias, padding_mode, dtype, generator,
                      in_channels, out_channels)
        if device is not None:  # PyTorch's factory keyword: made on the CPU, then moved
            self.to(device)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        if self.padding_mode == "zeros":
            return F.conv1d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        # PyTorch pads first with the mode, then convolves without padding; 'same' puts the odd one on the right
        if self.padding == "same":
            total = self.dilation[0] * (self.kernel_size[0] - 1)
            left, right = total // 2, total - total // 2
        elif self.padding == "valid":
            left = right = 0
        else:
            left = right = self.padding[0]
        x = F.pad(input, (left, right), mode=self.padding_mode)
        return F.conv1d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class ConvTranspose1d(_Conv1dBase):
    """1-D transposed convolution (the gradient of Conv1d w.r.t. its input): (N, C_in, L) → (N, C_out, L').

    L' = (L − 1)·stride − 2·padding + dilation·(k − 1) + output_padding + 1. PyTorch's layout: ``weight``
    (in_channels, out_channels/groups, k), ``bias`` (out_channels,). ``forward(input, output_size)`` may name
    the wanted length, from which output_padding is worked out, as in PyTorch. Only padding_mode='zeros'.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        output_padding: int | Sequence[int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | Sequence[int] = 1,
        padding_mode: str = "zeros",
        *,
        device: Any = None,
        dtype: Any = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        if padding_mode != "zeros":
            raise ArgumentError(
                f'ConvTranspose1d: only "zeros" padding mode is supported (as in PyTorch), got '
                f"padding_mode={padding_mode!r}; hint: pad the input with F.pad first"
            )
        if isinstance(padding, str):
            raise ArgumentTypeError(f"ConvTranspose1d: argument 'padding' must be an int, got {padding!r}")
        self._init_1d(kernel_size, stride, padding, dilation, output_padding, True, groups, bias, padding_mode,
                      dtype, generator, in_channels, out_channels)
        if device is not None:  # PyTorch's factory keyword: made on the CPU, then moved
            self.to(device)

    def forward(self, input: Tensor, output_size: Sequence[int] | None = None) -> Tensor:  # noqa: A002
        output_padding = self.output_padding[0]
        if output_size is not None:
            wanted = int_tuple("ConvTranspose1d", "output_size", output_size)[-1]
            length = input.shape[-1]
            (s,), (p,), (d,), (k,) = self.stride, self.padding, self.dilation, self.kernel_size
            smallest = (length - 1) * s - 2 * p + d * (k - 1) + 1
            if not smallest <= wanted <= smallest + s - 1:
                raise ArgumentError(
                    f"ConvTranspose1d: requested an output length of {wanted}, but valid lengths range from "
                    f"{smallest} to {smallest + s - 1} (for an input of length {length})"
                )
            output_padding = wanted - smallest
        return F.conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                                  self.groups, self.dilation)
