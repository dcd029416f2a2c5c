"""A small generative adversarial network (MLP generator and discriminator) on Fashion-MNIST, with the
non-saturating generator loss, written with chainrule.distributions.

The discriminator's output is the logit of a Bernoulli "this image is real"; both losses are Bernoulli negative
log-likelihoods, i.e. binary cross-entropies with logits:

    discriminator:  −log D(x) − log(1 − D(G(z)))      = −Bernoulli(D_logit(x)).log_prob(1) − ….log_prob(0)
    generator:      −log D(G(z))  (non-saturating)     = −Bernoulli(D_logit(G(z))).log_prob(1)

The minimax generator loss log(1 − D(G(z))) saturates when D rejects the samples confidently (its gradient
vanishes early in training); −log D(G(z)) has the same fixed point and a strong gradient there. Pixels are grey
levels, scaled to [−1, 1] for the generator's tanh. GAN losses need not fall, so each epoch also prints the
mean-image gap: the mean |E[G(z)] − E[x]| over the pixels (in [0, 1]), which falls as the generator learns the
data's mean.

    python examples/generative/gan.py                       # 5 epochs on the full data, a few minutes
    python examples/generative/gan.py --synthetic --limit 512 --epochs 3 --out runs/gan
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


def generator(noise: int, hidden: int) -> nn.Module:
    """z → image in [−1, 1]; batch norm in the generator keeps its samples from collapsing onto one kind of image."""
    return nn.Sequential(nn.Linear(noise, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.2),
                         nn.Linear(hidden, 2 * hidden), nn.BatchNorm1d(2 * hidden), nn.LeakyReLU(0.2),
                         nn.Linear(2 * hidden, 784), nn.Tanh())


def discriminator(hidden: int) -> nn.Module:
    """image → the logit of "real"."""
    return nn.Sequential(nn.Linear(784, 2 * hidden), nn.LeakyReLU(0.2), nn.Linear(2 * hidden, hidden),
                         nn.LeakyReLU(0.2), nn.Linear(hidden, 1))


def real_or_fake(logits: cr.Tensor, real: bool) -> cr.Tensor:
    """−log P(label) under Bernoulli(logits): the binary cross-entropy with logits, averaged over the batch."""
    label = cr.full(logits.shape, 1.0 if real else 0.0)
    return -D.Bernoulli(logits=logits).log_prob(label).mean()


def generate(g: nn.Module, n: int, noise: int) -> np.ndarray:
    """n samples as pixels in [0, 1], drawn with the batch-norm layers in eval mode (their running statistics)."""
    g.eval()
    with cr.no_grad():
        images = (g(cr.randn(n, noise)).numpy() + 1) / 2
    g.train()
    return images


def mean_image_gap(g: nn.Module, images: np.ndarray, noise: int) -> float:
    """The mean over pixels of |E[G(z)] − E[x]|, on 1000 samples, for pixels in [0, 1]."""
    return float(np.abs(generate(g, 1000, noise).mean(0) - images.mean(0)).mean())


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = common.parser("GAN on Fashion-MNIST", epochs=5, batch_size=128, lr=2e-4)
    p.add_argument("--noise", type=int, default=64, help="dimension of the generator's input z")
    p.add_argument("--hidden", type=int, default=256, help="width of the hidden layers (the widest is twice this)")
    args = p.parse_args(argv)
    common.check_args(p, args, common.OUTPUTS)
    images, _ = common.load(p, args, binarise=False)
    train = images * 2 - 1  # the generator's tanh range
    cr.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    g, d = generator(args.noise, args.hidden), discriminator(args.hidden)
    opt_g = optim.Adam(g.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = optim.Adam(d.parameters(), lr=args.lr, betas=(0.5, 0.999))
    gap = mean_image_gap(g, images, args.noise)
    print(f"epoch 0: mean-image gap {gap:.4f}", flush=True)
    for epoch in range(1, args.epochs + 1):
        totals = np.zeros(4)
        for x in common.batches(train, args.batch_size, rng):
            fake = g(cr.randn(len(x), args.noise))
            # the discriminator: real images → 1, generated ones (detached: G is not updated here) → 0
            d_real, d_fake = d(x), d(fake.detach())
            d_loss = real_or_fake(d_real, True) + real_or_fake(d_fake, False)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            # the generator, non-saturating: make D call its samples real
            g_loss = real_or_fake(d(fake), True)
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            with cr.no_grad():
                totals += len(x) * np.array([d_loss.item(), g_loss.item(), cr.sigmoid(d_real).mean().item(),
                                             cr.sigmoid(d_fake).mean().item()])
        d_mean, g_mean, p_real, p_fake = totals / len(train)
        gap = mean_image_gap(g, images, args.noise)
        common.finite(d_mean, g_mean)
        print(f"epoch {epoch}: D loss {d_mean:.4f}, G loss {g_mean:.4f} nats; D(x) {p_real:.3f}, D(G(z)) "
              f"{p_fake:.3f}; mean-image gap {gap:.4f}", flush=True)
    print(f"final: epoch {args.epochs}, D loss {d_mean:.4f} nats, G loss {g_mean:.4f} nats, mean-image gap "
          f"{gap:.4f}, {len(train)} training images")
    for path in common.save(args, g, generate(g, args.samples, args.noise), f"GAN samples after {args.epochs} epochs"):
        print(f"wrote {path}")
    return {"d_loss": d_mean, "g_loss": g_mean, "gap": gap}


if __name__ == "__main__":
    main()
