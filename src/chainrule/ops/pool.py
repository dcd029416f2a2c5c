"""2-D pooling on NCHW (or CHW) tensors: max, average, power-average (Lp) and adaptive average. Derivations:
docs/pool.md.

Notation: x (N, C, H, W) input, y (N, C, OH, OW) output, gy = ∂L/∂y, gx = ∂L/∂x; kernel kh×kw, stride s,
padding p, dilation d. The window of output (i, j) is P(i, j) = {(s_h·i − p_h + d_h·u, s_w·j − p_w + d_w·v)}
for the kernel offsets (u, v) ∈ [0, kh) × [0, kw), visited in row-major order k = u·kw + v.

Every kernel is a loop over the kh·kw kernel offsets only: offset (u, v) of every window at once is one strided
slice of the padded input, xpad[..., d_h·u :: s_h, d_w·v :: s_w] (cut to OH×OW). There is no loop over the
batch or the output positions, and no window buffer (im2col) is built.

- max_pool2d pads with −inf, so padding never wins. It keeps the running maximum and, per output, the kernel
  offset of the winner as a small integer (uint8 for windows of ≤ 256 elements); backward writes gy to those
  positions: for disjoint windows one masked pass per offset (gy where that offset won, else 0), for
  overlapping ones a scatter-add. Ties go to the first maximum in row-major window order, as PyTorch does.
  2×2 windows of stride 2 run as one compiled pass each way when Numba is installed (``chainrule.compiled``),
  tested equal to these loops.
- avg_pool2d sums the slices and divides by |P|, the divisor PyTorch uses; its backward spreads gy/|P| over
  each window with the same loop and ``+=``.
- lp_pool2d is the power sum (Σ_P x^p)^(1/p), computed as PyTorch does, or with ``mean=True`` the power mean
  ((1/|P|)·Σ_P x^p)^(1/p) of the notes; adaptive_avg_pool2d is a separable linear map.

The backward of every op here is itself a Function (the scatter of max pooling, the spread of average pooling)
whose backward is the forward again, so gradients of any order follow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import backend, compiled
from chainrule.autograd.function import Function
from chainrule.errors import ArgumentError, ArgumentTypeError, ResourceError, ShapeError
from chainrule.ops.elementwise import abs as abs_op
from chainrule.ops.elementwise import where
from chainrule.ops.operands import as_tensor, check_bool, check_size, describe, float_only, int_pair
from chainrule.ops.shape import reshape
from chainrule.tensor import Tensor

__all__ = ["adaptive_avg_pool2d", "avg_pool2d", "lp_pool2d", "max_pool2d"]

IntPair = int | Sequence[int]


# ----- arguments and window geometry ----------------------------------------------------------------------


def _pair(op: str, name: str, value: Any) -> tuple[int, int]:
    """An int or a sequence of one or two ints, as (height, width) (the bounds are checked by ``_geometry``)."""
    return int_pair(op, name, value, -(2**62))


def _input(op: str, x: Any) -> tuple[Tensor, bool]:
    """``x`` as a 4-D float Tensor, and whether it came as 3-D (C, H, W) and needs its batch dim removed."""
    x = as_tensor(op, x)
    if x.ndim not in (3, 4):
        raise ShapeError(f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {x.shape}")
    float_only(op, x)
    if any(n == 0 for n in x.shape[-3:]):
        raise ShapeError(f"{op}: channels, height and width must be non-zero, got input of shape {x.shape}")
    if x.ndim == 3:
        return reshape(x, (1,) + x.shape), True
    return x, False


def _output_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size; with ceil_mode the last window must start inside the input or left pad."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


class _Windows:
    """Where the windows lie: the padding each side of a buffer that holds them all, and one strided slice
    per kernel offset."""

    def __init__(self, shape: tuple[int, ...], kernel, stride, padding, dilation, ceil_mode: bool) -> None:
        self.shape = shape  # of the (4-D) input
        self.kernel, self.stride, self.padding, self.dilation = kernel, stride, padding, dilation
        H, W = shape[-2:]
        self.out = tuple(
            _output_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d in zip((H, W), kernel, stride, padding, dilation)
        )
        # rows 0 .. (OH − 1)·s + d·(kh − 1) of the padded buffer are read; beyond H + p they are padding too
        # (ceil_mode), and rows never read at the end are simply not sliced
        reach = [(o - 1) * s + d * (k - 1) + 1 for o, k, s, d in zip(self.out, kernel, stride, dilation)]
        self.after = tuple(max(0, r - p - n) for r, p, n in zip(reach, padding, (H, W)))
        self.padded_shape = shape[:-2] + tuple(p + n + a for p, n, a in zip(padding, (H, W), self.after))
        self.needs_pad = any(padding) or any(self.after)
        (kh, kw), (sh, sw), (dh, dw), (OH, OW) = kernel, stride, dilation, self.out
        self.slices = [
            (Ellipsis, slice(dh * u, dh * u + (OH - 1) * sh + 1, sh), slice(dw * v, dw * v + (OW - 1) * sw + 1, sw))
            for u in range(kh)
            for v in range(kw)
        ]
        self.inner = (Ellipsis, slice(padding[0], padding[0] + H), slice(padding[1], padding[1] + W))

    def tiles(self) -> bool:
        """True when the windows cover the padded buffer exactly once (stride = kernel, no dilation, no rest)."""
        return all(s == k and d == 1 and o * k == n for o, k, s, d, n in
                   zip(self.out, self.kernel, self.stride, self.dilation, self.padded_shape[-2:]))

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.shape[:-2] + self.out

    def pad(self, x: Any, value: float) -> Any:
        """``x`` inside a frame of ``value`` large enough for every window (``x`` itself when none is needed)."""
        if not self.needs_pad:
            return x
        xp = backend.get_array_module(x)
        out = xp.empty(self.padded_shape, dtype=x.dtype)
        (top, left), (H, W) = self.padding, x.shape[-2:]
        out[..., :top, :] = value
        out[..., top + H :, :] = value
        out[..., top : top + H, :left] = value
        out[..., top : top + H, left + W :] = value
        out[self.inner] = x
        return out

    def crop(self, xpad: Any) -> Any:
        """The input's region of a padded buffer (the buffer itself when there is no padding)."""
        if not self.needs_pad:
            return xpad
        return backend.get_array_module(xpad).ascontiguousarray(xpad[self.inner])

    def window_sum(self, x: Any) -> Any:
        """Σ over each zero-padded window: (N, C, H, W) → (N, C, OH, OW); a kh·kw loop of strided slices."""
        xpad = self.pad(x, 0)
        total = xpad[self.slices[0]].copy()
        for sl in self.slices[1:]:
            total += xpad[sl]
        return total

    def window_spread(self, g: Any) -> Any:
        """The adjoint of window_sum: each g[i, j] added to every element of window (i, j) (col2im)."""
        xp = backend.get_array_module(g)
        gpad = xp.zeros(self.padded_shape, dtype=g.dtype)
        for sl in self.slices:
            gpad[sl] += g
        return self.crop(gpad)


def _geometry(
    op: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool
) -> _Windows:
    """Check the pooling arguments against the input, with PyTorch's rules, and lay out the windows."""
    kernel = _pair(op, "kernel_size", kernel_size)
    empty = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    strides = kernel if empty else _pair(op, "stride", stride)
    pads = _pair(op, "padding", padding)
    dils = _pair(op, "dilation", dilation)
    ceil_mode = check_bool(op, "ceil_mode", ceil_mode)
    if min(kernel) <= 0:
        raise ArgumentError(f"{op}: kernel_size must be positive, got {kernel_size}")
    if min(strides) <= 0:
        raise ArgumentError(f"{op}: stride must be positive, got {stride}")
    if min(dils) <= 0:
        raise ArgumentError(f"{op}: dilation must be positive, got {dilation}")
    if min(pads) < 0:
        raise ArgumentError(f"{op}: padding must be non-negative, got {padding}")
    if any(p > k // 2 for p, k in zip(pads, kernel)):
        raise ArgumentError(
            f"{op}: padding {pads} must be at most half of kernel_size {kernel} in each dim (PyTorch's rule: "
            f"padding ≤ kernel_size // 2), so that every window holds at least one input element"
        )
    H, W = x.shape[-2:]
    reach = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dils))
    if reach[0] > H + 2 * pads[0] or reach[1] > W + 2 * pads[1]:
        dilated = f" (dilated to {reach[0]}×{reach[1]})" if max(dils) > 1 else ""
        raise ShapeError(
            f"{op}: kernel_size {kernel[0]}×{kernel[1]}{dilated} is larger than the padded input "
            f"{H + 2 * pads[0]}×{W + 2 * pads[1]} (input shape {x.shape}, padding {pads})"
        )
    out = tuple(_output_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d in zip((H, W), kernel, strides, pads, dils))
    _check_work(op, x.shape, kernel, out)
    windows = _Windows(x.shape, kernel, strides, pads, dils, bool(ceil_mode))
    check_size(op, "the padded input", windows.padded_shape, x.dtype)
    check_size(op, "the output", windows.out_shape, x.dtype)
    return windows


# Pooling visits every kernel offset in a Python loop and every (output, offset) pair in NumPy, so both are
# capped far above any real use (a 1024×1024 window; about 7·10^10 window elements in all, a minute of work)
# instead of letting a kernel or padding of 10^6 run for hours: PyTorch clips windows to the input, this loop
# cannot.
MAX_WINDOW = 1 << 20
MAX_WORK = 1 << 36


def _check_work(op: str, shape: tuple[int, ...], window: tuple[int, int], out: tuple[int, int]) -> None:
    """Refuse (ResourceError) a window with more than MAX_WINDOW elements, or more than MAX_WORK window
    elements over all outputs, before anything is laid out or allocated."""
    area = window[0] * window[1]
    if area > MAX_WINDOW:
        raise ResourceError(
            f"{op}: kernel_size {window[0]}×{window[1]} gives windows of {area:.3g} elements, more than the limit "
            f"of {MAX_WINDOW} (a 1024×1024 window); hint: a kernel this large usually comes with a wrong padding "
            f"(padding ≤ kernel_size // 2) or kernel_size; adaptive_avg_pool2d pools to a given output size"
        )
    outputs = math.prod(shape[:-2]) * out[0] * out[1]
    if outputs * area > MAX_WORK:
        raise ResourceError(
            f"{op}: {outputs:.3g} outputs × {area} elements per window is {outputs * area:.3g} window elements, "
            f"more than the limit of {MAX_WORK:.3g}; hint: use a larger stride or a smaller kernel, or pool a "
            f"smaller batch at a time"
        )


def _counts(size: int, out: int, k: int, s: int, p: int, include_pad: bool) -> np.ndarray:
    """PyTorch's per-dim window length: clipped at the padded border (include_pad) or at the input itself."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    if not include_pad:
        start, end = np.maximum(start, 0), np.minimum(end, size)
    return end - start


# ----- max pooling ----------------------------------------------------------------------------------------

# Disjoint windows of up to this many elements are scattered by one masked pass per kernel offset (sequential
# strided writes, no zero fill when the windows tile the input); larger ones by one indexed write.
DISJOINT_PASSES = 16


class _Argmax:
    """What max pooling keeps for backward: the window layout and each output's winning kernel offset."""

    def __init__(self, windows: _Windows, offset: Any) -> None:
        self.windows, self.offset = windows, offset

    def positions(self) -> Any:
        """Flat index of each output's winner in the padded (N, C, Hp, Wp) buffer, an integer array of y's shape."""
        w = self.windows
        xp = backend.get_array_module(self.offset)
        N, C, Hp, Wp = w.padded_shape
        (OH, OW), (sh, sw), (dh, dw), kw = w.out, w.stride, w.dilation, w.kernel[1]
        index = np.int32 if N * C * Hp * Wp < 2**31 else np.int64
        step = np.arange(w.kernel[0] * kw)
        table = xp.asarray((step // kw) * (dh * Wp) + (step % kw) * dw, dtype=index)  # offset k → shift in a window
        pos = table.take(self.offset)
        pos += xp.asarray((np.arange(OH) * (sh * Wp)).reshape(OH, 1) + np.arange(OW) * sw, dtype=index)
        pos += xp.arange(N * C, dtype=index).reshape(N, C, 1, 1) * index(Hp * Wp)
        return pos

    def overlapping(self) -> bool:
        w = self.windows
        return any(s < d * (k - 1) + 1 for k, s, d in zip(w.kernel, w.stride, w.dilation))


class MaxPool2d(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
    def __init__(self, windows: _Windows, track: bool = True) -> None:
        self.windows, self.track = windows, track  # track: keep the argmax (for backward or return_indices)

    def forward(self, x):
        w = self.windows
        xp = backend.get_array_module(x)
        xpad = w.pad(x, -np.inf)
        k_total = len(w.slices)
        dtype = np.uint8 if k_total <= 256 else np.int16 if k_total <= 32768 else np.int32
        if _pairs(w) and compiled.available(xpad):  # the loop below in one compiled pass (tests: equal results)
            y, offset = self._compiled(xpad, dtype)
            if not _ordinary(y):
                y, offset = self._exact(xpad, dtype)
            if self.track:
                self.argmax = _Argmax(w, offset)
            return y
        if not self.track:  # inference: the values only
            y = xpad[w.slices[0]].copy()
            for sl in w.slices[1:]:
                xp.maximum(y, xpad[sl], out=y)
            return y
        y = xpad[w.slices[0]].copy()
        offset = xp.zeros(y.shape, dtype=dtype)
        for k, sl in enumerate(w.slices[1:], start=1):
            v = xpad[sl]
            wins = (v > y).view(np.uint8)  # strictly greater: a later equal value never takes over (first max)
            xp.maximum(y, v, out=y)  # NaN propagates into y, as in PyTorch
            # k grows along the loop, so "offset = k where v wins" is max(offset, k·wins): no masked write
            xp.maximum(offset, wins * dtype(k), out=offset)
        if not _ordinary(y):
            y, offset = self._exact(xpad, dtype)
        self.argmax = _Argmax(w, offset)
        return y

    def _exact(self, xpad: Any, dtype: Any) -> tuple[Any, Any]:
        """PyTorch's rule to the letter: start at the first non-padding element with −inf; a later element
        wins when it is greater or NaN. Run only when the fast loop met a NaN or an all −inf window."""
        w = self.windows
        xp = backend.get_array_module(xpad)
        y = xp.full(w.out_shape, -np.inf, dtype=xpad.dtype)
        offset = xp.broadcast_to(xp.asarray(_first_offsets(w, dtype)), w.out_shape).copy()
        for k, sl in enumerate(w.slices):
            v = xpad[sl]
            wins = (v > y) | xp.isnan(v)
            xp.copyto(y, v, where=wins)
            xp.copyto(offset, dtype(k), where=wins)
        return y, offset

    def _compiled(self, xpad: Any, dtype: Any) -> tuple[Any, Any]:
        """The fast loop's rule for 2×2 windows of stride 2, in one compiled pass (``chainrule.compiled.pool``)."""
        w = self.windows
        y, offset = np.empty(w.out_shape, dtype=xpad.dtype), np.empty(w.out_shape, dtype=dtype)
        compiled.module("pool").max_pool2d_2x2(
            xpad.reshape((-1,) + xpad.shape[-2:]), y.reshape((-1,) + w.out), offset.reshape((-1,) + w.out))
        return y, offset

    def backward(self, gy: Tensor) -> Tensor:
        """y = max over the window P of x: ∂yᵢ/∂xₖ = [k = argmaxᵢ], so gy routes to the argmax.

        gx[argmaxᵢ] += gyᵢ for each output i (y's shape (N, C, OH, OW) → x's shape (N, C, H, W)); an element
        that wins several overlapping windows receives the sum. argmax is the first maximum in row-major window
        order (PyTorch's tie rule). The routing is a constant 0/1 matrix, so the backward is linear in gy:
        a Function whose own backward gathers.
        """
        return MaxPool2dScatter(self.argmax)(gy)

    def fast_backward(self, gy: Any) -> Any:
        """The scatter itself, on the array (no node for a graph nobody records)."""
        return MaxPool2dScatter(self.argmax).forward(gy)


class MaxPool2dScatter(Function):
    """gy (N, C, OH, OW) → gx (N, C, H, W): each gy added at its window's argmax. The backward of max pooling."""
    uses_inputs = False  # backward needs only shapes or what forward saved

    def __init__(self, argmax: _Argmax) -> None:
        self.argmax = argmax

    def forward(self, gy):
        w = self.argmax.windows
        xp = backend.get_array_module(gy)
        if _pairs(w) and compiled.available(gy, self.argmax.offset):  # the masked passes in one compiled pass
            gpad = (xp.empty if w.tiles() else xp.zeros)(w.padded_shape, dtype=gy.dtype)
            compiled.module("pool").max_pool2d_2x2_scatter(
                xp.ascontiguousarray(gy).reshape((-1,) + w.out), self.argmax.offset.reshape((-1,) + w.out),
                gpad.reshape((-1,) + w.padded_shape[-2:]))
        elif self.argmax.overlapping():  # an element may win several windows: a 1-D scatter-add sums them
            gpad = xp.zeros(w.padded_shape, dtype=gy.dtype)
            xp.add.at(gpad.reshape(-1), self.argmax.positions().reshape(-1), gy.reshape(-1))
        elif len(w.slices) <= DISJOINT_PASSES:  # disjoint windows: offset k's slice gets gy where k won, else 0
            gpad = (xp.empty if w.tiles() else xp.zeros)(w.padded_shape, dtype=gy.dtype)
            finite = bool(xp.isfinite(gy).all())  # gy·0 is NaN for an infinite gy: then select, not multiply
            for k, sl in enumerate(w.slices):
                won = self.argmax.offset == k
                if finite:
                    xp.multiply(gy, won, out=gpad[sl])
                else:
                    gpad[sl] = xp.where(won, gy, gy.dtype.type(0))
        else:  # large disjoint windows: one scatter beats kh·kw passes
            gpad = xp.zeros(w.padded_shape, dtype=gy.dtype)
            gpad.reshape(-1)[self.argmax.positions().reshape(-1)] = gy.reshape(-1)
        return w.crop(gpad)

    def backward(self, ggx: Tensor) -> Tensor:
        """gx = Sᵀgy with S the 0/1 routing matrix (Sᵢₖ = [k = argmaxᵢ]); so ∂L/∂gy = S·ggx = ggx[argmax]:
        gather ggx (x's shape) at each output's argmax (y's shape)."""
        return MaxPool2dGather(self.argmax)(ggx)


class MaxPool2dGather(Function):
    """g (N, C, H, W) → (N, C, OH, OW): g at each window's argmax. The backward of MaxPool2dScatter."""
    uses_inputs = False  # backward needs only shapes or what forward saved

    def __init__(self, argmax: _Argmax) -> None:
        self.argmax = argmax

    def forward(self, g):
        gpad = self.argmax.windows.pad(g, 0)
        return gpad.reshape(-1)[self.argmax.positions()]

    def backward(self, gy: Tensor) -> Tensor:
        """y = S·g (gather at the argmax): gg = Sᵀ·gy, the scatter of gy to the argmax positions."""
        return MaxPool2dScatter(self.argmax)(gy)


def _ordinary(y: Any) -> bool:
    """False when some window's maximum is NaN or −inf (all its input elements −inf): the fast rule's argmax
    may then differ from PyTorch's, and ``_exact`` recomputes it."""
    return y.size == 0 or bool(y.min() > -np.inf)


def _pairs(w: _Windows) -> bool:
    """2×2 windows with stride 2 and no dilation: the case with a compiled kernel."""
    return w.kernel == (2, 2) and w.stride == (2, 2) and w.dilation == (1, 1)


def _first_offsets(w: _Windows, dtype: Any) -> np.ndarray:
    """(OH, OW): the kernel offset of each window's first element inside the input (not in the padding)."""
    first = []  # per dim: the first kernel offset of each window that lands inside the input
    for o, k, s, p, d in zip(w.out, w.kernel, w.stride, w.padding, w.dilation):
        u = -((np.arange(o) * s - p) // d)  # ceil((p − s·i) / d)
        first.append(np.clip(u, 0, k - 1))
    return (first[0][:, None] * w.kernel[1] + first[1][None, :]).astype(dtype)


def max_pool2d(
    input: Any,  # noqa: A002 - PyTorch's name
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over each kh×kw window (PyTorch's ``F.max_pool2d``); padding is −inf, so it never wins.

    The gradient goes to the first maximum of each window in row-major order (PyTorch's tie rule).
    ``return_indices`` also returns, as PyTorch, each maximum's flat index h·W + w in its (H, W) input plane
    (int64, no gradient).
    """
    x, unbatched = _input("max_pool2d", input)
    windows = _geometry("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    return_indices = check_bool("max_pool2d", "return_indices", return_indices)
    fn = MaxPool2d(windows, track=return_indices or Function.records((x,)))
    y = fn(x)
    indices = _plane_indices(fn.argmax) if return_indices else None
    if unbatched:
        y = reshape(y, y.shape[1:])
        indices = None if indices is None else Tensor(indices._data[0])
    return (y, indices) if return_indices else y


def _plane_indices(argmax: _Argmax) -> Tensor:
    """PyTorch's return_indices: the flat index h·W + w of each window's maximum in its input plane."""
    w = argmax.windows
    xp = backend.get_array_module(argmax.offset)
    W = w.shape[-1]
    (OH, OW), (sh, sw), (ph, pw), (dh, dw), kw = w.out, w.stride, w.padding, w.dilation, w.kernel[1]
    step = xp.arange(w.kernel[0] * kw)
    table = (step // kw) * (dh * W) + (step % kw) * dw
    base = (xp.arange(OH) * sh - ph).reshape(OH, 1) * W + (xp.arange(OW) * sw - pw)
    return Tensor(base + table[argmax.offset])


# ----- average pooling ------------------------------------------------------------------------------------


class AvgPool2d(Function):
    """y = (Σ_P x) / |P| over each zero-padded window; ``divisor`` holds |P| per output (or one number)."""
    uses_inputs = False  # backward needs only shapes or what forward saved

    def __init__(self, windows: _Windows, divisor: Any) -> None:
        self.windows, self.divisor = windows, divisor

    def forward(self, x):
        total = self.windows.window_sum(x)
        total /= _cast(self.divisor, total)
        return total

    def backward(self, gy: Tensor) -> Tensor:
        """y(i) = (1/|P(i)|)·Σ_{k∈P(i)} xₖ: ∂y(i)/∂xₖ = 1/|P(i)| for k in window i, so each element of window
        i receives gy(i)/|P(i)|, summed over the windows it lies in (overlapping windows add):

            gx[k] = Σ_{i : k ∈ P(i)} gy(i) / |P(i)|        gy (N, C, OH, OW) → gx (N, C, H, W)

        Padding elements receive their share too, which is cut away with the padding.
        """
        return AvgPool2dBackward(self.windows, self.divisor)(gy)

    def fast_backward(self, gy: Any) -> Any:
        """The spread itself, on the array (no node for a graph nobody records)."""
        return AvgPool2dBackward(self.windows, self.divisor).forward(gy)


class AvgPool2dBackward(Function):
    """gy (N, C, OH, OW) → gx (N, C, H, W): gy/|P| spread over each window. The backward of average pooling."""
    uses_inputs = False  # backward needs only shapes or what forward saved

    def __init__(self, windows: _Windows, divisor: Any) -> None:
        self.windows, self.divisor = windows, divisor

    def forward(self, gy):
        return self.windows.window_spread(gy / _cast(self.divisor, gy))

    def backward(self, ggx: Tensor) -> Tensor:
        """gx = Aᵀgy where y = A·x is average pooling (a fixed linear map), so ∂L/∂gy = A·ggx: average-pool
        ggx with the same windows and divisors."""
        return AvgPool2d(self.windows, self.divisor)(ggx)


def _cast(divisor: Any, like: Any) -> Any:
    """The divisor in ``like``'s dtype and array module (float32 stays float32)."""
    if isinstance(divisor, np.ndarray):
        return backend.get_array_module(like).asarray(divisor, dtype=like.dtype)
    return like.dtype.type(divisor)


def _divisor(windows: _Windows, include_pad: bool) -> Any:
    """|P| per output as PyTorch counts it: windows clipped at the padded border (include_pad) or, without
    include_pad, counting input elements only. The count factorises into rows × columns."""
    H, W = windows.shape[-2:]
    (OH, OW), (kh, kw), (sh, sw), (ph, pw) = windows.out, windows.kernel, windows.stride, windows.padding
    rows = _counts(H, OH, kh, sh, ph, include_pad)
    cols = _counts(W, OW, kw, sw, pw, include_pad)
    if (rows == kh).all() and (cols == kw).all():
        return kh * kw
    return (rows[:, None] * cols[None, :]).astype(np.float64)


def avg_pool2d(
    input: Any,  # noqa: A002 - PyTorch's name
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Mean over each kh×kw window (PyTorch's ``F.avg_pool2d``), zero padding.

    The divisor is PyTorch's: the window clipped at the padded border (which matters with ceil_mode); with
    ``count_include_pad=False`` only input elements count; ``divisor_override`` replaces it outright.
    """
    x, unbatched = _input("avg_pool2d", input)
    windows = _geometry("avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)
    count_include_pad = check_bool("avg_pool2d", "count_include_pad", count_include_pad)
    if divisor_override is not None:
        if not isinstance(divisor_override, (int, np.integer)) or isinstance(divisor_override, bool):
            raise ArgumentTypeError(f"avg_pool2d: divisor_override must be an int, got {describe(divisor_override)}")
        if divisor_override == 0:
            raise ArgumentError("avg_pool2d: divisor_override must not be zero")
        divisor = int(divisor_override)
    else:
        divisor = _divisor(windows, count_include_pad)
    y = AvgPool2d(windows, divisor)(x)
    return reshape(y, y.shape[1:]) if unbatched else y


# ----- power-average (Lp) pooling -------------------------------------------------------------------------


class LPPool2d(Function):
    """y = (c·Σ_P x^p)^(1/p). The power sum, PyTorch's definition ``avg_pool2d(x^p) · kh·kw`` raised to 1/p, has
    ``scale`` c = kh·kw/|P| per output: 1 for every full window, larger for windows that ceil_mode cuts at the
    border. The power mean ((1/|P|)·Σ_P x^p)^(1/p) has c = 1/|P|: PyTorch's c divided by kh·kw."""
    uses_outputs = True  # backward reads the output's values

    def __init__(self, windows: _Windows, p: float, scale: Any, mean: bool = False) -> None:
        self.windows, self.p, self.scale = windows, p, scale
        self.mean = mean  # which of the two the scale makes: the explain tables say it

    def forward(self, x):
        p = self.p
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            s = self.windows.window_sum(x**p if p != 1 else x)
            if not isinstance(self.scale, int):
                s *= _cast(self.scale, s)
            if p == 1:
                return s
            return s ** x.dtype.type(1 / p)

    def backward(self, gy: Tensor) -> Tensor:
        """y = S^(1/p) with S = c·Σ_{k∈P} xₖ^p: ∂y/∂xₖ = (1/p)·S^(1/p − 1)·c·p·xₖ^(p−1) = c·xₖ^(p−1)·y^(1−p),
        which for c = 1 and xₖ ≥ 0 (or even p) is sign(xₖ)|xₖ|^(p−1)·y^(1−p); for the power mean, c = 1/|P|:
        ∂y/∂xₖ = xₖ^(p−1)·y^(1−p)/|P|. Where S = 0 (y = 0) the gradient is 0 (PyTorch's convention; the formula
        would be 0·∞). Shapes: gy (N, C, OH, OW), gx (N, C, H, W):

            gx = x^(p−1) ⊙ spread(gy ⊙ c ⊙ y^(1−p) ⊙ [y ≠ 0])

        where spread adds each output's value to every element of its window (the adjoint of the window sum).
        """
        (x,), y, p = self.inputs, self.output(), self.p
        nonzero = y._data != 0
        factor = nonzero.astype(y.dtype)
        if not isinstance(self.scale, int):
            factor = factor * _cast(self.scale, y._data)
        g = gy * Tensor(factor)
        if p != 1:
            g = g * where(nonzero, y, 1.0) ** (1 - p)
        gx = AvgPool2dBackward(self.windows, 1)(g)
        if p != 1:
            gx = gx * (x if p == 2 else x ** (p - 1))
        return gx


def lp_pool2d(
    input: Any,  # noqa: A002 - PyTorch's name
    norm_type: float,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    ceil_mode: bool = False,
    padding: IntPair = 0,
    *,
    mean: bool = False,
) -> Tensor:
    """Power-average pooling (PyTorch's ``F.lp_pool2d``): y = (Σ_P x^p)^(1/p) over each window, p = norm_type.

    As in PyTorch, x^p is not x's absolute value to the power p (odd p on negative sums gives NaN for p ≠ 1),
    a window cut by ceil_mode is scaled by kh·kw/|P|, p = ±inf is the max of |x| (min for −inf), and the
    gradient is 0 where a window's sum is 0. ``padding`` is a chainrule extension: zeros, counted in |P|.

    ``mean=True`` (a chainrule extension) gives the power mean y = ((1/|P|)·Σ_P x^p)^(1/p) instead, the
    definition of the course notes: p = 1 is average pooling, p = 2 the root mean square, and it equals
    PyTorch's power sum divided by (kh·kw)^(1/p), cut windows included. p = ±inf is unchanged (max of |x|).
    """
    x, unbatched = _input("lp_pool2d", input)
    mean = check_bool("lp_pool2d", "mean", mean)
    if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(f"lp_pool2d: norm_type must be a number, got {describe(norm_type)}")
    p = float(norm_type)
    if math.isfinite(p) and p == int(p):
        p = int(p)  # integer powers: x**2 is x·x
    _geometry("lp_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)  # its errors name lp_pool2d
    if math.isinf(p):
        y = max_pool2d(abs_op(x) if p > 0 else -abs_op(x), kernel_size, stride, padding, 1, ceil_mode)
        y = y if p > 0 else -y
    else:
        if not p > 0:
            raise ArgumentError(f"lp_pool2d: norm_type must be positive, got {norm_type}")
        windows = _geometry("lp_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)
        area = windows.kernel[0] * windows.kernel[1]
        counts = _divisor(windows, True)
        if mean:
            scale = 1 / counts  # a Python float, or an array for windows of unequal size
        else:
            scale = 1 if isinstance(counts, int) else area / counts
        y = LPPool2d(windows, p, scale, mean)(x)
    return reshape(y, y.shape[1:]) if unbatched else y


# ----- adaptive average pooling ---------------------------------------------------------------------------


class AdaptiveAvgPool2d(Function):
    """y = A_h · x · A_wᵀ per (n, c) plane, with A (out, in) the row-normalised window-membership matrix:
    A[i, h] = 1/|P(i)| for h in window i = [⌊i·H/OH⌋, ⌈(i+1)·H/OH⌉). Average pooling over windows whose size
    varies is a separable linear map; the mean over a rectangle is the product of the per-dim means."""
    uses_inputs = False  # backward needs only shapes or what forward saved

    def __init__(self, rows: Any, cols: Any, pooling: bool = True) -> None:
        self.rows, self.cols = rows, cols
        self.pooling = pooling  # True: the rows of the matrices are windows (the forward map, not its transpose)

    def forward(self, x):
        xp = backend.get_array_module(x)
        rows = xp.asarray(self.rows, dtype=x.dtype)
        cols = xp.asarray(self.cols, dtype=x.dtype)
        N, C, H, W = x.shape
        t = (x.reshape(N * C * H, W) @ cols.T).reshape(N, C, H, cols.shape[0])  # one GEMM over the columns
        y = xp.matmul(rows, t)  # (OH, H) @ (N, C, H, OW) → (N, C, OH, OW)
        if self.pooling and not bool(xp.isfinite(y).all()):  # ±inf or NaN met the zeros of the matrices (0·inf)
            y = self._windowed(x)
        return y

    def _windowed(self, x: Any) -> Any:
        """Each window's mean on its own, so that a non-finite input reaches only the windows that hold it (the
        matrix products would spread 0·inf = NaN over its whole row and column). Run only then."""
        xp = backend.get_array_module(x)
        bounds = []
        for matrix in (self.rows, self.cols):
            inside = np.asarray(matrix) != 0
            start = inside.argmax(axis=1)
            bounds.append(list(zip(start, start + inside.sum(axis=1))))
        y = xp.empty(x.shape[:2] + (len(bounds[0]), len(bounds[1])), dtype=x.dtype)
        for i, (h0, h1) in enumerate(bounds[0]):
            for j, (w0, w1) in enumerate(bounds[1]):
                y[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
        return y

    def backward(self, gy: Tensor) -> Tensor:
        """y = A_h·x·A_wᵀ is linear in x: gx = A_hᵀ·gy·A_w, (N, C, OH, OW) → (N, C, H, W). Each element of
        window (i, j) receives gy(i, j)/|P(i, j)|, summed over the windows it lies in. This is the same map
        with the transposed matrices, so the backward's backward is the forward again."""
        return AdaptiveAvgPool2d(self.rows.T, self.cols.T, not self.pooling)(gy)

    def fast_backward(self, gy: Any) -> Any:
        """The transposed map itself, on the array (no node for a graph nobody records)."""
        return AdaptiveAvgPool2d(self.rows.T, self.cols.T, not self.pooling).forward(gy)


def _adaptive_matrix(size: int, out: int) -> np.ndarray:
    """(out, size): row i averages [⌊i·size/out⌋, ⌈(i+1)·size/out⌉), PyTorch's adaptive windows."""
    i = np.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    h = np.arange(size)
    inside = (h >= start[:, None]) & (h < end[:, None])
    return inside / (end - start)[:, None]


def adaptive_avg_pool2d(input: Any, output_size: int | None | Sequence[int | None]) -> Tensor:  # noqa: A002
    """Average pooling to a fixed output size (PyTorch's ``F.adaptive_avg_pool2d``); None keeps that dim's size.

    Window i along a dim of size n spans [⌊i·n/out⌋, ⌈(i+1)·n/out⌉), so windows may overlap and differ in size.
    """
    x, unbatched = _input("adaptive_avg_pool2d", input)
    H, W = x.shape[-2:]
    if output_size is None or isinstance(output_size, (int, np.integer)):
        sizes = (output_size, output_size)
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        sizes = (output_size[0], output_size[1])
    else:
        raise ArgumentTypeError(
            f"adaptive_avg_pool2d: output_size must be an int, None or a pair, got {describe(output_size)}"
        )
    out = []
    for s, n in zip(sizes, (H, W)):
        if s is None:
            s = n
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise ArgumentTypeError(
                f"adaptive_avg_pool2d: output_size entries must be positive ints or None, got {output_size!r}"
            )
        if s <= 0:
            raise ArgumentError(
                f"adaptive_avg_pool2d: output_size entries must be positive ints or None, got {output_size!r}"
            )
        out.append(int(s))
    OH, OW = out
    check_size("adaptive_avg_pool2d", "the output", x.shape[:2] + (OH, OW), x.dtype)
    check_size("adaptive_avg_pool2d", "the averaging matrices", (max(OH, OW), max(H, W)), np.float64)
    kernel = (H // OH, W // OW)
    # equal, disjoint windows: plain average pooling, no matrices (unless a window is too long a loop)
    if H % OH == 0 and W % OW == 0 and kernel[0] * kernel[1] <= MAX_WINDOW:
        _check_work("adaptive_avg_pool2d", x.shape, kernel, (OH, OW))
        y = AvgPool2d(_Windows(x.shape, kernel, kernel, (0, 0), (1, 1), False), kernel[0] * kernel[1])(x)
    else:
        planes = math.prod(x.shape[:2])
        work = planes * H * W * OW + planes * OH * H * OW  # the two products, in multiply-adds
        if work > MAX_WORK:
            raise ResourceError(
                f"adaptive_avg_pool2d: pooling {planes} planes of {H}×{W} to {OH}×{OW} takes {work:.3g} "
                f"multiply-adds, more than the limit of {MAX_WORK:.3g}; hint: a smaller output_size, or a "
                f"smaller batch at a time"
            )
        y = AdaptiveAvgPool2d(_adaptive_matrix(H, OH), _adaptive_matrix(W, OW))(x)
    return reshape(y, y.shape[1:]) if unbatched else y
