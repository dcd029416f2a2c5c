"""ONNX forms of the ops that move values by index (gather, scatter, scatter_add) and of unfold/fold.

gather is ``GatherElements`` on x cut to the index's extent; scatter is ``ScatterElements``; scatter_add's
placing of g into zeros is ``ScatterElements`` with ``reduction="add"`` (opset 16). unfold (im2col) is a grouped
convolution whose kernel is the identity: output channel c·KH·KW + u·KW + v of group c copies input channel c at
kernel offset (u, v), so the channels come out in unfold's (c, u, v) order; fold (col2im) is the transposed
convolution with the same kernel, which adds each column back where it came from.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from chainrule.onnx.graph import Graph
from chainrule.onnx.trace import OpRecord
from chainrule.ops import indexing, unfold

__all__ = ["EMITTERS"]


def _index(g: Graph, r: OpRecord) -> str:
    name = g.held(r, "index")
    if g.dtypes.get(name, np.dtype(np.int64)) != np.dtype(np.int64):
        name = g.cast(name, np.int64)
    return name


def _gather(g: Graph, r: OpRecord) -> None:
    x_shape, index_shape = r.inputs[0].shape, np.shape(r.fn.index)
    x = g.inp(r, 0)
    cut = [d for d, (n, k) in enumerate(zip(x_shape, index_shape)) if d != r.fn.dim and k < n]
    if cut:
        x = g.node("Slice", [x, g.ints([0] * len(cut)), g.ints([index_shape[d] for d in cut]), g.ints(cut)])
    g.node("GatherElements", [x, _index(g, r)], r.outputs, axis=r.fn.dim)


def _scatter(g: Graph, r: OpRecord) -> None:
    dtype = r.outputs[0]._data.dtype
    g.node("ScatterElements", [g.inp(r, 0), _index(g, r), g.input_as(r, 1, dtype)], r.outputs, axis=r.fn.dim)


def _scatter_add_along(g: Graph, r: OpRecord) -> None:
    if g.opset < 16:
        raise g.refuse("scatter_add needs ScatterElements' reduction (opset 16)", "export with opset_version ≥ 16")
    if r.other is not None and tuple(r.other.fn.shape) != tuple(r.fn.shape):
        raise g.refuse(f"it adds into a tensor of shape {tuple(r.fn.shape)} that changes with the dynamic axes",
                       "export scatter_add without dynamic axes")
    zeros = g.array(np.zeros(r.fn.shape, dtype=r.outputs[0]._data.dtype), "zeros")
    g.node("ScatterElements", [zeros, _index(g, r), g.inp(r, 0)], r.outputs, axis=r.fn.dim, reduction="add")


def _identity_kernel(geo: object, dtype: np.dtype) -> np.ndarray:
    """(C·KH·KW, 1, KH, KW): output channel (c, u, v) of group c picks kernel offset (u, v)."""
    c, kh, kw = geo.c, geo.kh, geo.kw  # type: ignore[attr-defined]
    eye = np.eye(kh * kw, dtype=dtype).reshape(kh * kw, 1, kh, kw)
    return np.tile(eye, (c, 1, 1, 1))


def _unfold(g: Graph, r: OpRecord) -> None:
    geo = r.fn.g
    top, bottom, left, right = geo.padding
    kernel = g.array(_identity_kernel(geo, r.inputs[0]._data.dtype), "unfold_kernel")
    cols = g.node("Conv", [g.inp(r, 0), kernel], kernel_shape=[geo.kh, geo.kw], strides=list(geo.stride),
                  dilations=list(geo.dilation), pads=[top, left, bottom, right], group=geo.c)
    g.node("Reshape", [cols, g.ints([0, geo.c * geo.kh * geo.kw, -1])], r.outputs)


def _fold(g: Graph, r: OpRecord) -> None:
    geo = r.fn.g
    top, _, left, _ = geo.padding
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    planes = g.node("Reshape", [g.inp(r, 0), g.ints([0, geo.c * geo.kh * geo.kw, geo.oh, geo.ow])])
    kernel = g.array(_identity_kernel(geo, r.inputs[0]._data.dtype), "fold_kernel")
    output_padding = [geo.h - ((geo.oh - 1) * sh - 2 * top + dh * (geo.kh - 1) + 1),
                      geo.w - ((geo.ow - 1) * sw - 2 * left + dw * (geo.kw - 1) + 1)]
    g.node("ConvTranspose", [planes, kernel], r.outputs, kernel_shape=[geo.kh, geo.kw], strides=[sh, sw],
           dilations=[dh, dw], pads=[top, left, top, left], group=geo.c, output_padding=output_padding)


EMITTERS: dict[type, Callable[[Graph, OpRecord], None]] = {
    indexing.Gather: _gather,
    indexing.Scatter: _scatter,
    indexing.ScatterAddAlong: _scatter_add_along,
    unfold.Unfold: _unfold,
    unfold.Fold: _fold,
}
