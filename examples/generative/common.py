"""What the three generative examples share: their command-line flags, the data (Fashion-MNIST or a synthetic
stand-in, flattened to 784 pixels and binarised at 0.5), mini-batches, and writing outputs without overwriting.

Fashion-MNIST is looked for where ``chainrule.data.FashionMNIST`` looks (``--data``, Debian's
/usr/share/datasets/fashion-mnist from the package dataset-fashion-mnist, the user cache); ``--download`` fetches
it. ``--synthetic`` uses random filled rectangles instead, so that a run needs no data at all.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.io import atomic_write


def parser(description: str, epochs: int, batch_size: int, lr: float) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=epochs, help=f"passes over the training images (default {epochs})")
    p.add_argument("--limit", type=int, default=0, help="train on the first N training images only (0: all)")
    p.add_argument("--test-limit", type=int, default=0, help="evaluate on the first N test images only (0: all)")
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--lr", type=float, default=lr, help="Adam's learning rate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None, help="folder holding the Fashion-MNIST files (default: the usual places)")
    p.add_argument("--download", action="store_true", help="download Fashion-MNIST if it is not found")
    p.add_argument("--synthetic", action="store_true", help="random rectangles instead of Fashion-MNIST")
    p.add_argument("--out", default=None, help="folder for the checkpoint and a PNG grid of samples")
    p.add_argument("--overwrite", action="store_true", help="replace outputs already in --out")
    p.add_argument("--samples", type=int, default=64, help="how many samples the PNG grid shows (8 per row)")
    return p


def check_args(p: argparse.ArgumentParser, args: argparse.Namespace, outputs: tuple[str, ...]) -> None:
    """Refuse bad numbers and existing outputs before any work is done (argparse's one-line error, exit 2)."""
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be ≥ 1, got {getattr(args, name)}")
    if not 1 <= args.samples <= 256:
        p.error(f"--samples must be in [1, 256], got {args.samples}")
    for name in ("limit", "test_limit"):
        if getattr(args, name) < 0:
            p.error(f"--{name.replace('_', '-')} must be ≥ 0 (0: all images), got {getattr(args, name)}")
    if not args.lr > 0:
        p.error(f"--lr must be > 0, got {args.lr}")
    if args.out is not None and not args.overwrite:
        existing = [name for name in outputs if (Path(args.out) / name).exists()]
        if existing:
            p.error(f"--out {args.out} already holds {', '.join(existing)}; pass --overwrite to replace them, or "
                    f"choose another folder")


def rectangles(n: int, seed: int) -> np.ndarray:
    """n binary 28×28 images of one filled axis-aligned rectangle each, as float32 (n, 784)."""
    r = np.random.default_rng(seed)
    top, left = r.integers(0, 20, n), r.integers(0, 20, n)
    height, width = r.integers(4, 9, n), r.integers(4, 9, n)
    rows, cols = np.arange(28)[None, :, None], np.arange(28)[None, None, :]
    inside = ((rows >= top[:, None, None]) & (rows < (top + height)[:, None, None])
              & (cols >= left[:, None, None]) & (cols < (left + width)[:, None, None]))
    return inside.reshape(n, 784).astype(np.float32)


def load(p: argparse.ArgumentParser, args: argparse.Namespace, binarise: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) images as float32 (N, 784) in [0, 1], binarised at 0.5 (pixels > 0.5 become 1) unless told
    not to."""
    if args.synthetic:
        train, test = rectangles(args.limit or 6000, args.seed + 1), rectangles(args.test_limit or 1000, args.seed + 2)
        return train, test
    from chainrule.data import FashionMNIST
    from chainrule.data.idx import DataNotFoundError

    try:
        sets = [FashionMNIST(args.data, train=split, download=args.download) for split in (True, False)]
    except DataNotFoundError as e:
        p.error(f"{e}; or run with --synthetic")
    train, test = (s.arrays()[0].reshape(len(s), 784) for s in sets)
    if binarise:
        train, test = ((images > 0.5).astype(np.float32) for images in (train, test))
    return train[: args.limit or None], test[: args.test_limit or None]


def batches(images: np.ndarray, batch_size: int, rng: np.random.Generator | None = None) -> Iterator[cr.Tensor]:
    """Mini-batches as Tensors, in a shuffled order when ``rng`` is given."""
    order = rng.permutation(len(images)) if rng is not None else np.arange(len(images))
    for start in range(0, len(images), batch_size):
        yield cr.tensor(images[order[start:start + batch_size]])


def finite(*values: float) -> None:
    """Stop with one line when training has diverged, instead of printing NaN for the remaining epochs."""
    if not all(math.isfinite(v) for v in values):
        sys.exit(f"error: the loss is no longer finite ({values}); try a smaller --lr")


def save(args: argparse.Namespace, model: cr.nn.Module, samples: np.ndarray, title: str) -> list[str]:
    """The model's state_dict as checkpoint.npz and, when matplotlib is present, the samples (n, 784) in a grid
    of 8 per row as samples.png, each written atomically under --out. Returns the paths written."""
    if args.out is None:
        return []
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = [str(out / "checkpoint.npz")]
    cr.save(model.state_dict(), written[0])
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return written
    columns = min(len(samples), 8)
    rows = -(-len(samples) // columns)
    padded = np.zeros((rows * columns, 784), dtype=np.float32)
    padded[: len(samples)] = samples
    grid = padded.reshape(rows, columns, 28, 28).transpose(0, 2, 1, 3).reshape(rows * 28, columns * 28)
    fig, ax = plt.subplots(figsize=(0.5 * columns, 0.5 * rows + 0.3))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    written.append(str(out / "samples.png"))
    atomic_write(written[1], lambda f: f.write(buffer.getvalue()))
    return written


OUTPUTS = ("checkpoint.npz", "samples.png")
