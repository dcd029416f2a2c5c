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
from chainrule.ops.linalg import matmul
from chainrule.ops.reduce import amax, amin, argmax, argmin, logsumexp, max, mean, min, sum, var
from chainrule.ops.shape import (
    broadcast_to,
    cat,
    concatenate,
    expand,
    flatten,
    getitem,
    pad,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    sum_to,
    transpose,
    unbind,
    unsqueeze,
)

__all__ = [
    "abs", "add", "amax", "amin", "argmax", "argmin", "broadcast_to", "cast", "cat", "clamp", "clip", "concatenate",
    "cos", "div", "elu", "eq", "exp", "expand", "flatten", "ge", "gelu", "getitem", "gt", "le", "leaky_relu", "log",
    "log_softmax", "logsumexp", "lt", "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "ne", "neg",
    "pad", "permute", "pow", "relu", "reshape", "sigmoid", "sin", "softmax", "softplus", "split", "sqrt", "squeeze",
    "stack", "sub", "sum", "sum_to", "tanh", "transpose", "unbind", "unsqueeze", "var", "where"
]
