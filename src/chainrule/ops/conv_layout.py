"""The layout of a convolution's arrays: geometry, im2col and col2im, the GEMM's matrix layouts, batch chunks
and scratch buffers. ``chainrule.ops.conv`` holds the Functions, their derivations and the public functions;
everything here is bookkeeping about where values sit, with no gradient rule in it. See docs/conv.md.

Layout. im2col writes col (C·KH·KW, N·OH·OW) as one copy of a strided view of the padded input, whose axes
are (channel, kernel offset, image, output position); with stride 1 each offset reads one contiguous run per
channel and image ("wide rows", see ``im2col``). Then O = W(F, C·KH·KW) @ col is one GEMM per group.
col2im, the adjoint, is a loop over the kernel offsets with `+=`. The batch runs in chunks whose col stays in
cache (``batch_chunks``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.workspace import scratch


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
        fields = strided_view(buf, (g.c, g.kh, g.kw, g.n, g.oh * wp), (sc, dh * wp * item, dw * item, sn, item))
    else:
        if any(g.padding):
            padded = scratch("im2col.padded", (g.c, g.n) + g.padded_size, x.dtype, x, zero=True)
            padded[:, :, top : top + g.h, left : left + g.w] = xc
            xc = padded
        # col[c, u, v, n, i, j] = X̃[c, n, s·i + d·u, s·j + d·v]: the sliding windows of X̃, copied once
        sc, sn, sy, sx = xc.strides
        fields = strided_view(xc, (g.c, g.kh, g.kw, g.n, g.oh, g.ow), (sc, dh * sy, dw * sx, sn, sh * sy, sw * sx))
    col = scratch("im2col.col", fields.shape, x.dtype, x)
    col[...] = fields
    return col.reshape(g.groups, g.patch, -1)


def strided_view(a: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
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


def grouped_matmul(a: Any, b: Any, scratch_name: str | None = None) -> Any:
    """a (G, m, k) @ b (G, k, n) as one 2-D GEMM per group: NumPy's stacked matmul does not hand transposed
    operands to BLAS (measured 30× slower for the weight gradient), while 2-D matmul does. With
    ``scratch_name`` the product is written into that scratch buffer (valid until its next use)."""
    xp = backend.get_array_module(a)
    shape, dtype = (a.shape[0], a.shape[1], b.shape[2]), xp.result_type(a, b)
    out = scratch(scratch_name, shape, dtype, a) if scratch_name else xp.empty(shape, dtype=dtype)
    for group in range(a.shape[0]):
        xp.matmul(a[group], b[group], out=out[group])
    return out


def weight_product(col: Any, m: Any) -> Any:
    """One chunk's weight gradient, transposed: col (G, C/G·KH·KW, L) @ mᵀ (G, L, F/G) → (G, C/G·KH·KW, F/G).
    BLAS runs this orientation faster than m @ colᵀ (measured 1.2–1.8× on LeNet's and 3×3 layers' shapes)."""
    return grouped_matmul(col, m.transpose(0, 2, 1), "conv.weight_part")


def kernel_rows(w: Any, g: ConvGeometry) -> Any:
    """W (F, C/G, KH, KW) → (G, F/G, C/G·KH·KW): the kernel as the left operand of the forward GEMM (a view)."""
    return w.reshape(g.groups, g.f // g.groups, g.patch)


def kernel_columns(w: Any, g: ConvGeometry) -> Any:
    """W (F, C/G, KH, KW) → Wᵀ (G, C/G·KH·KW, F/G): the kernel as the left operand of gcol = Wᵀ @ gO (a view)."""
    return kernel_rows(w, g).transpose(0, 2, 1)


def weight_layout(gw_t: Any, g: ConvGeometry) -> Any:
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


def batch_chunks(g: ConvGeometry, itemsize: int) -> tuple[tuple[int, int, ConvGeometry], ...]:
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


def full_correlation_geometry(g: ConvGeometry) -> ConvGeometry | None:
    """The geometry of gX computed as a forward correlation: gO, padded by d·(K − 1) − p on each side,
    correlated with W' = ``rotated_transpose(W)``, for stride 1: gO's (F, OH, OW) images become X's (C, H, W).
    None for other strides (gO would need zeros between its elements) and for padding beyond the kernel's reach."""
    if g.stride != (1, 1):
        return None
    (dh, dw), (top, bottom, left, right) = g.dilation, g.padding
    reach_h, reach_w = dh * (g.kh - 1), dw * (g.kw - 1)
    pads = (reach_h - top, reach_h - bottom, reach_w - left, reach_w - right)
    if min(pads) < 0:
        return None
    return ConvGeometry(g.n, g.f, g.oh, g.ow, g.c, g.kh, g.kw, (1, 1), g.dilation, pads, g.groups)


def rotated_transpose(w: Any, g: ConvGeometry) -> Any:
    """W (F, C/G, KH, KW) → W' (C, F/G, KH, KW), W'[c, f, u, v] = W[f, c, KH − 1 − u, KW − 1 − v] within each group."""
    groups = g.groups
    w5 = w.reshape(groups, g.f // groups, g.c // groups, g.kh, g.kw).transpose(0, 2, 1, 3, 4)
    return w5[..., ::-1, ::-1].reshape(g.c, g.f // groups, g.kh, g.kw)

