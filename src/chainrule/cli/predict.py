"""``chainrule predict DIR INPUT...``: the top-k classes of images in an IDX file or in PNG files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.errors import ChainruleError
from chainrule.nn import functional as F
from chainrule.training import class_names, load_trained, to_input


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "predict", help="top-k predictions for images in an IDX file or PNG files",
        description="Classify images with the checkpoint in DIR. INPUT is an IDX image file (.gz or raw) or one "
                    "or more PNG files (converted to grayscale and resized to the model's input size).",
    )
    p.add_argument("run_dir", metavar="DIR")
    p.add_argument("inputs", metavar="INPUT", nargs="+")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--limit", type=int, default=10, help="at most this many images from an IDX file")
    p.add_argument("--invert", action="store_true", help="invert PNGs (dark drawing on a light background)")
    return p


def read_png(path: Path, size: tuple[int, int], invert: bool) -> np.ndarray:
    try:
        from PIL import Image
    except ImportError:
        raise ChainruleError("predict: reading PNG files needs Pillow (pip install 'chainrule[plot]')") from None
    try:
        with Image.open(path) as image:
            gray = image.convert("L").resize((size[1], size[0]))
    except OSError as e:
        raise ChainruleError(f"predict: {path}: not a readable image ({e})") from None
    pixels = np.asarray(gray, dtype=np.uint8)
    return 255 - pixels if invert else pixels


def run(args: argparse.Namespace) -> int:
    from chainrule.data import read_idx

    try:
        model, config = load_trained(args.run_dir)
        names = class_names(config.dataset)
        side = (8, 8) if config.dataset == "digits" else (28, 28)
        images, labels = [], []
        for item in args.inputs:
            path = Path(item)
            if path.suffix.lower() == ".png":
                images.append(read_png(path, side, args.invert))
                labels.append(path.name)
            else:
                array = read_idx(path)
                if array.ndim != 3 or array.shape[1:] != side:
                    raise ChainruleError(f"predict: {path}: expected images of {side[0]}×{side[1]}, got {array.shape}")
                images.extend(array[: args.limit])
                labels.extend(f"{path.name}[{i}]" for i in range(min(args.limit, len(array))))
    except ChainruleError as e:
        print(f"chainrule predict: {e}", file=sys.stderr)
        return 2
    batch = np.stack(images)[:, None]
    with no_grad():
        probabilities = F.softmax(model(to_input(batch, config.dataset)), dim=1).numpy()
    k = max(1, min(args.top_k, probabilities.shape[1]))
    for label, p in zip(labels, probabilities):
        top = np.argsort(-p, kind="stable")[:k]
        print(f"{label}: " + ", ".join(f"{names[c]} {p[c]:.3f}" for c in top))
    return 0
