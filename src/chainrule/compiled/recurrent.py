"""The LSTM's per-step gate arithmetic as compiled loops: one pass where NumPy makes a dozen (split, adds, the
sigmoid's three passes per gate, products, a concatenation), each allocating a temporary. The NumPy reference
is ``_lstm_step`` and ``_lstm_gate_grads`` in ``src/chainrule/ops/recurrent.py``; the tests require equal
results, bit for bit.

Bit for bit because the kernels do the reference's arithmetic in its order (no fused multiply-add: Numba does
not contract without ``fastmath``) and leave exp and tanh to the caller, which applies NumPy's own ufuncs to the
buffers in between: NumPy's vectorised exp and tanh are both faster than a compiled scalar call per element and
the reference's very functions. ``one`` is 1 in the arrays' dtype, so float32 stays float32. ``error_model=
"numpy"``: a division by zero gives inf as in NumPy instead of a check per division, which would keep the loops
from being vectorised (3× slower).

Shapes: N rows (the batch), H hidden units, gate blocks in PyTorch's order [i | f | g | o] of width H. Each
row's blocks are taken as slices, so that the inner loops run over contiguous memory.
"""

from __future__ import annotations

import numba
import numpy as np

# tanh(x) ≈ x·P(x²)/Q(x²) on |x| ≤ 7.905 (beyond, tanh rounds to ±1 in float32): the rational approximation of
# Eigen's float tanh, within 6 units in the last place of float32 (measured on a dense grid against float64 tanh).
_CLAMP = np.float32(7.90531110763549805)
_P = tuple(np.float32(v) for v in (4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05,
                                   5.12229709037114e-08, -8.60467152213735e-11, 2.00018790482477e-13,
                                   -2.76076847742355e-16))
_Q = tuple(np.float32(v) for v in (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04,
                                   1.19825839466702e-06))
_P1, _P3, _P5, _P7, _P9, _P11, _P13 = _P
_Q0, _Q2, _Q4, _Q6 = _Q
_HALF = np.float32(0.5)


@numba.njit(cache=True, nogil=True, inline="always")
def _tanh32(x):  # pragma: no cover - compiled
    """tanh in float32 arithmetic, without a library call, so that the loop around it is vectorised."""
    x = min(max(x, -_CLAMP), _CLAMP)
    x2 = x * x
    p = ((((((_P13 * x2 + _P11) * x2 + _P9) * x2 + _P7) * x2 + _P5) * x2 + _P3) * x2 + _P1) * x
    return p / (((_Q6 * x2 + _Q4) * x2 + _Q2) * x2 + _Q0)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def lstm_step_float32(a, xw, b_hh, c_prev, gates, c_new, tc, h):  # pragma: no cover - compiled
    """One whole LSTM step in float32, in one pass: from a = h·W_hhᵀ, xw (N, 4H) and b_hh (4H,), the gates
    i, f, o = σ(·), g = tanh(·) of (a + xw) + b_hh saved as [i | f | g | o], c' = f ⊙ c + i ⊙ g, tanh c' and
    h' = o ⊙ tanh c'. σ(x) = ½ + ½·tanh(x/2), and tanh the rational approximation above: no exp, so no
    overflow for any x, and values within a few 1e-7 of the reference's (NumPy's exp and tanh)."""
    rows, size = h.shape
    b_i, b_f, b_g, b_o = b_hh[:size], b_hh[size:2 * size], b_hh[2 * size:3 * size], b_hh[3 * size:]
    for n in range(rows):
        a_i, a_f, a_g, a_o = a[n, :size], a[n, size:2 * size], a[n, 2 * size:3 * size], a[n, 3 * size:]
        x_i, x_f, x_g, x_o = xw[n, :size], xw[n, size:2 * size], xw[n, 2 * size:3 * size], xw[n, 3 * size:]
        i_, f_, g_, o_ = gates[n, :size], gates[n, size:2 * size], gates[n, 2 * size:3 * size], gates[n, 3 * size:]
        c_row, c_out, tc_row, h_row = c_prev[n], c_new[n], tc[n], h[n]
        for j in range(size):
            i = _HALF + _HALF * _tanh32(_HALF * (a_i[j] + x_i[j] + b_i[j]))
            f = _HALF + _HALF * _tanh32(_HALF * (a_f[j] + x_f[j] + b_f[j]))
            g = _tanh32(a_g[j] + x_g[j] + b_g[j])
            o = _HALF + _HALF * _tanh32(_HALF * (a_o[j] + x_o[j] + b_o[j]))
            c = f * c_row[j] + i * g
            t = _tanh32(c)
            i_[j], f_[j], g_[j], o_[j] = i, f, g, o
            c_out[j], tc_row[j], h_row[j] = c, t, o * t


@numba.njit(cache=True, nogil=True, error_model="numpy")
def lstm_preactivations(a, xw, b_hh, has_bias, p):  # pragma: no cover - compiled
    """From a = h·W_hhᵀ (N, 4H), the step's xw (N, 4H) and b_hh (4H,): p (4, N, H) = [−a_i, −a_f, −a_o, a_g] of
    the pre-activations (a + xw) + b_hh, the sigmoid blocks negated and first, so that the caller takes exp of
    p[:3] (e^−a, the sigmoid's first pass) and tanh of p[3], each one contiguous buffer, with one ufunc call."""
    rows, size = p.shape[1], p.shape[2]
    for n in range(rows):
        for gate, slot, sign in ((0, 0, -1), (1, 1, -1), (2, 3, 1), (3, 2, -1)):  # gate block → block of p
            a_q, x_q = a[n, gate * size:(gate + 1) * size], xw[n, gate * size:(gate + 1) * size]
            b_q, p_q = b_hh[gate * size:(gate + 1) * size], p[slot, n]
            if has_bias:
                for j in range(size):
                    p_q[j] = a_q[j] + x_q[j] + b_q[j]
            else:
                for j in range(size):
                    p_q[j] = a_q[j] + x_q[j]
            if sign < 0:
                for j in range(size):
                    p_q[j] = -p_q[j]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def lstm_cell_forward(p, c_prev, one, gates, c_new):  # pragma: no cover - compiled
    """From p = [e^−a_i, e^−a_f, e^−a_o, tanh a_g] (4, N, H): i, f, o = 1/(1 + e^−a) (the sigmoid's last two
    passes), g = tanh a_g, saved as gates = [i | f | g | o] (N, 4H), and c' = f ⊙ c + i ⊙ g into c_new (N, H)."""
    rows, size = c_new.shape
    for n in range(rows):
        e_i, e_f, e_o, t_g = p[0, n], p[1, n], p[2, n], p[3, n]
        i_, f_, g_, o_ = gates[n, :size], gates[n, size:2 * size], gates[n, 2 * size:3 * size], gates[n, 3 * size:]
        c_row, c_out = c_prev[n], c_new[n]
        for j in range(size):
            i, f, o, g = one / (one + e_i[j]), one / (one + e_f[j]), one / (one + e_o[j]), t_g[j]
            i_[j], f_[j], g_[j], o_[j] = i, f, g, o
            c_out[j] = f * c_row[j] + i * g


@numba.njit(cache=True, nogil=True, error_model="numpy")
def lstm_cell_backward(g_out, dh, gc, gates, c_prev, tc, one, da):  # pragma: no cover - compiled
    """One step of BPTT: G_h = ∂L/∂h (dh, from the step after) + g_out, both (N, H), then with the saved gates
    [i | f | g | o] and tc = tanh c':

    G_c' = G_c + G_h ⊙ o ⊙ (1 − tc²);  da = [G_c'·g·i(1 − i) | G_c'·c·f(1 − f) | G_c'·i·(1 − g²) | G_h·tc·o(1 − o)]
    written to da (N, 4H); gc (N, H) is updated in place to ∂L/∂c = G_c'·f.
    """
    rows, size = gc.shape
    for n in range(rows):
        i_, f_, g_, o_ = gates[n, :size], gates[n, size:2 * size], gates[n, 2 * size:3 * size], gates[n, 3 * size:]
        d_i, d_f, d_g, d_o = da[n, :size], da[n, size:2 * size], da[n, 2 * size:3 * size], da[n, 3 * size:]
        g_row, dh_row, gc_row, c_row, tc_row = g_out[n], dh[n], gc[n], c_prev[n], tc[n]
        for j in range(size):
            gh = dh_row[j] + g_row[j]
            i, f, g, o, t = i_[j], f_[j], g_[j], o_[j], tc_row[j]
            gc_total = gc_row[j] + gh * o * (one - t * t)
            d_i[j] = gc_total * g * i * (one - i)
            d_f[j] = gc_total * c_row[j] * f * (one - f)
            d_g[j] = gc_total * i * (one - g * g)
            d_o[j] = gh * t * o * (one - o)
            gc_row[j] = gc_total * f


@numba.njit(cache=True, nogil=True, error_model="numpy")
def gru_preactivations(a, xw, b_hh, has_bias, p, hn):  # pragma: no cover - compiled
    """From a = h·W_hhᵀ (N, 3H), the step's xw (N, 3H) and b_hh (3H,): hw = a + b_hh = [h_r | h_z | h_n], h_n
    saved into hn (N, H), and p[0], p[1] (of p (3, N, H)) = −(x_r + h_r), −(x_z + h_z), for the caller's exp."""
    rows, size = hn.shape
    for n in range(rows):
        for gate in range(3):
            a_q, x_q = a[n, gate * size:(gate + 1) * size], xw[n, gate * size:(gate + 1) * size]
            b_q = b_hh[gate * size:(gate + 1) * size]
            out = hn[n] if gate == 2 else p[gate, n]
            if has_bias:
                for j in range(size):
                    out[j] = a_q[j] + b_q[j]
            else:
                for j in range(size):
                    out[j] = a_q[j]
            if gate < 2:
                for j in range(size):
                    out[j] = -(x_q[j] + out[j])


@numba.njit(cache=True, nogil=True, error_model="numpy")
def gru_candidate(p, xw, hn, one, gates):  # pragma: no cover - compiled
    """From p[0], p[1] = e^−(x_r + h_r), e^−(x_z + h_z): r, z = 1/(1 + e^−a), saved into gates [r | z | ·]
    (N, 3H), and p[2] = x_n + r ⊙ h_n, for the caller's tanh."""
    rows, size = hn.shape
    for n in range(rows):
        e_r, e_z, p_n, x_n, h_n = p[0, n], p[1, n], p[2, n], xw[n, 2 * size:], hn[n]
        r_, z_ = gates[n, :size], gates[n, size:2 * size]
        for j in range(size):
            r = one / (one + e_r[j])
            r_[j], z_[j] = r, one / (one + e_z[j])
            p_n[j] = x_n[j] + r * h_n[j]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def gru_output(p, h, gates, h_new):  # pragma: no cover - compiled
    """From p[2] = n = tanh(x_n + r ⊙ h_n): n saved into gates [r | z | n], and h' = n + z ⊙ (h − n)."""
    rows, size = h.shape
    for n in range(rows):
        t_n, h_row, z_, n_, out = p[2, n], h[n], gates[n, size:2 * size], gates[n, 2 * size:], h_new[n]
        for j in range(size):
            v = t_n[j]
            n_[j] = v
            out[j] = v + z_[j] * (h_row[j] - v)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def gru_cell_backward(g_out, dh, h_prev, gates, hn, one, g_xw, g_hw, gh_z):  # pragma: no cover - compiled
    """One step of BPTT: G_h = dh (from the step after) + g_out, both (N, H), then with the saved gates
    [r | z | n] and h_n:

    da_n = G_h·(1 − z)·(1 − n²),  da_z = G_h·(h − n)·z(1 − z),  da_r = da_n·h_n·r(1 − r)
    g_xw = [da_r | da_z | da_n],  g_hw = [da_r | da_z | da_n ⊙ r]  (N, 3H),  gh_z = G_h ⊙ z  (N, H),
    the caller adding g_hw·W_hh to gh_z for ∂L/∂h.
    """
    rows, size = dh.shape
    for n in range(rows):
        r_, z_, n_ = gates[n, :size], gates[n, size:2 * size], gates[n, 2 * size:]
        x_r, x_z, x_n = g_xw[n, :size], g_xw[n, size:2 * size], g_xw[n, 2 * size:]
        w_r, w_z, w_n = g_hw[n, :size], g_hw[n, size:2 * size], g_hw[n, 2 * size:]
        g_row, dh_row, h_row, hn_row, ghz_row = g_out[n], dh[n], h_prev[n], hn[n], gh_z[n]
        for j in range(size):
            gh = dh_row[j] + g_row[j]
            r, z, v = r_[j], z_[j], n_[j]
            da_n = gh * (one - z) * (one - v * v)
            da_z = gh * (h_row[j] - v) * z * (one - z)
            da_r = da_n * hn_row[j] * r * (one - r)
            x_r[j], x_z[j], x_n[j] = da_r, da_z, da_n
            w_r[j], w_z[j], w_n[j] = da_r, da_z, da_n * r
            ghz_row[j] = gh * z
