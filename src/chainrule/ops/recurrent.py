"""Fused recurrent cell steps: one Function per time step instead of a dozen. Derivations: docs/rnn.md.

Each cell takes the step's input projection xw = W_ih·x + b_ih (computed for all steps at once outside the time
loop), the previous state and W_hh, b_hh. The equations of each cell are written once as a composition of
chainrule ops, ``rnn_cell_reference``, ``lstm_cell_reference``, ``gru_cell_reference``: the definition that the
fused versions are tested against (DeZero's ``sigmoid_simple`` beside ``Sigmoid``). The fused forward runs the
same equations on arrays and saves the gate activations. The gradient formulas are written once, in
``_*_grads``, over anything with + − * @, and run on two routes:

- ``fast_backward`` (no graph of the backward pass is recorded, the training case): on the saved arrays;
- ``backward`` (``create_graph``, anomaly mode): on gate Tensors that the reference recomputes from the inputs,
  so the gradient is itself differentiable.

A layer's whole time loop is also one Function (``rnn_sequence``, ``lstm_sequence``, ``gru_sequence``): forward
runs the same steps on arrays; ``fast_backward`` runs BPTT on arrays with the same per-step formulas and then
forms ∂L/∂W_hh = Σ_t da_tᵀ·h_{t−1} as one GEMM over all L·N rows, instead of one small GEMM per step and an
accumulation per step. ``backward`` runs the same BPTT on Tensors: the steps recomputed by the reference, then
each step's differentiable rule from the last step to the first.

Notation: G_h = ∂L/∂h', G_c = ∂L/∂c'; σ' = σ(1 − σ), tanh' = 1 − tanh²; [a | b] concatenates along the gate dim.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.errors import ShapeError
from chainrule.ops.activation import relu, sigmoid, sigmoid_array, tanh
from chainrule.ops.linalg import linear
from chainrule.ops.operands import as_tensor, check_choice
from chainrule.ops.shape import cat, split, stack, unbind
from chainrule.tensor import Tensor

__all__ = [
    "gru_cell", "gru_cell_reference", "gru_sequence", "lstm_cell", "lstm_cell_reference", "lstm_sequence", "rnn_cell",
    "rnn_cell_reference", "rnn_sequence",
]


def _pre_activation(xw: Any, h: Any, w_hh: Any, b_hh: Any, w_t: Any = None) -> Any:
    """a = xw + h·W_hhᵀ + b_hh; ``w_t``, if given, is W_hhᵀ already laid out contiguously (a faster GEMM)."""
    a = h @ (w_hh.T if w_t is None else w_t)
    a += xw
    if b_hh is not None:
        a += b_hh
    return a


def _weight_grads(da: Any, h: Any, has_bias: bool) -> tuple[Any, Any]:
    """∂L/∂W_hh = daᵀ·h (G·H, H) and ∂L/∂b_hh = Σ_rows da (G·H,)."""
    return da.T @ h, (da.sum(0) if has_bias else None)


class _Cell(Function):
    """A cell step whose last input is b_hh when ``has_bias``; ``_result`` drops b_hh's slot otherwise."""

    def __init__(self, has_bias: bool) -> None:
        self.has_bias = has_bias

    def _result(self, grads: tuple[Any, ...]) -> tuple[Any, ...]:
        return grads if self.has_bias else grads[:-1]

    def _weights(self, first: int) -> tuple[Tensor, Tensor | None]:
        """(W_hh, b_hh) from the inputs, W_hh at position ``first``; b_hh is None without a bias."""
        return self.inputs[first], (self.inputs[first + 1] if self.has_bias else None)


# ----- Elman RNN ------------------------------------------------------------------------------------------


def _rnn_gate_grads(gh: Any, y: Any, a_positive: Any, tanh_cell: bool) -> Any:
    """h' = act(a): da = G_h ⊙ act'(a), with tanh' = 1 − h'² and relu' = [a > 0]."""
    return gh * (1 - y * y) if tanh_cell else gh * a_positive


def _rnn_grads(gh: Any, y: Any, a_positive: Any, h: Any, w_hh: Any, tanh_cell: bool, has_bias: bool) -> tuple:
    """a = xw + h·W_hhᵀ + b_hh, h' = act(a):  da = G_h ⊙ act'(a)  (tanh' = 1 − h'², relu' = [a > 0]);

    ∂L/∂xw = da,  ∂L/∂h = da·W_hh,  ∂L/∂W_hh = daᵀ·h,  ∂L/∂b_hh = Σ_rows da.
    """
    da = _rnn_gate_grads(gh, y, a_positive, tanh_cell)
    gw, gb = _weight_grads(da, h, has_bias)
    return da, da @ w_hh, gw, gb


class RNNCell(_Cell):
    uses_outputs = True  # backward reads the output's values
    def __init__(self, nonlinearity: str, has_bias: bool) -> None:
        super().__init__(has_bias)
        self.tanh_cell = nonlinearity == "tanh"

    def forward(self, xw, h, w_hh, b_hh=None):
        a = _pre_activation(xw, h, w_hh, b_hh)
        if not self.tanh_cell:
            self.positive = a > 0
        return _rnn_activate(a, self.tanh_cell)

    def backward(self, gh: Tensor) -> tuple[Tensor | None, ...]:
        """See ``_rnn_grads``; the order of the returned gradients is (xw, h, W_hh, b_hh)."""
        xw, h = self.inputs[:2]
        w_hh, b_hh = self._weights(2)
        y = rnn_cell_reference(xw, h, w_hh, b_hh, "tanh" if self.tanh_cell else "relu")
        return self._result(_rnn_grads(gh, y, _relu_mask(y, self.tanh_cell), h, w_hh, self.tanh_cell, self.has_bias))

    def fast_backward(self, gh: Any) -> tuple[Any, ...]:
        mask = None if self.tanh_cell else self.positive.astype(gh.dtype)
        h, w_hh = self.inputs[1].data, self.inputs[2].data
        return self._result(_rnn_grads(gh, self.output().data, mask, h, w_hh, self.tanh_cell, self.has_bias))


def rnn_cell_reference(xw: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, nonlinearity: str = "tanh") -> Tensor:
    """h' = act(xw + h·W_hhᵀ + b_hh) composed of chainrule ops: the reference for ``rnn_cell`` and ``rnn_sequence``."""
    pre = xw + linear(h, w_hh, b_hh)
    return tanh(pre) if nonlinearity == "tanh" else relu(pre)


def _relu_mask(y: Tensor, tanh_cell: bool) -> Tensor | None:
    """relu' = [a > 0] = [h' > 0] as a constant Tensor (None for tanh, whose derivative 1 − h'² needs no mask)."""
    return None if tanh_cell else Tensor((y.data > 0).astype(y.dtype))


def _rnn_activate(a: Any, tanh_cell: bool) -> Any:
    """act(a) in place: tanh, or relu."""
    xp = backend.get_array_module(a)
    return xp.tanh(a, out=a) if tanh_cell else xp.maximum(a, a.dtype.type(0), out=a)


def rnn_cell(xw: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, nonlinearity: str = "tanh") -> Tensor:
    """h' = act(xw + h·W_hhᵀ + b_hh) as one Function."""
    args = (xw, h, w_hh) if b_hh is None else (xw, h, w_hh, b_hh)
    return RNNCell(nonlinearity, b_hh is not None)(*args)


# ----- LSTM -----------------------------------------------------------------------------------------------


def _lstm_grads(gh, gc, i, f, g, o, c_prev, tc, h, w_hh, concat, has_bias: bool) -> tuple:
    """c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c'):

    G_c' (total) = G_c + G_h ⊙ o ⊙ (1 − tanh²c')
    da_i = G_c'·g·i(1 − i),  da_f = G_c'·c·f(1 − f),  da_g = G_c'·i·(1 − g²),  da_o = G_h·tanh(c')·o(1 − o)
    da = [da_i | da_f | da_g | da_o]   (N, 4H)
    ∂L/∂xw = da,  ∂L/∂h = da·W_hh,  ∂L/∂c = G_c'·f,  ∂L/∂W_hh = daᵀ·h,  ∂L/∂b_hh = Σ_rows da.
    """
    parts, gc_prev = _lstm_gate_grads(gh, gc, i, f, g, o, c_prev, tc)
    da = concat(parts)
    gw, gb = _weight_grads(da, h, has_bias)
    return da, da @ w_hh, gc_prev, gw, gb


def _lstm_gate_grads(gh, gc, i, f, g, o, c_prev, tc) -> tuple[list, Any]:
    """The gate part of ``_lstm_grads``: ([da_i, da_f, da_g, da_o], ∂L/∂c)."""
    gc_total = gc + gh * o * (1 - tc * tc)
    parts = [gc_total * g * i * (1 - i), gc_total * c_prev * f * (1 - f), gc_total * i * (1 - g * g),
             gh * tc * o * (1 - o)]
    return parts, gc_total * f


class LSTMCell(_Cell):
    def forward(self, xw, h, c, w_hh, b_hh=None):
        h_new, c_new, self.saved = _lstm_step(_pre_activation(xw, h, w_hh, b_hh), c)
        return h_new, c_new

    def backward(self, gh: Tensor, gc: Tensor) -> tuple[Tensor | None, ...]:
        """See ``_lstm_grads``; gradients in the order (xw, h, c, W_hh, b_hh)."""
        xw, h, c = self.inputs[:3]
        w_hh, b_hh = self._weights(3)
        i, f, g, o, tc = _lstm_reference(xw, h, c, w_hh, b_hh)[2]
        return self._result(_lstm_grads(gh, gc, i, f, g, o, c, tc, h, w_hh, _cat, self.has_bias))

    def fast_backward(self, gh: Any, gc: Any) -> tuple[Any, ...]:
        h, c, w_hh = (x.data for x in self.inputs[1:4])
        i, f, g, o, tc = self.saved
        return self._result(_lstm_grads(gh, gc, i, f, g, o, c, tc, h, w_hh, _concatenate, self.has_bias))


def _lstm_step(a: Any, c: Any) -> tuple[Any, Any, tuple]:
    """From the pre-activations a = [a_i | a_f | a_g | a_o]: (h', c', (i, f, g, o, tanh c')), the last for backward."""
    xp = backend.get_array_module(a)
    i, f, g, o = xp.split(a, 4, axis=-1)
    i, f, o, g = sigmoid_array(i), sigmoid_array(f), sigmoid_array(o), xp.tanh(g)
    c_new = f * c + i * g
    tc = xp.tanh(c_new)
    return o * tc, c_new, (i, f, g, o, tc)


def lstm_cell_reference(xw: Tensor, h: Tensor, c: Tensor, w_hh: Tensor,
                        b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    """(h', c') of one LSTM step composed of chainrule ops: the reference for ``lstm_cell`` and ``lstm_sequence``."""
    h_new, c_new, _ = _lstm_reference(xw, h, c, w_hh, b_hh)
    return h_new, c_new


def _lstm_reference(xw: Tensor, h: Tensor, c: Tensor, w_hh: Tensor,
                    b_hh: Tensor | None) -> tuple[Tensor, Tensor, tuple]:
    """i, f, g, o = σ, σ, tanh, σ of xw + h·W_hhᵀ + b_hh in 4 blocks;  c' = f ⊙ c + i ⊙ g;  h' = o ⊙ tanh(c').

    Returns (h', c', (i, f, g, o, tanh c')): the last as ``_lstm_step`` saves it, for the differentiable backward.
    """
    i, f, g, o = split(xw + linear(h, w_hh, b_hh), h.shape[-1], dim=-1)
    i, f, g, o = sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
    c_new = f * c + i * g
    tc = tanh(c_new)
    return o * tc, c_new, (i, f, g, o, tc)


def lstm_cell(xw: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    """(h', c') of one LSTM step as one Function (gates i, f, g, o in PyTorch's order)."""
    args = (xw, h, c, w_hh) if b_hh is None else (xw, h, c, w_hh, b_hh)
    return LSTMCell(b_hh is not None)(*args)


# ----- GRU ------------------------------------------------------------------------------------------------


def _gru_grads(gh, r, z, n, hn, h, w_hh, concat, has_bias: bool) -> tuple:
    """hw = h·W_hhᵀ + b_hh = [h_r | h_z | h_n];  r = σ(x_r + h_r),  z = σ(x_z + h_z),
    n = tanh(x_n + r ⊙ h_n),  h' = n + z ⊙ (h − n):

    da_n = G_h·(1 − z)·(1 − n²),  da_z = G_h·(h − n)·z(1 − z),  da_r = da_n·h_n·r(1 − r)
    ∂L/∂xw = [da_r | da_z | da_n],  ∂L/∂hw = [da_r | da_z | da_n ⊙ r]
    ∂L/∂h = G_h ⊙ z + ∂L/∂hw·W_hh,  ∂L/∂W_hh = (∂L/∂hw)ᵀ·h,  ∂L/∂b_hh = Σ_rows ∂L/∂hw.
    """
    da_r, da_z, da_n = _gru_gate_grads(gh, r, z, n, hn, h)
    g_hw = concat([da_r, da_z, da_n * r])
    gw, gb = _weight_grads(g_hw, h, has_bias)
    return concat([da_r, da_z, da_n]), gh * z + g_hw @ w_hh, gw, gb


def _gru_gate_grads(gh, r, z, n, hn, h) -> tuple[Any, Any, Any]:
    """The gate part of ``_gru_grads``: (da_r, da_z, da_n)."""
    da_n = gh * (1 - z) * (1 - n * n)
    da_z = gh * (h - n) * z * (1 - z)
    return da_n * hn * r * (1 - r), da_z, da_n


class GRUCell(_Cell):
    def forward(self, xw, h, w_hh, b_hh=None):
        h_new, self.saved = _gru_step(xw, h, w_hh, b_hh)
        return h_new

    def backward(self, gh: Tensor) -> tuple[Tensor | None, ...]:
        """See ``_gru_grads``; gradients in the order (xw, h, W_hh, b_hh)."""
        xw, h = self.inputs[:2]
        w_hh, b_hh = self._weights(2)
        gates = _gru_reference(xw, h, w_hh, b_hh)[1]
        return self._result(_gru_grads(gh, *gates, h, w_hh, _cat, self.has_bias))

    def fast_backward(self, gh: Any) -> tuple[Any, ...]:
        h, w_hh = self.inputs[1].data, self.inputs[2].data
        return self._result(_gru_grads(gh, *self.saved, h, w_hh, _concatenate, self.has_bias))


def _gru_step(xw: Any, h: Any, w_hh: Any, b_hh: Any, w_t: Any = None) -> tuple[Any, tuple]:
    """(h', (r, z, n, h_n)), the second for backward; ``w_t`` as in ``_pre_activation``."""
    xp = backend.get_array_module(xw)
    hw = h @ (w_hh.T if w_t is None else w_t)
    if b_hh is not None:
        hw += b_hh
    xr, xz, xn = xp.split(xw, 3, axis=-1)
    hr, hz, hn = xp.split(hw, 3, axis=-1)
    r, z = sigmoid_array(xr + hr), sigmoid_array(xz + hz)
    n = xp.tanh(xn + r * hn)
    return n + z * (h - n), (r, z, n, hn)


def gru_cell_reference(xw: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    """h' of one GRU step composed of chainrule ops: the reference for ``gru_cell`` and ``gru_sequence``."""
    return _gru_reference(xw, h, w_hh, b_hh)[0]


def _gru_reference(xw: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> tuple[Tensor, tuple]:
    """[h_r | h_z | h_n] = h·W_hhᵀ + b_hh;  r, z = σ(x_r + h_r), σ(x_z + h_z);  n = tanh(x_n + r ⊙ h_n);
    h' = (1 − z) ⊙ n + z ⊙ h, written n + z ⊙ (h − n) (one op fewer).

    Returns (h', (r, z, n, h_n)): the second as ``_gru_step`` saves it, for the differentiable backward.
    """
    size = h.shape[-1]
    xr, xz, xn = split(xw, size, dim=-1)
    hr, hz, hn = split(linear(h, w_hh, b_hh), size, dim=-1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = tanh(xn + r * hn)
    return n + z * (h - n), (r, z, n, hn)


def gru_cell(xw: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    """h' of one GRU step as one Function (gates r, z, n in PyTorch's order)."""
    args = (xw, h, w_hh) if b_hh is None else (xw, h, w_hh, b_hh)
    return GRUCell(b_hh is not None)(*args)


# ----- whole sequences ------------------------------------------------------------------------------------


class _Sequence(_Cell):
    """A layer's time loop as one Function. Inputs (xw (L, N, G·H), initial state(s) (N, H), W_hh, [b_hh]),
    outputs (out (L, N, H) in time order, final state(s)); ``reverse`` runs the steps from t = L − 1 down to 0.

    Subclasses write ``forward`` and ``fast_backward`` (BPTT) on arrays, and ``backward``: the same BPTT on
    Tensors, over the steps recomputed by the cell's reference, so that the gradient is itself differentiable.
    Forward keeps the hidden states it wrote (``hs``, the array of output 0) so that BPTT needs no output alive:
    a caller may keep only the final state.
    """

    uses_outputs = True  # fast_backward reads the hidden states h_t: output 0's array

    def __init__(self, has_bias: bool, reverse: bool) -> None:
        super().__init__(has_bias)
        self.reverse = reverse

    def steps(self, length: int) -> range:
        """The time steps in the order the forward pass runs them."""
        return range(length - 1, -1, -1) if self.reverse else range(length)

    def previous(self, seq: Any, first: Any) -> Any:
        """seq (L, N, H) of per-step values in time order → the value each step started from (first at the start)."""
        prev = backend.get_array_module(seq).empty_like(seq)
        if self.reverse:
            prev[:-1], prev[-1] = seq[1:], first
        else:
            prev[1:], prev[0] = seq[:-1], first
        return prev

    def weight_grads(self, da: Any, h_prev: Any) -> tuple[Any, Any]:
        """∂L/∂W_hh = Σ_t da_tᵀ·h_{t−1} and ∂L/∂b_hh = Σ_t Σ_rows da_t, each over all L·N rows at once (arrays or
        Tensors)."""
        return _weight_grads(da.reshape(-1, da.shape[-1]), h_prev.reshape(-1, h_prev.shape[-1]), self.has_bias)

    def stacked_weight_grads(self, da: list[Tensor], h_prev: list[Tensor]) -> tuple[Tensor, Tensor | None]:
        """``weight_grads`` of per-step Tensors in time order."""
        return self.weight_grads(stack(da), stack(h_prev))


class RNNSequence(_Sequence):
    def __init__(self, nonlinearity: str, has_bias: bool, reverse: bool) -> None:
        super().__init__(has_bias, reverse)
        self.tanh_cell = nonlinearity == "tanh"

    def forward(self, xw, h0, w_hh, b_hh=None):
        xp = backend.get_array_module(xw)
        out = self.hs = xp.empty(xw.shape, dtype=xw.dtype)
        h, w_t = h0, xp.ascontiguousarray(w_hh.T)  # W_hhᵀ laid out once for L GEMMs
        for t in self.steps(xw.shape[0]):
            a = xp.matmul(h, w_t, out=out[t])
            a += xw[t]
            if b_hh is not None:
                a += b_hh
            h = _rnn_activate(a, self.tanh_cell)
        return out, h.copy()

    def fast_backward(self, g_out, g_hn):
        """BPTT with ``_rnn_grads``'s formulas: G_h = g_out[t] + ∂L/∂h_t from step t + 1, da_t = G_h ⊙ act'(a_t),
        and ∂L/∂h_{t−1} = da_t·W_hh; then ∂L/∂xw = da (L, N, H) and the weight gradients over all steps."""
        h0, w_hh = self.inputs[1].data, self.inputs[2].data
        out = self.hs
        da = backend.get_array_module(out).empty_like(out)
        gh = g_hn
        for t in reversed(self.steps(out.shape[0])):
            gh = gh + g_out[t]
            positive = None if self.tanh_cell else out[t] > 0  # relu' = [a > 0] = [h > 0]
            da[t] = _rnn_gate_grads(gh, out[t], positive, self.tanh_cell)
            gh = da[t] @ w_hh
        return self._result((da, gh, *self.weight_grads(da, self.previous(out, h0))))

    def backward(self, g_out, g_hn):
        """``fast_backward``'s BPTT on Tensors, over the steps recomputed by ``rnn_cell_reference``."""
        xw, h = self.inputs[:2]
        w_hh, b_hh = self._weights(2)
        length, nonlinearity = xw.shape[0], "tanh" if self.tanh_cell else "relu"
        xws, g_outs, h_prev, hs = unbind(xw), unbind(g_out), [None] * length, [None] * length
        for t in self.steps(length):
            h_prev[t], h = h, rnn_cell_reference(xws[t], h, w_hh, b_hh, nonlinearity)
            hs[t] = h
        da, gh = [None] * length, g_hn
        for t in reversed(self.steps(length)):
            gh = gh + g_outs[t]
            da[t] = _rnn_gate_grads(gh, hs[t], _relu_mask(hs[t], self.tanh_cell), self.tanh_cell)
            gh = da[t] @ w_hh
        return self._result((stack(da), gh, *self.stacked_weight_grads(da, h_prev)))


class LSTMSequence(_Sequence):
    def forward(self, xw, h0, c0, w_hh, b_hh=None):
        xp = backend.get_array_module(xw)
        length = xw.shape[0]
        out, cs = xp.empty((2, length) + h0.shape, dtype=xw.dtype)
        self.gates = [None] * length
        h, c, w_t = h0, c0, xp.ascontiguousarray(w_hh.T)  # W_hhᵀ laid out once for L GEMMs
        for t in self.steps(length):
            h, c, self.gates[t] = _lstm_step(_pre_activation(xw[t], h, w_hh, b_hh, w_t), c)
            out[t], cs[t] = h, c
        self.hs, self.cs = out, cs
        return out, h.copy(), c.copy()  # copies: with L = 0 they would be the inputs themselves

    def fast_backward(self, g_out, g_hn, g_cn):
        """BPTT with ``_lstm_grads``'s formulas, step by step from the last: G_h = g_out[t] + ∂L/∂h_t from step
        t + 1, the gate gradients da_t (N, 4H) and ∂L/∂c_{t−1}, then ∂L/∂h_{t−1} = da_t·W_hh."""
        xw, h0, c0, w_hh = (x.data for x in self.inputs[:4])
        xp = backend.get_array_module(xw)
        c_prev = self.previous(self.cs, c0)
        da = xp.empty_like(xw)
        gh, gc = g_hn, g_cn
        for t in reversed(self.steps(xw.shape[0])):
            gh = gh + g_out[t]
            i, f, g, o, tc = self.gates[t]
            parts, gc = _lstm_gate_grads(gh, gc, i, f, g, o, c_prev[t], tc)
            xp.concatenate(parts, axis=-1, out=da[t])
            gh = da[t] @ w_hh
        return self._result((da, gh, gc, *self.weight_grads(da, self.previous(self.hs, h0))))

    def backward(self, g_out, g_hn, g_cn):
        """``fast_backward``'s BPTT on Tensors, over the steps recomputed by ``lstm_cell_reference``."""
        xw, h, c = self.inputs[:3]
        w_hh, b_hh = self._weights(3)
        length = xw.shape[0]
        xws, g_outs = unbind(xw), unbind(g_out)
        h_prev, c_prev, gates = [None] * length, [None] * length, [None] * length
        for t in self.steps(length):
            h_prev[t], c_prev[t] = h, c
            h, c, gates[t] = _lstm_reference(xws[t], h, c, w_hh, b_hh)
        da, gh, gc = [None] * length, g_hn, g_cn
        for t in reversed(self.steps(length)):
            gh = gh + g_outs[t]
            i, f, g, o, tc = gates[t]
            parts, gc = _lstm_gate_grads(gh, gc, i, f, g, o, c_prev[t], tc)
            da[t] = cat(parts, -1)
            gh = da[t] @ w_hh
        return self._result((stack(da), gh, gc, *self.stacked_weight_grads(da, h_prev)))


class GRUSequence(_Sequence):
    def forward(self, xw, h0, w_hh, b_hh=None):
        xp = backend.get_array_module(xw)
        out = self.hs = xp.empty((xw.shape[0],) + h0.shape, dtype=xw.dtype)
        self.gates = [None] * xw.shape[0]
        h, w_t = h0, xp.ascontiguousarray(w_hh.T)  # W_hhᵀ laid out once for L GEMMs
        for t in self.steps(xw.shape[0]):
            h, self.gates[t] = _gru_step(xw[t], h, w_hh, b_hh, w_t)
            out[t] = h
        return out, h.copy()

    def fast_backward(self, g_out, g_hn):
        """BPTT with ``_gru_grads``'s formulas: G_h = g_out[t] + ∂L/∂h_t from step t + 1; ∂L/∂xw_t = [da_r | da_z
        | da_n], ∂L/∂hw_t = [da_r | da_z | da_n ⊙ r], ∂L/∂h_{t−1} = G_h ⊙ z + ∂L/∂hw_t·W_hh; the weight
        gradients over all steps are taken against ∂L/∂hw."""
        xw, h0, w_hh = (x.data for x in self.inputs[:3])
        xp = backend.get_array_module(xw)
        h_prev = self.previous(self.hs, h0)
        g_xw, g_hw = xp.empty_like(xw), xp.empty_like(xw)
        gh = g_hn
        for t in reversed(self.steps(xw.shape[0])):
            gh = gh + g_out[t]
            r, z, n, hn = self.gates[t]
            da_r, da_z, da_n = _gru_gate_grads(gh, r, z, n, hn, h_prev[t])
            xp.concatenate([da_r, da_z, da_n], axis=-1, out=g_xw[t])
            xp.concatenate([da_r, da_z, da_n * r], axis=-1, out=g_hw[t])
            gh = gh * z + g_hw[t] @ w_hh
        return self._result((g_xw, gh, *self.weight_grads(g_hw, h_prev)))

    def backward(self, g_out, g_hn):
        """``fast_backward``'s BPTT on Tensors, over the steps recomputed by ``gru_cell_reference``."""
        xw, h = self.inputs[:2]
        w_hh, b_hh = self._weights(2)
        length = xw.shape[0]
        xws, g_outs, h_prev, gates = unbind(xw), unbind(g_out), [None] * length, [None] * length
        for t in self.steps(length):
            h_prev[t] = h
            h, gates[t] = _gru_reference(xws[t], h, w_hh, b_hh)
        g_xw, g_hw, gh = [None] * length, [None] * length, g_hn
        for t in reversed(self.steps(length)):
            gh = gh + g_outs[t]
            r, z, n, hn = gates[t]
            da_r, da_z, da_n = _gru_gate_grads(gh, r, z, n, hn, h_prev[t])
            g_xw[t], g_hw[t] = cat([da_r, da_z, da_n], -1), cat([da_r, da_z, da_n * r], -1)
            gh = gh * z + g_hw[t] @ w_hh
        return self._result((stack(g_xw), gh, *self.stacked_weight_grads(g_hw, h_prev)))


def _cat(parts: list[Tensor]) -> Tensor:
    return cat(parts, -1)


def _concatenate(parts: list[Any]) -> Any:
    return backend.get_array_module(parts[0]).concatenate(parts, axis=-1)


def _check_sequence(op: str, gates: int, xw: Any, states: dict[str, Any], w_hh: Any, b_hh: Any) -> None:
    """Refuse, with the argument's name, what the time loop cannot run on: above all a sequence of length 0,
    which has no last step to give the final state (PyTorch refuses it too)."""
    xw = as_tensor(op, xw, "xw")
    if xw.ndim != 3:
        raise ShapeError(f"{op}: argument 'xw' must be 3-D (L, N, {gates}·H), the input projections of every step, "
                         f"got shape {xw.shape}")
    if xw.shape[0] == 0:
        raise ShapeError(f"{op}: argument 'xw' holds a sequence of length 0 (shape {xw.shape}); expected at least "
                         f"one time step; hint: drop empty sequences before the loop")
    w_hh = as_tensor(op, w_hh, "w_hh")
    hidden = w_hh.shape[-1] if w_hh.ndim == 2 else -1
    if w_hh.shape != (gates * hidden, hidden):
        raise ShapeError(f"{op}: argument 'w_hh' must have shape ({gates}·H, H), got {w_hh.shape}")
    expected = {"xw": (xw.shape[0], xw.shape[1], gates * hidden), "b_hh": (gates * hidden,)}
    expected.update((name, (xw.shape[1], hidden)) for name in states)
    for name, value in (("xw", xw), ("b_hh", b_hh), *states.items()):
        if value is not None and tuple(as_tensor(op, value, name).shape) != expected[name]:
            raise ShapeError(f"{op}: argument '{name}' must have shape {expected[name]} (L = {xw.shape[0]}, "
                             f"N = {xw.shape[1]}, H = {hidden}), got {tuple(value.shape)}")


def rnn_sequence(xw: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor | None, nonlinearity: str = "tanh",
                 reverse: bool = False) -> tuple[Tensor, Tensor]:
    """(out, h_n) of an Elman RNN's time loop over the input projections xw (L, N, H) as one Function."""
    check_choice("rnn_sequence", "nonlinearity", nonlinearity, ("tanh", "relu"))
    _check_sequence("rnn_sequence", 1, xw, {"h0": h0}, w_hh, b_hh)
    args = (xw, h0, w_hh) if b_hh is None else (xw, h0, w_hh, b_hh)
    return RNNSequence(nonlinearity, b_hh is not None, reverse)(*args)


def lstm_sequence(xw: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor, b_hh: Tensor | None,
                  reverse: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """(out, h_n, c_n) of an LSTM's time loop over the input projections xw (L, N, 4H) as one Function."""
    _check_sequence("lstm_sequence", 4, xw, {"h0": h0, "c0": c0}, w_hh, b_hh)
    args = (xw, h0, c0, w_hh) if b_hh is None else (xw, h0, c0, w_hh, b_hh)
    return LSTMSequence(b_hh is not None, reverse)(*args)


def gru_sequence(xw: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor | None,
                 reverse: bool = False) -> tuple[Tensor, Tensor]:
    """(out, h_n) of a GRU's time loop over the input projections xw (L, N, 3H) as one Function."""
    _check_sequence("gru_sequence", 3, xw, {"h0": h0}, w_hh, b_hh)
    args = (xw, h0, w_hh) if b_hh is None else (xw, h0, w_hh, b_hh)
    return GRUSequence(b_hh is not None, reverse)(*args)
