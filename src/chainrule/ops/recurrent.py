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
forms ∂L/∂W_hh = Σ_t da_tᵀ·h_{t−1} as one GEMM over the L·N rows (the first step's N rows apart), instead of
one small GEMM per step and an accumulation per step. ``backward`` runs the same BPTT on Tensors: the steps
recomputed by the reference, then each step's differentiable rule from the last step to the first. With Numba
installed, the LSTM's and GRU's array routes run each step's gate arithmetic as compiled loops
(``chainrule.compiled.recurrent``, held to the NumPy loops by ``tests/ops/test_recurrent_compiled.py``), and the
time loops reuse their large arrays from one call to the next (``_Buffers``).

Notation: G_h = ∂L/∂h', G_c = ∂L/∂c'; σ' = σ(1 − σ), tanh' = 1 − tanh²; [a | b] concatenates along the gate dim.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np

from chainrule import backend, compiled
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
        h, w_hh = self.inputs[1]._data, self.inputs[2]._data
        return self._result(_rnn_grads(gh, self.output()._data, mask, h, w_hh, self.tanh_cell, self.has_bias))


def rnn_cell_reference(xw: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, nonlinearity: str = "tanh") -> Tensor:
    """h' = act(xw + h·W_hhᵀ + b_hh) composed of chainrule ops: the reference for ``rnn_cell`` and ``rnn_sequence``."""
    pre = xw + linear(h, w_hh, b_hh)
    return tanh(pre) if nonlinearity == "tanh" else relu(pre)


def _relu_mask(y: Tensor, tanh_cell: bool) -> Tensor | None:
    """relu' = [a > 0] = [h' > 0] as a constant Tensor (None for tanh, whose derivative 1 − h'² needs no mask)."""
    return None if tanh_cell else Tensor((y._data > 0).astype(y.dtype))


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
        h, c, w_hh = (x._data for x in self.inputs[1:4])
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
        h, w_hh = self.inputs[1]._data, self.inputs[2]._data
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


class _Buffers:
    """The time loops' large NumPy arrays (outputs, saved gates, gradients), reused from one call to the next. A
    fresh allocation of megabytes comes from the OS page by page, zero-filled on first touch: about 3000 page
    faults and 20 % of an LSTM layer's training step at the benchmark's size. An array is handed out again only
    when nothing else refers to it (no array, view or Tensor anywhere: CPython's reference count), so values a
    caller keeps stay as they were. At most ``limit`` arrays are kept, the most recent; the others are left to
    the garbage collector."""

    def __init__(self, limit: int = 24) -> None:
        self.limit = limit
        self.arrays: list[np.ndarray] = []
        self.lock = threading.Lock()
        # The count of an array that only the list refers to, measured with the very code that reads it later:
        # what a reference count includes (the loop variable, the call's argument) depends on the interpreter.
        self.unused = self._counts([np.empty(0)])[0]

    @staticmethod
    def _counts(arrays: list[np.ndarray]) -> list[int]:
        return [sys.getrefcount(a) for a in arrays]

    def take(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """An unused array of this shape and dtype (holding old values), else a new uninitialised one."""
        with self.lock:
            for a, count in zip(self.arrays, self._counts(self.arrays)):
                if count == self.unused and a.shape == shape and a.dtype == dtype:
                    a.flags.writeable = True  # a graph may have held it read-only while it was saved
                    return a
            a = np.empty(shape, dtype=dtype)
            self.arrays = [*self.arrays[1 - self.limit:], a]
            return a


_buffers = _Buffers()


def _new_array(xp: Any) -> Any:
    """``empty(shape, dtype)`` for a time loop's large arrays: ``_buffers.take`` for NumPy's."""
    return _buffers.take if xp is np else xp.empty


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

    def before(self, seq: Any, first: Any, t: int) -> Any:
        """The value step t started from: ``first`` at the first step, else seq's entry of the step before."""
        if t == (len(seq) - 1 if self.reverse else 0):
            return first
        return seq[t + 1] if self.reverse else seq[t - 1]

    def weight_grads(self, da: Any, h_prev: Any) -> tuple[Any, Any]:
        """∂L/∂W_hh = Σ_t da_tᵀ·h_{t−1} and ∂L/∂b_hh = Σ_t Σ_rows da_t, each over all L·N rows at once (arrays or
        Tensors)."""
        return _weight_grads(da.reshape(-1, da.shape[-1]), h_prev.reshape(-1, h_prev.shape[-1]), self.has_bias)

    def shifted_weight_grads(self, da: Any, hs: Any, first: Any) -> tuple[Any, Any]:
        """``weight_grads`` on arrays from the hidden states hs (L, N, H) and the initial state, without building
        h_{t−1} for every step (a copy of hs): one GEMM over the (L − 1)·N rows whose h_{t−1} is in hs, shifted by
        one step, plus one over the N rows of the first step, whose h_{t−1} is the initial state."""
        gates, size = da.shape[-1], hs.shape[-1]
        start, body, body_h = (-1, da[:-1], hs[1:]) if self.reverse else (0, da[1:], hs[:-1])
        gw = da[start].T @ first
        if len(body):
            gw += body.reshape(-1, gates).T @ body_h.reshape(-1, size)
        return gw, (da.reshape(-1, gates).sum(0) if self.has_bias else None)

    def stacked_weight_grads(self, da: list[Tensor], h_prev: list[Tensor]) -> tuple[Tensor, Tensor | None]:
        """``weight_grads`` of per-step Tensors in time order."""
        return self.weight_grads(stack(da), stack(h_prev))


class RNNSequence(_Sequence):
    def __init__(self, nonlinearity: str, has_bias: bool, reverse: bool) -> None:
        super().__init__(has_bias, reverse)
        self.tanh_cell = nonlinearity == "tanh"

    def forward(self, xw, h0, w_hh, b_hh=None):
        xp = backend.get_array_module(xw)
        out = self.hs = _new_array(xp)(xw.shape, xw.dtype)
        h, a_t = h0, xp.empty(xw.shape[:0:-1], dtype=xw.dtype)
        for t in self.steps(xw.shape[0]):
            xp.matmul(w_hh, h.T, out=a_t)  # h·W_hhᵀ as (W_hh·hᵀ)ᵀ: BLAS's faster layout for a small batch
            a = xp.add(a_t.T, xw[t], out=out[t])
            if b_hh is not None:
                a += b_hh
            h = _rnn_activate(a, self.tanh_cell)
        return out, h.copy()

    def fast_backward(self, g_out, g_hn):
        """BPTT with ``_rnn_grads``'s formulas: G_h = g_out[t] + ∂L/∂h_t from step t + 1, da_t = G_h ⊙ act'(a_t),
        and ∂L/∂h_{t−1} = da_t·W_hh; then ∂L/∂xw = da (L, N, H) and the weight gradients over all steps."""
        h0, w_hh = self.inputs[1]._data, self.inputs[2]._data
        out, xp = self.hs, backend.get_array_module(self.hs)
        da, w_t = _new_array(xp)(out.shape, out.dtype), xp.ascontiguousarray(w_hh.T)
        gh = g_hn
        for t in reversed(self.steps(out.shape[0])):
            gh = gh + g_out[t]
            positive = None if self.tanh_cell else out[t] > 0  # relu' = [a > 0] = [h > 0]
            da[t] = _rnn_gate_grads(gh, out[t], positive, self.tanh_cell)
            gh = (w_t @ da[t].T).T  # da·W_hh as (W_hhᵀ·daᵀ)ᵀ: BLAS's faster layout for a small batch
        return self._result((da, gh, *self.shifted_weight_grads(da, out, h0)))

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
    """The LSTM's time loop. W_hhᵀ is laid out once for the L forward GEMMs h_{t−1}·W_hhᵀ; backward takes
    ∂L/∂h_{t−1} = da_t·W_hh as (W_hhᵀ·da_tᵀ)ᵀ, which BLAS runs about 25 % faster for a batch much smaller than
    the gate width. With the compiled kernels (``chainrule.compiled``) each step's gate arithmetic runs as
    compiled passes: backward in one pass, forward around NumPy's exp and tanh on whole buffers (the reference's
    arithmetic in its order: the same bits), or in float32 as one pass with the kernel's own tanh (within a few
    1e-7 of the reference; ``compiled.recurrent.lstm_step_float32``)."""

    gate_arrays = None  # (gates (L, N, 4H), tanh c (L, N, H)) when the compiled forward ran

    def forward(self, xw, h0, c0, w_hh, b_hh=None):
        xp = backend.get_array_module(xw)
        length, fast = xw.shape[0], _compiled_route(xw, h0, c0, w_hh, b_hh)
        new = _new_array(xp)
        out = self.hs = new((length,) + h0.shape, xw.dtype)
        cs = self.cs = new((length,) + h0.shape, xw.dtype)
        if fast:
            h, c = self._compiled_forward(xw, h0, c0, w_hh, b_hh)
            return out, h.copy(), c.copy()
        self.gates = [None] * length
        h, c, w_t = h0, c0, xp.ascontiguousarray(w_hh.T)  # W_hhᵀ laid out once for L GEMMs
        for t in self.steps(length):
            h, c, self.gates[t] = _lstm_step(_pre_activation(xw[t], h, w_hh, b_hh, w_t), c)
            out[t], cs[t] = h, c
        return out, h.copy(), c.copy()  # copies: with L = 0 they would be the inputs themselves

    def _compiled_forward(self, xw, h0, c0, w_hh, b_hh):
        """``_lstm_step`` per step with the gate work compiled (``compiled.recurrent``); saves the gates
        [i | f | g | o] as one (L, N, 4H) array and tanh c_t as one (L, N, H) array. Returns the last (h, c)."""
        self.gate_arrays = _buffers.take(xw.shape, xw.dtype), _buffers.take(self.hs.shape, xw.dtype)
        w_t = np.ascontiguousarray(w_hh.T)
        if xw.dtype == np.float32:
            return self._float32_steps(xw, h0, c0, w_t, np.zeros(xw.shape[-1], xw.dtype) if b_hh is None else b_hh)
        return self._exact_steps(xw, h0, c0, w_t, b_hh)

    def _float32_steps(self, xw, h0, c0, w_t, b_hh):
        """Each step: the GEMM, then one compiled pass for all the rest, exp and tanh included."""
        kernels = compiled.module("recurrent")
        out, cs, (gates, tcs) = self.hs, self.cs, self.gate_arrays
        a = np.empty(xw.shape[1:], dtype=xw.dtype)  # h·W_hhᵀ (N, 4H)
        h, c = h0, c0
        for t in self.steps(xw.shape[0]):
            np.matmul(h, w_t, out=a)
            kernels.lstm_step_float32(a, xw[t], b_hh, c, gates[t], cs[t], tcs[t], out[t])
            h, c = out[t], cs[t]
        return h, c

    def _exact_steps(self, xw, h0, c0, w_t, b_hh):
        """Each step: the GEMM, then the reference's arithmetic in two compiled passes around NumPy's exp and
        tanh on whole buffers, and its last product: the reference's bits."""
        kernels = compiled.module("recurrent")
        out, cs, (gates, tcs) = self.hs, self.cs, self.gate_arrays
        size, one = h0.shape[-1], xw.dtype.type(1)
        a = np.empty(xw.shape[1:], dtype=xw.dtype)  # h·W_hhᵀ (N, 4H)
        p = np.empty((4,) + h0.shape, dtype=xw.dtype)  # the pre-activations by gate block (see the kernel)
        bias = xw[0, 0] if b_hh is None else b_hh  # any (4H,) array: the kernel ignores it without a bias
        h, c = h0, c0
        for t in self.steps(xw.shape[0]):
            np.matmul(h, w_t, out=a)
            kernels.lstm_preactivations(a, xw[t], bias, b_hh is not None, p)
            with np.errstate(over="ignore"):  # e^−a overflows to inf for a < −88 (float32): σ = 1/(1 + inf) = 0
                np.exp(p[:3], out=p[:3])
            np.tanh(p[3], out=p[3])
            kernels.lstm_cell_forward(p, c, one, gates[t], cs[t])
            np.tanh(cs[t], out=tcs[t])
            h, c = np.multiply(gates[t, :, 3 * size:], tcs[t], out=out[t]), cs[t]
        return h, c

    def _gates(self, t: int) -> tuple[Any, ...]:
        """(i, f, g, o, tanh c_t) of step t, as either forward route saved them."""
        if self.gate_arrays is None:
            return self.gates[t]
        gates, tcs = self.gate_arrays
        return (*backend.get_array_module(gates).split(gates[t], 4, axis=-1), tcs[t])

    def fast_backward(self, g_out, g_hn, g_cn):
        """BPTT with ``_lstm_grads``'s formulas, step by step from the last: G_h = g_out[t] + ∂L/∂h_t from step
        t + 1, the gate gradients da_t (N, 4H) and ∂L/∂c_{t−1}, then ∂L/∂h_{t−1} = da_t·W_hh, computed as
        (W_hhᵀ·da_tᵀ)ᵀ (the faster layout for BLAS; W_hhᵀ laid out once)."""
        xw, h0, c0, w_hh = (x._data for x in self.inputs[:4])
        xp = backend.get_array_module(xw)
        fast = self.gate_arrays is not None and _compiled_route(xw, g_out, g_hn, g_cn)
        da, w_t = _new_array(xp)(xw.shape, xw.dtype), xp.ascontiguousarray(w_hh.T)
        if fast:
            gh, gc = self._compiled_backward(g_out, g_hn, g_cn, c0, w_t, da)
        else:
            gh, gc = g_hn, g_cn
            for t in reversed(self.steps(xw.shape[0])):
                gh = gh + g_out[t]
                i, f, g, o, tc = self._gates(t)
                parts, gc = _lstm_gate_grads(gh, gc, i, f, g, o, self.before(self.cs, c0, t), tc)
                xp.concatenate(parts, axis=-1, out=da[t])
                gh = (w_t @ da[t].T).T
        return self._result((da, gh, gc, *self.shifted_weight_grads(da, self.hs, h0)))

    def _compiled_backward(self, g_out, g_hn, g_cn, c0, w_t, da):
        """The loop of ``fast_backward`` with each step's gate gradients in one compiled pass; returns
        (∂L/∂h_0, ∂L/∂c_0)."""
        kernels = compiled.module("recurrent")
        gates, tcs = self.gate_arrays
        one = da.dtype.type(1)
        gc = np.array(g_cn, dtype=da.dtype)  # ∂L/∂c, updated in place step by step
        dh, dh_t = g_hn, np.empty(g_hn.shape[::-1], dtype=da.dtype)  # ∂L/∂h from the step after; its transpose
        for t in reversed(self.steps(da.shape[0])):
            kernels.lstm_cell_backward(g_out[t], dh, gc, gates[t], self.before(self.cs, c0, t), tcs[t], one, da[t])
            np.matmul(w_t, da[t].T, out=dh_t)
            # laid out as (N, H) for the kernel's contiguous rows: the copy costs less than a strided read there
            dh = np.ascontiguousarray(dh_t.T)
        return dh, gc

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
    """The GRU's time loop, laid out as ``LSTMSequence``'s: W_hhᵀ laid out once, ∂L/∂hw_t·W_hh taken as
    (W_hhᵀ·∂L/∂hw_tᵀ)ᵀ, and with the compiled kernels the gate arithmetic of each step in compiled passes
    around NumPy's exp and tanh: the reference's bits."""

    gate_arrays = None  # (gates [r | z | n] (L, N, 3H), h_n (L, N, H)) when the compiled forward ran

    def forward(self, xw, h0, w_hh, b_hh=None):
        xp = backend.get_array_module(xw)
        fast = _compiled_route(xw, h0, w_hh, b_hh)
        out = self.hs = _new_array(xp)((xw.shape[0],) + h0.shape, xw.dtype)
        if fast:
            return out, self._compiled_forward(xw, h0, w_hh, b_hh).copy()
        self.gates = [None] * xw.shape[0]
        h, w_t = h0, xp.ascontiguousarray(w_hh.T)  # W_hhᵀ laid out once for L GEMMs
        for t in self.steps(xw.shape[0]):
            h, self.gates[t] = _gru_step(xw[t], h, w_hh, b_hh, w_t)
            out[t] = h
        return out, h.copy()

    def _compiled_forward(self, xw, h0, w_hh, b_hh):
        """``_gru_step`` per step with the gate work in three compiled passes (``compiled.recurrent``); saves the
        gates [r | z | n] as one (L, N, 3H) array and h_n as one (L, N, H) array. Returns the last h."""
        kernels = compiled.module("recurrent")
        out, one = self.hs, xw.dtype.type(1)
        gates, hns = _buffers.take(xw.shape, xw.dtype), _buffers.take(out.shape, xw.dtype)
        a = np.empty(xw.shape[1:], dtype=xw.dtype)  # h·W_hhᵀ (N, 3H)
        p = np.empty((3,) + h0.shape, dtype=xw.dtype)  # the sigmoids' arguments, then n's (see the kernels)
        bias = xw[0, 0] if b_hh is None else b_hh  # any (3H,) array: the kernel ignores it without a bias
        h, w_t = h0, np.ascontiguousarray(w_hh.T)
        for t in self.steps(xw.shape[0]):
            np.matmul(h, w_t, out=a)
            kernels.gru_preactivations(a, xw[t], bias, b_hh is not None, p, hns[t])
            with np.errstate(over="ignore"):  # as in sigmoid_array: σ = 1/(1 + inf) = 0
                np.exp(p[:2], out=p[:2])
            kernels.gru_candidate(p, xw[t], hns[t], one, gates[t])
            np.tanh(p[2], out=p[2])
            kernels.gru_output(p, h, gates[t], out[t])
            h = out[t]
        self.gate_arrays = gates, hns
        return h

    def _gates(self, t: int) -> tuple[Any, ...]:
        """(r, z, n, h_n) of step t, as either forward route saved them."""
        if self.gate_arrays is None:
            return self.gates[t]
        gates, hns = self.gate_arrays
        return (*backend.get_array_module(gates).split(gates[t], 3, axis=-1), hns[t])

    def fast_backward(self, g_out, g_hn):
        """BPTT with ``_gru_grads``'s formulas: G_h = g_out[t] + ∂L/∂h_t from step t + 1; ∂L/∂xw_t = [da_r | da_z
        | da_n], ∂L/∂hw_t = [da_r | da_z | da_n ⊙ r], ∂L/∂h_{t−1} = G_h ⊙ z + ∂L/∂hw_t·W_hh; the weight
        gradients over all steps are taken against ∂L/∂hw."""
        xw, h0, w_hh = (x._data for x in self.inputs[:3])
        xp = backend.get_array_module(xw)
        fast = self.gate_arrays is not None and _compiled_route(xw, g_out, g_hn)
        new = _new_array(xp)
        g_xw, g_hw, w_t = new(xw.shape, xw.dtype), new(xw.shape, xw.dtype), xp.ascontiguousarray(w_hh.T)
        if fast:
            gh = self._compiled_backward(g_out, g_hn, h0, w_t, g_xw, g_hw)
        else:
            gh = g_hn
            for t in reversed(self.steps(xw.shape[0])):
                gh = gh + g_out[t]
                r, z, n, hn = self._gates(t)
                da_r, da_z, da_n = _gru_gate_grads(gh, r, z, n, hn, self.before(self.hs, h0, t))
                xp.concatenate([da_r, da_z, da_n], axis=-1, out=g_xw[t])
                xp.concatenate([da_r, da_z, da_n * r], axis=-1, out=g_hw[t])
                gh = gh * z + (w_t @ g_hw[t].T).T
        return self._result((g_xw, gh, *self.shifted_weight_grads(g_hw, self.hs, h0)))

    def _compiled_backward(self, g_out, g_hn, h0, w_t, g_xw, g_hw):
        """The loop of ``fast_backward`` with each step's gate gradients in one compiled pass; returns ∂L/∂h_0."""
        kernels = compiled.module("recurrent")
        gates, hns = self.gate_arrays
        one = g_xw.dtype.type(1)
        gh_z, dh = np.empty((2,) + g_hn.shape, dtype=g_xw.dtype)  # G_h ⊙ z, then ∂L/∂h of the step before
        dh_t = np.empty(g_hn.shape[::-1], dtype=g_xw.dtype)  # ∂L/∂hw_t·W_hh as its GEMM writes it (H, N)
        np.copyto(dh, g_hn)
        for t in reversed(self.steps(g_xw.shape[0])):
            h_prev = self.before(self.hs, h0, t)
            kernels.gru_cell_backward(g_out[t], dh, h_prev, gates[t], hns[t], one, g_xw[t], g_hw[t], gh_z)
            np.matmul(w_t, g_hw[t].T, out=dh_t)
            np.add(gh_z, dh_t.T, out=dh)
        return dh

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


def _compiled_route(*arrays: Any) -> bool:
    """Whether the compiled kernels run on ``arrays`` (None skipped): NumPy arrays, all of one float dtype (mixed
    dtypes take the reference, whose promotion rules the kernels' preallocated buffers would not follow)."""
    present = [a for a in arrays if a is not None]
    dtype = present[0].dtype
    return (compiled.available(*present) and dtype in (np.float32, np.float64)
            and all(a.dtype == dtype for a in present))


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
