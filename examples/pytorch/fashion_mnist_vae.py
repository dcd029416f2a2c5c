"""A variational autoencoder on Fashion-MNIST in the style of PyTorch's VAE example: an MLP encoder to (μ, log σ²),
the reparameterisation z = μ + σ·ε, a sigmoid decoder, and the loss BCE + KL. A PyTorch program whose imports name
chainrule (the only lines that differ from its PyTorch version).

    python examples/pytorch/fashion_mnist_vae.py --epochs 1 --subset 6000 --samples samples.png
"""

import argparse

import chainrule as torch
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.utils.data import DataLoader, Subset
from chainrule.vision import datasets, transforms


class VAE(nn.Module):
    def __init__(self, latent: int = 20):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, latent)
        self.fc22 = nn.Linear(400, latent)
        self.fc3 = nn.Linear(latent, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h = F.relu(self.fc1(x))
        return self.fc21(h), self.fc22(h)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


def loss_function(recon, x, mu, logvar):
    """−ELBO: the reconstruction's binary cross-entropy plus KL(q(z|x) ‖ N(0, I))."""
    bce = F.binary_cross_entropy(recon, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def run_epoch(model, loader, optimizer=None) -> float:
    model.train(optimizer is not None)
    total = 0.0
    with torch.set_grad_enabled(optimizer is not None):
        for data, _ in loader:
            recon, mu, logvar = model(data)
            loss = loss_function(recon, data, mu, logvar)
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total += loss.item()
    return total / len(loader.dataset)


def main(argv=None) -> tuple[float, float]:
    parser = argparse.ArgumentParser(description="Fashion-MNIST VAE")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--subset", type=int, default=0, help="train and test on the first N images only")
    parser.add_argument("--data", default="../data", help="the datasets' root folder")
    parser.add_argument("--samples", default=None, help="save 64 generated images to this file")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    train_set = datasets.FashionMNIST(args.data, train=True, download=True, transform=transforms.ToTensor())
    test_set = datasets.FashionMNIST(args.data, train=False, transform=transforms.ToTensor())
    if args.subset:
        train_set, test_set = Subset(train_set, range(args.subset)), Subset(test_set, range(args.subset // 5))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=args.batch_size)
    model = VAE()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    first = last = float("nan")
    for epoch in range(1, args.epochs + 1):
        train_loss = run_epoch(model, train_loader, optimizer)
        last = run_epoch(model, test_loader)
        first = last if epoch == 1 else first
        print(f"====> Epoch: {epoch} Average loss: {train_loss:.4f}, test loss: {last:.4f}")
    if args.samples:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        with torch.no_grad():
            images = model.decode(torch.randn(64, 20)).view(8, 8, 28, 28).numpy()
        plt.imsave(args.samples, images.transpose(0, 2, 1, 3).reshape(8 * 28, 8 * 28), cmap="gray")
    return first, last


if __name__ == "__main__":
    main()
