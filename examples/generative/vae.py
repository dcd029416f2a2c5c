"""A variational autoencoder on binarised Fashion-MNIST, written with chainrule.distributions.

The encoder maps an image x to q(z|x) = Normal(μ(x), σ(x)); z = q.rsample() is the reparameterised draw
μ + σ·ε, so the gradient reaches the encoder through the sample; the decoder maps z to Bernoulli logits over
the 784 pixels. The loss is the negative evidence lower bound, per image, in nats:

    −ELBO = −E_q[log p(x|z)] + KL(q(z|x) ‖ N(0, I))
          = reconstruction (Bernoulli log_prob summed over pixels, one sample of z) + KL (closed form).

    python examples/generative/vae.py                       # 10 epochs on the full data, a few minutes
    python examples/generative/vae.py --synthetic --limit 512 --epochs 3 --out runs/vae
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import chainrule as cr
import chainrule.distributions as D
from chainrule import nn, optim

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402 - the examples' shared helpers, beside this file


class VAE(nn.Module):
    def __init__(self, latent: int = 20, hidden: int = 256) -> None:
        super().__init__()
        self.latent = latent
        self.encoder = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 784))

    def posterior(self, x: cr.Tensor) -> D.Normal:
        """q(z|x) = Normal(μ, σ), σ = exp(½·log σ²) > 0 whatever the encoder outputs."""
        h = self.encoder(x)
        return D.Normal(h[:, : self.latent], (0.5 * h[:, self.latent:]).exp())

    def likelihood(self, z: cr.Tensor) -> D.Bernoulli:
        """p(x|z): independent Bernoulli pixels with the decoder's logits."""
        return D.Bernoulli(logits=self.decoder(z))

    def losses(self, x: cr.Tensor) -> tuple[cr.Tensor, cr.Tensor]:
        """(reconstruction, KL), each averaged over the batch, in nats per image."""
        q = self.posterior(x)
        z = q.rsample()
        reconstruction = -self.likelihood(z).log_prob(x).sum(-1)
        kl = D.kl_divergence(q, D.Normal(0.0, 1.0)).sum(-1)
        return reconstruction.mean(), kl.mean()


def run_epoch(model: VAE, images: np.ndarray, batch_size: int, optimizer=None, rng=None) -> tuple[float, float]:
    """Mean reconstruction and KL per image over one pass (training when an optimizer is given)."""
    totals = np.zeros(2)
    with cr.set_grad_enabled(optimizer is not None):
        for x in common.batches(images, batch_size, rng):
            reconstruction, kl = model.losses(x)
            if optimizer is not None:
                optimizer.zero_grad()
                (reconstruction + kl).backward()
                optimizer.step()
            totals += len(x) * np.array([reconstruction.item(), kl.item()])
    return tuple(totals / len(images))


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = common.parser("VAE on binarised Fashion-MNIST", epochs=10, batch_size=128, lr=1e-3)
    p.add_argument("--latent", type=int, default=20, help="dimension of z")
    p.add_argument("--hidden", type=int, default=256, help="hidden units of the encoder and of the decoder")
    args = p.parse_args(argv)
    common.check_args(p, args, common.OUTPUTS)
    train, test = common.load(p, args)
    cr.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = VAE(args.latent, args.hidden)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    for epoch in range(1, args.epochs + 1):
        rec, kl = run_epoch(model, train, args.batch_size, optimizer, rng)
        test_rec, test_kl = run_epoch(model, test, 1000)
        common.finite(rec, kl, test_rec, test_kl)
        print(f"epoch {epoch}: reconstruction {rec:.2f} + KL {kl:.2f} = -ELBO {rec + kl:.2f} nats; "
              f"test -ELBO {test_rec + test_kl:.2f} nats (reconstruction {test_rec:.2f}, KL {test_kl:.2f})",
              flush=True)
    print(f"final: epoch {args.epochs}, -ELBO {rec + kl:.2f} nats (reconstruction {rec:.2f} + KL {kl:.2f}), "
          f"test -ELBO {test_rec + test_kl:.2f} nats, {len(train)} training images")
    with cr.no_grad():
        probs = model.likelihood(cr.randn(args.samples, args.latent)).probs.numpy()
    for path in common.save(args, model, probs, f"VAE samples, test -ELBO {test_rec + test_kl:.1f} nats"):
        print(f"wrote {path}")
    return {"train": rec + kl, "reconstruction": rec, "kl": kl, "test": test_rec + test_kl}


if __name__ == "__main__":
    main()
