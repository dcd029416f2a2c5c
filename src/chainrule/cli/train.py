"""``chainrule train``: train a model from the zoo on an image data set, with progress, metrics, plots and
checkpoints (see chainrule.training)."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

from chainrule import io, models
from chainrule.cli.common import (
    CommandError,
    UsageError,
    clean,
    count,
    existing_folder,
    natural,
    nonnegative_real,
    note_line,
    positive_real,
    say,
    writable_folder,
)
from chainrule.training import CHECKPOINT, NORMALIZATION, OPTIMIZERS, RUN_FILES, SCHEDULES, RunConfig, saved_config
from chainrule.training import run as run_training

DEFAULTS = RunConfig()
FIELDS = [f.name for f in dataclasses.fields(RunConfig)]

EPILOG = """\
examples:
  chainrule train --model mlp --dataset digits --epochs 3 --out runs/digits
  chainrule train --model cnn --optimizer adam --lr 0.001 --schedule cosine --epochs 5 --download
  chainrule train --resume runs/digits --epochs 6        # continue a run, to 6 epochs in all
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train", help="train a model on Fashion-MNIST, MNIST, KMNIST or digits",
        description="Train a classifier. Writes config.json, metrics.jsonl/.csv, curves.png and checkpoint.npz "
                    "(every epoch) to --out. Ctrl-C saves a checkpoint; --resume DIR continues where it stopped. "
                    "A folder that already holds a run is refused unless --resume (continue it) or --force "
                    "(start over).",
        epilog=EPILOG,
    )
    # Defaults are None here, so that the options the user typed can be told apart (a resumed run keeps its
    # saved values); the help states the real defaults of a new run.
    option = _option_adder(p)
    option("--model", choices=models.classifier_names(), help="the network (from chainrule.models)")
    option("--dataset", choices=sorted(NORMALIZATION), help="the data set")
    p.add_argument("--data-dir", type=existing_folder, default=None,
                   help="folder with the IDX files, searched before the system copy (default: none)")
    p.add_argument("--download", action="store_true", default=None,
                   help="fetch missing files from the official mirrors")
    option("--epochs", type=count, help="number of epochs; with --resume, the new total")
    option("--batch-size", type=count, help="images per step")
    option("--optimizer", choices=sorted(OPTIMIZERS), help="the optimizer")
    option("--lr", type=positive_real, help="learning rate")
    option("--momentum", type=nonnegative_real, help="momentum (sgd, rmsprop)")
    option("--weight-decay", type=nonnegative_real, help="L2 weight decay")
    option("--schedule", choices=SCHEDULES, help="learning-rate schedule")
    option("--warmup-epochs", type=natural, help="epochs of linear warm-up (none, step and cosine schedules)")
    option("--seed", type=natural, help="seed of every random choice (weights, dropout, shuffling)")
    p.add_argument("--limit-train", type=count, default=None, help="use only the first N training images "
                   "(default: all)")
    p.add_argument("--limit-test", type=count, default=None, help="use only the first N test images (default: all)")
    p.add_argument("--out", default=None, help="output folder (default: runs/MODEL-DATASET)")
    p.add_argument("--resume", metavar="DIR", default=None, help="continue the run saved in DIR")
    p.add_argument("--force", action="store_true", help="start over in a folder that holds a run, removing its files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _option_adder(parser: argparse.ArgumentParser) -> Any:
    def option(flag: str, help: str, **kwargs: Any) -> None:  # noqa: A002 - argparse's name
        default = getattr(DEFAULTS, flag[2:].replace("-", "_"))
        parser.add_argument(flag, default=None, help=f"{help} (default: {default})", **kwargs)

    return option


def run(args: argparse.Namespace) -> int:
    typed = {name: value for name, value in vars(args).items() if name in FIELDS and value is not None}
    if args.resume is not None and args.force:
        raise UsageError("--resume and --force contradict each other", "use --resume DIR to continue a run, or "
                         "--force to start it over")
    if args.resume is not None:
        folder = _resume_folder(args)
        return _train(folder, None, args, notes=_differences(folder, typed))
    config = RunConfig(**{**dataclasses.asdict(DEFAULTS), **typed})
    if config.dataset == "digits" and config.model != "mlp":  # the convolutional models need 28×28 images
        raise UsageError(f"--model {config.model} needs 28×28 images; the digits are 8×8",
                         "use --model mlp with --dataset digits")
    folder = writable_folder(args.out if args.out is not None else f"runs/{config.model}-{config.dataset}", "--out")
    held = [name for name in RUN_FILES if (folder / name).exists()]
    if held and not args.force:
        raise UsageError(f"{folder} already holds a run ({', '.join(held)})", f"continue it with --resume "
                         f"{shlex.quote(str(folder))}, start over with --force, or choose another --out")
    return _train(folder, config, args, notes=[])


def _resume_folder(args: argparse.Namespace) -> Path:
    folder = Path(args.resume)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--resume {folder} is a file; it takes the run's folder",
                         f"pass the folder that holds {CHECKPOINT}, e.g. --resume {shlex.quote(str(folder.parent))}")
    if not folder.exists():
        raise CommandError(f"--resume {folder}: no such folder", "check the path, or start a new run with --out")
    if not (folder / CHECKPOINT).exists():
        raise CommandError(f"--resume {folder}: the folder holds no {CHECKPOINT} to continue from",
                           f"start it over with: chainrule train --out {shlex.quote(str(folder))} --force")
    if args.out is not None and Path(args.out).resolve() != folder.resolve():
        raise UsageError(f"--out {args.out} and --resume {folder} name different folders",
                         "drop --out: a resumed run continues in its own folder")
    return writable_folder(folder, "--resume")


def _differences(folder: Path, typed: dict[str, Any]) -> list[str]:
    """One note per option typed on the command line whose value differs from the saved run's: the saved value
    is kept, except for --epochs (the new total)."""
    saved = saved_config(folder)
    notes = []
    for name, value in typed.items():
        old = getattr(saved, name)
        if value == old:
            continue
        flag = "--" + name.replace("_", "-")
        shown = flag if isinstance(value, bool) else f"{flag} {value}"
        if name == "epochs":
            notes.append(f"{shown}: the run now trains to {value} epochs in all (the saved run's total was {old})")
        else:
            notes.append(f"{shown} differs from the saved run's {old}; the saved value is kept (start over with "
                         "--force to change it)")
    return notes


def _train(folder: Path, config: RunConfig | None, args: argparse.Namespace, notes: list[str]) -> int:
    resume = config is None
    log = _Log(notes)
    kwargs: dict[str, Any] = {"resume": resume, "epochs": args.epochs if resume else None,
                              "progress": False if args.quiet else None, "log": log}
    if not resume:
        kwargs["force"] = args.force  # the run removes the old one's files once its data has loaded
    created = not folder.exists()
    try:
        history = run_training(config, folder, **kwargs)
    except KeyboardInterrupt as e:  # the run saved where it stopped
        log.flush()
        print(_stopped(folder), file=sys.stderr)
        return 128 + int(getattr(e, "signum", signal.SIGINT))
    except BaseException:
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # a run that could not start leaves no empty folder behind
        raise
    log.flush()
    if history:
        last = history[-1]
        say(f"done: test accuracy {last['test_acc']:.4f} after {last['epoch']} epochs; files in {clean(folder)}")
    return 0


class _Log:
    """The log of a run: progress lines go to stdout; the run's own notes (``train: ...``) go to stderr, after
    the notes about the command line. Those wait for the first line of the run, so that a run refused while it
    is being checked shows its one error line and nothing else."""

    def __init__(self, notes: list[str]) -> None:
        self.notes = list(notes)

    def flush(self) -> None:
        for note in self.notes:
            print(note_line("train", note), file=sys.stderr)
        self.notes = []

    def __call__(self, line: str) -> None:
        self.flush()
        if line.startswith("train: "):
            print(note_line("train", line[len("train: "):]), file=sys.stderr)
        else:
            say(clean(line))  # the lines name the folder the user gave


def _stopped(folder: Path) -> str:
    """``chainrule train: stopped at epoch E, batch B; continue with: chainrule train --resume DIR``."""
    again = f"chainrule train --resume {shlex.quote(str(folder))}"
    try:
        saved = io.load_checkpoint(folder / CHECKPOINT)
        batch = int(saved.extra.get("batch", 0)) if isinstance(saved.extra, dict) else 0
        where = (f"at epoch {saved.epoch + 1}, batch {batch}" if batch else
                 f"after epoch {saved.epoch}" if saved.epoch else "before the first batch")
    except Exception:  # noqa: BLE001 - nothing saved (or unreadable): the message says so instead
        return clean(f"chainrule train: stopped before a checkpoint was saved; start again with: chainrule train "
                     f"--out {shlex.quote(str(folder))} --force")
    return clean(f"chainrule train: stopped {where}; continue with: {again}")
