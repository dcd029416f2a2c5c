"""ONNX forms of the math ops beyond arithmetic: rounding, the unary functions, modulo, lerp, atan2, products
and norms of a dim, flips, rolls, diagonals and einsum.

ONNX's own op is used where it has one (``Floor``, ``Erf``, ``ReduceProd``, ``ReduceL2``, ``Einsum``, ``Mod`` with
``fmod=1``); the rest are written as the formulas that define them (log2 x = ln x / ln 2, rsqrt x = 1/√x, a
flip as a Slice with step −1, a roll as two Slices concatenated). Values follow the dims' sizes at export,
so ops whose form depends on a size (flip, roll, diag) refuse a dynamic axis on the dims they touch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from chainrule.onnx.graph import Graph
from chainrule.onnx.trace import OpRecord
from chainrule.ops import binary_math, contractions, norms, products, rearrange, rounding, unary_math

__all__ = ["EMITTERS", "NOT_EXPORTED"]

Emitter = Callable[[Graph, OpRecord], None]
INT64_MAX = np.iinfo(np.int64).max


def _scalar(g: Graph, r: OpRecord, value: float, j: int = 0) -> str:
    return g.scalar(value, r.inputs[j]._data.dtype)


def _unary(op_type: str) -> Emitter:
    def emit(g: Graph, r: OpRecord) -> None:
        g.node(op_type, [g.inp(r, 0)], r.outputs)
    return emit


def _static_dims(g: Graph, r: OpRecord, dims: list[int], what: str) -> None:
    """Refuse when a dim the op's form depends on changes size with the dynamic axes."""
    if r.other is None:
        return
    mine, theirs = r.inputs[0].shape, r.other.inputs[0].shape
    if any(mine[d] != theirs[d] for d in dims):
        raise g.refuse(f"its {what} depends on the size of a dynamic axis", "export without that dynamic axis")


# ----- rounding and the unary functions ---------------------------------------------------------------------


def _round(g: Graph, r: OpRecord) -> None:
    """ONNX's Round rounds halves to even, as NumPy and PyTorch do; decimals d: round(x·10ᵈ)/10ᵈ."""
    x = g.inp(r, 0)
    if r.inputs[0]._data.dtype.kind != "f":
        g.node("Identity", [x], r.outputs)
    elif r.fn.decimals == 0:
        g.node("Round", [x], r.outputs)
    else:
        scale = _scalar(g, r, 10.0 ** r.fn.decimals)
        g.node("Div", [g.node("Round", [g.node("Mul", [x, scale])]), scale], r.outputs)


def _trunc(g: Graph, r: OpRecord) -> None:
    """trunc x = sign(x)·⌊|x|⌋."""
    x = g.inp(r, 0)
    g.node("Mul", [g.node("Sign", [x]), g.node("Floor", [g.node("Abs", [x])])], r.outputs)


def _nan_to_num(g: Graph, r: OpRecord) -> None:
    info = np.finfo(r.inputs[0]._data.dtype)
    x, fn = g.inp(r, 0), r.fn
    posinf = info.max if fn.posinf is None else fn.posinf
    neginf = info.min if fn.neginf is None else fn.neginf
    y = g.node("Where", [g.node("IsNaN", [x]), _scalar(g, r, fn.nan), x])
    y = g.node("Where", [g.node("IsInf", [x], detect_negative=0), _scalar(g, r, posinf), y])
    g.node("Where", [g.node("IsInf", [x], detect_positive=0), _scalar(g, r, neginf), y], r.outputs)


def _log_base(base: float) -> Emitter:
    def emit(g: Graph, r: OpRecord) -> None:
        g.node("Div", [g.node("Log", [g.inp(r, 0)]), _scalar(g, r, math.log(base))], r.outputs)
    return emit


def _log1p(g: Graph, r: OpRecord) -> None:
    g.node("Log", [g.node("Add", [g.inp(r, 0), _scalar(g, r, 1.0)])], r.outputs)


def _expm1(g: Graph, r: OpRecord) -> None:
    g.node("Sub", [g.node("Exp", [g.inp(r, 0)]), _scalar(g, r, 1.0)], r.outputs)


def _exp2(g: Graph, r: OpRecord) -> None:
    g.node("Pow", [_scalar(g, r, 2.0), g.inp(r, 0)], r.outputs)


def _rsqrt(g: Graph, r: OpRecord) -> None:
    g.node("Reciprocal", [g.node("Sqrt", [g.inp(r, 0)])], r.outputs)


# ----- two and three operands -------------------------------------------------------------------------------


def _operands(g: Graph, r: OpRecord) -> list[str]:
    dtype = r.outputs[0]._data.dtype
    return [g.input_as(r, j, dtype) for j in range(len(r.inputs))]


def _fmod(g: Graph, r: OpRecord) -> None:
    g.node("Mod", _operands(g, r), r.outputs, fmod=1)  # fmod=1: the sign of a, and the only form for floats


def _remainder(g: Graph, r: OpRecord) -> None:
    """a − b·⌊a/b⌋ (the sign of b)."""
    a, b = _operands(g, r)
    g.node("Sub", [a, g.node("Mul", [b, g.node("Floor", [g.node("Div", [a, b])])])], r.outputs)


def _lerp(g: Graph, r: OpRecord) -> None:
    """start + weight·(end − start)."""
    s, e, w = _operands(g, r)
    g.node("Add", [s, g.node("Mul", [w, g.node("Sub", [e, s])])], r.outputs)


def _atan2(g: Graph, r: OpRecord) -> None:
    """atan(a/b), moved by ±π where b < 0 (to the side of a's sign, +π for a = 0), and 0 at a = b = 0."""
    a, b = _operands(g, r)
    dtype = r.outputs[0]._data.dtype
    zero, pi = g.scalar(0.0, dtype), g.scalar(math.pi, dtype)
    base = g.node("Atan", [g.node("Div", [a, b])])
    turn = g.node("Where", [g.node("Less", [a, zero]), g.node("Neg", [pi]), pi])
    shifted = g.node("Where", [g.node("Less", [b, zero]), g.node("Add", [base, turn]), base])
    origin = g.node("And", [g.node("Equal", [a, zero]), g.node("Equal", [b, zero])])
    g.node("Where", [origin, zero, shifted], r.outputs)


# ----- products, norms and the standard deviation over dims -------------------------------------------------


def _prod(g: Graph, r: OpRecord) -> None:
    """The product over the last dim (``prod`` moves the reduced dim there)."""
    g.reduce("ReduceProd", g.inp(r, 0), [r.inputs[0].ndim - 1], False, r.outputs[0])


def _norm(g: Graph, r: OpRecord) -> None:
    x, dims, keep, p, out = g.inp(r, 0), list(r.fn.dims), r.fn.keepdim, r.fn.p, r.outputs[0]
    if p == 2:
        g.reduce("ReduceL2", x, dims, keep, out)
    elif p == 1:
        g.reduce("ReduceL1", x, dims, keep, out)
    elif math.isinf(p):
        g.reduce("ReduceMax" if p > 0 else "ReduceMin", g.node("Abs", [x]), dims, keep, out)
    elif p == 0:
        nonzero = g.cast(g.node("Not", [g.node("Equal", [x, _scalar(g, r, 0.0)])]), r.inputs[0]._data.dtype)
        g.reduce("ReduceSum", nonzero, dims, keep, out)
    else:  # (Σ |x|ᵖ)^(1/p)
        total = g.reduce("ReduceSum", g.node("Pow", [g.node("Abs", [x]), _scalar(g, r, p)]), dims, keep)
        g.node("Pow", [total, _scalar(g, r, 1.0 / p)], [out])


def _std(g: Graph, r: OpRecord) -> None:
    """√(Σ_D (x − mean_D x)² / (n − correction))."""
    x, dims = g.inp(r, 0), list(r.fn.dims)
    _static_dims(g, r, dims, "count of elements")
    n = math.prod(r.inputs[0].shape[d] for d in dims)
    centered = g.node("Sub", [x, g.reduce("ReduceMean", x, dims, True)])
    total = g.reduce("ReduceSum", g.node("Mul", [centered, centered]), dims, r.fn.keepdim)
    dof = n - r.fn.correction
    g.node("Sqrt", [g.node("Div", [total, _scalar(g, r, dof if dof > 0 else math.nan)])], r.outputs)


# ----- rearrangements and contractions ----------------------------------------------------------------------


def _flip(g: Graph, r: OpRecord) -> None:
    """A Slice from the end to the start with step −1 on each flipped dim."""
    dims = [d % r.inputs[0].ndim for d in r.fn.dims]
    n = len(dims)
    g.node("Slice", [g.inp(r, 0), g.ints([-1] * n), g.ints([-INT64_MAX] * n), g.ints(dims), g.ints([-1] * n)],
           r.outputs)


def _slice(g: Graph, x: str, dim: int, start: int, end: int) -> str:
    return g.node("Slice", [x, g.ints([start]), g.ints([end]), g.ints([dim])])


def _roll(g: Graph, r: OpRecord) -> None:
    """Along each dim, the last s elements followed by the first n − s (s = shift mod n)."""
    shape = r.inputs[0].shape
    x = g.inp(r, 0)
    if r.fn.dims is None:  # the flattened tensor rolled, in the input's shape
        _static_dims(g, r, list(range(len(shape))), "flattened length")
        x = g.node("Reshape", [x, g.ints([-1])])
        pairs, sizes = [(r.fn.shifts[0], 0)], [int(np.prod(shape))]
    else:
        dims = [d % len(shape) for d in r.fn.dims]
        _static_dims(g, r, dims, "shift")
        pairs, sizes = list(zip(r.fn.shifts, dims)), [shape[d] for d in dims]
    for (shift, dim), n in zip(pairs, sizes):
        s = shift % n if n else 0
        if s:
            x = g.node("Concat", [_slice(g, x, dim, n - s, n), _slice(g, x, dim, 0, n - s)], axis=dim)
    if r.fn.dims is None:
        x = g.node("Reshape", [x, g.ints(list(shape))])
    g.node("Identity", [x], r.outputs)


def _diag(g: Graph, r: OpRecord) -> None:
    """A matrix's k-th diagonal: a Gather of its flattened elements; a vector's matrix: the vector times a 0/1
    placement matrix (m, n·n), reshaped."""
    x, shape, k = g.inp(r, 0), r.inputs[0].shape, r.fn.k
    _static_dims(g, r, list(range(len(shape))), "diagonal")
    if len(shape) == 2:
        rows, cols = shape
        length = max(0, min(rows - max(-k, 0), cols - max(k, 0)))
        i = np.arange(length, dtype=np.int64)
        flat_index = (i + max(-k, 0)) * cols + i + max(k, 0)
        flat = g.node("Reshape", [x, g.ints([-1])])
        g.node("Gather", [flat, g.array(flat_index, "diagonal")], r.outputs, axis=0)
        return
    m = shape[0]
    n = r.outputs[0].shape[0]
    place = np.zeros((m, n * n), dtype=r.inputs[0]._data.dtype)
    i = np.arange(m)
    place[i, (i + max(-k, 0)) * n + i + max(k, 0)] = 1
    g.node("Reshape", [g.node("MatMul", [x, g.array(place, "placement")]), g.ints([n, n])], r.outputs)


def _einsum(g: Graph, r: OpRecord) -> None:
    equation = ",".join(r.fn.subscripts) + "->" + r.fn.out
    g.node("Einsum", [g.inp(r, j) for j in range(len(r.inputs))], r.outputs, equation=equation)


EMITTERS: dict[type, Emitter] = {
    rounding.Floor: _unary("Floor"),
    rounding.Ceil: _unary("Ceil"),
    rounding.Sign: _unary("Sign"),
    rounding.Round: _round,
    rounding.Trunc: _trunc,
    rounding.NanToNum: _nan_to_num,
    unary_math.Erf: _unary("Erf"),
    unary_math.Tan: _unary("Tan"),
    unary_math.Reciprocal: _unary("Reciprocal"),
    unary_math.Rsqrt: _rsqrt,
    unary_math.Log1p: _log1p,
    unary_math.Expm1: _expm1,
    unary_math.Log2: _log_base(2.0),
    unary_math.Log10: _log_base(10.0),
    unary_math.Exp2: _exp2,
    binary_math.Fmod: _fmod,
    binary_math.Remainder: _remainder,
    binary_math.Lerp: _lerp,
    binary_math.Atan2: _atan2,
    products.Prod: _prod,
    norms.Norm: _norm,
    norms.Std: _std,
    rearrange.Flip: _flip,
    rearrange.Roll: _roll,
    contractions.Diag: _diag,
    contractions.Einsum: _einsum,
}

NOT_EXPORTED: dict[type, str] = {
    products.Cumprod: "a running product: ONNX has CumSum but no cumulative product (and exp∘CumSum∘log fails on "
                      "zeros and negative numbers); compute it outside the graph",
}
