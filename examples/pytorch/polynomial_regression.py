"""Fit a degree-4 polynomial with one linear layer and hand-written SGD on ``param.data``: a PyTorch program whose
import names chainrule (the only line that differs from its PyTorch version).

    python examples/pytorch/polynomial_regression.py
"""

import argparse
from itertools import count

import chainrule as torch
import chainrule.nn.functional as F

DEGREE = 4


def features(x):
    """(N,) → (N, 4): the columns x, x², x³, x⁴."""
    x = x.unsqueeze(1)
    return torch.cat([x ** i for i in range(1, DEGREE + 1)], 1)


def describe(weights, bias) -> str:
    terms = " ".join(f"{w.item():+.2f} x^{i}" for i, w in enumerate(weights, start=1))
    return f"y = {terms} {bias.item():+.2f}"


def main(argv=None) -> tuple[float, int]:
    parser = argparse.ArgumentParser(description="polynomial regression with a linear layer")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--tolerance", type=float, default=1e-3, help="stop when the batch loss is below this")
    parser.add_argument("--max-batches", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    true_w = torch.randn(DEGREE, 1) * 5
    true_b = torch.randn(1) * 5
    model = torch.nn.Linear(DEGREE, 1)
    loss_value = float("inf")
    for batch in count(1):
        x = features(torch.randn(args.batch_size))
        y = x.mm(true_w) + true_b.item()
        model.zero_grad()
        loss = F.smooth_l1_loss(model(x), y)
        loss_value = loss.item()
        loss.backward()
        for p in model.parameters():
            p.data.add_(-args.lr * p.grad)
        if loss_value < args.tolerance or batch >= args.max_batches:
            break
    print(f"Loss: {loss_value:.6f} after {batch} batches")
    print("==> Learned function:\t" + describe(model.weight.view(-1), model.bias))
    print("==> Actual function:\t" + describe(true_w.view(-1), true_b))
    return loss_value, batch


if __name__ == "__main__":
    main()
