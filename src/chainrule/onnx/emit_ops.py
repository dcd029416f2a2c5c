"""ONNX forms of the general ops: arithmetic, activations, matrix products, reductions, shapes, indexing and
embedding lookup. Each emitter reads what the traced Function kept (its attributes) and adds nodes to the graph.

Where ONNX has the op itself it is used one for one (``Tanh``, ``Softmax`` with ``axis``, ``Gemm``...); where it
has not at the opset, the op is written as the composition that defines it (GELU as x·½(1 + erf(x/√2)) before
opset 20; Softplus with its β and threshold; the variance as the mean square deviation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.autograd import broadcast
from chainrule.onnx.graph import Graph
from chainrule.onnx.trace import OpRecord
from chainrule.ops import activation, elementwise, linalg, reduce, shape, sparse, triangular
from chainrule.ops import dropout as dropout_ops

__all__ = ["EMITTERS", "moving_dims"]

Emitter = Callable[[Graph, OpRecord], None]
INT64_MAX = np.iinfo(np.int64).max


def moving_dims(g: Graph, r: OpRecord, attr: str) -> list[int]:
    """The positions at which a shape kept by the op (a reshape's target...) differs in the second trace: the
    dims that follow the dynamic axes. A graph of constant shapes can let at most one of them vary."""
    mine = list(getattr(r.fn, attr))
    if r.other is None:
        return []
    theirs = list(getattr(r.other.fn, attr))
    moving = [i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b]
    if len(mine) != len(theirs) or len(moving) > 1:
        raise g.refuse(f"its {attr} {tuple(mine)} changes in more than one dim with the dynamic axes "
                       f"({tuple(theirs)} at other sizes)", "give fewer dynamic axes, or reshape with one dim "
                       "left to -1 that holds them all")
    return moving


# ----- arithmetic --------------------------------------------------------------------------------------------


def _binary(op_type: str) -> Emitter:
    def emit(g: Graph, r: OpRecord) -> None:
        dtype = r.outputs[0]._data.dtype
        g.node(op_type, [g.input_as(r, 0, dtype), g.input_as(r, 1, dtype)], r.outputs)
    return emit


def _unary(op_type: str, **attrs: Any) -> Emitter:
    def emit(g: Graph, r: OpRecord) -> None:
        g.node(op_type, [g.inp(r, 0)], r.outputs, **attrs)
    return emit


def _pow_scalar(g: Graph, r: OpRecord) -> None:
    x = r.inputs[0]
    g.node("Pow", [g.inp(r, 0), g.scalar(r.fn.exponent, x._data.dtype)], r.outputs)


def _cast(g: Graph, r: OpRecord) -> None:
    to = g.onnx.helper.np_dtype_to_tensor_dtype(r.outputs[0]._data.dtype)
    g.node("Cast", [g.inp(r, 0)], r.outputs, to=to)


def _clip(g: Graph, r: OpRecord) -> None:
    dtype = r.inputs[0]._data.dtype
    low = "" if r.fn.low is None else g.scalar(r.fn.low, dtype)
    high = "" if r.fn.high is None else g.scalar(r.fn.high, dtype)
    g.node("Clip", [g.inp(r, 0), low, high], r.outputs)


def _where(g: Graph, r: OpRecord) -> None:
    dtype = r.outputs[0]._data.dtype
    condition = g.held(r, "condition")
    if g.dtypes.get(condition, np.dtype(bool)) != np.dtype(bool):
        condition = g.cast(condition, bool)
    g.node("Where", [condition, g.input_as(r, 0, dtype), g.input_as(r, 1, dtype)], r.outputs)


# ----- activations -------------------------------------------------------------------------------------------


def _scalar_like(g: Graph, r: OpRecord, value: float) -> str:
    return g.scalar(value, r.inputs[0]._data.dtype)


def _normal_cdf(g: Graph, x: str, r: OpRecord, out: Any) -> str:
    """Φ(x) = ½·(1 + erf(x/√2))."""
    erf = g.node("Erf", [g.node("Mul", [x, _scalar_like(g, r, math.sqrt(0.5))])])
    one_plus = g.node("Add", [erf, _scalar_like(g, r, 1.0)])
    return g.node("Mul", [one_plus, _scalar_like(g, r, 0.5)], out)


def _normal_cdf_op(g: Graph, r: OpRecord) -> None:
    _normal_cdf(g, g.inp(r, 0), r, r.outputs)


def _gelu(g: Graph, r: OpRecord) -> None:
    x, approximate = g.inp(r, 0), r.fn.approximate
    if g.opset >= 20:
        g.node("Gelu", [x], r.outputs, approximate=approximate)
    elif approximate == "tanh":  # ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
        cube = g.node("Mul", [g.node("Mul", [x, x]), x])
        inner = g.node("Add", [x, g.node("Mul", [cube, _scalar_like(g, r, 0.044715)])])
        t = g.node("Tanh", [g.node("Mul", [inner, _scalar_like(g, r, math.sqrt(2 / math.pi))])])
        half_x = g.node("Mul", [x, _scalar_like(g, r, 0.5)])
        g.node("Mul", [half_x, g.node("Add", [t, _scalar_like(g, r, 1.0)])], r.outputs)
    else:  # x·Φ(x)
        g.node("Mul", [x, _normal_cdf(g, x, r, 1)], r.outputs)


def _softplus(g: Graph, r: OpRecord) -> None:
    """y = softplus(βx)/β, and y = x where βx > threshold (PyTorch's linear branch)."""
    x, beta = g.inp(r, 0), r.fn.beta
    bx = x if beta == 1 else g.node("Mul", [x, _scalar_like(g, r, beta)])
    smooth = g.node("Softplus", [bx])
    if beta != 1:
        smooth = g.node("Div", [smooth, _scalar_like(g, r, beta)])
    linear = g.node("Greater", [bx, _scalar_like(g, r, r.fn.threshold)])
    g.node("Where", [linear, x, smooth], r.outputs)


# ----- products ----------------------------------------------------------------------------------------------


def _linear(g: Graph, r: OpRecord) -> None:
    """q = x·Wᵀ + b: one Gemm (transB) for a matrix x, as PyTorch exports; MatMul by Wᵀ (+ b) otherwise."""
    x, w = g.inp(r, 0), g.inp(r, 1)
    bias = [g.inp(r, 2)] if len(r.inputs) == 3 else []
    if r.inputs[0].ndim == 2:
        g.node("Gemm", [x, w, *bias], r.outputs, transB=1)
        return
    wt = g.node("Transpose", [w], perm=[1, 0])
    if not bias:
        g.node("MatMul", [x, wt], r.outputs)
        return
    g.node("Add", [g.node("MatMul", [x, wt]), bias[0]], r.outputs)


# ----- reductions --------------------------------------------------------------------------------------------


def _reduction(op_type: str) -> Emitter:
    def emit(g: Graph, r: OpRecord) -> None:
        g.reduce(op_type, g.inp(r, 0), r.fn.dims, r.fn.keepdim, r.outputs[0])
    return emit


def _var(g: Graph, r: OpRecord) -> None:
    """Σ_D (x − mean_D x)² / (n − correction)."""
    x, dims = g.inp(r, 0), r.fn.dims
    n = math.prod(r.inputs[0].shape[d] for d in dims)
    if r.other is not None and math.prod(r.other.inputs[0].shape[d] for d in dims) != n:
        raise g.refuse("it reduces over a dynamic axis", "export without that dynamic axis")
    centered = g.node("Sub", [x, g.reduce("ReduceMean", x, dims, True)])
    total = g.reduce("ReduceSum", g.node("Mul", [centered, centered]), dims, r.fn.keepdim)
    dof = n - r.fn.correction
    g.node("Div", [total, _scalar_like(g, r, dof if dof > 0 else math.nan)], r.outputs)


def _cumsum(g: Graph, r: OpRecord) -> None:
    axis = g.array(np.asarray(r.fn.dim, dtype=np.int64), "axis")
    g.node("CumSum", [g.inp(r, 0), axis], r.outputs, reverse=int(bool(r.fn.reverse)) or None)


def _median(g: Graph, r: OpRecord) -> None:
    """The lower median of all elements: the (n−1)//2-th smallest, by TopK over the flattened input."""
    n = r.inputs[0]._data.size
    if r.other is not None and r.other.inputs[0]._data.size != n:
        raise g.refuse("the median's position follows the dynamic axes", "export without dynamic axes")
    middle = (n - 1) // 2
    flat = g.node("Reshape", [g.inp(r, 0), g.ints([-1])])
    smallest = g.node("TopK", [flat, g.ints([middle + 1])], 2, largest=0, sorted=1)[0]
    value = g.node("Gather", [smallest, g.array(np.asarray(middle, dtype=np.int64), "index")], axis=0)
    g.node("Reshape", [value, g.ints(r.outputs[0].shape)], r.outputs)


# ----- shapes ------------------------------------------------------------------------------------------------


def _reshape(g: Graph, r: OpRecord) -> None:
    target = list(r.fn.shape)
    for i in moving_dims(g, r, "shape"):
        target[i] = -1
    allowzero = 1 if 0 in target else None  # ONNX reads 0 as "copy this dim" unless told otherwise
    g.node("Reshape", [g.inp(r, 0), g.ints(target)], r.outputs, allowzero=allowzero)


def _broadcast_to(g: Graph, r: OpRecord) -> None:
    target = list(r.fn.shape)
    lead = len(target) - r.inputs[0].ndim
    for i in moving_dims(g, r, "shape"):
        if i < lead or r.inputs[0].shape[i - lead] == 1:
            raise g.refuse("it expands a dim of size 1 to a dynamic axis", "expand to the input's shape in a way "
                           "the graph can follow (e.g. add a tensor of that shape), or export without dynamic_axes")
        target[i] = 1  # Expand broadcasts: 1 keeps the input's own (dynamic) size
    g.node("Expand", [g.inp(r, 0), g.ints(target)], r.outputs)


def _sum_to(g: Graph, r: OpRecord) -> None:
    """Sum over the leading dims the target lacks and the dims it keeps as 1, then drop the leading ones."""
    x_shape, target = r.inputs[0].shape, tuple(r.fn.shape)
    lead = len(x_shape) - len(target)
    axes = list(range(lead)) + [lead + i for i, n in enumerate(target) if n == 1 and x_shape[lead + i] != 1]
    total = g.reduce("ReduceSum", g.inp(r, 0), axes, True)
    if lead:
        g.squeeze(total, list(range(lead)), r.outputs[0])
    else:
        g.node("Identity", [total], r.outputs)


def _repeat(g: Graph, r: OpRecord) -> None:
    """np.tile: the input gets leading dims of size 1 up to len(reps), and reps leading 1s up to its rank."""
    reps, ndim = list(r.fn.reps), r.inputs[0].ndim
    x = g.inp(r, 0)
    if len(reps) > ndim:
        x = g.unsqueeze(x, list(range(len(reps) - ndim)))
    reps = [1] * (ndim - len(reps)) + reps
    g.node("Tile", [x, g.ints(reps)], r.outputs)


def _triangle(g: Graph, r: OpRecord) -> None:
    if g.opset < 14:
        raise g.refuse("tril/triu need ONNX's Trilu (opset 14)", "export with opset_version ≥ 14")
    k = g.array(np.asarray(r.fn.diagonal, dtype=np.int64), "diagonal")
    g.node("Trilu", [g.inp(r, 0), k], r.outputs, upper=0 if r.fn.lower else 1)


def _permute(g: Graph, r: OpRecord) -> None:
    g.node("Transpose", [g.inp(r, 0)], r.outputs, perm=list(r.fn.dims))


def _concatenate(g: Graph, r: OpRecord) -> None:
    dtype = r.outputs[0]._data.dtype
    g.node("Concat", [g.input_as(r, j, dtype) for j in range(len(r.inputs))], r.outputs, axis=r.fn.dim)


def _split(g: Graph, r: OpRecord) -> None:
    if r.other is not None and list(r.other.fn.sizes) != list(r.fn.sizes):
        raise g.refuse("it splits a dynamic axis", "split another dim, or export without that dynamic axis")
    g.node("Split", [g.inp(r, 0), g.ints(r.fn.sizes)], r.outputs, axis=r.fn.dim)


def _unbind(g: Graph, r: OpRecord) -> None:
    if r.other is not None and len(r.other.outputs) != len(r.outputs):
        raise g.refuse("it unbinds a dynamic axis into a number of tensors that follows its size",
                       "unbind another dim, or export without that dynamic axis")
    pieces = g.node("Split", [g.inp(r, 0), g.ints([1] * len(r.outputs))], len(r.outputs), axis=r.fn.dim)
    pieces = pieces if isinstance(pieces, list) else [pieces]
    for piece, out in zip(pieces, r.outputs):
        g.squeeze(piece, [r.fn.dim], out)


def _pad(g: Graph, r: OpRecord) -> None:
    widths = r.fn.widths
    pads = [lo for lo, _ in widths] + [hi for _, hi in widths]
    g.node("Pad", [g.inp(r, 0), g.ints(pads), _scalar_like(g, r, r.fn.value)], r.outputs, mode="constant")


def _parts(index: Any, ndim: int) -> list[Any]:
    """The parts of an index, with ``...`` written out as the full slices it stands for."""
    parts = list(index) if isinstance(index, tuple) else [index]
    at = next((i for i, p in enumerate(parts) if not isinstance(p, np.ndarray) and p is Ellipsis), None)
    if at is not None:
        used = sum(1 for p in parts if isinstance(p, np.ndarray) or (p is not None and p is not Ellipsis))
        parts[at:at + 1] = [slice(None)] * (ndim - used)
    return parts


def _is_full(p: Any) -> bool:
    return isinstance(p, slice) and p == slice(None)


def _getitem(g: Graph, r: OpRecord) -> None:
    """x[index], part by part along the input's dims: a slice is Slice, an int or an integer array Gather, None
    Unsqueeze. NumPy moves the dims of several advanced indices (or of one with ints) to the front; that form is
    refused rather than rebuilt."""
    parts = _parts(r.fn.index, r.inputs[0].ndim)
    other = _parts(r.other.fn.index, r.other.inputs[0].ndim) if r.other is not None else None
    arrays = [p for p in parts if isinstance(p, np.ndarray) and p.ndim > 0]
    ints = [p for p in parts if isinstance(p, (int, np.integer)) or (isinstance(p, np.ndarray) and p.ndim == 0)]
    if len(arrays) > 1 or (arrays and ints):
        raise g.refuse("it indexes with several integer arrays (or arrays and ints), whose result dims NumPy "
                       "reorders", "index one dim at a time, e.g. x[idx][:, 0]")
    if any(p.dtype == bool and p.ndim > 1 for p in arrays):
        raise g.refuse("it indexes with a multi-dimensional boolean mask", "index with integer positions")
    name, axis = g.inp(r, 0), 0
    last = max((k for k, p in enumerate(parts) if not _is_full(p)), default=-1)
    for k, p in enumerate(parts):
        if _is_full(p):
            axis += 1
            continue
        out = [r.outputs[0]] if k == last else 1
        if isinstance(p, slice):
            step = 1 if p.step is None else int(p.step)
            start = (0 if step > 0 else -1) if p.start is None else int(p.start)
            stop = (INT64_MAX if step > 0 else -INT64_MAX) if p.stop is None else int(p.stop)
            name = g.node("Slice", [name, g.ints([start]), g.ints([stop]), g.ints([axis]), g.ints([step])], out)
            axis += 1
        elif p is None:
            name = g.node("Unsqueeze", [name, g.ints([axis])], out)
            axis += 1
        else:
            held = g.arrays.get(id(p)) if isinstance(p, np.ndarray) else None
            values = np.asarray(p)
            if held is None:
                values = np.nonzero(values)[0] if values.dtype == bool else values.astype(np.int64)
                theirs = None
                if other is not None and len(other) == len(parts):
                    theirs = np.asarray(other[k])
                    theirs = np.nonzero(theirs)[0] if theirs.dtype == bool else theirs.astype(np.int64)
                held = g.constant(values, theirs)
            name = g.node("Gather", [name, held], out, axis=axis)
            axis += values.ndim
    if last < 0:
        g.node("Identity", [name], r.outputs)


def _embedding(g: Graph, r: OpRecord) -> None:
    g.node("Gather", [g.inp(r, 0), g.held(r, "indices")], r.outputs, axis=0)


def _dropout(g: Graph, r: OpRecord) -> None:
    raise g.refuse("dropout ran in training mode (a random mask)", "export with training=TrainingMode.EVAL (the "
                   "default), or call model.eval() first")


EMITTERS: dict[type, Emitter] = {
    broadcast.Add: _binary("Add"),
    elementwise.Sub: _binary("Sub"),
    elementwise.Mul: _binary("Mul"),
    elementwise.Div: _binary("Div"),
    elementwise.Pow: _binary("Pow"),
    elementwise.Maximum: _binary("Max"),
    elementwise.Minimum: _binary("Min"),
    elementwise.Neg: _unary("Neg"),
    elementwise.Exp: _unary("Exp"),
    elementwise.Log: _unary("Log"),
    elementwise.Sqrt: _unary("Sqrt"),
    elementwise.Abs: _unary("Abs"),
    elementwise.Sin: _unary("Sin"),
    elementwise.Cos: _unary("Cos"),
    elementwise.PowScalar: _pow_scalar,
    elementwise.Cast: _cast,
    elementwise.Clip: _clip,
    elementwise.Where: _where,
    activation.Tanh: _unary("Tanh"),
    activation.Sigmoid: _unary("Sigmoid"),
    activation.ReLU: _unary("Relu"),
    activation.LeakyReLU: lambda g, r: g.node("LeakyRelu", [g.inp(r, 0)], r.outputs, alpha=float(r.fn.negative_slope)),
    activation.ELU: lambda g, r: g.node("Elu", [g.inp(r, 0)], r.outputs, alpha=float(r.fn.alpha)),
    activation.Softmax: lambda g, r: g.node("Softmax", [g.inp(r, 0)], r.outputs, axis=r.fn.dim),
    activation.LogSoftmax: lambda g, r: g.node("LogSoftmax", [g.inp(r, 0)], r.outputs, axis=r.fn.dim),
    activation.GELU: _gelu,
    activation.NormalCDF: _normal_cdf_op,
    activation.Softplus: _softplus,
    linalg.MatMul: _binary("MatMul"),
    linalg.Linear: _linear,
    reduce.Sum: _reduction("ReduceSum"),
    reduce.Mean: _reduction("ReduceMean"),
    reduce.Max: _reduction("ReduceMax"),
    reduce.Min: _reduction("ReduceMin"),
    reduce.LogSumExp: _reduction("ReduceLogSumExp"),
    reduce.Var: _var,
    reduce.CumSum: _cumsum,
    reduce.Median: _median,
    shape.Repeat: _repeat,
    triangular.Triangle: _triangle,
    shape.Reshape: _reshape,
    shape.Clone: _unary("Identity"),
    shape.Permute: _permute,
    broadcast.BroadcastTo: _broadcast_to,
    broadcast.SumTo: _sum_to,
    shape.Concatenate: _concatenate,
    shape.Split: _split,
    shape.Unbind: _unbind,
    shape.Pad: _pad,
    shape.GetItem: _getitem,
    sparse.Embedding: _embedding,
    dropout_ops.Dropout: _dropout,
}
