"""Fused recurrent cell steps: one Function per time step instead of a dozen. Derivations: docs/rnn.md.

Each cell takes the step's input projection xw = W_ih·x + b_ih (computed for all steps at once outside the time
loop), the previous state and W_hh, b_hh. Forward runs on arrays and saves the gate activations. Backward has
two routes that compute the same formulas (written once, in ``_*_grads``, over anything with + − * @):

- no graph needed (``create_graph=False``, the training case): on the saved arrays, in one pass;
- ``create_graph=True``: on gate Tensors recomputed from the inputs, so the gradient is itself differentiable.

Notation: G_h = ∂L/∂h', G_c = ∂L/∂c'; σ' = σ(1 − σ), tanh' = 1 − tanh²; [a | b] concatenates along the gate dim.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.autograd.grad_mode import is_grad_enabled
from chainrule.ops.activation import relu, sigmoid, sigmoid_array, tanh
from chainrule.ops.linalg import linear
from chainrule.ops.shape import cat, split
from chainrule.tensor import Tensor

__all__ = ["gru_cell", "lstm_cell", "rnn_cell"]


def _pre_activation(xw: Any, h: Any, w_hh: Any, b_hh: Any) -> Any:
    a = h @ w_hh.T
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

    def _result(self, grads: tuple[Any, ...]) -> tuple[Tensor | None, ...]:
        grads = grads if self.has_bias else grads[:-1]
        return tuple(g if g is None or isinstance(g, Tensor) else Tensor(g) for g in grads)


# ----- Elman RNN ------------------------------------------------------------------------------------------


def _rnn_grads(gh: Any, y: Any, a_positive: Any, h: Any, w_hh: Any, tanh_cell: bool, has_bias: bool) -> tuple:
    """a = xw + h·W_hhᵀ + b_hh, h' = act(a):  da = G_h ⊙ act'(a)  (tanh' = 1 − h'², relu' = [a > 0]);

    ∂L/∂xw = da,  ∂L/∂h = da·W_hh,  ∂L/∂W_hh = daᵀ·h,  ∂L/∂b_hh = Σ_rows da.
    """
    da = gh * (1 - y * y) if tanh_cell else gh * a_positive
    gw, gb = _weight_grads(da, h, has_bias)
    return da, da @ w_hh, gw, gb


class RNNCell(_Cell):
    uses_outputs = True  # backward reads the output's values
    def __init__(self, nonlinearity: str, has_bias: bool) -> None:
        super().__init__(has_bias)
        self.tanh_cell = nonlinearity == "tanh"

    def forward(self, xw, h, w_hh, b_hh=None):
        a = _pre_activation(xw, h, w_hh, b_hh)
        xp = backend.get_array_module(a)
        if self.tanh_cell:
            return xp.tanh(a, out=a)
        self.positive = a > 0
        return xp.maximum(a, a.dtype.type(0), out=a)

    def backward(self, gh: Tensor) -> tuple[Tensor | None, ...]:
        """See ``_rnn_grads``; the order of the returned gradients is (xw, h, W_hh, b_hh)."""
        xw, h, w_hh = self.inputs[:3]
        b_hh = self.inputs[3] if self.has_bias else None
        if not is_grad_enabled():
            mask = None if self.tanh_cell else self.positive.astype(gh.dtype)
            grads = _rnn_grads(gh.data, self.output().data, mask, h.data, w_hh.data, self.tanh_cell, self.has_bias)
        else:
            a = xw + linear(h, w_hh, b_hh)
            y = tanh(a) if self.tanh_cell else relu(a)
            mask = None if self.tanh_cell else Tensor((a.data > 0).astype(gh.dtype))
            grads = _rnn_grads(gh, y, mask, h, w_hh, self.tanh_cell, self.has_bias)
        return self._result(grads)


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
    gc_total = gc + gh * o * (1 - tc * tc)
    da = concat([gc_total * g * i * (1 - i), gc_total * c_prev * f * (1 - f), gc_total * i * (1 - g * g),
                 gh * tc * o * (1 - o)])
    gw, gb = _weight_grads(da, h, has_bias)
    return da, da @ w_hh, gc_total * f, gw, gb


class LSTMCell(_Cell):
    def forward(self, xw, h, c, w_hh, b_hh=None):
        xp = backend.get_array_module(xw)
        a = _pre_activation(xw, h, w_hh, b_hh)
        i, f, g, o = xp.split(a, 4, axis=-1)
        i, f, o, g = sigmoid_array(i), sigmoid_array(f), sigmoid_array(o), xp.tanh(g)
        c_new = f * c + i * g
        tc = xp.tanh(c_new)
        self.saved = (i, f, g, o, tc)
        return o * tc, c_new

    def backward(self, gh: Tensor, gc: Tensor) -> tuple[Tensor | None, ...]:
        """See ``_lstm_grads``; gradients in the order (xw, h, c, W_hh, b_hh)."""
        xw, h, c, w_hh = self.inputs[:4]
        b_hh = self.inputs[4] if self.has_bias else None
        if not is_grad_enabled():
            xp = backend.get_array_module(gh.data)
            i, f, g, o, tc = self.saved
            grads = _lstm_grads(gh.data, gc.data, i, f, g, o, c.data, tc, h.data, w_hh.data,
                                lambda parts: xp.concatenate(parts, axis=-1), self.has_bias)
        else:
            i, f, g, o = split(xw + linear(h, w_hh, b_hh), h.shape[-1], dim=-1)
            i, f, g, o = sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
            tc = tanh(f * c + i * g)
            grads = _lstm_grads(gh, gc, i, f, g, o, c, tc, h, w_hh, lambda parts: cat(parts, -1), self.has_bias)
        return self._result(grads)


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
    da_n = gh * (1 - z) * (1 - n * n)
    da_z = gh * (h - n) * z * (1 - z)
    da_r = da_n * hn * r * (1 - r)
    g_hw = concat([da_r, da_z, da_n * r])
    gw, gb = _weight_grads(g_hw, h, has_bias)
    return concat([da_r, da_z, da_n]), gh * z + g_hw @ w_hh, gw, gb


class GRUCell(_Cell):
    def forward(self, xw, h, w_hh, b_hh=None):
        xp = backend.get_array_module(xw)
        hw = h @ w_hh.T
        if b_hh is not None:
            hw += b_hh
        xr, xz, xn = xp.split(xw, 3, axis=-1)
        hr, hz, hn = xp.split(hw, 3, axis=-1)
        r, z = sigmoid_array(xr + hr), sigmoid_array(xz + hz)
        n = xp.tanh(xn + r * hn)
        self.saved = (r, z, n, hn)
        return n + z * (h - n)

    def backward(self, gh: Tensor) -> tuple[Tensor | None, ...]:
        """See ``_gru_grads``; gradients in the order (xw, h, W_hh, b_hh)."""
        xw, h, w_hh = self.inputs[:3]
        b_hh = self.inputs[3] if self.has_bias else None
        if not is_grad_enabled():
            xp = backend.get_array_module(gh.data)
            grads = _gru_grads(gh.data, *self.saved, h.data, w_hh.data,
                               lambda parts: xp.concatenate(parts, axis=-1), self.has_bias)
        else:
            xr, xz, xn = split(xw, h.shape[-1], dim=-1)
            hr, hz, hn = split(linear(h, w_hh, b_hh), h.shape[-1], dim=-1)
            r, z = sigmoid(xr + hr), sigmoid(xz + hz)
            n = tanh(xn + r * hn)
            grads = _gru_grads(gh, r, z, n, hn, h, w_hh, lambda parts: cat(parts, -1), self.has_bias)
        return self._result(grads)


def gru_cell(xw: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    """h' of one GRU step as one Function (gates r, z, n in PyTorch's order)."""
    args = (xw, h, w_hh) if b_hh is None else (xw, h, w_hh, b_hh)
    return GRUCell(b_hh is not None)(*args)
