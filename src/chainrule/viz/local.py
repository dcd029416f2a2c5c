"""Local derivatives, op by op: ∂(node)/∂(input) as a formula, its value, and how it meets the upstream gradient.

The chain rule at one node reads downstream = upstream × local. For elementwise ops the local derivative is an
array (the diagonal of the Jacobian) and "×" is the elementwise product, summed back over broadcast copies;
for matmul it is the other operand transposed and "×" is a matrix product; for reductions the upstream
gradient is first spread back over the reduced dims. Each rule below gives

- ``formula``: the derivative in the names of the graph (``z``, ``1 - f²``, ``[a > b]``);
- ``value``: its value, or None where the Jacobian is not worth printing (softmax, convolution); for an op with
  several outputs (an LSTM cell: h', c') a tuple, one Jacobian per output;
- ``apply``: upstream → downstream (a tuple of upstreams for several outputs) computed from that rule with
  NumPy alone. The explainer never uses it to produce gradients (those come from each op's own ``backward``);
  the tests use it to check that the formulas printed here agree with the backward rules.

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
from chainrule.ops import (
    activation_extra,
    conv,
    distance,
    dropout,
    indexing,
    linalg,
    loss,
    normalization,
    pool,
    recurrent,
    reduce,
    shape,
    transfer,
    triangular,
)
from chainrule.ops import elementwise as ew
from chainrule.viz.local_recurrent import CellStep, SequenceSteps
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


def _lp_pool(c: Context) -> list[Local]:
    """y = (c·Σ_P x^p)^(1/p): ∂y/∂x_k = c·x_k^(p−1)/y^(p−1), c = 1 (power sum), 1/|P| (power mean)."""
    fn, x, y = c.fn, np.asarray(c.xs[0], dtype=np.float64), np.asarray(c.y, dtype=np.float64)
    p, windows, scale = fn.p, fn.windows, np.asarray(fn.scale, dtype=np.float64)
    nonzero = y != 0  # an all-zero window sends no gradient (PyTorch's convention)
    with np.errstate(all="ignore"):
        factor = np.where(nonzero, scale * np.where(nonzero, y, 1.0) ** (1 - p), 0.0)
        power = x ** (p - 1) if p != 1 else np.ones_like(x)

    def apply(g: np.ndarray) -> np.ndarray:
        return power * windows.window_spread(np.asarray(g, dtype=np.float64) * factor)

    k = _num(p - 1)
    xn, yn = c.x(), c.y_name
    ratio = "1" if p == 1 else f"{xn}/{yn}" if p == 2 else f"{xn}^{k}/{yn}^{k}"
    if getattr(fn, "mean", False):
        size = f"{_num(round(1 / float(scale)))}" if scale.ndim == 0 else "|P|"
        formula = f"1/{size}" if p == 1 else f"{xn}/({size}·{yn})" if p == 2 else f"{xn}^{k}/({size}·{yn}^{k})"
    else:
        formula = ratio if scale.ndim == 0 else f"c·{ratio} (c = kh·kw/|P| for windows cut at the border)"
    disjoint = all(s >= kk for s, kk in zip(windows.stride, windows.kernel))  # one window per element at most
    value = apply(np.ones(y.shape)) if disjoint else None
    return [Local(formula, value, apply, None if disjoint else f"Σ over the windows of each element of G·({formula})")]


MAX_JACOBIAN = 4096  # elements of a Jacobian shown as a value; a larger one shows its formula only


def _shown(*arrays: np.ndarray) -> Any:
    """The Jacobian(s) as a value if they are small enough to show, else None (one array, or a tuple per output)."""
    if sum(a.size for a in arrays) > MAX_JACOBIAN:
        return None
    return arrays[0] if len(arrays) == 1 else tuple(arrays)


def _recurrent_arrays(c: Context, kind: str) -> tuple[np.ndarray, ...]:
    """(xw, h, c or None, W_hh, b_hh or None) in float64: the inputs of a cell or a time loop."""
    xs = [np.asarray(x, dtype=np.float64) for x in c.xs]
    w_at = 3 if kind == "lstm" else 2
    state = xs[2] if kind == "lstm" else None
    return xs[0], xs[1], state, xs[w_at], (xs[w_at + 1] if len(xs) > w_at + 1 else None)


def _upstreams(g: Any) -> list[np.ndarray]:
    return [np.asarray(x, dtype=np.float64) for x in (g if isinstance(g, tuple) else (g,))]


def _cell_formulas(kind: str, c: Context, relu: bool) -> dict[str, tuple[str, str | None]]:
    """Per input key, (formula of the local derivative, how G meets it); None: downstream = G ⊙ local.

    The Elman cell's are written in the graph's names; the LSTM's and GRU's in the letters of docs/rnn.md (xw, h,
    c, W_hh; gates i, f, g, o and r, z, n; h', c' the new state), which their gate formulas need anyway.
    """
    if kind == "rnn":
        h, w = c.x(1), c.x(2)
        act = f"[{c.y_name} > 0]" if relu else f"1 - {c.y_name}²"
        factor = act if relu else f"({act})"
        return {"xw": (act, None), "h": (f"{factor}·{w}", f"(G ⊙ {factor})·{w}"),
                "w": (f"{factor}·{h}ᵀ", f"(G ⊙ {factor})ᵀ·{h}"), "b": (act, None)}
    if kind == "lstm":
        return {
            "xw": ("∂c'/∂xw = [g·σ'(i) | c·σ'(f) | i·tanh'(g) | 0], ∂h'/∂xw = o·tanh'(c')·∂c'/∂xw + "
                   "[0 | 0 | 0 | tanh(c')·σ'(o)]", "da = G_h'·∂h'/∂xw + G_c'·∂c'/∂xw"),
            "h": ("∂(h', c')/∂xw·W_hh", "da·W_hh"),
            "c": ("∂c'/∂c = f, ∂h'/∂c = o·tanh'(c')·f", "(G_h'·o·tanh'(c') + G_c')·f"),
            "w": ("∂(h', c')/∂xw ⊗ hᵀ", "daᵀ·h"), "b": ("∂(h', c')/∂xw", "Σ_rows da"),
        }
    gates = "(1 - z)·tanh'(n)·h_n·σ'(r) | (h - n)·σ'(z) | (1 - z)·tanh'(n)"
    return {
        "xw": (f"[{gates}]", f"G ⊙ [{gates}]"),
        "h": (f"z + [{gates}·r]·W_hh", f"G ⊙ z + (G ⊙ [{gates}·r])·W_hh"),
        "w": (f"[{gates}·r] ⊗ hᵀ", f"(G ⊙ [{gates}·r])ᵀ·h"), "b": (f"[{gates}·r]", f"Σ_rows G ⊙ [{gates}·r]"),
    }


def _cell(kind: str) -> Rule:
    """RNN, LSTM and GRU cells: the Jacobians of one step, ∂h'/∂h = (1 − h'²)·W_hh for the tanh RNN."""

    def rule(c: Context) -> list[Local]:
        xw, h, state, w, b = _recurrent_arrays(c, kind)
        relu = not getattr(c.fn, "tanh_cell", True)
        step = CellStep(kind, np.atleast_2d(xw), np.atleast_2d(h), None if state is None else np.atleast_2d(state),
                        w, b, relu)
        jacobians, formulas = step.jacobians(), _cell_formulas(kind, c, relu)
        keys = ["xw", "h"] + (["c"] if kind == "lstm" else []) + ["w"] + (["b"] if b is not None else [])
        locals_ = []
        for key, x in zip(keys, c.xs):
            formula, product = formulas[key]

            def apply(g: Any, key: str = key, shape: tuple[int, ...] = x.shape) -> np.ndarray:
                return np.asarray(step.vjp(*(np.atleast_2d(u) for u in _upstreams(g)))[key]).reshape(shape)

            if kind == "rnn" and key in ("xw", "b"):  # diagonal: the factor act'(a) itself, as for tanh
                value: Any = step.d.reshape(x.shape) if key == "xw" else step.d
            else:
                value = _shown(*jacobians[key]) if key in jacobians else None
            locals_.append(Local(formula, value, apply, product))
        return locals_

    return rule


def _sequence(kind: str) -> Rule:
    """A whole time loop: the per-step recurrent Jacobians ∂h_t/∂h_(t−1) as the value, BPTT as the product."""

    def rule(c: Context) -> list[Local]:
        xw, h0, c0, w, b = _recurrent_arrays(c, kind)
        relu = not getattr(c.fn, "tanh_cell", True)
        steps = SequenceSteps(kind, xw, h0, c0, w, b, relu, c.fn.reverse)
        step_h = {"rnn": f"({'[h_t > 0]' if relu else '1 - h_t²'})·W_hh", "lstm": "∂h_t/∂xw_t·W_hh",
                  "gru": "z_t + ∂h_t/∂(h·W_hhᵀ)_t·W_hh"}[kind]
        bptt = "BPTT: G_h(t) = G_out(t) + G_h(t+1)·∂h_(t+1)/∂h_t, then each step's rule"
        rows = {
            "xw": (f"∂h_t/∂xw_t as in {kind}_cell, then back through every later step", bptt, None),
            "h": (f"∂h_t/∂h_(t-1) = {step_h} (the values: t = 1..L); ∂h_t/∂h_0 = their product", bptt,
                  lambda: _shown(steps.recurrent_jacobians("h"))),
            "c": ("∂c_t/∂c_(t-1) = f_t (the values: t = 1..L)", bptt, lambda: _shown(steps.recurrent_jacobians("c"))),
            "w": ("Σ_t ∂h_t/∂W_hh at step t (the same W_hh at every step)", f"Σ_t daᵀ_t·h_(t-1), {bptt}", None),
            "b": ("Σ_t ∂h_t/∂xw_t", f"Σ_t Σ_rows da_t, {bptt}", None),
        }
        keys = ["xw", "h"] + (["c"] if kind == "lstm" else []) + ["w"] + (["b"] if b is not None else [])
        locals_ = []
        for key, x in zip(keys, c.xs):
            formula, product, value = rows[key]

            def apply(g: Any, key: str = key, shape: tuple[int, ...] = x.shape) -> np.ndarray:
                return np.asarray(steps.vjp(*_upstreams(g))[key]).reshape(shape)

            locals_.append(Local(formula, None if value is None else value(), apply, product))
        return locals_

    return rule


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
    pool.LPPool2d: OpInfo("lp_pool2d", "", _lp_pool),
    recurrent.RNNCell: OpInfo("rnn_cell", "", _cell("rnn")),
    recurrent.LSTMCell: OpInfo("lstm_cell", "", _cell("lstm")),
    recurrent.GRUCell: OpInfo("gru_cell", "", _cell("gru")),
    recurrent.RNNSequence: OpInfo("rnn_sequence", "", _sequence("rnn")),
    recurrent.LSTMSequence: OpInfo("lstm_sequence", "", _sequence("lstm")),
    recurrent.GRUSequence: OpInfo("gru_sequence", "", _sequence("gru")),
    dropout.Dropout: OpInfo("dropout", ROUTES, _dropout),
    loss.CrossEntropyIndex: OpInfo("cross_entropy", "", lambda c: _cross_entropy(c)),
}


# Functions whose class name, snake-cased, is not the name of the function users call
NAMES: dict[type, str] = {
    loss.CrossEntropyProb: "cross_entropy",
    reduce.CumSum: "cumsum",
    shape.Concatenate: "cat",
    indexing.ScatterAddAlong: "scatter_add",
    normalization.Standardize: "layer_norm",
    conv.WeightGrad: "conv2d_weight",
    transfer.ToDevice: "to",
    activation_extra.PReLU: "prelu",
    distance.VectorNorm: "norm",
    distance.ClampedNorm: "cosine_similarity",  # the clamp of its norms: only cosine_similarity makes one
}


def op_info(fn: Any) -> OpInfo:
    """The name, pattern and local-derivative rule of a Function (a generic entry for unknown ops).

    The name is the functional's (``lp_pool2d``, ``lstm_cell``, ``nll_loss``), never the class name run together.
    """
    for cls in type(fn).__mro__:
        info = RULES.get(cls)
        if info is not None:
            return info
    if isinstance(fn, triangular.Triangle):
        return OpInfo("tril" if getattr(fn, "lower", True) else "triu", "", None)
    return OpInfo(NAMES.get(type(fn)) or _snake(type(fn).__name__.removesuffix("Function")), "", None)


def _snake(name: str) -> str:
    """CamelCase as snake_case, an acronym kept as one word: LPPool2d → lp_pool2d, LSTMCell → lstm_cell."""
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            before, after = name[i - 1], name[i + 1] if i + 1 < len(name) else ""
            if before.islower() or before.isdigit() or (before.isupper() and after.islower()):
                out.append("_")
        out.append(ch.lower())
    return "".join(out).lstrip("_")


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
