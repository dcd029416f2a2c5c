"""The local derivatives of the recurrent cells and time loops, on float64 NumPy arrays, for the explain tables.

A cell step computes a = xw + h·W_hhᵀ + b_hh (the GRU keeps h·W_hhᵀ + b_hh apart as hw) and from it the new
state. ``CellStep`` recomputes one step from its inputs and gives, per sample,

- ``jacobians()``: ∂(each output)/∂xw, ∂/∂h and ∂/∂c as arrays (N, H, in), e.g. ∂h'/∂h = (1 − h'²)·W_hh for
  the tanh RNN: the matrix that BPTT multiplies by at every step;
- ``vjp(gh, gc)``: upstream → downstream for every input (xw, h, c, W_hh, b_hh), from the same diagonal factors.

``SequenceSteps`` runs the steps of a whole time loop and backpropagates through them (BPTT) with ``vjp``.
The library's own backward rules (``chainrule.ops.recurrent``) are not used here: the tests compare the two.
Notation: σ' = σ(1 − σ), tanh' = 1 − tanh²; [a | b] concatenates gate blocks of H columns each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * a))  # never overflows, unlike 1/(1 + exp(−a))


def block_diagonal(d: np.ndarray, hidden: int) -> np.ndarray:
    """(N, G·H) diagonal factors → the Jacobian (N, H, G·H) whose block b is diag(d[:, b·H:(b+1)·H])."""
    n, width = d.shape
    blocks = d.reshape(n, width // hidden, hidden)
    return np.einsum("nbj,jk->njbk", blocks, np.eye(hidden)).reshape(n, hidden, width)


def diagonal(d: np.ndarray) -> np.ndarray:
    """(N, H) → (N, H, H) with d on each sample's diagonal."""
    return d[:, :, None] * np.eye(d.shape[1])


@dataclass
class CellStep:
    """One step of a cell (``kind``: "rnn", "lstm" or "gru"), recomputed in float64 from its inputs."""

    kind: str
    xw: np.ndarray  # (N, G·H)
    h: np.ndarray  # (N, H)
    c: np.ndarray | None  # (N, H), LSTM only
    w: np.ndarray  # W_hh (G·H, H)
    b: np.ndarray | None  # b_hh (G·H,)
    relu: bool = False  # the Elman RNN's nonlinearity
    outputs: tuple[np.ndarray, ...] = field(init=False)

    def __post_init__(self) -> None:
        hw = self.h @ self.w.T + (0 if self.b is None else self.b)
        hidden = self.h.shape[1]
        if self.kind == "rnn":
            a = self.xw + hw
            y = np.maximum(a, 0) if self.relu else np.tanh(a)
            self.d = (a > 0).astype(np.float64) if self.relu else 1 - y * y  # act'(a)
            self.outputs = (y,)
        elif self.kind == "lstm":
            i, f, g, o = np.split(self.xw + hw, 4, axis=1)
            i, f, g, o = _sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)
            c_new = f * self.c + i * g
            tc = np.tanh(c_new)
            self.f, self.out_gain = f, o * (1 - tc * tc)  # ∂h'/∂c' = o·(1 − tanh²c')
            zero = np.zeros_like(i)
            self.dc = np.concatenate([g * i * (1 - i), self.c * f * (1 - f), i * (1 - g * g), zero], axis=1)
            self.dh = np.tile(self.out_gain, 4) * self.dc + np.concatenate([zero, zero, zero, tc * o * (1 - o)], 1)
            self.outputs = (o * tc, c_new)
        else:
            xr, xz, xn = np.split(self.xw, 3, axis=1)
            hr, hz, hn = np.split(hw, 3, axis=1)
            r, z = _sigmoid(xr + hr), _sigmoid(xz + hz)
            n = np.tanh(xn + r * hn)
            a_n = (1 - z) * (1 - n * n)
            a_z = (self.h - n) * z * (1 - z)
            a_r = a_n * hn * r * (1 - r)
            self.z = z
            self.d_xw = np.concatenate([a_r, a_z, a_n], axis=1)  # ∂h'/∂xw, diagonal per block
            self.d_hw = np.concatenate([a_r, a_z, a_n * r], axis=1)  # ∂h'/∂(h·W_hhᵀ + b_hh)
            self.outputs = (n + z * (self.h - n),)
        self.hidden = hidden

    def jacobians(self) -> dict[str, tuple[np.ndarray, ...]]:
        """∂(each output)/∂input per sample, (N, H, in), for the inputs of one sample: xw, h and (LSTM) c."""
        if self.kind == "rnn":
            return {"xw": (diagonal(self.d),), "h": (self.d[:, :, None] * self.w,)}
        if self.kind == "lstm":
            jh, jc = block_diagonal(self.dh, self.hidden), block_diagonal(self.dc, self.hidden)
            return {"xw": (jh, jc), "h": (jh @ self.w, jc @ self.w),
                    "c": (diagonal(self.out_gain * self.f), diagonal(self.f))}
        j_xw = block_diagonal(self.d_xw, self.hidden)
        return {"xw": (j_xw,), "h": (diagonal(self.z) + block_diagonal(self.d_hw, self.hidden) @ self.w,)}

    def vjp(self, gh: np.ndarray, gc: np.ndarray | None = None) -> dict[str, np.ndarray | None]:
        """Downstream gradients of every input from the upstream ones: G·(each Jacobian), summed over outputs."""
        if self.kind == "rnn":
            da = gh * self.d
            return {"xw": da, "h": da @ self.w, "c": None, "w": da.T @ self.h, "b": da.sum(0)}
        if self.kind == "lstm":
            gc = np.zeros_like(gh) if gc is None else gc
            da = np.tile(gh, 4) * self.dh + np.tile(gc, 4) * self.dc
            return {"xw": da, "h": da @ self.w, "c": (gh * self.out_gain + gc) * self.f, "w": da.T @ self.h,
                    "b": da.sum(0)}
        g_hw = np.tile(gh, 3) * self.d_hw
        return {"xw": np.tile(gh, 3) * self.d_xw, "h": gh * self.z + g_hw @ self.w, "c": None,
                "w": g_hw.T @ self.h, "b": g_hw.sum(0)}


@dataclass
class SequenceSteps:
    """A time loop (L steps) as its ``CellStep``s, in the order the forward pass ran them."""

    kind: str
    xw: np.ndarray  # (L, N, G·H)
    h0: np.ndarray
    c0: np.ndarray | None
    w: np.ndarray
    b: np.ndarray | None
    relu: bool = False
    reverse: bool = False
    steps: dict[int, CellStep] = field(init=False)

    def __post_init__(self) -> None:
        self.steps = {}
        h, c = self.h0, self.c0
        for t in self.order():
            step = CellStep(self.kind, self.xw[t], h, c, self.w, self.b, self.relu)
            self.steps[t] = step
            h = step.outputs[0]
            c = step.outputs[1] if self.kind == "lstm" else None

    def order(self) -> range:
        length = self.xw.shape[0]
        return range(length - 1, -1, -1) if self.reverse else range(length)

    def recurrent_jacobians(self, state: str = "h") -> np.ndarray:
        """∂h_t/∂h_(t−1) (or ∂c_t/∂c_(t−1) for state "c") of every step t, in time order: (L, N, H, H)."""
        index = 1 if state == "c" else 0
        return np.stack([self.steps[t].jacobians()[state][index] for t in range(self.xw.shape[0])])

    def vjp(self, g_out: np.ndarray, g_hn: np.ndarray, g_cn: np.ndarray | None = None) -> dict[str, Any]:
        """BPTT: the gradient reaching h_t is g_out[t] plus what step t + 1 sent back through ∂h_(t+1)/∂h_t."""
        g_xw = np.zeros_like(self.xw)
        g_w, g_b = np.zeros_like(self.w), np.zeros(self.w.shape[0])
        gh, gc = g_hn, g_cn
        for t in reversed(self.order()):
            grads = self.steps[t].vjp(gh + g_out[t], gc)
            g_xw[t], gh, gc = grads["xw"], grads["h"], grads["c"]
            g_w += grads["w"]
            g_b += grads["b"]
        return {"xw": g_xw, "h": gh, "c": gc, "w": g_w, "b": g_b}
