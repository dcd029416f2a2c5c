"""Resampling and rearranging: PyTorch's ``F.interpolate`` (nearest, nearest-exact, linear, bilinear, trilinear),
``F.pixel_shuffle``, ``F.pixel_unshuffle`` and ``F.channel_shuffle``.

Interpolation is separable: it resamples one spatial dim at a time, and along a dim of size n → m each output
position o reads input positions chosen by PyTorch's source-index rules (scale = n/m, or 1/scale_factor when a
scale factor is given and not recomputed, computed in the input's float type as PyTorch does):
- nearest: src(o) = min(⌊o·scale⌋, n − 1); nearest-exact: min(⌊(o + ½)·scale⌋, n − 1). One gather per dim
  (``select_along``: a selection whose gradient is one GEMM against a one-hot matrix, not a scatter),
  so the gradient of an input element is the sum of gy over the outputs that copied it.
- linear: s = o·(n − 1)/(m − 1) with align_corners, else max((o + ½)·scale − ½, 0); i₀ = ⌊s⌋,
  i₁ = min(i₀ + 1, n − 1), λ = s − i₀, y(o) = (1 − λ)·x(i₀) + λ·x(i₁). Two gathers and a weighted sum per dim
  (the last spatial dim first, as PyTorch's kernel nests them), so gx spreads gy(o) back with weights 1 − λ
  and λ. Every step is a differentiable op (gather, multiply by a constant, add), so second derivatives and
  the ONNX form (Gather, Mul, Add) follow.

pixel_shuffle, pixel_unshuffle and channel_shuffle are a reshape, a permutation and a reshape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.errors import ArgumentError, ArgumentTypeError, ShapeError
from chainrule.ops.operands import _is_int, as_tensor, check_bool, check_size, describe, float_only
from chainrule.ops.select_along import select_along
from chainrule.tensor import Tensor

__all__ = ["channel_shuffle", "interpolate", "pixel_shuffle", "pixel_unshuffle"]

_MODES = {"nearest": (3, 4, 5), "nearest-exact": (3, 4, 5), "linear": (3,), "bilinear": (4,), "trilinear": (5,)}


def _sizes(op: str, x: Tensor, size: Any, scale_factor: Any, recompute: Any) -> tuple[list[int], list[float | None]]:
    """The output size of each spatial dim, and the scale factor PyTorch's kernels use for it (None: n/m)."""
    dims = x.ndim - 2
    spatial = list(x.shape[2:])
    if size is not None and scale_factor is not None:
        raise ArgumentError(f"{op}: only one of size or scale_factor should be defined, got both")
    if size is None and scale_factor is None:
        raise ArgumentError(f"{op}: either size or scale_factor should be defined")
    if size is not None:
        if recompute:
            raise ArgumentError(f"{op}: recompute_scale_factor is not meaningful with an explicit size")
        sizes = list(size) if isinstance(size, (tuple, list)) else [size] * dims
        if len(sizes) != dims or not all(_is_int(s) and not isinstance(s, bool) for s in sizes):
            raise ArgumentTypeError(f"{op}: size must be an int or {dims} ints (one per spatial dim of input "
                                    f"{x.shape}), got {describe(size)}")
        if min(sizes) <= 0:
            raise ArgumentError(f"{op}: size must be positive, got {size!r}")
        return [int(s) for s in sizes], [None] * dims
    factors = list(scale_factor) if isinstance(scale_factor, (tuple, list)) else [scale_factor] * dims
    if len(factors) != dims or not all(isinstance(f, (int, float, np.integer, np.floating)) and not
                                       isinstance(f, bool) for f in factors):
        raise ArgumentTypeError(f"{op}: scale_factor must be a number or {dims} numbers (one per spatial dim of "
                                f"input {x.shape}), got {describe(scale_factor)}")
    factors = [float(f) for f in factors]
    if not all(math.isfinite(f) and f > 0 for f in factors):
        raise ArgumentError(f"{op}: scale_factor must be positive and finite, got {scale_factor!r}")
    sizes = [math.floor(n * f) for n, f in zip(spatial, factors)]
    if min(sizes) <= 0:
        raise ShapeError(f"{op}: scale_factor {scale_factor!r} makes an empty output from input {x.shape}; hint: a "
                         f"larger scale_factor, or give size")
    return sizes, ([None] * dims if recompute else factors)


def _scale(n: int, m: int, factor: float | None, dtype: Any) -> Any:
    """PyTorch's compute_scales_value: 1/scale_factor when one is used, else n/m, in the input's float type."""
    return dtype.type(1.0 / factor) if factor is not None and factor > 0 else dtype.type(n) / dtype.type(m)


def _nearest(n: int, m: int, factor: float | None, exact: bool, dtype: Any) -> np.ndarray:
    o = np.arange(m)
    if not exact and m == n:
        return o
    if not exact and m == 2 * n:
        return o >> 1
    scale = _scale(n, m, factor, np.dtype(np.float32))  # PyTorch's nearest kernels take a float scale
    offset = np.float32(0.5) if exact else np.float32(0.0)
    return np.minimum(np.floor((o.astype(np.float32) + offset) * scale).astype(np.int64), n - 1)


def _linear(n: int, m: int, factor: float | None, align_corners: bool, dtype: Any) -> tuple[Any, Any, Any]:
    """(i₀, i₁, λ) of each output position along a dim of size n → m."""
    o = np.arange(m).astype(dtype)
    if align_corners:
        scale = dtype.type(n - 1) / dtype.type(m - 1) if m > 1 else dtype.type(0)
        src = scale * o
    else:
        src = np.maximum(_scale(n, m, factor, dtype) * (o + dtype.type(0.5)) - dtype.type(0.5), dtype.type(0))
    i0 = src.astype(np.int64)
    lam = np.clip(src - i0.astype(dtype), 0, 1).astype(dtype)
    i1 = np.minimum(i0 + 1, n - 1)
    return i0, i1, lam


def interpolate(
    input: Any,  # noqa: A002 - PyTorch's names
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resample (N, C, L), (N, C, H, W) or (N, C, D, H, W) input to ``size`` or by ``scale_factor``.

    ``mode``: 'nearest', 'nearest-exact' (any of those ranks), 'linear' (3-D), 'bilinear' (4-D), 'trilinear'
    (5-D); ``align_corners`` (linear modes only) maps the corner pixels' centres onto each other.
    """
    op = "interpolate"
    x = as_tensor(op, input)
    float_only(op, x)
    if not isinstance(mode, str) or mode not in _MODES:
        listed = ", ".join(repr(m) for m in _MODES)
        raise ArgumentError(f"{op}: mode must be one of {listed}, got {describe(mode)}")
    if x.ndim not in _MODES[mode]:
        ranks = " or ".join(f"{r}-D" for r in _MODES[mode])
        raise ShapeError(f"{op}: mode={mode!r} needs a {ranks} input (N, C, spatial…), got shape {x.shape}")
    linear = mode not in ("nearest", "nearest-exact")
    if not linear and align_corners is not None:
        raise ArgumentError(f"{op}: align_corners can only be set with the interpolating modes linear, bilinear, "
                            f"trilinear; got mode={mode!r}")
    if check_bool(op, "antialias", antialias):
        raise ArgumentError(f"{op}: antialias=True is not supported; hint: leave antialias=False")
    align_corners = False if align_corners is None else check_bool(op, "align_corners", align_corners)
    if recompute_scale_factor is not None:
        recompute_scale_factor = check_bool(op, "recompute_scale_factor", recompute_scale_factor)
    if any(n == 0 for n in x.shape[1:]):
        raise ShapeError(f"{op}: channels and spatial sizes must be non-zero, got input of shape {x.shape}")
    sizes, factors = _sizes(op, x, size, scale_factor, recompute_scale_factor)
    check_size(op, "the output", x.shape[:2] + tuple(sizes), x.dtype)
    xp = backend.get_array_module(x._data)
    y = x
    for axis in reversed(range(2, x.ndim)):  # the last dim first, as PyTorch's kernel nests them
        n, m, factor = x.shape[axis], sizes[axis - 2], factors[axis - 2]
        if not linear:
            y = select_along(y, axis, _nearest(n, m, factor, mode == "nearest-exact", x.dtype))
            continue
        i0, i1, lam = _linear(n, m, factor, align_corners, x.dtype)
        along = (m,) + (1,) * (x.ndim - 1 - axis)
        w1 = Tensor(xp.asarray(lam.reshape(along)))
        w0 = Tensor(xp.asarray((1 - lam).reshape(along)))
        y = select_along(y, axis, i0) * w0 + select_along(y, axis, i1) * w1
    return y


def _factor(op: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not _is_int(value) or value <= 0:
        raise ArgumentError(f"{op}: argument '{name}' must be a positive int, got {describe(value)}")
    return int(value)


def pixel_shuffle(input: Any, upscale_factor: int) -> Tensor:  # noqa: A002 - PyTorch's names
    """(*, C·r², H, W) → (*, C, H·r, W·r): out[c, h·r + i, w·r + j] = in[c·r² + i·r + j, h, w]."""
    op = "pixel_shuffle"
    x = as_tensor(op, input)
    r = _factor(op, "upscale_factor", upscale_factor)
    if x.ndim < 3:
        raise ShapeError(f"{op}: input must be at least 3-D (*, C, H, W), got shape {x.shape}")
    *lead, c, h, w = x.shape
    if c % (r * r):
        raise ShapeError(f"{op}: the channel dim ({c}) of input {x.shape} must be divisible by upscale_factor² "
                         f"({r * r})")
    k = len(lead)
    t = x.reshape(*lead, c // (r * r), r, r, h, w)
    t = t.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return t.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Any, downscale_factor: int) -> Tensor:  # noqa: A002 - PyTorch's names
    """(*, C, H·r, W·r) → (*, C·r², H, W), the inverse of pixel_shuffle."""
    op = "pixel_unshuffle"
    x = as_tensor(op, input)
    r = _factor(op, "downscale_factor", downscale_factor)
    if x.ndim < 3:
        raise ShapeError(f"{op}: input must be at least 3-D (*, C, H, W), got shape {x.shape}")
    *lead, c, h, w = x.shape
    if x.numel() == 0:  # PyTorch returns an empty input unchanged, not in its unshuffled shape
        raise ShapeError(f"{op}: input of shape {x.shape} is empty; PyTorch returns it unchanged rather than as "
                         f"(*, C·r², H/r, W/r), so chainrule refuses it; hint: skip the call for an empty batch")
    if h % r or w % r:
        raise ShapeError(f"{op}: height ({h}) and width ({w}) of input {x.shape} must be divisible by "
                         f"downscale_factor ({r})")
    k = len(lead)
    t = x.reshape(*lead, c, h // r, r, w // r, r)
    t = t.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return t.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input: Any, groups: int) -> Tensor:  # noqa: A002 - PyTorch's names
    """(N, C, *) with C = g·k: channel i·k + j moves to j·g + i (ShuffleNet's shuffle of g groups)."""
    op = "channel_shuffle"
    x = as_tensor(op, input)
    g = _factor(op, "groups", groups)
    if x.ndim < 3:
        raise ShapeError(f"{op}: input must be at least 3-D (N, C, *), got shape {x.shape}")
    n, c, *rest = x.shape
    if c % g:
        raise ShapeError(f"{op}: the number of channels ({c}) of input {x.shape} must be divisible by groups ({g})")
    return x.reshape(n, g, c // g, *rest).transpose(1, 2).reshape(x.shape)
