"""``chainrule predict DIR INPUT...``: the top-k classes of images in an IDX file or in PNG files."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.cli.common import CommandError, UsageError, clean, count, existing_file, missing_extra
from chainrule.cli.evaluate import checkpoint_path
from chainrule.data.idx import DataError, read_idx
from chainrule.nn import functional as F
from chainrule.training import class_names, load_trained, to_input

EPILOG = """\
examples:
  chainrule predict runs/lenet5-fashion-mnist t10k-images-idx3-ubyte.gz --limit 5
  chainrule predict runs/digits five.idx --top-k 2
  chainrule predict runs/lenet5-mnist drawing.png --invert
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "predict", help="top-k predictions for images in an IDX file or PNG files",
        description="Classify images with the checkpoint in DIR. INPUT is an IDX image file (.gz or raw) or one "
                    "or more PNG files (converted to grayscale and resized to the model's input size).",
        epilog=EPILOG,
    )
    p.add_argument("run_dir", metavar="DIR", help="a run folder written by chainrule train (or a checkpoint file)")
    p.add_argument("inputs", metavar="INPUT", nargs="+", help="an IDX image file, or PNG files")
    p.add_argument("--top-k", type=count, default=3, help="how many classes to show per image")
    p.add_argument("--limit", type=count, default=10, help="at most this many images from an IDX file")
    p.add_argument("--invert", action="store_true", help="invert PNGs (dark drawing on a light background)")
    return p


def read_png(path: Path, size: tuple[int, int], invert: bool) -> np.ndarray:
    try:
        from PIL import Image
    except ImportError as e:
        extra = missing_extra(e) or ("Pillow", 'pip install "chainrule[plot]"')
        raise CommandError(f"reading PNG files needs {extra[0]}, which is not installed", extra[1]) from None
    try:
        with Image.open(path) as image:
            gray = image.convert("L").resize((size[1], size[0]))
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise CommandError(f"{path}: not a readable image ({e})", "give a PNG file or an IDX image file") from None
    pixels = np.asarray(gray, dtype=np.uint8)
    return 255 - pixels if invert else pixels


def read_idx_images(path: Path, side: tuple[int, int], limit: int) -> np.ndarray:
    try:
        array = read_idx(path)
    except DataError as e:
        what = str(e) if str(e).startswith(path.name) else f"{path}: {e}"
        raise CommandError(what, "give an IDX image file or PNG files") from None
    if array.ndim != 3 or array.shape[1:] != side:
        raise CommandError(f"{path}: expected images of {side[0]}×{side[1]}, got an array of shape {array.shape}",
                           "give an IDX image file of the run's data set (the labels file holds no images)")
    if len(array) == 0:
        raise CommandError(f"{path} holds no images", "give an IDX file with at least one image")
    return array[:limit]


def run(args: argparse.Namespace) -> int:
    # every input is checked before the model is loaded, so a typo fails at once
    inputs = [existing_file(item, "INPUT", "check the path; INPUT is an IDX image file or PNG files")
              for item in args.inputs]
    model, config = load_trained(checkpoint_path(args.run_dir))
    names = class_names(config.dataset)
    if args.top_k > len(names):
        raise UsageError(f"--top-k {args.top_k} is more than the model's {len(names)} classes",
                         f"use --top-k {len(names)} or less")
    side = (8, 8) if config.dataset == "digits" else (28, 28)
    images, labels = [], []
    for path in inputs:
        if path.suffix.lower() == ".png":
            images.append(read_png(path, side, args.invert))
            labels.append(path.name)
        else:
            array = read_idx_images(path, side, args.limit)
            images.extend(array)
            labels.extend(f"{path.name}[{i}]" for i in range(len(array)))
    batch = np.stack(images)[:, None]
    with no_grad():
        probabilities = F.softmax(model(to_input(batch, config.dataset)), dim=1).numpy()
    for label, p in zip(labels, probabilities):
        top = np.argsort(-p, kind="stable")[: args.top_k]
        print(f"{clean(label)}: " + ", ".join(f"{names[c]} {p[c]:.3f}" for c in top))
    return 0
