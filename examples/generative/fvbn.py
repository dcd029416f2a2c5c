"""A fully-visible belief network on binarised Fashion-MNIST: an autoregressive model of the 784 pixels, MADE-style
(Germain et al. 2015), written with chainrule.distributions.

The joint factorises in raster order, p(x) = Πᵢ p(xᵢ | x₀ … xᵢ₋₁), each factor a Bernoulli whose logit is an
output of one masked MLP: masks on the weights let output i see only pixels j < i (a hidden unit of degree m sees
pixels 0 … m−1 and feeds outputs ≥ m+1; a direct masked linear path adds a logistic autoregression, as in
Frey's FVBN). One forward pass gives all 784 conditionals, so the log-likelihood is exact and training is
plain maximum likelihood; the test set's negative log-likelihood is reported in nats per image.

    python examples/generative/fvbn.py                      # 10 epochs on the full data, a few minutes
    python examples/generative/fvbn.py --synthetic --limit 512 --epochs 3 --out runs/fvbn
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import chainrule as cr
import chainrule.distributions as D
import chainrule.nn.functional as F
from chainrule import nn, optim

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402 - the examples' shared helpers, beside this file


class MaskedLinear(nn.Linear):
    """y = x·(W ⊙ M)ᵀ + b: a Linear layer whose weight is multiplied by a constant 0/1 mask M (a buffer), so the
    masked weights get zero gradient and stay out of the function."""

    def __init__(self, in_features: int, out_features: int, mask: np.ndarray, bias: bool = True) -> None:
        super().__init__(in_features, out_features, bias)
        self.register_buffer("mask", cr.tensor(mask.astype(np.float32)))

    def forward(self, input: cr.Tensor) -> cr.Tensor:  # noqa: A002 - PyTorch's name
        return F.linear(input, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Logits of p(xᵢ = 1 | x<ᵢ) for i = 0 … dims−1. Degrees: input j has j + 1, hidden unit k has
    m(k) ∈ [1, dims − 1]; a hidden unit sees the inputs with degree ≤ m(k), an output i + 1 sees the hidden units
    with m(k) < i + 1, so output i depends on x₀ … xᵢ₋₁ only (output 0 on nothing: its bias)."""

    def __init__(self, dims: int = 784, hidden: int = 500) -> None:
        super().__init__()
        degree_in = np.arange(1, dims + 1)
        degree_hidden = np.arange(hidden) % max(dims - 1, 1) + 1
        self.hidden = MaskedLinear(dims, hidden, degree_hidden[:, None] >= degree_in[None, :])
        self.out = MaskedLinear(hidden, dims, degree_in[:, None] > degree_hidden[None, :])
        self.direct = MaskedLinear(dims, dims, np.tril(np.ones((dims, dims)), -1), bias=False)
        self.direct.weight.data.zero_()

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.out(F.relu(self.hidden(x))) + self.direct(x)

    def distribution(self, x: cr.Tensor) -> D.Bernoulli:
        return D.Bernoulli(logits=self(x))

    def nll(self, x: cr.Tensor) -> cr.Tensor:
        """−log p(x) = −Σᵢ log p(xᵢ | x<ᵢ), in nats, one per image."""
        return -self.distribution(x).log_prob(x).sum(-1)

    def sample(self, n: int) -> np.ndarray:
        """Ancestral sampling, one pixel after another (dims forward passes)."""
        dims = self.direct.weight.shape[0]
        x = np.zeros((n, dims), dtype=np.float32)
        with cr.no_grad():
            for i in range(dims):
                x[:, i] = self.distribution(cr.tensor(x)).sample().numpy()[:, i]
        return x


def run_epoch(model: MADE, images: np.ndarray, batch_size: int, optimizer=None, rng=None) -> float:
    """Mean NLL per image over one pass (training when an optimizer is given)."""
    total = 0.0
    with cr.set_grad_enabled(optimizer is not None):
        for x in common.batches(images, batch_size, rng):
            loss = model.nll(x).mean()
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total += len(x) * loss.item()
    return total / len(images)


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = common.parser("autoregressive FVBN (MADE) on binarised Fashion-MNIST", epochs=10, batch_size=100, lr=1e-3)
    p.add_argument("--hidden", type=int, default=500, help="hidden units of the masked MLP")
    args = p.parse_args(argv)
    common.check_args(p, args, common.OUTPUTS)
    train, test = common.load(p, args)
    cr.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = MADE(784, args.hidden)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    for epoch in range(1, args.epochs + 1):
        nll = run_epoch(model, train, args.batch_size, optimizer, rng)
        test_nll = run_epoch(model, test, 1000)
        common.finite(nll, test_nll)
        print(f"epoch {epoch}: NLL {nll:.2f} nats per image; test NLL {test_nll:.2f} nats per image", flush=True)
    print(f"final: epoch {args.epochs}, NLL {nll:.2f} nats, test NLL {test_nll:.2f} nats per image "
          f"({test_nll / 784 / np.log(2):.4f} bits per pixel), {len(train)} training images")
    if args.out is not None:
        samples = model.sample(args.samples)
        for path in common.save(args, model, samples, f"FVBN samples, test NLL {test_nll:.1f} nats"):
            print(f"wrote {path}")
    return {"train": nll, "test": test_nll}


if __name__ == "__main__":
    main()
