"""1-D convolution and transposed convolution on (N, C, L) tensors, PyTorch's ``F.conv1d`` and
``F.conv_transpose1d``.

A length-L signal is an image of height 1: conv1d(x, w) = conv2d(x[:, :, None, :], w[:, :, None, :])[:, :, 0, :]
with the kernel, stride, padding and dilation (1, k), (1, s), (0, p), (1, d). The height-1 kernel only ever
meets row 0, so the result, its gradients and their gradients are those of conv2d exactly (derivations:
docs/conv.md); the weight keeps PyTorch's 1-D layout (F, C/G, K) and is viewed as (F, C/G, 1, K) for the call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from chainrule.errors import ArgumentError, ArgumentTypeError, ChainruleError, ShapeError
from chainrule.ops.conv import conv2d, conv_transpose2d
from chainrule.ops.operands import _is_int, as_tensor, describe
from chainrule.tensor import Tensor

__all__ = ["conv1d", "conv_transpose1d"]

INT32_MAX = 2**31 - 1


def single(op: str, name: str, value: Any, minimum: int) -> int:
    """An int, or a sequence of one int (PyTorch's ``_single``), ≥ ``minimum``."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if not _is_int(value):
        raise ArgumentTypeError(f"{op}: argument '{name}' must be an int or a 1-tuple of ints, got {describe(value)}")
    if value < minimum:
        raise ArgumentError(f"{op}: argument '{name}' must be ≥ {minimum}, got {value!r}")
    if value > INT32_MAX:  # PyTorch's kernels take these as C ints
        raise ArgumentError(f"{op}: argument '{name}' must be ≤ {INT32_MAX} (PyTorch's limit), got {value!r}")
    return int(value)


@contextlib.contextmanager
def named(op2d: str, op: str) -> Iterator[None]:
    """Errors raised by the 2-D op that carries a 1-D one name the 1-D op, which is the one the caller called."""
    try:
        yield
    except ChainruleError as e:
        message = str(e)
        if not message.startswith(op2d):
            raise
        raise type(e)(op + message[len(op2d):] + " (the 1-D op runs as its 2-D form on a height-1 input)") from None


def signal(op: str, input: Any, weight: Any) -> tuple[Tensor, Tensor, bool]:  # noqa: A002 - PyTorch's name
    """(x as (N, C, L), w, whether x came unbatched as (C, L)), with the shapes checked."""
    x, w = as_tensor(op, input, "input"), as_tensor(op, weight, "weight")
    if x.ndim not in (2, 3):
        raise ShapeError(f"{op}: input must be 3-D (N, C, L), or 2-D (C, L) unbatched; got shape {x.shape}")
    if w.ndim != 3:
        raise ShapeError(f"{op}: weight must be 3-D (out_channels, in_channels/groups, kL), got shape {w.shape}")
    unbatched = x.ndim == 2
    return (x.unsqueeze(0) if unbatched else x), w, unbatched


def conv1d(
    input: Any,  # noqa: A002 - PyTorch's names
    weight: Any,
    bias: Any = None,
    stride: int | tuple[int] = 1,
    padding: int | tuple[int] | str = 0,
    dilation: int | tuple[int] = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution (a correlation) of (N, C, L) ``input`` with ``weight`` (F, C/groups, K); bias (F,) or None.

    L_out = ⌊(L + 2p − d·(K − 1) − 1)/s⌋ + 1; padding an int, 'valid' or 'same' (stride 1). Runs as conv2d on a
    height-1 input, which is exact.
    """
    op = "conv1d"
    x, w, unbatched = signal(op, input, weight)
    s = single(op, "stride", stride, 1)
    d = single(op, "dilation", dilation, 1)
    pad: Any = padding if isinstance(padding, str) else (0, single(op, "padding", padding, 0))
    if _is_int(groups) and groups >= 1 and x.shape[1] != w.shape[1] * groups:
        raise ShapeError(f"{op}: input {x.shape} has {x.shape[1]} channels but weight {w.shape} expects "
                         f"{w.shape[1]}·groups = {w.shape[1] * groups}; weight must be (out_channels, "
                         f"in_channels/groups, kL)")
    reach = d * (w.shape[2] - 1) + 1
    if not isinstance(pad, str) and reach > x.shape[2] + 2 * pad[1]:
        raise ShapeError(f"{op}: the kernel ({w.shape[2]}, {reach} with dilation) is longer than the padded input "
                         f"({x.shape[2] + 2 * pad[1]}); use a smaller kernel or more padding")
    with named("conv2d", op):
        y = conv2d(x.unsqueeze(2), w.unsqueeze(2), bias, (1, s), pad, (1, d), groups).squeeze(2)
    return y.squeeze(0) if unbatched else y


def conv_transpose1d(
    input: Any,  # noqa: A002 - PyTorch's names
    weight: Any,
    bias: Any = None,
    stride: int | tuple[int] = 1,
    padding: int | tuple[int] = 0,
    output_padding: int | tuple[int] = 0,
    groups: int = 1,
    dilation: int | tuple[int] = 1,
) -> Tensor:
    """Transposed 1-D convolution (the gradient of conv1d w.r.t. its input), PyTorch's argument order.

    input (N, C_in, L), weight (C_in, C_out/groups, K), bias (C_out,); L_out = (L − 1)·s − 2p + d·(K − 1) +
    output_padding + 1. Runs as conv_transpose2d on a height-1 input, which is exact.
    """
    op = "conv_transpose1d"
    x, w, unbatched = signal(op, input, weight)
    s = single(op, "stride", stride, 1)
    d = single(op, "dilation", dilation, 1)
    p = single(op, "padding", padding, 0)
    op_pad = single(op, "output_padding", output_padding, 0)
    if op_pad >= max(s, d):
        raise ArgumentError(
            f"{op}: output_padding ({op_pad}) must be smaller than either stride ({s}) or dilation ({d}); hint: "
            f"output_padding only picks among the output lengths a stride makes possible"
        )
    with named("conv_transpose2d", op):
        y = conv_transpose2d(x.unsqueeze(2), w.unsqueeze(2), bias, (1, s), (0, p), (0, op_pad), groups, (1, d))
    y = y.squeeze(2)
    return y.squeeze(0) if unbatched else y
