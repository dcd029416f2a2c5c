"""``chainrule evaluate DIR``: accuracy, per-class accuracy and the confusion matrix of a trained run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from chainrule.errors import ChainruleError
from chainrule.training import _write_atomic, evaluate, load_split, load_trained
from chainrule.viz.plots import plot_confusion


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "evaluate", help="accuracy, per-class accuracy and confusion matrix of a trained run",
        description="Evaluate the checkpoint in DIR on its data set's test split; prints the results and writes "
                    "confusion.txt and confusion.png to DIR (or --out).",
    )
    p.add_argument("run_dir", metavar="DIR", help="a run folder written by chainrule train (or a checkpoint file)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--limit-test", type=int, default=None, help="use only the first N test images")
    p.add_argument("--out", default=None, help="where to write confusion.txt / confusion.png (default DIR)")
    return p


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
    try:
        model, config = load_trained(args.run_dir)
        if args.data_dir:
            config.data_dir = args.data_dir
        config.limit_test = args.limit_test
        images, labels, names = load_split(config, train=False)
    except ChainruleError as e:
        print(f"chainrule evaluate: {e}", file=sys.stderr)
        return 2
    _, predictions = evaluate(model, images, labels, config.dataset)
    counts = confusion_matrix(labels, predictions, len(names))
    report = format_report(counts, names)
    print(report)
    run_dir = Path(args.run_dir)
    out = Path(args.out) if args.out else (run_dir if run_dir.is_dir() else run_dir.parent)
    out.mkdir(parents=True, exist_ok=True)
    _write_atomic(out / "confusion.txt", report + "\n")
    try:
        print(f"\nwrote {out / 'confusion.txt'} and {plot_confusion(counts, names, out / 'confusion.png')}")
    except ImportError:
        print(f"\nwrote {out / 'confusion.txt'} (install chainrule[plot] for confusion.png)")
    return 0
