"""ONNX forms of the piecewise activations (hardtanh and relu6, hardswish, hardsigmoid, threshold, prelu) and of
the vector norm behind cosine_similarity, pairwise_distance and normalize: each one ONNX op where ONNX has it
(Clip, HardSwish, HardSigmoid, PRelu, ReduceL1/ReduceL2), else the composition that defines it."""

from __future__ import annotations

import numpy as np

from chainrule.onnx.graph import Graph
from chainrule.onnx.trace import OpRecord
from chainrule.ops import activation_extra, distance

__all__ = ["EMITTERS"]


def _scalar(g: Graph, r: OpRecord, value: float) -> str:
    return g.scalar(value, r.inputs[0]._data.dtype)


def _hardtanh(g: Graph, r: OpRecord) -> None:
    g.node("Clip", [g.inp(r, 0), _scalar(g, r, r.fn.min_val), _scalar(g, r, r.fn.max_val)], r.outputs)


def _hardswish(g: Graph, r: OpRecord) -> None:
    if g.opset >= 14:
        g.node("HardSwish", [g.inp(r, 0)], r.outputs)
        return
    x = g.inp(r, 0)
    g.node("Mul", [x, g.node("HardSigmoid", [x], alpha=1 / 6, beta=0.5)], r.outputs)


def _threshold(g: Graph, r: OpRecord) -> None:
    x = g.inp(r, 0)
    above = g.node("Greater", [x, _scalar(g, r, r.fn.threshold)])
    g.node("Where", [above, x, _scalar(g, r, r.fn.value)], r.outputs)


def _vector_norm(g: Graph, r: OpRecord) -> None:
    x, p, axes, keep = g.inp(r, 0), r.fn.p, [r.fn.dim], r.fn.keepdim
    out = r.outputs[0]
    if p == 2:
        g.reduce("ReduceL2", x, axes, keep, out)
    elif p == 1:
        g.reduce("ReduceL1", x, axes, keep, out)
    elif p == np.inf:
        g.reduce("ReduceMax", g.node("Abs", [x]), axes, keep, out)
    elif p == 0:
        nonzero = g.node("Cast", [g.node("Not", [g.node("Equal", [x, _scalar(g, r, 0.0)])])],
                         to=g.onnx.helper.np_dtype_to_tensor_dtype(r.inputs[0]._data.dtype))
        g.reduce("ReduceSum", nonzero, axes, keep, out)
    else:
        powered = g.node("Pow", [g.node("Abs", [x]), _scalar(g, r, p)])
        g.node("Pow", [g.reduce("ReduceSum", powered, axes, keep), _scalar(g, r, 1 / p)], [out])


def _clamped_norm(g: Graph, r: OpRecord) -> None:
    g.node("Clip", [g.inp(r, 0), _scalar(g, r, r.fn.eps), ""], r.outputs)


EMITTERS = {
    activation_extra.Hardtanh: _hardtanh,
    activation_extra.Hardswish: _hardswish,
    activation_extra.Hardsigmoid: lambda g, r: g.node("HardSigmoid", [g.inp(r, 0)], r.outputs, alpha=1 / 6,
                                                      beta=0.5),
    activation_extra.Threshold: _threshold,
    activation_extra.PReLU: lambda g, r: g.node("PRelu", [g.inp(r, 0), g.inp(r, 1)], r.outputs),
    distance.VectorNorm: _vector_norm,
    distance.ClampedNorm: _clamped_norm,
}
