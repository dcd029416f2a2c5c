"""Learn sine waves with two stacked LSTM cells and L-BFGS, then forecast past the data: a PyTorch program whose
imports name chainrule (the only lines that differ from its PyTorch version).

    python examples/pytorch/sine_forecast.py --steps 6 --out forecast.png
"""

import argparse

import numpy as np

import chainrule as torch
import chainrule.nn as nn
import chainrule.optim as optim


def sine_waves(count: int = 40, length: int = 400, period: float = 20.0, seed: int = 2) -> np.ndarray:
    """``count`` sine waves of ``length`` samples, each with a random phase shift, as float64."""
    rng = np.random.default_rng(seed)
    shifts = rng.integers(-4 * int(period), 4 * int(period), size=(count, 1))
    return np.sin((np.arange(length)[None, :] + shifts) / period).astype(np.float64)


class Forecaster(nn.Module):
    def __init__(self, hidden: int = 51):
        super().__init__()
        self.hidden = hidden
        self.cell1 = nn.LSTMCell(1, hidden)
        self.cell2 = nn.LSTMCell(hidden, hidden)
        self.head = nn.Linear(hidden, 1)

    def forward(self, series, future: int = 0):
        batch = series.size(0)
        h1 = torch.zeros(batch, self.hidden, dtype=torch.double)
        c1 = torch.zeros(batch, self.hidden, dtype=torch.double)
        h2 = torch.zeros(batch, self.hidden, dtype=torch.double)
        c2 = torch.zeros(batch, self.hidden, dtype=torch.double)
        outputs = []
        for value in series.split(1, dim=1):  # teacher forcing: the true value at each step
            h1, c1 = self.cell1(value, (h1, c1))
            h2, c2 = self.cell2(h1, (h2, c2))
            out = self.head(h2)
            outputs.append(out)
        for _ in range(future):  # then its own prediction
            h1, c1 = self.cell1(out, (h1, c1))
            h2, c2 = self.cell2(h1, (h2, c2))
            out = self.head(h2)
            outputs.append(out)
        return torch.cat(outputs, dim=1)


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description="sine-wave forecasting with LSTM cells and L-BFGS")
    parser.add_argument("--steps", type=int, default=15, help="L-BFGS steps (each up to 20 iterations)")
    parser.add_argument("--waves", type=int, default=40, help="sine waves to make (3 are kept for testing)")
    parser.add_argument("--length", type=int, default=400, help="samples per wave")
    parser.add_argument("--future", type=int, default=200, help="samples to forecast past each test wave")
    parser.add_argument("--out", default=None, help="save a plot of the forecasts to this file")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    data = sine_waves(args.waves, args.length)
    inputs, targets = torch.from_numpy(data[3:, :-1]), torch.from_numpy(data[3:, 1:])
    test_inputs, test_targets = torch.from_numpy(data[:3, :-1]), torch.from_numpy(data[:3, 1:])

    model = Forecaster()
    model.double()
    criterion = nn.MSELoss()
    optimizer = optim.LBFGS(model.parameters(), lr=0.8)
    test_loss = float("nan")
    for step in range(args.steps):
        def closure():
            optimizer.zero_grad()
            loss = criterion(model(inputs), targets)
            loss.backward()
            return loss

        loss = optimizer.step(closure)
        with torch.no_grad():
            forecast = model(test_inputs, future=args.future)
            test_loss = criterion(forecast[:, :-args.future], test_targets).item()
        print(f"step {step}: train loss {loss.item():.6f}, test loss {test_loss:.6f}")
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        y = forecast.detach().numpy()
        known = test_inputs.size(1)
        plt.figure(figsize=(12, 4))
        for row, color in zip(y, "rgb"):
            plt.plot(np.arange(known), row[:known], color, linewidth=1.5)
            plt.plot(np.arange(known, known + args.future), row[known:], color + ":", linewidth=1.5)
        plt.title("forecasts past the data (dotted)")
        plt.savefig(args.out)
        plt.close()
    return test_loss


if __name__ == "__main__":
    main()
