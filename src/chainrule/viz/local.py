"""Local derivatives, op by op: ∂(node)/∂(input) as a formula, its value, and how it meets the upstream gradient.

The chain rule at one node reads downstream = upstream × local. For elementwise ops the local derivative is an
array (the diagonal of the Jacobian) and "×" is the elementwise product, summed back over broadcast copies;
for matmul it is the other operand transposed and "×" is a matrix product; for reductions the upstream
gradient is first spread back over the reduced dims. Each rule below gives

- ``formula``: the derivative in the names of the graph (``z``, ``1 - f²``, ``[a > b]``);
- ``value``: its value, or None where the Jacobian is not worth printing (softmax, convolution);
- ``apply``: upstream → downstream computed from that rule with NumPy alone. The explainer never uses it to
  produce gradients (those come from each op's own ``backward``); the tests use it to check that the formulas
  printed here agree with the backward rules.

Ops without a rule here still appear in every table and picture, with their upstream and downstream gradients
and a "—" for the local derivative.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule.autograd.broadcast import Add, BroadcastTo, SumTo
from chainrule.ops import activation as act
from chainrule.ops import conv, dropout, linalg, loss, pool, reduce, shape
from chainrule.ops import elementwise as ew
from chainrule.viz.values import fmt_number, wrap

DISTRIBUTES, SWAPS, ROUTES, MOVES = "distributes", "swaps", "routes", "moves"


@dataclass(frozen=True)
class Local:
    """∂(node)/∂(one input): a formula, its value (or None) and the rule that turns upstream into downstream.

    ``product`` is None when downstream = upstream ⊙ local (elementwise, summed over broadcast copies, or
    spread over reduced dims first); otherwise it says how the upstream G meets the local derivative, e.g.
    ``Wᵀ·G`` for matmul.
    """

    formula: str
    value: np.ndarray | None = None
    apply: Callable[[np.ndarray], np.ndarray] | None = None
    product: str | None = None


@dataclass
class Context:
    """What a rule may look at: the Function, its input and output arrays, and their display names."""

    fn: Any
    xs: list[np.ndarray]
    ys: list[np.ndarray | None]
    in_names: list[str]
    out_names: list[str]

    @property
    def y(self) -> np.ndarray | None:
        return self.ys[0]

    def x(self, i: int = 0) -> str:
        """Input i's name, bracketed if it is an expression."""
        return wrap(self.in_names[i])

    @property
    def y_name(self) -> str:
        return wrap(self.out_names[0])


Rule = Callable[[Context], Sequence[Local]]


@dataclass(frozen=True)
class OpInfo:
    name: str  # the op as learners write it: add, mul, exp, matmul
    pattern: str  # distributes / swaps / routes / moves, or "" when none applies
    rule: Rule | None


# ----- NumPy helpers: the chain rule's bookkeeping, written once -------------------------------------------


def sum_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``g`` over the dims that broadcasting added or stretched so that it has ``shape``."""
    g = np.asarray(g)
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def elementwise(formula: str, value: Any, x_shape: tuple[int, ...]) -> Local:
    """A diagonal Jacobian: downstream = upstream ⊙ local, summed back to the input's shape."""
    value = np.asarray(value, dtype=np.float64)
    return Local(formula, value, lambda g: sum_to(np.asarray(g) * value, x_shape))


def _kept(g: np.ndarray, x_shape: tuple[int, ...], dims: tuple[int, ...], keepdim: bool) -> np.ndarray:
    """Upstream of a reduction put back in the input's rank, with size 1 at each reduced dim."""
    if keepdim:
        return np.asarray(g)
    return np.asarray(g).reshape(tuple(1 if i in dims else n for i, n in enumerate(x_shape)))


def _reduction(formula: str, value: Any, c: Context) -> Local:
    fn, x_shape = c.fn, c.xs[0].shape
    value = np.broadcast_to(np.asarray(value, dtype=np.float64), x_shape)
    return Local(formula, value, lambda g: _kept(g, x_shape, fn.dims, fn.keepdim) * value)


def _num(c: float) -> str:
    return fmt_number(c)


# ----- the rules --------------------------------------------------------------------------------------------


def _add(c: Context) -> list[Local]:
    return [elementwise("1", 1.0, x.shape) for x in c.xs]


def _sub(c: Context) -> list[Local]:
    return [elementwise("1", 1.0, c.xs[0].shape), elementwise("-1", -1.0, c.xs[1].shape)]


def _mul(c: Context) -> list[Local]:
    a, b = c.xs
    return [elementwise(c.x(1), b, a.shape), elementwise(c.x(0), a, b.shape)]


def _div(c: Context) -> list[Local]:
    a, b = c.xs
    with np.errstate(all="ignore"):
        return [
            elementwise(f"1/{c.x(1)}", 1 / b, a.shape),
            elementwise(f"-{c.x(0)}/{c.x(1)}²", -a / (b * b), b.shape),
        ]


def _neg(c: Context) -> list[Local]:
    return [elementwise("-1", -1.0, c.xs[0].shape)]


def _pow_scalar(c: Context) -> list[Local]:
    x, k = c.xs[0], c.fn.exponent
    if k == 0:
        return [elementwise("0", 0.0, x.shape)]
    if k == 1:
        return [elementwise("1", 1.0, x.shape)]
    power = c.x() if k == 2 else f"{c.x()}^{_num(k - 1)}"
    with np.errstate(all="ignore"):
        return [elementwise(f"{_num(k)}·{power}", k * x ** (k - 1), x.shape)]


def _pow(c: Context) -> list[Local]:
    a, b = c.xs
    y = c.y if c.y is not None else a**b
    with np.errstate(all="ignore"):
        ga = np.where(b == 0, 0.0, b * a ** (b - 1))
        limit = (a == 0) & (b >= 0)
        gb = np.where(limit, 0.0, y * np.log(np.where(limit, 1.0, a)))
    return [
        elementwise(f"{c.x(1)}·{c.x(0)}^({c.x(1)} - 1)", ga, a.shape),
        elementwise(f"{c.y_name}·ln {c.x(0)}", gb, b.shape),
    ]


def _identity(c: Context) -> list[Local]:
    return [elementwise("1", 1.0, c.xs[0].shape)]


def _unary(formula: Callable[[Context], str], value: Callable[[np.ndarray, np.ndarray | None], Any]) -> Rule:
    def rule(c: Context) -> list[Local]:
        with np.errstate(all="ignore"):
            return [elementwise(formula(c), value(c.xs[0], c.y), c.xs[0].shape)]

    return rule


def _maximum(larger: bool) -> Rule:
    def rule(c: Context) -> list[Local]:
        a, b = c.xs
        wins = a > b if larger else a < b
        weight = wins + 0.5 * (a == b)  # ties split the gradient, as the backward rule does
        sign = ">" if larger else "<"
        return [
            elementwise(f"[{c.x(0)} {sign} {c.x(1)}]", weight, a.shape),
            elementwise(f"[{c.x(1)} {sign} {c.x(0)}]", 1 - weight, b.shape),
        ]

    return rule


def _clip(c: Context) -> list[Local]:
    x, fn = c.xs[0], c.fn
    inside = np.ones(x.shape, dtype=bool)
    lo = "" if fn.low is None else f"{_num(fn.low)} ≤ "
    hi = "" if fn.high is None else f" ≤ {_num(fn.high)}"
    if fn.low is not None:
        inside &= x >= fn.low
    if fn.high is not None:
        inside &= x <= fn.high
    return [elementwise(f"[{lo}{c.x()}{hi}]", inside, x.shape)]


def _where(c: Context) -> list[Local]:
    cond = np.asarray(c.fn.condition, dtype=np.float64)
    return [elementwise("[condition]", cond, c.xs[0].shape), elementwise("[not condition]", 1 - cond, c.xs[1].shape)]


def _sum(c: Context) -> list[Local]:
    return [_reduction("1", 1.0, c)]


def _mean(c: Context) -> list[Local]:
    x = c.xs[0]
    n = int(np.prod([x.shape[d] for d in c.fn.dims])) if x.ndim else 1
    return [_reduction(f"1/{n}", 1.0 / n, c)]


def _extremum(c: Context) -> list[Local]:
    fn, x = c.fn, c.xs[0]
    y = _kept(c.y, x.shape, fn.dims, fn.keepdim)
    hits = x == y
    share = hits / hits.sum(axis=fn.dims, keepdims=True)
    which = "max" if isinstance(fn, reduce.Max) else "min"
    return [_reduction(f"[{c.x()} = {which}] (shared at ties)", share, c)]


def _var(c: Context) -> list[Local]:
    fn, x = c.fn, c.xs[0]
    n = int(np.prod([x.shape[d] for d in fn.dims])) if x.ndim else 1
    dof = n - fn.correction
    with np.errstate(all="ignore"):
        value = 2 * (x - x.mean(axis=fn.dims, keepdims=True)) / dof
    return [_reduction(f"2({c.x()} - mean)/{dof}", value, c)]


def _logsumexp(c: Context) -> list[Local]:
    fn, x = c.fn, c.xs[0]
    with np.errstate(all="ignore"):
        value = np.exp(x - _kept(c.y, x.shape, fn.dims, fn.keepdim))
    return [_reduction(f"softmax({c.x()})", value, c)]


def _broadcast_to(c: Context) -> list[Local]:
    return [elementwise("1 per copy", 1.0, c.xs[0].shape)]


def _sum_to(c: Context) -> list[Local]:
    x_shape = c.xs[0].shape
    return [Local("1", None, lambda g: np.broadcast_to(g, x_shape).copy(), "G copied to every summed place")]


def _reshape(c: Context) -> list[Local]:
    x_shape = c.xs[0].shape
    return [Local("", None, lambda g: np.asarray(g).reshape(x_shape), "G reshaped back")]


def _permute(c: Context) -> list[Local]:
    inverse = tuple(np.argsort(c.fn.dims))
    return [Local("", None, lambda g: np.asarray(g).transpose(inverse), "G with the axes permuted back")]


def _getitem(c: Context) -> list[Local]:
    x_shape, index = c.xs[0].shape, c.fn.index

    def apply(g: np.ndarray) -> np.ndarray:
        out = np.zeros(x_shape)
        np.add.at(out, index, g)
        return out

    return [Local("1 at the picked places", None, apply, "G scattered back, added where indices repeat")]


def _matmul(c: Context) -> list[Local]:
    a, b = c.xs
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b

    def promoted(g: np.ndarray) -> np.ndarray:
        g = np.asarray(g)
        if b.ndim == 1:
            g = g[..., None]
        if a.ndim == 1:
            g = g[..., None, :]
        return g

    def ga(g: np.ndarray) -> np.ndarray:
        out = promoted(g) @ np.swapaxes(b2, -1, -2)
        return sum_to(out[..., 0, :] if a.ndim == 1 else out, a.shape)

    def gb(g: np.ndarray) -> np.ndarray:
        out = np.swapaxes(a2, -1, -2) @ promoted(g)
        return sum_to(out[..., 0] if b.ndim == 1 else out, b.shape)

    if a.ndim == 1 and b.ndim == 1:  # a dot product: each side gets G times the other vector
        return [elementwise(c.x(1), b, a.shape), elementwise(c.x(0), a, b.shape)]
    # ∂(AB)/∂A brings in B and ∂(AB)/∂B brings in A; in the product they meet G transposed
    return [Local(c.x(1), b, ga, f"G·{c.x(1)}ᵀ"), Local(c.x(0), a, gb, f"{c.x(0)}ᵀ·G")]


def _linear(c: Context) -> list[Local]:
    x, w = c.xs[0], c.xs[1]

    def gx(g: np.ndarray) -> np.ndarray:
        return np.asarray(g) @ w

    def gw(g: np.ndarray) -> np.ndarray:
        g = np.asarray(g)
        return g.reshape(-1, g.shape[-1]).T @ x.reshape(-1, x.shape[-1])

    rules = [Local(c.x(1), w, gx, f"G·{c.x(1)}"), Local(c.x(0), x, gw, f"Gᵀ·{c.x(0)}")]
    if len(c.xs) == 3:
        rules.append(Local("1", None, lambda g: np.asarray(g).reshape(-1, np.shape(g)[-1]).sum(0), "Σ_rows G"))
    return rules


def _softmax(c: Context) -> list[Local]:
    y, dim = c.y, c.fn.dim
    n = c.y_name
    return [
        Local(
            f"diag({n}) - {n}·{n}ᵀ", None, lambda g: y * (g - np.sum(g * y, axis=dim, keepdims=True)),
            f"{n} ⊙ (G - Σ G ⊙ {n})",
        )
    ]


def _log_softmax(c: Context) -> list[Local]:
    y, dim = c.y, c.fn.dim
    return [
        Local("I - softmax", None, lambda g: g - np.exp(y) * np.sum(g, axis=dim, keepdims=True), "G - softmax·Σ G")
    ]


def _leaky_relu(c: Context) -> list[Local]:
    s = c.fn.negative_slope
    return [elementwise(f"1 if {c.x()} > 0 else {_num(s)}", np.where(c.xs[0] > 0, 1.0, s), c.xs[0].shape)]


def _elu(c: Context) -> list[Local]:
    a = c.fn.alpha
    value = np.where(c.xs[0] > 0, 1.0, c.y + a)
    return [elementwise(f"1 if {c.x()} > 0 else {c.y_name} + {_num(a)}", value, c.xs[0].shape)]


def _conv2d(c: Context) -> list[Local]:
    rules = [
        Local(c.x(1), None, None, "full convolution of the stride-dilated G with the rotated kernel"),
        Local(c.x(0), None, None, f"correlation of {c.x(0)} with G"),
    ]
    if len(c.xs) == 3:
        rules.append(Local("1", None, None, "Σ G over batch and positions"))
    return rules


def _described(formula: str, product: str) -> Rule:
    """An op whose Jacobian is not worth printing: the local derivative in words and how G meets it."""
    return lambda c: [Local(formula, None, None, product)] + [Local("—") for _ in c.xs[1:]]


def _dropout(c: Context) -> list[Local]:
    mask = np.asarray(c.fn.scaled_mask, dtype=np.float64)
    return [elementwise("[kept]/(1 - p)", mask, c.xs[0].shape)]


def _cross_entropy(c: Context) -> list[Local]:
    fn = c.fn
    scale = " / N" if getattr(fn, "reduction", "") == "mean" else ""
    plain = getattr(fn, "weight", None) is None and not getattr(fn, "smoothing", 0)
    formula = "softmax(z) - onehot(y)" if plain else "softmax(z) - smoothed, weighted onehot(y)"
    return [Local(formula, None, None, f"G·({formula}){scale}")] + [Local("—") for _ in c.xs[1:]]


RULES: dict[type, OpInfo] = {
    Add: OpInfo("add", DISTRIBUTES, _add),
    ew.Sub: OpInfo("sub", DISTRIBUTES, _sub),
    ew.Mul: OpInfo("mul", SWAPS, _mul),
    ew.Div: OpInfo("div", "", _div),
    ew.Neg: OpInfo("neg", "", _neg),
    ew.PowScalar: OpInfo("pow", "", _pow_scalar),
    ew.Pow: OpInfo("pow", "", _pow),
    ew.Cast: OpInfo("cast", "", _identity),
    ew.Exp: OpInfo("exp", "", _unary(lambda c: f"exp({c.in_names[0]})", lambda x, y: y)),
    ew.Log: OpInfo("log", "", _unary(lambda c: f"1/{c.x()}", lambda x, y: 1 / x)),
    ew.Sqrt: OpInfo("sqrt", "", _unary(lambda c: f"1/(2·{c.y_name})", lambda x, y: 1 / (2 * y))),
    ew.Abs: OpInfo("abs", "", _unary(lambda c: f"sign({c.in_names[0]})", lambda x, y: np.sign(x))),
    ew.Sin: OpInfo("sin", "", _unary(lambda c: f"cos({c.in_names[0]})", lambda x, y: np.cos(x))),
    ew.Cos: OpInfo("cos", "", _unary(lambda c: f"-sin({c.in_names[0]})", lambda x, y: -np.sin(x))),
    ew.Maximum: OpInfo("max", ROUTES, _maximum(larger=True)),
    ew.Minimum: OpInfo("min", ROUTES, _maximum(larger=False)),
    ew.Clip: OpInfo("clip", ROUTES, _clip),
    ew.Where: OpInfo("where", ROUTES, _where),
    act.Tanh: OpInfo("tanh", "", _unary(lambda c: f"1 - {c.y_name}²", lambda x, y: 1 - y * y)),
    act.Sigmoid: OpInfo("sigmoid", "", _unary(lambda c: f"{c.y_name}·(1 - {c.y_name})", lambda x, y: y * (1 - y))),
    act.ReLU: OpInfo("relu", ROUTES, _unary(lambda c: f"[{c.x()} > 0]", lambda x, y: (x > 0).astype(np.float64))),
    act.LeakyReLU: OpInfo("leaky_relu", "", _leaky_relu),
    act.ELU: OpInfo("elu", "", _elu),
    act.Softmax: OpInfo("softmax", "", _softmax),
    act.LogSoftmax: OpInfo("log_softmax", "", _log_softmax),
    reduce.Sum: OpInfo("sum", DISTRIBUTES, _sum),
    reduce.Mean: OpInfo("mean", DISTRIBUTES, _mean),
    reduce.Max: OpInfo("max", ROUTES, _extremum),
    reduce.Min: OpInfo("min", ROUTES, _extremum),
    reduce.Var: OpInfo("var", "", _var),
    reduce.LogSumExp: OpInfo("logsumexp", "", _logsumexp),
    BroadcastTo: OpInfo("broadcast_to", DISTRIBUTES, _broadcast_to),
    SumTo: OpInfo("sum_to", DISTRIBUTES, _sum_to),
    shape.Reshape: OpInfo("reshape", MOVES, _reshape),
    shape.Permute: OpInfo("permute", MOVES, _permute),
    shape.GetItem: OpInfo("getitem", MOVES, _getitem),
    linalg.MatMul: OpInfo("matmul", SWAPS, _matmul),
    linalg.Linear: OpInfo("linear", SWAPS, _linear),
    conv.Conv2d: OpInfo("conv2d", "", _conv2d),
    pool.MaxPool2d: OpInfo("max_pool2d", ROUTES, _described("[x = window max]", "G sent to the max of its window")),
    pool.AvgPool2d: OpInfo(
        "avg_pool2d", DISTRIBUTES, _described("1/|window|", "G/|window| to every element of its window")
    ),
    dropout.Dropout: OpInfo("dropout", ROUTES, _dropout),
    loss.CrossEntropyIndex: OpInfo("cross_entropy", "", lambda c: _cross_entropy(c)),
}


def op_info(fn: Any) -> OpInfo:
    """The name, pattern and local-derivative rule of a Function (a generic entry for unknown ops)."""
    for cls in type(fn).__mro__:
        info = RULES.get(cls)
        if info is not None:
            return info
    return OpInfo(_snake(type(fn).__name__), "", None)


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def local_derivatives(fn: Any, context: Context) -> list[Local]:
    """One ``Local`` per input of ``fn``: from the rule table, or a bare "—" when the op has no rule."""
    rule = op_info(fn).rule
    if rule is not None:
        try:
            locals_ = list(rule(context))
        except Exception:  # noqa: BLE001 - a display aid must never break the walk; fall back to no formula
            locals_ = []
        if len(locals_) == len(context.xs):
            return locals_
    return [Local("—") for _ in context.xs]
