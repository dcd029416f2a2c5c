"""ONNX forms of the layer ops: convolution, transposed convolution, pooling and normalisation; and of the layers
exported as a whole (batch norm with running statistics as ``BatchNormalization``, layer norm as
``LayerNormalization``, adaptive average pooling to 1×1 as ``GlobalAveragePool``).

Pooling windows: chainrule lays the windows over a buffer padded by ``padding`` before and by ``after`` (what
ceil_mode reaches, at most ``padding``) after each spatial dim; ONNX's asymmetric ``pads`` say the same, so
floor-mode arithmetic over the padded size gives chainrule's output size exactly. Average and power-average
pooling divide by PyTorch's counts (windows clipped at the padded border; input elements only without
count_include_pad): the ONNX form takes the mean over full windows of the zero-padded input, then scales each
output by kh·kw/count, a constant of the output's spatial shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.nn import normalization as nn_norm
from chainrule.nn import pooling as nn_pool
from chainrule.onnx.graph import Graph
from chainrule.onnx.trace import ModuleRecord, OpRecord
from chainrule.ops import conv, normalization, pool

__all__ = ["EMITTERS", "MODULE_EMITTERS"]


# ----- convolution -------------------------------------------------------------------------------------------


def _conv(g: Graph, r: OpRecord) -> None:
    geo = r.fn.g
    top, bottom, left, right = geo.padding
    attrs = dict(kernel_shape=[geo.kh, geo.kw], strides=list(geo.stride), dilations=list(geo.dilation),
                 pads=[top, left, bottom, right], group=geo.groups)
    x, w = g.inp(r, 0), g.inp(r, 1)
    if len(r.inputs) == 2:
        g.node("Conv", [x, w], r.outputs, **attrs)
    elif r.inputs[2].ndim == 1:
        g.node("Conv", [x, w, g.inp(r, 2)], r.outputs, **attrs)
    else:  # an untied bias (F, OH, OW), one per output unit: added after the convolution
        g.node("Add", [g.node("Conv", [x, w], **attrs), g.inp(r, 2)], r.outputs)


def _conv_transpose(g: Graph, r: OpRecord) -> None:
    """The geometry is that of the convolution being transposed: its input (h, w) is this op's output."""
    geo = r.fn.g
    top, _, left, _ = geo.padding
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    output_padding = [geo.h - ((geo.oh - 1) * sh - 2 * top + dh * (geo.kh - 1) + 1),
                      geo.w - ((geo.ow - 1) * sw - 2 * left + dw * (geo.kw - 1) + 1)]
    g.node("ConvTranspose", [g.inp(r, 0), g.inp(r, 1)], r.outputs, kernel_shape=[geo.kh, geo.kw],
           strides=[sh, sw], dilations=[dh, dw], pads=[top, left, top, left], group=geo.groups,
           output_padding=output_padding)


# ----- pooling -----------------------------------------------------------------------------------------------


def _pads(w: Any) -> list[int]:
    return [w.padding[0], w.padding[1], w.after[0], w.after[1]]


def _max_pool(g: Graph, r: OpRecord) -> None:
    w = r.fn.windows
    outs = [r.outputs[0]] if len(r.outputs) == 1 else r.outputs[:1]
    g.node("MaxPool", [g.inp(r, 0)], outs, kernel_shape=list(w.kernel), strides=list(w.stride), pads=_pads(w),
           dilations=list(w.dilation))


def _window_mean(g: Graph, x: str, w: Any, dtype: Any) -> str:
    """The mean of each full kh×kw window of the zero-padded input (padding, then ``after``)."""
    if w.needs_pad:
        top, left, bottom, right = _pads(w)
        x = g.node("Pad", [x, g.ints([0, 0, top, left, 0, 0, bottom, right]), g.scalar(0, dtype)], mode="constant")
    return g.node("AveragePool", [x], kernel_shape=list(w.kernel), strides=list(w.stride))


def _scaled(g: Graph, mean: str, factor: Any, dtype: Any, out: Any) -> str:
    """mean · factor (a number, or one per output position), or the mean itself when the factor is 1."""
    if np.isscalar(factor) and factor == 1:
        return g.node("Identity", [mean], out)
    return g.node("Mul", [mean, g.array(np.asarray(factor, dtype=dtype), "scale")], out)


def _avg_pool(g: Graph, r: OpRecord) -> None:
    w, dtype = r.fn.windows, r.inputs[0]._data.dtype
    area = w.kernel[0] * w.kernel[1]
    divisor = r.fn.divisor
    factor = area / divisor if np.isscalar(divisor) else area / np.asarray(divisor, dtype=np.float64)
    _scaled(g, _window_mean(g, g.inp(r, 0), w, dtype), factor, dtype, r.outputs)


def _lp_pool(g: Graph, r: OpRecord) -> None:
    """y = (c·Σ_P x^p)^(1/p) = (kh·kw·c·mean_P x^p)^(1/p); x^p is not |x|^p (ONNX's LpPool takes |x|, and is
    the power sum only). The power mean (c = 1/|P|) is the same graph with its own factor kh·kw·c in the Mul."""
    w, dtype, p = r.fn.windows, r.inputs[0]._data.dtype, r.fn.p
    x = g.inp(r, 0)
    if p != 1:
        x = g.node("Pow", [x, g.scalar(p, dtype)])
    area = w.kernel[0] * w.kernel[1]
    scale = r.fn.scale
    factor = area * (scale if np.isscalar(scale) else np.asarray(scale, dtype=np.float64))
    if p == 1:
        _scaled(g, _window_mean(g, x, w, dtype), factor, dtype, r.outputs)
        return
    total = _scaled(g, _window_mean(g, x, w, dtype), factor, dtype, 1)
    g.node("Pow", [total, g.scalar(1 / p, dtype)], r.outputs)


def _adaptive_avg_pool(g: Graph, r: OpRecord) -> None:
    """Windows of unequal size: the separable linear map y = A_h · x · A_wᵀ as two MatMuls."""
    dtype = r.inputs[0]._data.dtype
    cols = g.array(np.asarray(r.fn.cols, dtype=dtype).T.copy(), "pool_cols")
    rows = g.array(np.asarray(r.fn.rows, dtype=dtype), "pool_rows")
    g.node("MatMul", [rows, g.node("MatMul", [g.inp(r, 0), cols])], r.outputs)


# ----- normalisation -----------------------------------------------------------------------------------------


def _standardize(g: Graph, r: OpRecord) -> None:
    """(x − mean_D x)/√(var_D x + eps): LayerNormalization when D is the trailing dims (opset ≥ 17)."""
    x_t, dims, eps = r.inputs[0], tuple(r.fn.dims), float(r.fn.eps)
    x, dtype = g.inp(r, 0), x_t._data.dtype
    if g.opset >= 17 and dims and dims == tuple(range(dims[0], x_t.ndim)):
        ones = g.array(np.ones(x_t.shape[dims[0]:], dtype=dtype), "ones")
        g.node("LayerNormalization", [x, ones], r.outputs, axis=dims[0], epsilon=eps)
        return
    _normalize(g, x, dims, eps, dtype, r.outputs)


def _normalize(g: Graph, x: str, dims: Any, eps: float, dtype: Any, out: Any) -> str:
    centered = g.node("Sub", [x, g.reduce("ReduceMean", x, dims, True)])
    var = g.reduce("ReduceMean", g.node("Mul", [centered, centered]), dims, True)
    std = g.node("Sqrt", [g.node("Add", [var, g.scalar(eps, dtype)])])
    return g.node("Div", [centered, std], out)


def _batch_norm_batch_stats(g: Graph, r: OpRecord) -> None:
    """Batch statistics (a model in training mode, or track_running_stats=False): the definition, over N and
    the spatial dims, then the per-channel affine map."""
    x_t = r.inputs[0]
    dtype, dims = x_t._data.dtype, [0, *range(2, x_t.ndim)]
    per_channel = [0] + list(range(2, x_t.ndim))
    more = r.fn.has_weight or r.fn.has_bias
    y = _normalize(g, g.inp(r, 0), dims, float(r.fn.eps), dtype, 1 if more else r.outputs)
    j = 1
    for present, op_type in ((r.fn.has_weight, "Mul"), (r.fn.has_bias, "Add")):
        if present:
            last = op_type == "Add" or not r.fn.has_bias
            y = g.node(op_type, [y, g.unsqueeze(g.inp(r, j), per_channel)], r.outputs if last else 1)
            j += 1


EMITTERS: dict[type, Callable[[Graph, OpRecord], None]] = {
    conv.Conv2d: _conv,
    conv.ConvTranspose2d: _conv_transpose,
    pool.MaxPool2d: _max_pool,
    pool.AvgPool2d: _avg_pool,
    pool.LPPool2d: _lp_pool,
    pool.AdaptiveAvgPool2d: _adaptive_avg_pool,
    normalization.Standardize: _standardize,
    normalization.BatchNorm: _batch_norm_batch_stats,
}


# ----- layers exported as a whole ----------------------------------------------------------------------------


def _only_tensor_arg(g: Graph, m: ModuleRecord) -> str:
    x = m.args[0] if m.args else m.kwargs.get("input")
    other = None
    if m.other is not None:
        other = m.other.args[0] if m.other.args else m.other.kwargs.get("input")
    return g.value(x, other)


def _batch_norm_module(g: Graph, m: ModuleRecord) -> None:
    """Eval mode with running statistics: y = (x − running_mean)/√(running_var + eps)·weight + bias."""
    bn = m.module
    x = _only_tensor_arg(g, m)
    dtype = bn.running_mean._data.dtype
    n = bn.num_features
    scale = g.value(bn.weight) if bn.weight is not None else g.array(np.ones(n, dtype=dtype), "ones")
    bias = g.value(bn.bias) if bn.bias is not None else g.array(np.zeros(n, dtype=dtype), "zeros")
    g.node("BatchNormalization", [x, scale, bias, g.value(bn.running_mean), g.value(bn.running_var)], [m.result],
           epsilon=float(bn.eps))


def _batch_norm_whole(module: Any, m: ModuleRecord, opset: int) -> bool:
    return not module.training and module.running_mean is not None and module.running_var is not None


def _layer_norm_module(g: Graph, m: ModuleRecord) -> None:
    ln = m.module
    x = _only_tensor_arg(g, m)
    k = len(ln.normalized_shape)
    dtype = m.result._data.dtype
    scale = g.value(ln.weight) if ln.weight is not None else g.array(np.ones(ln.normalized_shape, dtype=dtype), "ones")
    inputs = [x, scale] + ([g.value(ln.bias)] if ln.bias is not None else [])
    g.node("LayerNormalization", inputs, [m.result], axis=-k, epsilon=float(ln.eps))


def _global_pool_module(g: Graph, m: ModuleRecord) -> None:
    g.node("GlobalAveragePool", [_only_tensor_arg(g, m)], [m.result])


def _global_pool_whole(module: Any, m: ModuleRecord, opset: int) -> bool:
    size = module.output_size
    x = m.args[0] if m.args else m.kwargs.get("input")
    return getattr(x, "ndim", 0) == 4 and (size == 1 or (isinstance(size, (tuple, list)) and tuple(size) == (1, 1)))


# module class → (whether this call, with these arguments, is exported whole at the opset; its emitter)
Whole = Callable[[Any, ModuleRecord, int], bool]
MODULE_EMITTERS: dict[type, tuple[Whole, Callable[[Graph, ModuleRecord], None]]] = {
    nn_norm.BatchNorm1d: (_batch_norm_whole, _batch_norm_module),
    nn_norm.BatchNorm2d: (_batch_norm_whole, _batch_norm_module),
    nn_norm.LayerNorm: (lambda module, m, opset: opset >= 17, _layer_norm_module),
    nn_pool.AdaptiveAvgPool2d: (_global_pool_whole, _global_pool_module),
}
