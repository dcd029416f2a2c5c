"""The adding problem: a long-range task on which an LSTM learns and a tanh RNN does not.

Each input sequence has a value channel (uniform in [0, 1)) and a marker channel that is 1 at exactly two steps,
one in each half. The target is the sum of the two marked values. Predicting the mean (1.0) gives a mean
squared error of about 0.167; a model that solves the task must carry information across half the sequence,
which needs gradient to reach early steps (docs/rnn.md). The script also saves the BPTT picture for both models.

Run: python examples/adding_problem.py [--length 30] [--steps 800]
"""

from __future__ import annotations

import argparse

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.data.synthetic import adding_problem
from chainrule.nn import bptt


class Regressor(nn.Module):
    """A recurrent layer followed by a linear read-out of the last hidden state."""

    def __init__(self, kind: str, hidden: int, generator: np.random.Generator) -> None:
        super().__init__()
        layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
        self.rnn = layer(2, hidden, generator=generator)
        if kind == "lstm":  # forget-gate bias 1: remember by default (Gers et al.), a common initialisation
            with cr.no_grad():
                self.rnn.bias_ih_l0.data[hidden : 2 * hidden] = 1.0
        self.head = nn.Linear(hidden, 1, generator=generator)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[-1])


def train(kind: str, length: int, steps: int, hidden: int = 32, batch: int = 64, lr: float = 1e-2, seed: int = 0,
          log_every: int = 0) -> dict[str, float]:
    """Train one model; returns its test MSE and accuracy (|prediction − target| < 0.04) on 1,000 new sequences."""
    rng = np.random.default_rng(seed)
    model = Regressor(kind, hidden, rng)
    optimizer = cr.optim.Adam(model.parameters(), lr=lr)
    for step in range(1, steps + 1):
        x, y = adding_problem(batch, length, rng)
        loss = cr.nn.functional.mse_loss(model(cr.tensor(x)), cr.tensor(y))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if log_every and step % log_every == 0:
            print(f"  {kind:4s} step {step:5d}  mse {loss.item():.4f}")
    x, y = adding_problem(1000, length, np.random.default_rng(seed + 1))
    with cr.no_grad():
        pred = model(cr.tensor(x)).numpy()
    return {"mse": float(((pred - y) ** 2).mean()), "accuracy": float((np.abs(pred - y) < 0.04).mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=30)
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--plot", default="bptt_adding.png", help="where to save the BPTT gradient-norm picture")
    args = parser.parse_args()
    for kind in ("rnn", "lstm"):
        result = train(kind, args.length, args.steps, log_every=100)
        print(f"{kind}: test mse {result['mse']:.4f}, accuracy {result['accuracy']:.1%}")
    curves = {}
    x, _ = adding_problem(16, args.length, np.random.default_rng(3))
    for kind in ("rnn", "lstm"):
        model = Regressor(kind, 32, np.random.default_rng(0))
        model.rnn.record_hidden_states = True
        out = model(cr.tensor(x))
        curves[kind] = bptt.hidden_gradient_norms(out.sum(), model.rnn.last_hidden_states[0])
    print("saved", cr.viz.plot_gradient_norms(curves, args.plot, "‖∂L/∂h_t‖ at initialisation, adding problem"))


if __name__ == "__main__":
    main()
