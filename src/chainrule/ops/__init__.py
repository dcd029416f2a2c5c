"""Differentiable operations, one family per file. Each Function's ``backward`` docstring is its derivation."""

from chainrule.ops.activation import (
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    softplus,
    tanh,
)
from chainrule.ops.binary_math import atan2, fmod, lerp, remainder
from chainrule.ops.contractions import diag, dot, einsum, mv, outer, tensordot, trace
from chainrule.ops.elementwise import (
    abs,
    add,
    cast,
    clamp,
    clip,
    cos,
    div,
    eq,
    exp,
    ge,
    gt,
    le,
    log,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    sin,
    sqrt,
    sub,
    where,
)
from chainrule.ops.indexing import argsort, gather, index_select, masked_fill, scatter, scatter_add, sort, topk
from chainrule.ops.linalg import bmm, matmul, mm
from chainrule.ops.norms import dist, norm, std
from chainrule.ops.predicates import (
    all,
    allclose,
    any,
    count_nonzero,
    equal,
    isclose,
    isfinite,
    isinf,
    isnan,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    masked_select,
    nonzero,
)
from chainrule.ops.products import cumprod, prod
from chainrule.ops.rearrange import flip, repeat_interleave, roll, tile
from chainrule.ops.reduce import (
    amax,
    amin,
    argmax,
    argmin,
    cumsum,
    logsumexp,
    max,
    mean,
    median,
    min,
    sum,
    var,
)
from chainrule.ops.rounding import ceil, floor, nan_to_num, round, sign, trunc
from chainrule.ops.sampling import multinomial, normal
from chainrule.ops.shape import (
    broadcast_to,
    cat,
    chunk,
    concatenate,
    expand,
    flatten,
    getitem,
    narrow,
    pad,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    sum_to,
    t,
    transpose,
    unbind,
    unsqueeze,
)
from chainrule.ops.triangular import tril, triu
from chainrule.ops.unary_math import erf, exp2, expm1, log1p, log2, log10, reciprocal, rsqrt, square, tan

__all__ = [
    "tril", "triu",
    "abs", "add", "amax", "amin", "argmax", "argmin", "broadcast_to", "cast", "cat", "clamp", "clip", "concatenate",
    "cos", "div", "elu", "eq", "exp", "expand", "flatten", "ge", "gelu", "getitem", "gt", "le", "leaky_relu", "log",
    "log_softmax", "logsumexp", "lt", "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "ne", "neg",
    "pad", "permute", "pow", "relu", "reshape", "sigmoid", "sin", "softmax", "softplus", "split", "sqrt", "squeeze",
    "stack", "sub", "sum", "sum_to", "tanh", "transpose", "unbind", "unsqueeze", "var", "where",
    "argsort", "bmm", "chunk", "cumsum", "gather", "index_select", "masked_fill", "median", "mm", "narrow",
    "scatter", "scatter_add", "sort", "t", "topk",
    "all", "allclose", "any", "atan2", "ceil", "count_nonzero", "cumprod", "diag", "dist", "dot", "einsum", "equal",
    "erf", "exp2", "expm1", "flip", "floor", "fmod", "isclose", "isfinite", "isinf", "isnan", "lerp", "log10", "log1p",
    "log2", "logical_and", "logical_not", "logical_or", "logical_xor", "masked_select", "multinomial", "mv",
    "nan_to_num", "nonzero", "norm", "normal", "outer", "prod", "reciprocal", "remainder", "repeat_interleave",
    "roll", "round", "rsqrt", "sign", "square", "std", "tan", "tensordot", "tile", "trace", "trunc",
]
