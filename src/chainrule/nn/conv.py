"""2-D convolution layers: ``Conv2d`` (with chainrule's optional untied bias) and ``ConvTranspose2d``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.errors import ArgumentError, ArgumentTypeError
from chainrule.nn import functional as F  # noqa: N812 - PyTorch's conventional name
from chainrule.nn import init
from chainrule.nn.arguments import check_count, empty_parameter
from chainrule.nn.module import Module
from chainrule.ops.operands import check_choice, int_pair, int_tuple
from chainrule.tensor import Tensor

__all__ = ["Conv2d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What Conv2d and ConvTranspose2d share: argument checks, parameters, PyTorch's initialisation, repr."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        transposed: bool,
        output_padding: Any,
        groups: int,
        bias: bool,
        padding_mode: str,
        dtype: Any,
        generator: np.random.Generator | None,
        bias_shape: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        in_channels = check_count(name, "in_channels", in_channels, 1)
        out_channels = check_count(name, "out_channels", out_channels, 1)
        groups = check_count(name, "groups", groups, 1)
        for arg, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
            if channels % groups:
                raise ArgumentError(
                    f"{name}: argument '{arg}' ({channels}) must be divisible by groups ({groups}); hint: each group "
                    f"takes an equal share of the channels, pick groups that divides both channel counts"
                )
        check_choice(name, "padding_mode", padding_mode, _PADDING_MODES)
        self.in_channels = in_channels
        self.out_channels = out_channels
        # PyTorch takes a 1-sequence for stride, padding and dilation, not for kernel_size
        self.kernel_size = int_pair(name, "kernel_size", kernel_size, 1, "positive (a kernel covers ≥ 1 pixel)",
                                    single=False)
        self.stride = int_pair(name, "stride", stride, 1, "positive")
        self.dilation = int_pair(name, "dilation", dilation, 1, "positive (1 is an ordinary convolution)")
        if isinstance(padding, str):
            check_choice(name, "padding", padding, ("valid", "same"))
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ArgumentError(
                    f"{name}: padding='same' is not supported for strided convolutions (stride={self.stride}); "
                    f"hint: give the padding as numbers, or use stride=1"
                )
            self.padding = padding
        else:
            self.padding = int_pair(name, "padding", padding, 0, "≥ 0 (chainrule and PyTorch refuse negative padding)")
        self.transposed = transposed
        self.output_padding = int_pair(name, "output_padding", output_padding, 0)
        if any(op >= max(s, d) for op, s, d in zip(self.output_padding, self.stride, self.dilation)):
            raise ArgumentError(
                f"{name}: output_padding {self.output_padding} must be smaller than either stride {self.stride} "
                f"or dilation {self.dilation} in each dim; hint: output_padding only picks among the output sizes a "
                f"stride makes possible"
            )
        self.groups = groups
        self.padding_mode = padding_mode
        if transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = empty_parameter(shape, dtype, name)
        if bias:
            self.bias = empty_parameter(bias_shape or (out_channels,), dtype, name)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        """PyTorch's: weight by kaiming_uniform_(a=√5), bias by U(−1/√fan_in, 1/√fan_in), fan_in from the weight."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound, generator=generator)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * len(self.kernel_size):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation, as PyTorch): input (N, C_in, H, W) → (N, C_out, H_out, W_out).

    Arguments and parameters are PyTorch's: ``weight`` (out_channels, in_channels/groups, kh, kw) and ``bias``
    (out_channels,), initialised by kaiming_uniform_(a=√5) and U(−1/√fan_in, 1/√fan_in) with
    fan_in = in_channels/groups · kh · kw. ``padding`` may be an int, a pair, 'valid' or 'same' (stride 1);
    ``padding_mode`` is 'zeros', 'reflect', 'replicate' or 'circular'.

    Untied bias (chainrule's addition): ``untied_bias=(H_out, W_out)`` gives every output unit its own bias,
    so ``bias`` is a (out_channels, H_out, W_out) parameter, added to output position (c, i, j) and passed to
    ``F.conv2d`` as a 3-D bias. The layer then only accepts inputs whose output size is (H_out, W_out). It is
    initialised like the tied bias (same bound) and needs ``bias=True``. A torch.nn.Conv2d has no such
    parameter, so state dicts of untied layers do not load into PyTorch.
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
        untied_bias: Sequence[int] | None = None,
        *,
        device: Any = None,
        dtype: Any = dtypes.float32,
        generator: np.random.Generator | None = None,
    ) -> None:
        bias_shape = None
        if untied_bias is not None:
            size = tuple(untied_bias) if isinstance(untied_bias, (tuple, list)) else ()
            if len(size) != 2 or any(not isinstance(n, (int, np.integer)) or n <= 0 for n in size):
                raise ArgumentError(f"Conv2d: argument 'untied_bias' must be a pair of positive ints (H_out, W_out), "
                                    f"got {untied_bias!r}")
            if not bias:
                raise ArgumentError("Conv2d: untied_bias needs bias=True (it shapes the bias parameter)")
            bias_shape = (out_channels, int(size[0]), int(size[1]))
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, False, 0, groups, bias, padding_mode,
            dtype, generator, bias_shape,
        )
        self.untied_bias = None if bias_shape is None else bias_shape[1:]
        if device is not None:  # PyTorch's factory keyword: made on the CPU, then moved
            self.to(device)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        kwargs = {} if self.padding_mode == "zeros" else {"padding_mode": self.padding_mode}
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups, **kwargs)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if self.untied_bias is not None:
            s += f", untied_bias={self.untied_bias}"
        return s


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution (the gradient of Conv2d w.r.t. its input): (N, C_in, H, W) → (N, C_out, H', W').

    H' = (H − 1)·stride − 2·padding + dilation·(kh − 1) + output_padding + 1. PyTorch's arguments and layout:
    ``weight`` (in_channels, out_channels/groups, kh, kw), ``bias`` (out_channels,); PyTorch's initialisation
    (whose fan_in is computed from the weight's dim 1: out_channels/groups · kh · kw). ``forward(input,
    output_size)`` may name the wanted output size, from which output_padding is worked out, as in PyTorch.
    Only padding_mode='zeros' is supported, as in PyTorch.
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
        dtype: Any = dtypes.float32,
        generator: np.random.Generator | None = None,
    ) -> None:
        if padding_mode != "zeros":
            raise ArgumentError(
                f'ConvTranspose2d: only "zeros" padding mode is supported (as in PyTorch), got '
                f"padding_mode={padding_mode!r}; hint: pad the input with F.pad first"
            )
        if isinstance(padding, str):
            raise ArgumentTypeError(f"ConvTranspose2d: argument 'padding' must be an int or a pair, got {padding!r}")
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, True, output_padding, groups, bias,
            padding_mode, dtype, generator,
        )
        if device is not None:  # PyTorch's factory keyword: made on the CPU, then moved
            self.to(device)

    def _output_padding(self, input: Tensor, output_size: Sequence[int] | None) -> tuple[int, ...]:
        if output_size is None:
            return self.output_padding
        output_size = int_tuple("ConvTranspose2d", "output_size", output_size)
        leading = input.ndim - 2
        if len(output_size) == leading + 2:
            output_size = output_size[leading:]
        if len(output_size) != 2:
            raise ArgumentError(
                f"ConvTranspose2d: output_size must have 2 or {leading + 2} elements (got {len(output_size)})"
            )
        result = []
        for d in range(2):
            smallest = ((input.shape[leading + d] - 1) * self.stride[d] - 2 * self.padding[d]  # type: ignore[index]
                        + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            largest = smallest + self.stride[d] - 1
            if not smallest <= output_size[d] <= largest:
                raise ArgumentError(
                    f"ConvTranspose2d: requested an output size of {output_size}, but valid sizes range from "
                    f"{smallest} to {largest} (for an input of {tuple(input.shape[leading:])})"
                )
            result.append(output_size[d] - smallest)
        return tuple(result)

    def forward(self, input: Tensor, output_size: Sequence[int] | None = None) -> Tensor:  # noqa: A002
        output_padding = self._output_padding(input, output_size)
        return F.conv_transpose2d(
            input, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups, self.dilation
        )
