"""What the step-through page shows beyond the graph, as JSON: arrays as small tables, a convolution's slices for
the element-by-element view, and a recurrent layer's ‖∂L/∂h_t‖ and per-step shares of ∂L/∂W_hh (``viz/html.py``
puts them into the page)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import autograd
from chainrule.errors import ChainruleError
from chainrule.ops import recurrent
from chainrule.tensor import Tensor
from chainrule.viz.conv_explain import MAX_SIDE, explain_conv
from chainrule.viz.steps import BackwardWalk, Step
from chainrule.viz.values import statistics, to_numpy

__all__ = ["array_json", "conv_json", "rnn_json"]

MAX_ROWS = MAX_COLS = 8  # an array shows at most this many rows and columns, then "… N more"
CONV_VALUES = 200_000  # numbers of X, W and G a convolution view carries; above it, fewer samples and channels
DIGITS = 6


# ----- numbers and arrays as JSON ---------------------------------------------------------------------------


def _num(x: Any, digits: int = DIGITS) -> float | int | str:
    """A number for JSON with 6 significant digits (what the tables print); nan and ±inf as strings."""
    v = float(x)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v.is_integer() and abs(v) < 1e15:
        return int(v)
    return float(f"{v:.{digits}g}")


def _flat(a: np.ndarray, digits: int = DIGITS) -> list[Any]:
    return [_num(v, digits) for v in np.asarray(a, dtype=np.float64).ravel().tolist()]


def array_json(value: Any) -> dict[str, Any] | None:
    """An array as the page shows it: shape, size, the first rows and columns of its (rows, last dim) view,
    and its statistics when it is too big to show whole. None stays None."""
    a = to_numpy(value)
    if a is None:
        return None
    if a.dtype.kind not in "biuf":
        return {"s": list(a.shape), "n": int(a.size), "t": f"dtype {a.dtype}"}
    if a.ndim == 0:
        return {"s": [], "n": 1, "x": _num(a.item())}
    cols = a.shape[-1]
    rows = a.size // cols if cols else 0
    view = a.reshape(rows, cols) if cols else a.reshape(0, 0)
    shown = view[:MAX_ROWS, :MAX_COLS]
    out: dict[str, Any] = {
        "s": list(a.shape), "n": int(a.size), "rows": rows, "cols": cols,
        "r": [_flat(row) for row in shown],
    }
    if shown.size < a.size:
        out["more"] = int(a.size - shown.size)
        out["t"] = statistics(a)
    return out


# ----- convolution: the arrays of one op, for the element-by-element view ----------------------------------------


def conv_json(step: Step) -> dict[str, Any]:
    """A conv2d's geometry and the X, W, G (and b) it met, for the element-by-element view of one (sample,
    in-channel, out-channel) slice; big batches carry their first samples and channels only."""
    fn = step.function
    g = fn.g
    X, W = to_numpy(fn.inputs[0].data), to_numpy(fn.inputs[1].data)
    b = to_numpy(fn.inputs[2].data) if len(fn.inputs) == 3 else None
    G = to_numpy(step.upstream)
    n, c, f = X.shape[0], X.shape[1], W.shape[0]
    # keep whole samples while they fit, then whole channels of the first sample
    per_sample = X[0].size + G[0].size
    ns = max(1, min(n, (CONV_VALUES - W.size) // max(per_sample, 1)))
    cs, fs = c, f
    if ns * per_sample + W.size > CONV_VALUES:
        cs, fs = min(c, 4), min(f, 4)
    Xs, Gs = X[:ns, :cs], G[:ns, :fs]
    Ws = W[:fs, : min(W.shape[1], cs)]
    data: dict[str, Any] = {
        "N": n, "C": c, "F": f, "n": ns, "c": cs, "f": fs, "H": g.h, "W": g.w, "KH": g.kh, "KW": g.kw,
        "OH": g.oh, "OW": g.ow, "stride": list(g.stride), "dilation": list(g.dilation), "padding": list(g.padding),
        "groups": g.groups, "Wc": int(W.shape[1]), "untied": b is not None and b.ndim != 1,
        # 9 digits: the page adds these up itself, and its sums should match the engine's to the 6 shown
        "x": _flat(Xs, 9), "w": _flat(Ws, 9), "gy": _flat(Gs, 9),
        "b": None if b is None or b.ndim != 1 else _flat(b[:fs], 9),
        "names": [i.name for i in step.inputs],
    }
    data["text"] = _conv_text(X, W, b, G, g)
    return data


def _conv_text(X: np.ndarray, W: np.ndarray, b: np.ndarray | None, G: np.ndarray, g: Any) -> str | None:
    """``explain --conv``'s printout, word for word, when the op is one such convolution (one sample, channel and
    filter, square stride and padding, no dilation, within the printout's size limits)."""
    top, bottom, left, right = g.padding
    simple = (
        X.shape[:2] == (1, 1) and W.shape[:2] == (1, 1) and g.stride[0] == g.stride[1]
        and top == bottom == left == right and g.dilation == (1, 1) and g.groups == 1
        and max(X.shape[2:] + W.shape[2:]) <= MAX_SIDE and (b is None or b.ndim == 1)
    )
    if not simple:
        return None
    try:
        result = explain_conv(X[0, 0], W[0, 0], 0.0 if b is None else float(b[0]), stride=g.stride[0],
                              padding=top, grad_output=G[0, 0])
    except ChainruleError:  # outside what the printout allows: the interactive view still shows every sum
        return None
    return str(result)


# ----- recurrent layers: ‖∂L/∂h_t‖ and each step's share of ∂L/∂W_hh -------------------------------------------

_CELLS = {recurrent.RNNCell: ("RNN", 2), recurrent.LSTMCell: ("LSTM", 3), recurrent.GRUCell: ("GRU", 2)}
_SEQUENCES = {recurrent.RNNSequence: ("RNN", 2), recurrent.LSTMSequence: ("LSTM", 3), recurrent.GRUSequence: ("GRU", 2)}


def rnn_json(walk: BackwardWalk, op_id: dict[int, int]) -> list[dict[str, Any]]:
    """One view per recurrence: a layer's time loop (one op), or the cell ops of a Python loop sharing one W_hh."""
    views: list[dict[str, Any]] = []
    chains: dict[int, list[Step]] = {}
    for s in walk.steps:
        kind = _SEQUENCES.get(type(s.function))
        if kind is not None:
            views.append(_sequence_view(s, kind[0], kind[1], op_id))
        cell = _CELLS.get(type(s.function))
        if cell is not None:
            chains.setdefault(id(s.function.inputs[cell[1]]), []).append(s)
    for chain in chains.values():
        cell_kind, w_index = _CELLS[type(chain[0].function)]
        chain.sort(key=lambda s: s.function.generation)  # time order: each step feeds the next
        rows = []
        for t, s in enumerate(chain):
            up = s.upstream[0] if isinstance(s.upstream, tuple) else s.upstream
            share = s.inputs[w_index].downstream
            rows.append(_rnn_row(t, up, share))
        total = walk.gradient(chain[0].function.inputs[w_index])
        views.append({
            "kind": f"{cell_kind} cell, {len(chain)} steps", "weight": chain[0].inputs[w_index].name,
            "ops": [op_id[id(s.function)] for s in chain], "steps": rows, "total": array_json(total),
            "note": "each step's share is the gradient its cell op sent to W_hh; together they sum to ∂L/∂W_hh",
        })
    return views


def _rnn_row(t: int, dh: Any, share: Any) -> dict[str, Any]:
    dh, share = to_numpy(dh), to_numpy(share)
    return {
        "t": t, "dh": _num(np.linalg.norm(dh)) if dh is not None else None,
        "dw": _num(np.linalg.norm(share)) if share is not None else None, "share": array_json(share),
    }


def _sequence_view(s: Step, kind: str, w_index: int, op_id: dict[int, int]) -> dict[str, Any]:
    """The time loop unrolled with the cell's reference (chainrule ops), each step reading its own copy of W_hh:
    ∂L/∂(copy t) is step t's share of ∂L/∂W_hh and ∂L/∂h_t is the gradient that reached h_t, from the output
    at t and from step t + 1. The upstream of the loop's outputs is the one the walk recorded."""
    fn = s.function
    xs = [to_numpy(x.data).astype(np.float64) for x in fn.inputs]
    xw, w_hh = xs[0], xs[w_index]
    b_hh = Tensor(xs[w_index + 1]) if fn.has_bias else None
    ups = [np.asarray(u, dtype=np.float64) for u in (s.upstream if isinstance(s.upstream, tuple) else (s.upstream,))]
    h = Tensor(xs[1])
    c = Tensor(xs[2]) if kind == "LSTM" else None
    order = list(fn.steps(xw.shape[0]))
    hs: dict[int, Tensor] = {}
    copies: dict[int, Tensor] = {}
    for t in order:
        copies[t] = Tensor(w_hh.copy(), requires_grad=True)
        x_t = Tensor(xw[t])
        if kind == "RNN":
            h = recurrent.rnn_cell_reference(x_t, h, copies[t], b_hh, "tanh" if fn.tanh_cell else "relu")
        elif kind == "LSTM":
            h, c = recurrent.lstm_cell_reference(x_t, h, c, copies[t], b_hh)
        else:
            h = recurrent.gru_cell_reference(x_t, h, copies[t], b_hh)
        hs[t] = h
    surrogate = sum(((hs[t] * Tensor(ups[0][t])).sum() for t in order), (h * Tensor(ups[1])).sum())
    if kind == "LSTM":
        surrogate = surrogate + (c * Tensor(ups[2])).sum()
    grads = autograd.grad(surrogate, [hs[t] for t in order] + [copies[t] for t in order])
    dh, dw = grads[: len(order)], grads[len(order):]
    rows = [_rnn_row(t, dh[k], dw[k]) for k, t in enumerate(order)]
    return {
        "kind": f"{kind} layer, {len(order)} steps" + (" (reversed)" if fn.reverse else ""),
        "weight": s.inputs[w_index].name, "ops": [op_id[id(fn)]], "steps": rows,
        "total": array_json(s.inputs[w_index].downstream),
        "note": "the loop unrolled with the cell's reference ops, each step reading its own copy of W_hh: "
                "the shares sum to ∂L/∂W_hh",
    }
