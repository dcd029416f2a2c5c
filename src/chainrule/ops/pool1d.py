"""1-D pooling and adaptive max pooling: PyTorch's ``max_pool1d``, ``avg_pool1d``, ``adaptive_avg_pool1d``,
``adaptive_max_pool1d`` and ``adaptive_max_pool2d``.

The 1-D ops are the 2-D ones on a height-1 input (kernel (1, k), stride (1, s), padding (0, p)): exact, with
the gradients of the 2-D ops (docs/pool.md). A plane index h·W + w of a height-1 plane is w, so max pooling's
``return_indices`` carries over unchanged.

Adaptive max pooling takes the maximum over window i = [⌊i·n/out⌋, ⌈(i+1)·n/out⌉) along each dim. Where the
windows tile the input (n divisible by out) that is max_pool2d with kernel = stride = n/out. Otherwise the
windows differ in size by at most one element; each is read as a fixed-size window of the longest length whose
surplus positions repeat the window's last element (a repeat never changes a maximum, nor which element is the
first maximum), so one gather per dim builds every window at once and a max over the window picks the first
maximum in row-major order, PyTorch's tie rule (or, as PyTorch, the last NaN of a window that holds one); the
gradient flows back through the gathers to that element.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.errors import ArgumentError, ArgumentTypeError, ShapeError
from chainrule.ops.conv1d import named, single
from chainrule.ops.indexing import Gather
from chainrule.ops.operands import _is_int, as_tensor, check_bool, check_size, describe, float_only
from chainrule.ops.pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from chainrule.ops.reduce import amax
from chainrule.ops.select_along import select_along
from chainrule.tensor import Tensor

__all__ = ["adaptive_avg_pool1d", "adaptive_max_pool1d", "adaptive_max_pool2d", "avg_pool1d", "max_pool1d"]


def _signal(op: str, input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    x = as_tensor(op, input)
    if x.ndim not in (2, 3):
        raise ShapeError(f"{op}: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape {x.shape}")
    float_only(op, x)
    return x


def _check_window(op: str, x: Tensor, k: int, p: int, d: int) -> None:
    """PyTorch's rules in 1-D terms: padding ≤ kernel_size // 2, and the window fits the padded input."""
    if p > k // 2:
        raise ArgumentError(f"{op}: padding ({p}) must be at most half of kernel_size ({k}) (PyTorch's rule), so "
                            f"that every window holds at least one input element")
    reach = d * (k - 1) + 1
    if reach > x.shape[-1] + 2 * p:
        raise ShapeError(f"{op}: kernel_size {k}{f' (dilated to {reach})' if d > 1 else ''} is longer than the "
                         f"padded input ({x.shape[-1] + 2 * p}; input shape {x.shape}, padding {p})")


def max_pool1d(
    input: Any,  # noqa: A002 - PyTorch's name
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over each window of ``kernel_size`` along the last dim of (N, C, L) or (C, L) input; padding is
    −inf; stride defaults to the kernel. ``return_indices`` also gives each maximum's position in L (int64)."""
    op = "max_pool1d"
    x = _signal(op, input)
    k = single(op, "kernel_size", kernel_size, 1)
    s = k if stride is None or stride == () or stride == [] else single(op, "stride", stride, 1)
    p = single(op, "padding", padding, 0)
    d = single(op, "dilation", dilation, 1)
    _check_window(op, x, k, p, d)
    with named("max_pool2d", op):
        out = max_pool2d(x.unsqueeze(-2), (1, k), (1, s), (0, p), (1, d), ceil_mode, return_indices)
    if return_indices:
        y, indices = out
        return y.squeeze(-2), Tensor(indices._data[..., 0, :])
    return out.squeeze(-2)


def avg_pool1d(
    input: Any,  # noqa: A002 - PyTorch's name
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """Mean over each window of ``kernel_size`` along the last dim (zero padding, PyTorch's divisors)."""
    op = "avg_pool1d"
    x = _signal(op, input)
    k = single(op, "kernel_size", kernel_size, 1)
    s = k if stride is None or stride == () or stride == [] else single(op, "stride", stride, 1)
    p = single(op, "padding", padding, 0)
    _check_window(op, x, k, p, 1)
    with named("avg_pool2d", op):
        return avg_pool2d(x.unsqueeze(-2), (1, k), (1, s), (0, p), ceil_mode, count_include_pad).squeeze(-2)


def _out_size(op: str, output_size: Any) -> int:
    if isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        output_size = output_size[0]
    if isinstance(output_size, bool) or not _is_int(output_size):
        raise ArgumentTypeError(f"{op}: output_size must be an int (or a 1-tuple), got {describe(output_size)}")
    if output_size <= 0:
        raise ArgumentError(f"{op}: output_size must be positive, got {output_size}")
    return int(output_size)


def adaptive_avg_pool1d(input: Any, output_size: int | Sequence[int]) -> Tensor:  # noqa: A002 - PyTorch's name
    """Average pooling of (N, C, L) or (C, L) input to length ``output_size``: window i spans
    [⌊i·L/out⌋, ⌈(i+1)·L/out⌉)."""
    op = "adaptive_avg_pool1d"
    x = _signal(op, input)
    out = _out_size(op, output_size)
    with named("adaptive_avg_pool2d", op):
        return adaptive_avg_pool2d(x.unsqueeze(-2), (1, out)).squeeze(-2)


def _windows(size: int, out: int) -> np.ndarray:
    """(out, longest window): the positions of window i, its last position repeated to fill the row."""
    i = np.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    longest = int((end - start).max())
    return np.minimum(start[:, None] + np.arange(longest), end[:, None] - 1)


def _window_argmax(xp: Any, t: Any) -> Any:
    """PyTorch's choice in each window (last axis): the last NaN if there is one (its loop takes every NaN it
    meets), else the first maximum."""
    nan = xp.isnan(t)
    last_nan = t.shape[-1] - 1 - xp.argmax(nan[..., ::-1], axis=-1)
    return xp.where(nan.any(axis=-1), last_nan, xp.argmax(t, axis=-1))


def _adaptive_max(op: str, x: Tensor, sizes: tuple[int, int], return_indices: bool) -> Any:
    """Adaptive max pooling of a 4-D (N, C, H, W) tensor to ``sizes``."""
    H, W = x.shape[-2:]
    OH, OW = sizes
    check_size(op, "the output", x.shape[:2] + (OH, OW), x.dtype)
    if H % OH == 0 and W % OW == 0:
        kernel = (H // OH, W // OW)
        return max_pool2d(x, kernel, kernel, 0, 1, False, return_indices)
    check_size(op, "the window table", (max(OH, OW), max(H, W)), np.int64)
    rows, cols = _windows(H, OH), _windows(W, OW)
    kh, kw = rows.shape[1], cols.shape[1]
    check_size(op, "the windows", x.shape[:2] + (OH, kh, OW, kw), x.dtype)
    t = select_along(x, 3, cols)  # (N, C, H, OW, kw)
    t = select_along(t, 2, rows)  # (N, C, OH, kh, OW, kw)
    t = t.permute(0, 1, 2, 4, 3, 5).reshape(x.shape[0], x.shape[1], OH, OW, kh * kw)
    if not return_indices and not Function.records((x,)):
        # no graph is recorded, so no rule for the gradient of ties is needed: the values alone (ReduceMax in ONNX)
        return amax(t, -1)
    xp = backend.get_array_module(t._data)
    at = _window_argmax(xp, t._data)
    # the gradient goes to that one element; one position per window, so the scatter back is an assignment
    y = Gather(t.ndim - 1, at[..., None], unique=True)(t).squeeze(-1)
    if not return_indices:
        return y
    # the window offset k = u·kw + v of each maximum, as its flat index h·W + w in the input plane
    flat = rows[:, None, :, None] * W + cols[None, :, None, :]  # (OH, OW, kh, kw)
    flat = xp.asarray(flat.reshape(OH, OW, kh * kw))
    picked = xp.take_along_axis(xp.broadcast_to(flat, at.shape + (kh * kw,)), at[..., None], axis=-1)
    return y, Tensor(picked[..., 0].astype(np.int64))


def _adaptive_input(op: str, input: Any, dims: int) -> tuple[Tensor, bool]:  # noqa: A002 - PyTorch's name
    x = as_tensor(op, input)
    if x.ndim not in (dims + 1, dims + 2):
        wanted = "(C, L) or (N, C, L)" if dims == 1 else "(C, H, W) or (N, C, H, W)"
        raise ShapeError(f"{op}: expected a {dims + 1}-D or {dims + 2}-D input {wanted}, got shape {x.shape}")
    float_only(op, x)
    if any(n == 0 for n in x.shape[-dims - 1:]):
        raise ShapeError(f"{op}: channels and spatial sizes must be non-zero, got input of shape {x.shape}")
    unbatched = x.ndim == dims + 1
    return (x.unsqueeze(0) if unbatched else x), unbatched


def _unbatch(out: Any, unbatched: bool, squeeze: int | None) -> Any:
    def fix(t: Tensor) -> Tensor:
        t = t if squeeze is None else t.squeeze(squeeze)
        return t.squeeze(0) if unbatched else t
    return tuple(fix(t) for t in out) if isinstance(out, tuple) else fix(out)


def adaptive_max_pool2d(
    input: Any,  # noqa: A002 - PyTorch's name
    output_size: int | None | Sequence[int | None],
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Max pooling of (N, C, H, W) or (C, H, W) input to ``output_size`` (an int, a pair, None keeping that
    dim); window i along a dim of size n spans [⌊i·n/out⌋, ⌈(i+1)·n/out⌉). ``return_indices`` also returns
    each maximum's flat index h·W + w in its input plane (int64), as PyTorch."""
    op = "adaptive_max_pool2d"
    x, unbatched = _adaptive_input(op, input, 2)
    return_indices = check_bool(op, "return_indices", return_indices)
    if output_size is None or _is_int(output_size):
        pair: Sequence[Any] = (output_size, output_size)
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        pair = output_size
    else:
        raise ArgumentTypeError(f"{op}: output_size must be an int, None or a pair, got {describe(output_size)}")
    sizes = []
    for s, n in zip(pair, x.shape[-2:]):
        s = n if s is None else s
        if isinstance(s, bool) or not _is_int(s):
            raise ArgumentTypeError(f"{op}: output_size entries must be positive ints or None, got {output_size!r}")
        if s <= 0:
            raise ArgumentError(f"{op}: output_size entries must be positive ints or None, got {output_size!r}")
        sizes.append(int(s))
    out = _adaptive_max(op, x, (sizes[0], sizes[1]), return_indices)
    return _unbatch(out, unbatched, None)


def adaptive_max_pool1d(
    input: Any,  # noqa: A002 - PyTorch's name
    output_size: int | Sequence[int],
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Max pooling of (N, C, L) or (C, L) input to length ``output_size`` (windows as adaptive_max_pool2d's);
    ``return_indices`` also returns each maximum's position in L (int64)."""
    op = "adaptive_max_pool1d"
    x, unbatched = _adaptive_input(op, input, 1)
    return_indices = check_bool(op, "return_indices", return_indices)
    out = _adaptive_max(op, x.unsqueeze(-2), (1, _out_size(op, output_size)), return_indices)
    return _unbatch(out, unbatched, -2)
