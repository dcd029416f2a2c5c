"""``chainrule train``: train a model from the zoo on an image data set, with progress, metrics, plots and
checkpoints (see chainrule.training)."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from chainrule import models
from chainrule.errors import ChainruleError
from chainrule.training import NORMALIZATION, OPTIMIZERS, SCHEDULES, RunConfig
from chainrule.training import run as run_training

DEFAULTS = RunConfig()


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train", help="train a model on Fashion-MNIST, MNIST, KMNIST or digits",
        description="Train a classifier. Writes config.json, metrics.jsonl/.csv, curves.png and checkpoint.npz "
                    "(every epoch) to --out. Ctrl-C saves a checkpoint; --resume DIR continues where it stopped.",
    )
    p.add_argument("--model", default=DEFAULTS.model, choices=models.names())
    p.add_argument("--dataset", default=DEFAULTS.dataset, choices=sorted(NORMALIZATION))
    p.add_argument("--data-dir", default=None, help="folder with the IDX files (searched before the system copy)")
    p.add_argument("--download", action="store_true", help="fetch missing files from the official mirrors")
    p.add_argument("--epochs", type=int, default=None, help=f"default {DEFAULTS.epochs}; with --resume, the new total")
    p.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
    p.add_argument("--optimizer", default=DEFAULTS.optimizer, choices=sorted(OPTIMIZERS))
    p.add_argument("--lr", type=float, default=DEFAULTS.lr)
    p.add_argument("--momentum", type=float, default=DEFAULTS.momentum)
    p.add_argument("--weight-decay", type=float, default=DEFAULTS.weight_decay)
    p.add_argument("--schedule", default=DEFAULTS.schedule, choices=SCHEDULES)
    p.add_argument("--warmup-epochs", type=int, default=DEFAULTS.warmup_epochs)
    p.add_argument("--seed", type=int, default=DEFAULTS.seed)
    p.add_argument("--limit-train", type=int, default=None, help="use only the first N training images")
    p.add_argument("--limit-test", type=int, default=None, help="use only the first N test images")
    p.add_argument("--out", default=None, help="output folder (default runs/MODEL-DATASET)")
    p.add_argument("--resume", metavar="DIR", default=None, help="continue the run saved in DIR")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    values = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    config = RunConfig(**{**dataclasses.asdict(DEFAULTS), **values})
    out = args.resume or args.out or f"runs/{config.model}-{config.dataset}"
    try:
        history = run_training(config, out, resume=args.resume is not None, epochs=args.epochs,
                               progress=False if args.quiet else None)
    except KeyboardInterrupt:
        print(f"stopped; continue with: chainrule train --resume {out}", file=sys.stderr)
        return 130
    except ChainruleError as e:
        print(f"chainrule train: {e}", file=sys.stderr)
        return 2
    if history:
        last = history[-1]
        print(f"done: test accuracy {last['test_acc']:.4f} after {last['epoch']} epochs; files in {out}")
    return 0
