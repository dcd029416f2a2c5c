"""2-D convolution and transposed convolution on NCHW tensors, by im2col and one GEMM. Derivations: docs/conv.md.

Notation: X (N, C, H, W) input, W (F, C/G, KH, KW) kernel in PyTorch's layout, b (F,) bias (or (F, OH, OW)
untied: one bias per output unit), O (N, F, OH, OW) output, G groups, s stride, d dilation, p padding, and
gO = ∂L/∂O. The forward is a correlation, O[n,f,i,j] = Σ_{c,u,v} X[n,c, s·i + d·u − p, s·j + d·v − p]·W[f,c,u,v] + b[f].

The three rules learners derive are the three faces of one bilinear form B(X, W, gO) = ⟨conv(X, W), gO⟩:
    ∂L/∂X = ∂B/∂X = the full convolution of the stride-dilated gO with the 180°-rotated kernel  (conv_transpose)
    ∂L/∂W = ∂B/∂W = the correlation of X with gO                                                    (weight_grad)
    ∂L/∂b = Σ_{n,i,j} gO
Each of conv, conv_transpose and weight_grad is a Function whose backward is written with the other two, so
gradients of any order follow.

Layout. im2col writes col (C·KH·KW, N·OH·OW) as one copy of a strided view of the padded input, whose axes
are (channel, kernel offset, image, output position); with stride 1 each offset reads one contiguous run per
channel and image ("wide rows", see ``im2col``). Then O = W(F, C·KH·KW) @ col is one GEMM per group.
col2im, the adjoint, is a loop over the kernel offsets with `+=`. The batch runs in chunks whose col stays in
cache (``_batch_chunks``); a training step's backward computes gX and gW in one pass over them (``_conv_grads``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.autograd.grad_mode import is_grad_enabled
from chainrule.errors import ArgumentError, ArgumentTypeError, ChainruleError, ShapeError
from chainrule.ops.operands import as_tensor, check_size, describe, float_only, int_pair, same_dtype
from chainrule.ops.shape import pad as pad_op
from chainrule.tensor import Tensor
from chainrule.workspace import scratch

__all__ = ["conv2d", "conv_transpose2d"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


@dataclass(frozen=True)
class ConvGeometry:
    """Everything about one convolution X (N, C, H, W) → O (N, F, OH, OW) except the numbers."""

    n: int
    c: int
    h: int
    w: int
    f: int
    kh: int
    kw: int
    stride: tuple[int, int]
    dilation: tuple[int, int]
    padding: tuple[int, int, int, int]  # top, bottom, left, right
    groups: int

    @cached_property
    def oh(self) -> int:
        top, bottom, _, _ = self.padding
        return (self.h + top + bottom - self.dilation[0] * (self.kh - 1) - 1) // self.stride[0] + 1

    @cached_property
    def ow(self) -> int:
        _, _, left, right = self.padding
        return (self.w + left + right - self.dilation[1] * (self.kw - 1) - 1) // self.stride[1] + 1

    @cached_property
    def patch(self) -> int:
        """C/G·KH·KW: the length of one receptive field of one group."""
        return self.c // self.groups * self.kh * self.kw

    @cached_property
    def padded_size(self) -> tuple[int, int]:
        top, bottom, left, right = self.padding
        return self.h + top + bottom, self.w + left + right

    @property
    def wide(self) -> bool:
        """Stride 1: im2col can copy whole rows of the padded input (see ``im2col``)."""
        return self.stride == (1, 1)

    @cached_property
    def width(self) -> int:
        """Columns per output row in the GEMM's layout: the padded width for wide rows, else OW."""
        return self.padded_size[1] if self.wide else self.ow

    @cached_property
    def plane(self) -> int:
        """Values per image in a wide buffer: the padded image plus the overhang of the last run."""
        hp, wp = self.padded_size
        return hp * wp + self.dilation[1] * (self.kw - 1)

    @cached_property
    def runs(self) -> tuple[tuple[int, int, int, int], ...]:
        """(u, v, start, end): for each kernel offset, the run of a wide buffer's plane that its rows read."""
        (dh, dw), wp = self.dilation, self.padded_size[1]
        starts = [(u, v, u * dh * wp + v * dw) for u in range(self.kh) for v in range(self.kw)]
        return tuple((u, v, start, start + self.oh * wp) for u, v, start in starts)

    def offsets(self):
        """(u, v, rows, cols): for each kernel offset, the strided slices of the padded input it sees."""
        (sh, sw), (dh, dw) = self.stride, self.dilation
        for u in range(self.kh):
            rows = slice(u * dh, u * dh + sh * (self.oh - 1) + 1, sh)
            for v in range(self.kw):
                yield u, v, rows, slice(v * dw, v * dw + sw * (self.ow - 1) + 1, sw)


def im2col(x: Any, g: ConvGeometry) -> Any:
    """X (N, C, H, W) → col (G, C/G·KH·KW, N·OH·OWc): column m holds the receptive field of output position m.

    With stride 1 the rows are wide (OWc = Wp, the padded width, instead of OW): output row i then reads, for
    kernel offset (u, v), Wp·OH consecutive values of the padded image, so each offset is one contiguous copy
    per channel and image instead of one short copy per output row. The Wp − OW extra columns per row see
    values that wrap around from the next row; their outputs are discarded (``from_matrix``) and their
    gradients are zero (``to_matrix``), so they change no result for finite X (an ±inf or NaN in X can reach
    the weight gradient through 0·inf = NaN, where PyTorch's would stay finite; its loss is not finite anyway).

    The result lives in a scratch buffer (``chainrule.workspace``): use it before the next im2col.
    """
    top, _, left, _ = g.padding
    xc = x.transpose(1, 0, 2, 3)  # (C, N, H, W): channels first, so each group's rows are contiguous in col
    (dh, dw), (sh, sw) = g.dilation, g.stride
    if g.wide:
        buf = scratch("im2col.padded", (g.c, g.n, g.plane), x.dtype, x, zero=True)
        _planes(buf, g)[:, :, top : top + g.h, left : left + g.w] = xc
        wp = g.width
        # col[c, u, v, n, r] = buf[c, n, dh·u·Wp + dw·v + r]: a strided view of buf, copied once
        sc, sn, item = buf.strides[0], buf.strides[1], buf.itemsize
        fields = _strided_view(buf, (g.c, g.kh, g.kw, g.n, g.oh * wp), (sc, dh * wp * item, dw * item, sn, item))
    else:
        if any(g.padding):
            padded = scratch("im2col.padded", (g.c, g.n) + g.padded_size, x.dtype, x, zero=True)
            padded[:, :, top : top + g.h, left : left + g.w] = xc
            xc = padded
        # col[c, u, v, n, i, j] = X̃[c, n, s·i + d·u, s·j + d·v]: the sliding windows of X̃, copied once
        sc, sn, sy, sx = xc.strides
        fields = _strided_view(xc, (g.c, g.kh, g.kw, g.n, g.oh, g.ow), (sc, dh * sy, dw * sx, sn, sh * sy, sw * sx))
    col = scratch("im2col.col", fields.shape, x.dtype, x)
    col[...] = fields
    return col.reshape(g.groups, g.patch, -1)


def _strided_view(a: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
    """A read-only view of ``a`` with the given shape and byte strides (elements repeat: never write to it)."""
    xp = backend.get_array_module(a)
    if xp is np:
        return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=False)
    return xp.lib.stride_tricks.as_strided(a, shape, strides)  # CuPy's has no writeable flag


def col2im(col: Any, g: ConvGeometry) -> Any:
    """The adjoint of im2col: col (G, C/G·KH·KW, N·OH·OWc) → X (N, C, H, W), summing overlapping fields.
    The result is a view of a scratch buffer: copy it out before the next col2im."""
    top, _, left, _ = g.padding
    if g.wide and g.n > 1:
        # Sum each kernel row's KW shifted fields first, along the whole chunk at once: row u's sum
        # R_u[c, m] = Σ_v col[c, u, v, m − d·v] (m over n·OH·Wp) is one contiguous add per v, then one add of
        # R_u into the images. A shift carries the last d·v columns of an image into the next, but those are
        # wide columns (j ≥ OW), whose gradients are zero, so the images do not mix.
        buf = scratch("col2im.padded", (g.c, g.n, g.plane), col.dtype, col, zero=True)
        col = col.reshape(g.c, g.kh, g.kw, g.n * g.oh * g.width)
        rows = scratch("col2im.rows", col[:, 0, 0].shape, col.dtype, col)
        run = g.oh * g.width
        for u in range(g.kh):
            rows[...] = col[:, u, 0]
            for v in range(1, g.kw):
                shift = v * g.dilation[1]
                rows[:, shift:] += col[:, u, v, :-shift]
            start = u * g.dilation[0] * g.width
            buf[:, :, start : start + run] += rows.reshape(g.c, g.n, run)
        padded = _planes(buf, g)
    elif g.wide:  # one image: each kernel offset's field is one contiguous run per channel
        buf = scratch("col2im.padded", (g.c, g.n, g.plane), col.dtype, col, zero=True)
        col = col.reshape(g.c, g.kh, g.kw, g.n, g.oh * g.width)
        for u, v, start, end in g.runs:
            buf[:, :, start:end] += col[:, u, v]
        padded = _planes(buf, g)
    else:
        col = col.reshape(g.c, g.kh, g.kw, g.n, g.oh, g.ow)
        padded = scratch("col2im.padded", (g.c, g.n) + g.padded_size, col.dtype, col, zero=True)
        for u, v, rows, cols in g.offsets():
            padded[:, :, rows, cols] += col[:, u, v]
    return padded[:, :, top : top + g.h, left : left + g.w].transpose(1, 0, 2, 3)


def _planes(buf: Any, g: ConvGeometry) -> Any:
    """The (C, N, Hp, Wp) padded images inside a wide buffer (C, N, plane) (a view: the split is within a row)."""
    return buf[:, :, : g.padded_size[0] * g.padded_size[1]].reshape((g.c, g.n) + g.padded_size)


def to_matrix(o: Any, g: ConvGeometry) -> Any:
    """O-shaped (N, F, OH, OW) → (G, F/G, N·OH·OWc), the GEMM's layout, zero in the extra wide columns."""
    m = scratch("conv.grad_output", (g.f, g.n, g.oh, g.width), o.dtype, o)
    m[..., : g.ow] = o.transpose(1, 0, 2, 3)
    m[..., g.ow :] = 0
    return m.reshape(g.groups, g.f // g.groups, -1)


def from_matrix(m: Any, g: ConvGeometry) -> Any:
    """(G, F/G, N·OH·OWc) → O-shaped (N, F, OH, OW), a view without the extra wide columns."""
    return m.reshape(g.f, g.n, g.oh, g.width)[..., : g.ow].transpose(1, 0, 2, 3)


def _grouped_matmul(a: Any, b: Any, scratch_name: str | None = None) -> Any:
    """a (G, m, k) @ b (G, k, n) as one 2-D GEMM per group: NumPy's stacked matmul does not hand transposed
    operands to BLAS (measured 30× slower for the weight gradient), while 2-D matmul does. With
    ``scratch_name`` the product is written into that scratch buffer (valid until its next use)."""
    xp = backend.get_array_module(a)
    shape, dtype = (a.shape[0], a.shape[1], b.shape[2]), xp.result_type(a, b)
    out = scratch(scratch_name, shape, dtype, a) if scratch_name else xp.empty(shape, dtype=dtype)
    for group in range(a.shape[0]):
        xp.matmul(a[group], b[group], out=out[group])
    return out


def _weight_product(col: Any, m: Any) -> Any:
    """One chunk's weight gradient, transposed: col (G, C/G·KH·KW, L) @ mᵀ (G, L, F/G) → (G, C/G·KH·KW, F/G).
    BLAS runs this orientation faster than m @ colᵀ (measured 1.2–1.8× on LeNet's and 3×3 layers' shapes)."""
    return _grouped_matmul(col, m.transpose(0, 2, 1), "conv.weight_part")


def _weight_layout(gw_t: Any, g: ConvGeometry) -> Any:
    """(G, C/G·KH·KW, F/G), the transposed weight gradient, → W's layout (F, C/G, KH, KW)."""
    return gw_t.transpose(0, 2, 1).reshape(g.f, g.c // g.groups, g.kh, g.kw)


# Convolutions run over the batch in chunks whose column buffer stays in cache while the GEMM reads it, instead
# of one buffer of C·KH·KW·N·OH·OW values that makes every copy go to memory (and costs its page faults). With
# few filters per group the GEMM does only 2·F/G flops per value of col, so it is memory-bound and its chunk
# should fit the per-core L2 cache (measured on LeNet's 6-filter conv1: 0.62× the time of 8 MiB chunks, and a
# cliff between 7 and 8 images of 28×28); with more filters it is compute-bound and chunks of a few MiB are
# fastest (forward and backward: LeNet's conv2 alike for 1–8 MiB; 64←64 3×3 layers 5% faster at 3 than at 8).
COL_BYTES = 3 << 20
COL_BYTES_FEW_FILTERS = 512 << 10
FEW_FILTERS = 8


def _batch_chunks(g: ConvGeometry, itemsize: int) -> tuple[tuple[int, int, ConvGeometry], ...]:
    """(first image, end, geometry of that many images) for each chunk of the batch."""
    return _chunks(g, itemsize, COL_BYTES_FEW_FILTERS if g.f // g.groups <= FEW_FILTERS else COL_BYTES)


@lru_cache(maxsize=256)
def _chunks(g: ConvGeometry, itemsize: int, budget: int) -> tuple[tuple[int, int, ConvGeometry], ...]:
    """Cached: a training loop asks for the same few geometries every step, and each chunk's geometry keeps its
    derived sizes (cached properties) instead of recomputing them per chunk."""
    per_image = g.c * g.kh * g.kw * g.oh * g.width * itemsize
    size = max(1, min(g.n, budget // max(per_image, 1)))
    chunks = []
    for start in range(0, g.n, size):
        end = min(start + size, g.n)
        chunks.append((start, end, g if end - start == g.n else replace(g, n=end - start)))
    return tuple(chunks)


class Conv2d(Function):
    def __init__(self, geometry: ConvGeometry) -> None:
        self.g = geometry

    def forward(self, x, w, b=None):
        return _correlate(x, w, b, self.g)

    def backward(self, go: Tensor) -> tuple[Tensor | None, ...]:
        """O = conv(X, W) + b, gO (N, F, OH, OW):

        gX = conv_transpose(gO, W)   (N, C, H, W)   the full convolution of the stride-dilated gO with rot180(W)
        gW = weight_grad(X, gO)      (F, C/G, KH, KW)   gW[f,c,u,v] = Σ_{n,i,j} X[n,c,s·i+d·u−p,s·j+d·v−p]·gO[n,f,i,j]
        gb = Σ_{n,i,j} gO            (F,), or Σ_n gO (F, OH, OW) for an untied bias
        """
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        if is_grad_enabled():  # create_graph: gradients built from Functions, so they can be differentiated
            gx = ConvTranspose2d(self.g)(go, w) if need[0] else None
            gw = WeightGrad(self.g)(x, go) if need[1] else None
        else:  # training: the same two products, on arrays, in one pass over the batch
            gx, gw = (None if g is None else Tensor(g) for g in _conv_grads(x.data, w.data, go.data, self.g, need))
        if len(self.inputs) == 2:
            return gx, gw
        b = self.inputs[2]
        gb = (go.sum((0, 2, 3)) if b.ndim == 1 else go.sum(0)) if need[2] else None
        return gx, gw, gb


def _correlate(x: Any, w: Any, b: Any, g: ConvGeometry) -> Any:
    """O = conv(X, W) + b on arrays: per batch chunk, im2col and one GEMM per group."""
    xp = backend.get_array_module(x)
    out = xp.empty((g.n, g.f, g.oh, g.ow), dtype=x.dtype)
    kernel = w.reshape(g.groups, g.f // g.groups, g.patch)
    bias = 0 if b is None else b[:, None, None] if b.ndim == 1 else b
    for start, end, chunk in _batch_chunks(g, x.dtype.itemsize):
        o = _grouped_matmul(kernel, im2col(x[start:end], chunk), "conv.product")  # (G, F/G, n·OH·OWc)
        xp.add(from_matrix(o, chunk), bias, out=out[start:end])  # to NCHW, adding the bias on the way
    return out


def _conv_grads(x: Any, w: Any, go: Any, g: ConvGeometry, need: tuple[bool, ...]) -> tuple[Any, Any]:
    """gX = conv_transpose(gO, W) and gW = weight_grad(X, gO) on arrays, chunk by chunk: each chunk of gO is put
    in the GEMM's layout once for both products, and its col is rebuilt just before the GEMM that reads it.

    With stride 1 and no more filters than channels, gX is computed as what it is, the full correlation of gO
    with the rotated kernel (``_full_correlation``): an im2col of gO and one GEMM, instead of a GEMM and the
    col2im's read-modify-write passes."""
    xp = backend.get_array_module(go)
    full = _full_correlation(g) if need[0] and g.f <= g.c else None
    scatter = need[0] and full is None  # gX by col2im, chunk by chunk below
    gx = _correlate(go, _rotated_transpose(w, g), None, full) if full else None
    if scatter:
        gx = xp.empty(x.shape, dtype=x.dtype)
    gw_t = xp.zeros((g.groups, g.patch, g.f // g.groups), dtype=x.dtype) if need[1] else None
    w_t = w.reshape(g.groups, g.f // g.groups, g.patch).transpose(0, 2, 1)  # (G, C/G·KH·KW, F/G)
    for start, end, chunk in _batch_chunks(g, x.dtype.itemsize):
        m = to_matrix(go[start:end], chunk)  # (G, F/G, n·OH·OWc)
        if gw_t is not None:
            gw_t += _weight_product(im2col(x[start:end], chunk), m)
        if scatter:
            gx[start:end] = col2im(_grouped_matmul(w_t, m, "conv.columns"), chunk)
    return gx, None if gw_t is None else _weight_layout(gw_t, g)


def _full_correlation(g: ConvGeometry) -> ConvGeometry | None:
    """The geometry of gX = conv(gO, rot180(W)ᵀ) with padding d·(K − 1) − p on each side, for stride 1: gO's
    (F, OH, OW) images become X's (C, H, W). None for other strides (gO would need zeros between its
    elements) and for padding beyond the kernel's reach."""
    if g.stride != (1, 1):
        return None
    (dh, dw), (top, bottom, left, right) = g.dilation, g.padding
    reach_h, reach_w = dh * (g.kh - 1), dw * (g.kw - 1)
    pads = (reach_h - top, reach_h - bottom, reach_w - left, reach_w - right)
    if min(pads) < 0:
        return None
    return ConvGeometry(g.n, g.f, g.oh, g.ow, g.c, g.kh, g.kw, (1, 1), g.dilation, pads, g.groups)


def _rotated_transpose(w: Any, g: ConvGeometry) -> Any:
    """W (F, C/G, KH, KW) → W' (C, F/G, KH, KW), W'[c, f, u, v] = W[f, c, KH − 1 − u, KW − 1 − v] within each group."""
    groups = g.groups
    w5 = w.reshape(groups, g.f // groups, g.c // groups, g.kh, g.kw).transpose(0, 2, 1, 3, 4)
    return w5[..., ::-1, ::-1].reshape(g.c, g.f // groups, g.kh, g.kw)


class ConvTranspose2d(Function):
    """gO (N, F, OH, OW), W → X-shaped (N, C, H, W): the adjoint of X ↦ conv(X, W)."""

    def __init__(self, geometry: ConvGeometry) -> None:
        self.g = geometry

    def forward(self, go, w):
        g = self.g
        w_t = w.reshape(g.groups, g.f // g.groups, g.patch).transpose(0, 2, 1)  # (G, C/G·KH·KW, F/G)
        gx = backend.get_array_module(go).empty((g.n, g.c, g.h, g.w), dtype=go.dtype)
        for start, end, chunk in _batch_chunks(g, go.dtype.itemsize):
            gx[start:end] = col2im(_grouped_matmul(w_t, to_matrix(go[start:end], chunk), "conv.columns"), chunk)
        return gx

    def backward(self, gx: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """Z = conv_transpose(gO, W) is linear in each argument with ⟨gZ, Z⟩ = ⟨conv(gZ, W), gO⟩, so

        g(gO) = conv(gZ, W)            (N, F, OH, OW)
        gW    = weight_grad(gZ, gO)    (F, C/G, KH, KW)
        """
        go, w = self.inputs
        need = self.needs_input_grad
        g_go = Conv2d(self.g)(gx, w) if need[0] else None
        gw = WeightGrad(self.g)(gx, go) if need[1] else None
        return g_go, gw


class WeightGrad(Function):
    """X, gO → W-shaped: the correlation of X with gO (the weight gradient of conv)."""

    def __init__(self, geometry: ConvGeometry) -> None:
        self.g = geometry

    def forward(self, x, go):
        g = self.g
        gw_t = backend.get_array_module(x).zeros((g.groups, g.patch, g.f // g.groups), dtype=x.dtype)
        for start, end, chunk in _batch_chunks(g, x.dtype.itemsize):  # im2col again, chunk by chunk, in cache
            gw_t += _weight_product(im2col(x[start:end], chunk), to_matrix(go[start:end], chunk))
        return _weight_layout(gw_t, g)  # an empty batch (N = 0) has no chunks: a zero gradient

    def backward(self, ggw: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """V = weight_grad(X, gO) is linear in each argument with ⟨gV, V⟩ = ⟨conv(X, gV), gO⟩, so

        gX    = conv_transpose(gO, gV)   (N, C, H, W)
        g(gO) = conv(X, gV)              (N, F, OH, OW)
        """
        x, go = self.inputs
        need = self.needs_input_grad
        gx = ConvTranspose2d(self.g)(go, ggw) if need[0] else None
        g_go = Conv2d(self.g)(x, ggw) if need[1] else None
        return gx, g_go


# ----- argument handling -------------------------------------------------------------------------------


def _pair(op: str, name: str, value: Any, minimum: int) -> tuple[int, int]:
    return int_pair(op, name, value, minimum, single=False)


def _check_4d(op: str, x: Tensor, w: Tensor) -> None:
    if x.ndim != 4:
        raise ShapeError(f"{op}: input must be 4-D (N, C, H, W), or 3-D (C, H, W) unbatched; got shape {x.shape}")
    if w.ndim != 4:
        raise ShapeError(f"{op}: weight must be 4-D, got shape {w.shape}")
    float_only(op, x)
    same_dtype(op, x, w, "weight")


def _groups(op: str, groups: Any) -> int:
    if not isinstance(groups, int) or isinstance(groups, bool):
        raise ArgumentTypeError(f"{op}: groups must be a positive int, got {describe(groups)}")
    if groups < 1:
        raise ArgumentError(f"{op}: groups must be a positive int, got {groups}")
    return groups


def _bias(op: str, bias: Any, x: Tensor) -> Tensor:
    b = as_tensor(op, bias, "bias")
    same_dtype(op, x, b, "bias")
    return b


def _check_size(op: str, g: ConvGeometry, dtype: Any) -> None:
    top, bottom, left, right = g.padding
    eff = (g.dilation[0] * (g.kh - 1) + 1, g.dilation[1] * (g.kw - 1) + 1)
    if g.oh < 1 or g.ow < 1:
        raise ShapeError(
            f"{op}: the kernel ({g.kh}×{g.kw}, {eff[0]}×{eff[1]} with dilation) is larger than the padded input "
            f"({g.h + top + bottom}×{g.w + left + right}); use a smaller kernel or more padding"
        )
    check_size(op, "the padded input", (g.n, g.c, g.h + top + bottom, g.w + left + right), dtype)
    check_size(op, "the output", (g.n, g.f, g.oh, g.ow), dtype)
    # im2col's buffer holds at least one image's receptive fields, KH·KW values per input element (with stride
    # 1, per padded element): a large padding or dilation makes it the largest buffer of all
    check_size(op, "the column buffer of one image", (g.c * g.kh * g.kw, g.oh * g.width), dtype)


def conv2d(
    input: Any,  # noqa: A002 - PyTorch's names
    weight: Any,
    bias: Any = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> Tensor:
    """2-D convolution (a correlation, as in every deep-learning library) of NCHW ``input`` with ``weight``.

    weight (F, C/groups, KH, KW); bias (F,) or None, or (F, OH, OW) for an untied bias (one per output unit);
    padding an int, a pair, 'valid' or 'same' (stride 1; extra padding goes right/bottom, as PyTorch);
    padding_mode 'zeros', 'reflect', 'replicate' or 'circular' as ``nn.Conv2d``'s.
    """
    op = "conv2d"
    x, w = as_tensor(op, input, "input"), as_tensor(op, weight, "weight")
    unbatched = x.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    _check_4d(op, x, w)
    s = _pair(op, "stride", stride, 1)
    d = _pair(op, "dilation", dilation, 1)
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    if h == 0 or wd == 0:
        raise ShapeError(f"{op}: input of shape {x.shape} has an empty spatial dim; height and width must be ≥ 1")
    if _groups(op, groups) and (c % groups or f % groups):
        raise ArgumentError(
            f"{op}: groups must be a positive int dividing in_channels ({c}) and out_channels ({f}), got {groups}"
        )
    if cg * groups != c:
        raise ShapeError(
            f"{op}: input has {c} channels but weight {w.shape} expects {cg}·groups = {cg * groups}; "
            f"weight must be (out_channels, in_channels/groups, kH, kW)"
        )
    if isinstance(padding, str):
        if padding == "valid":
            pads = (0, 0, 0, 0)
        elif padding == "same":
            if s != (1, 1):
                raise ArgumentError(f"{op}: padding='same' needs stride 1, got stride {stride}")
            th, tw = d[0] * (kh - 1), d[1] * (kw - 1)
            pads = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        else:
            raise ArgumentError(f"{op}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    else:
        ph, pw = _pair(op, "padding", padding, 0)
        pads = (ph, ph, pw, pw)
    if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
        raise ArgumentError(f"{op}: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    if padding_mode != "zeros" and any(pads):
        top, bottom, left, right = pads
        check_size(op, "the padded input", (n, c, h + top + bottom, wd + left + right), x.dtype)
        try:
            x = pad_op(x, (left, right, top, bottom), mode=padding_mode)
        except ChainruleError as e:
            raise type(e)(f"{op}: padding_mode={padding_mode!r} with padding {padding!r}: {e}") from None
        n, c, h, wd = x.shape
        pads = (0, 0, 0, 0)
    g = ConvGeometry(n, c, h, wd, f, kh, kw, s, d, pads, groups)
    _check_size(op, g, x.dtype)
    args = [x, w]
    if bias is not None:
        b = _bias(op, bias, x)
        if b.shape not in ((f,), (f, g.oh, g.ow)):
            raise ShapeError(
                f"{op}: bias must have shape ({f},) (one per channel) or ({f}, {g.oh}, {g.ow}) (untied: one per "
                f"output unit), got {b.shape}"
            )
        args.append(b)
    out = Conv2d(g)(*args)
    return out.squeeze(0) if unbatched else out


def conv_transpose2d(
    input: Any,  # noqa: A002 - PyTorch's names
    weight: Any,
    bias: Any = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
    groups: int = 1,
    dilation: int | tuple[int, int] = 1,
) -> Tensor:
    """Transposed convolution (the gradient of conv2d with respect to its input), PyTorch's argument order.

    input (N, C_in, H, W), weight (C_in, C_out/groups, KH, KW), bias (C_out,). The output has
    H_out = (H − 1)·s − 2p + d·(KH − 1) + output_padding + 1 rows (likewise columns).
    """
    op = "conv_transpose2d"
    x, w = as_tensor(op, input, "input"), as_tensor(op, weight, "weight")
    unbatched = x.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    _check_4d(op, x, w)
    s = _pair(op, "stride", stride, 1)
    d = _pair(op, "dilation", dilation, 1)
    p = _pair(op, "padding", padding, 0)
    op_pad = _pair(op, "output_padding", output_padding, 0)
    if op_pad[0] >= max(s[0], d[0]) or op_pad[1] >= max(s[1], d[1]):
        raise ArgumentError(f"{op}: output_padding {output_padding} must be smaller than stride or dilation")
    n, c_in, h, wd = x.shape
    if h == 0 or wd == 0:
        raise ShapeError(f"{op}: input of shape {x.shape} has an empty spatial dim; height and width must be ≥ 1")
    if w.shape[0] != c_in:
        raise ShapeError(f"{op}: input has {c_in} channels but weight {w.shape} expects {w.shape[0]} (dim 0)")
    if _groups(op, groups) and c_in % groups:
        raise ArgumentError(f"{op}: groups must be a positive int dividing in_channels ({c_in}), got {groups}")
    _, cg, kh, kw = w.shape
    c_out = cg * groups
    h_out = (h - 1) * s[0] - 2 * p[0] + d[0] * (kh - 1) + op_pad[0] + 1
    w_out = (wd - 1) * s[1] - 2 * p[1] + d[1] * (kw - 1) + op_pad[1] + 1
    if h_out < 1 or w_out < 1:
        raise ShapeError(f"{op}: the output would be {h_out}×{w_out}; reduce padding")
    check_size(op, "the output (with its padding)", (n, c_out, h_out + 2 * p[0], w_out + 2 * p[1]), x.dtype)
    # The convolution this one transposes: X (N, C_out, H_out, W_out) → (N, C_in, H, W) with kernel `w`.
    g = ConvGeometry(n, c_out, h_out, w_out, c_in, kh, kw, s, d, (p[0], p[0], p[1], p[1]), groups)
    # the GEMM's columns: one per input position, a padded output row long with stride 1 (wide rows)
    check_size(op, "the column buffer", (c_out * kh * kw, n * g.oh * g.width), x.dtype)
    out = ConvTranspose2d(g)(x, w)
    if bias is not None:
        b = _bias(op, bias, x)
        if b.shape != (c_out,):
            raise ShapeError(f"{op}: bias must have shape ({c_out},), got {b.shape}")
        out = out + b.reshape(1, c_out, 1, 1)
    return out.squeeze(0) if unbatched else out
