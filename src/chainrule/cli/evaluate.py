"""``chainrule evaluate DIR``: accuracy, per-class accuracy and the confusion matrix of a trained run."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from chainrule.cli.common import CommandError, clean, count, existing_folder, writable_folder
from chainrule.training import CHECKPOINT, _write_atomic, evaluate, load_split, load_trained
from chainrule.viz.plots import plot_confusion

EPILOG = """\
examples:
  chainrule evaluate runs/digits
  chainrule evaluate runs/lenet5-fashion-mnist --data-dir ~/data/fashion --limit-test 1000
  chainrule evaluate runs/digits/checkpoint.npz --out reports/digits
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "evaluate", help="accuracy, per-class accuracy and confusion matrix of a trained run",
        description="Evaluate the checkpoint in DIR on its data set's test split; prints the results and writes "
                    "confusion.txt and confusion.png to DIR (or --out).",
        epilog=EPILOG,
    )
    p.add_argument("run_dir", metavar="DIR", help="a run folder written by chainrule train (or a checkpoint file)")
    p.add_argument("--data-dir", type=existing_folder, default=None,
                   help="folder with the IDX files (default: the run's)")
    p.add_argument("--download", action="store_true", help="fetch missing data files from the official mirrors")
    p.add_argument("--limit-test", type=count, default=None, help="use only the first N test images (default: all)")
    p.add_argument("--out", default=None, help="where to write confusion.txt / confusion.png (default: DIR)")
    return p


def checkpoint_path(run_dir: str) -> Path:
    """The checkpoint of a run folder (or the checkpoint file itself), refused in one line when missing."""
    path = Path(run_dir)
    if not path.exists():
        raise CommandError(f"no checkpoint at {path}: no such file or folder", "check the path, or train a run "
                           f"first: chainrule train --out {path}")
    if path.is_dir() and not (path / CHECKPOINT).is_file():
        raise CommandError(f"{path} holds no {CHECKPOINT}", f"train first (chainrule train --out {path}), or "
                           "point at a run folder")
    return path / CHECKPOINT if path.is_dir() else path


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, classes: int) -> np.ndarray:
    """counts[true, predicted]."""
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)
    return counts


def format_report(counts: np.ndarray, names: list[str]) -> str:
    total = counts.sum()
    accuracy = np.trace(counts) / max(total, 1)
    per_class = np.diag(counts) / np.maximum(counts.sum(axis=1), 1)
    width = max(len(n) for n in names)
    lines = [f"accuracy {accuracy:.4f} ({np.trace(counts)}/{total})", "", "per-class accuracy:"]
    lines += [f"  {name:<{width}}  {acc:.4f}  ({counts[i, i]}/{counts[i].sum()})"
              for i, (name, acc) in enumerate(zip(names, per_class))]
    lines += ["", "confusion matrix (rows: true class, columns: predicted):"]
    cell = max(5, len(str(counts.max())) + 1)
    lines.append(" " * (width + 2) + "".join(f"{i:>{cell}}" for i in range(len(names))))
    lines += [f"  {name:<{width}}" + "".join(f"{c:>{cell}}" for c in row) for name, row in zip(names, counts)]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    # everything is checked and computed before anything is written: a refusal leaves every file as it was
    checkpoint = checkpoint_path(args.run_dir)
    out = writable_folder(Path(args.out) if args.out else checkpoint.parent, "--out")
    model, config = load_trained(checkpoint)
    if args.data_dir:
        config.data_dir = args.data_dir
    config.download = config.download or args.download
    config.limit_test = args.limit_test
    images, labels, names = load_split(config, train=False)
    if len(labels) and (labels.min() < 0 or labels.max() >= len(names)):
        raise CommandError(f"the test labels run from {labels.min()} to {labels.max()}, but {config.dataset} has "
                           f"{len(names)} classes", "check --data-dir: it holds another data set's files")
    _, predictions = evaluate(model, images, labels, config.dataset)
    counts = confusion_matrix(labels, predictions, len(names))
    report = format_report(counts, names)
    out.mkdir(parents=True, exist_ok=True)
    _write_atomic(out / "confusion.txt", report + "\n")
    try:
        png = plot_confusion(counts, names, out / "confusion.png")
        wrote = f"wrote {clean(out / 'confusion.txt')} and {clean(png)}"
    except ImportError:
        wrote = f"wrote {clean(out / 'confusion.txt')} (install chainrule[plot] for confusion.png)"
    # printed last: a reader that stops early (| head) does not keep the files from being written
    print(report)
    print(f"\n{wrote}")
    return 0
