"""Making backpropagation through time visible: how much gradient reaches each time step.

For a recurrent layer h_t = f(h_{t−1}, x_t), the gradient reaching step t is

    ∂L/∂h_t = Σ_{T ≥ t} (∂L/∂h_T)_direct · ∂h_T/∂h_t,   with   ∂h_T/∂h_t = ∏_{j=t+1}^{T} ∂h_j/∂h_{j−1}

For a tanh RNN each factor is diag(1 − h_j²)·W_hh, so when the largest singular value of W_hh is below 1 the
product shrinks geometrically with T − t (vanishing gradients), and above 1 it may grow (exploding). An LSTM's
cell path c_t = f ⊙ c_{t−1} + … has the factor diag(f), which the forget gate can hold near 1.

Usage: set ``rnn.record_hidden_states = True`` before the forward pass; then

    norms = hidden_gradient_norms(loss, rnn.last_hidden_states[-1])      # ‖∂L/∂h_t‖ for t = 1..T
    jac = jacobian_product_norms(rnn.last_hidden_states[-1])             # ‖∂h_T/∂h_t‖_F for t = 1..T
    cr.viz.plot_gradient_norms({"tanh RNN": norms}, "bptt.png")          # the picture (matplotlib)

Both keep the graph (``retain_graph=True``), so ``loss.backward()`` can follow.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from chainrule import backend
from chainrule.autograd.engine import grad
from chainrule.tensor import Tensor

__all__ = ["hidden_gradient_norms", "jacobian_product_norms"]


def hidden_gradient_norms(loss: Tensor, hidden_states: Sequence[Tensor]) -> np.ndarray:
    """‖∂L/∂h_t‖ (Frobenius norm over batch and hidden units) for every h_t in ``hidden_states``.

    This is the total derivative: the direct gradient of step t plus everything that flows back from later
    steps through the recurrence. Steps the loss does not depend on get 0.
    """
    grads = grad(loss, list(hidden_states), retain_graph=True, allow_unused=True)
    return np.array([0.0 if g is None else float(np.linalg.norm(backend.to_numpy(g._data))) for g in grads])


def jacobian_product_norms(hidden_states: Sequence[Tensor]) -> np.ndarray:
    """‖∂h_T/∂h_t‖_F = ‖∏_{j=t+1}^{T} ∂h_j/∂h_{j−1}‖_F for every t, averaged over the batch (h_T the last state).

    Computed row by row with one vector-Jacobian product per hidden unit (H backward passes), which is fine for
    the hidden sizes one inspects. The last entry is ‖I‖_F = √H.
    """
    states = list(hidden_states)
    last = states[-1]
    batch, hidden = last.shape[0], last.shape[-1]
    squares = np.zeros((len(states), batch))
    for k in range(hidden):
        unit = np.zeros(last.shape, dtype=last.dtype)
        unit[..., k] = 1
        rows = grad(last, states, grad_outputs=Tensor(unit), retain_graph=True, allow_unused=True)
        for t, row in enumerate(rows):
            if row is not None:
                r = backend.to_numpy(row._data).reshape(batch, -1)
                squares[t] += (r.astype(np.float64) ** 2).sum(axis=1)
    return np.sqrt(squares).mean(axis=1)
