"""Training a classifier end to end: data, model, optimizer, schedule, metrics, plots and checkpoints.

``run(config, out_dir)`` is what ``chainrule train`` does; tests call it directly on small data. Everything
random flows from ``config.seed`` through two generators, one for the model (initial weights, then dropout) and
one for shuffling, and both are saved in every checkpoint: a run resumed from a checkpoint, at an epoch's end
or in the middle of one (after Ctrl-C, or from the last epoch's checkpoint after a kill), ends with the same
parameters, bit for bit, as a run that was never interrupted.

Files in ``out_dir``: ``config.json``; ``metrics.jsonl`` and ``metrics.csv`` (one row per epoch);
``curves.png`` (loss and accuracy); ``checkpoint.npz`` (the latest state, written atomically).
"""

from __future__ import annotations

import csv
import dataclasses
import io as _io
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from chainrule import models, nn, optim
from chainrule.autograd.grad_mode import no_grad
from chainrule.data import DataLoader, TensorDataset
from chainrule.errors import ChainruleError
from chainrule.nn import functional as F
from chainrule.tensor import Tensor

CHECKPOINT = "checkpoint.npz"

# mean and standard deviation of the training pixels (in [0, 1]), used to normalise inputs
NORMALIZATION = {"fashion-mnist": (0.2860, 0.3530), "mnist": (0.1307, 0.3081), "kmnist": (0.1918, 0.3483),
                 "digits": (0.3076, 0.3846)}


class TrainingError(ChainruleError, ValueError):
    """A training run cannot start or resume: a bad option, or a checkpoint from a different run."""


@dataclasses.dataclass
class RunConfig:
    """Everything that defines a run; saved in config.json and in every checkpoint."""

    model: str = "lenet5"
    dataset: str = "fashion-mnist"
    data_dir: str | None = None
    download: bool = False
    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "none"  # none | step | cosine | onecycle | plateau
    warmup_epochs: int = 0
    seed: int = 0
    limit_train: int | None = None  # use only the first N training images (quick runs, tests)
    limit_test: int | None = None

    def check(self) -> None:
        if self.model.lower() not in models.names():
            raise TrainingError(f"train: unknown model {self.model!r}; choose one of {', '.join(models.names())}")
        if self.dataset not in NORMALIZATION:
            raise TrainingError(f"train: unknown dataset {self.dataset!r}; choose one of {', '.join(NORMALIZATION)}")
        if self.optimizer not in OPTIMIZERS:
            raise TrainingError(f"train: unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise TrainingError(f"train: unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise TrainingError(f"train: {name} must be ≥ 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise TrainingError(f"train: lr must be > 0, got {self.lr}")


OPTIMIZERS: dict[str, Callable[[Any, RunConfig], optim.Optimizer]] = {
    "sgd": lambda p, c: optim.SGD(p, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay),
    "adam": lambda p, c: optim.Adam(p, lr=c.lr, weight_decay=c.weight_decay),
    "adamw": lambda p, c: optim.AdamW(p, lr=c.lr, weight_decay=c.weight_decay),
    "rmsprop": lambda p, c: optim.RMSprop(p, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay),
    "adagrad": lambda p, c: optim.Adagrad(p, lr=c.lr, weight_decay=c.weight_decay),
}
SCHEDULES = ("none", "step", "cosine", "onecycle", "plateau")


# ----- data ----------------------------------------------------------------------------------------------


def load_split(config: RunConfig, train: bool) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(images uint8 or float (N, 1, H, W), labels int64 (N,), class names) of one split."""
    from chainrule import data

    limit = config.limit_train if train else config.limit_test
    if config.dataset == "digits":
        images, labels = data.load_digits()
        cut = int(len(images) * 0.8)  # a fixed 80/20 split
        images, labels = (images[:cut], labels[:cut]) if train else (images[cut:], labels[cut:])
        classes = [str(i) for i in range(10)]
    else:
        kind = {"fashion-mnist": data.FashionMNIST, "mnist": data.MNIST, "kmnist": data.KMNIST}[config.dataset]
        dataset = kind(root=config.data_dir, train=train, download=config.download)
        images, labels, classes = np.asarray(dataset.data), np.asarray(dataset.targets), class_names(config.dataset)
    images = images.reshape(len(images), 1, *images.shape[-2:])
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images, labels.astype(np.int64), classes


def class_names(dataset: str) -> list[str]:
    from chainrule import data

    kind = {"fashion-mnist": data.FashionMNIST, "mnist": data.MNIST, "kmnist": data.KMNIST}.get(dataset)
    return list(kind.classes) if kind else [str(i) for i in range(10)]


def to_input(images: np.ndarray, dataset: str) -> Tensor:
    """uint8 images → normalised float32 tensors: (x/255 − mean) / std (digits are 0..16)."""
    mean, std = NORMALIZATION[dataset]
    scale = 16.0 if dataset == "digits" else 255.0
    x = images.astype(np.float32) * np.float32(1 / scale)
    return Tensor((x - np.float32(mean)) * np.float32(1 / std))


# ----- the run -------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Run:
    """The live objects of a run, built from a RunConfig."""

    config: RunConfig
    model: nn.Module
    optimizer: optim.Optimizer
    scheduler: Any
    model_rng: np.random.Generator
    shuffle_rng: np.random.Generator
    loader: DataLoader
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: list[str]


def build(config: RunConfig) -> Run:
    config.check()
    train_images, train_labels, classes = load_split(config, train=True)
    test_images, test_labels, _ = load_split(config, train=False)
    model_rng = np.random.default_rng([config.seed, 0])
    shuffle_rng = np.random.default_rng([config.seed, 1])
    model = models.create(config.model, generator=model_rng, **_model_kwargs(config))
    optimizer = OPTIMIZERS[config.optimizer](model.parameters(), config)
    loader = DataLoader(TensorDataset(train_images, train_labels), batch_size=config.batch_size, shuffle=True,
                        generator=shuffle_rng)
    scheduler = _scheduler(config, optimizer, len(loader))
    return Run(config, model, optimizer, scheduler, model_rng, shuffle_rng, loader, test_images, test_labels, classes)


def _scheduler(config: RunConfig, optimizer: optim.Optimizer, steps_per_epoch: int) -> Any:
    lr_scheduler = optim.lr_scheduler
    main: Any = {
        "none": None,
        "step": lambda: lr_scheduler.StepLR(optimizer, step_size=max(1, config.epochs // 3), gamma=0.1),
        "cosine": lambda: lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, config.epochs - config.warmup_epochs)),
        "onecycle": lambda: lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, epochs=config.epochs,
                                                    steps_per_epoch=steps_per_epoch),
        "plateau": lambda: lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1),
    }[config.schedule]
    main = main() if main else None
    if config.warmup_epochs and config.schedule in ("none", "step", "cosine"):
        warmup = lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=config.warmup_epochs)
        main = warmup if main is None else lr_scheduler.SequentialLR(
            optimizer, [warmup, main], milestones=[config.warmup_epochs])
    return main


def evaluate(model: nn.Module, images: np.ndarray, labels: np.ndarray, dataset: str, batch_size: int = 500
             ) -> tuple[float, np.ndarray]:
    """(mean cross-entropy, predicted classes) over a whole split, in eval mode and without a graph."""
    was_training = model.training
    model.eval()
    total, predictions = 0.0, []
    with no_grad():
        for start in range(0, len(images), batch_size):
            logits = model(to_input(images[start : start + batch_size], dataset))
            y = Tensor(labels[start : start + batch_size])
            total += F.cross_entropy(logits, y, reduction="sum").item()
            predictions.append(logits.numpy().argmax(axis=1))
    model.train(was_training)
    return total / max(len(images), 1), np.concatenate(predictions) if predictions else np.zeros(0, np.int64)


def run(
    config: RunConfig | None, out_dir: str | os.PathLike[str], resume: bool = False, epochs: int | None = None,
    progress: bool | None = None, log: Callable[[str], None] = print, stop_after_batches: int | None = None,
) -> list[dict[str, Any]]:
    """Train (or continue training) and return the metrics of every epoch.

    ``resume=True`` continues from ``out_dir/checkpoint.npz`` with the configuration saved there (``config`` is
    not needed); ``epochs`` may set a new total. Ctrl-C saves a checkpoint of the exact state, mid-epoch
    included, and re-raises KeyboardInterrupt. ``stop_after_batches`` simulates such an interruption (tests).
    """
    from chainrule import io

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / CHECKPOINT
    position = {"epoch": 0, "batch": 0, "sums": [0.0, 0, 0]}  # completed epochs; batches done in the current one
    epoch_start_shuffle: dict[str, Any] | None = None
    history: list[dict[str, Any]] = []
    if resume:
        if not checkpoint_path.exists():
            raise TrainingError(f"train --resume: no checkpoint at {checkpoint_path}")
        config = RunConfig(**io.load_checkpoint(checkpoint_path).config)
        config.epochs = epochs or config.epochs
    elif config is None:
        raise TrainingError("train: a new run needs a RunConfig")
    the_run = build(config)
    model, optimizer, scheduler, loader = the_run.model, the_run.optimizer, the_run.scheduler, the_run.loader
    if resume:
        saved = io.load_checkpoint(checkpoint_path, model=model, optimizer=optimizer, scheduler=scheduler,
                                   rng={"model": the_run.model_rng, "shuffle": the_run.shuffle_rng})
        position = {"epoch": saved.epoch, "batch": saved.extra["batch"], "sums": saved.extra["sums"]}
        epoch_start_shuffle = saved.extra.get("epoch_start_shuffle")
        history = saved.extra.get("history", [])
        log(f"resumed from {checkpoint_path}: epoch {saved.epoch}, batch {position['batch']}")
    _write_atomic(out / "config.json", json.dumps(dataclasses.asdict(config), indent=2) + "\n")

    def save(batch: int, sums: list[Any], epoch: int) -> None:
        io.save_checkpoint(
            checkpoint_path, model=model, optimizer=optimizer, scheduler=scheduler, epoch=epoch,
            step=epoch * len(loader) + batch, config=dataclasses.asdict(config),
            rng={"model": the_run.model_rng, "shuffle": the_run.shuffle_rng},
            extra={"batch": batch, "sums": sums, "history": history,
                   "epoch_start_shuffle": epoch_start_shuffle if batch else None},
        )

    show = sys.stderr.isatty() if progress is None else progress
    trained = 0  # batches trained by this call (for stop_after_batches)
    for epoch in range(position["epoch"], config.epochs):
        if position["batch"] and epoch_start_shuffle is not None:  # mid-epoch resume: replay the same order
            the_run.shuffle_rng.bit_generator.state = epoch_start_shuffle
        epoch_start_shuffle = the_run.shuffle_rng.bit_generator.state
        skip, sums = position["batch"], list(position["sums"])
        position = {"epoch": epoch, "batch": 0, "sums": [0.0, 0, 0]}
        model.train()
        started, seen = time.perf_counter(), 0
        bar = _progress(len(loader), f"epoch {epoch + 1}/{config.epochs}", show)
        batch = skip
        try:
            for batch, (xb, yb) in enumerate(_skip(iter(loader), skip), start=skip + 1):  # noqa: B007 - read on Ctrl-C
                logits = model(to_input(xb.data, config.dataset))
                loss = F.cross_entropy(logits, yb)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if config.schedule == "onecycle":
                    scheduler.step()
                n = len(yb)
                sums[0] += loss.item() * n
                sums[1] += int((logits.numpy().argmax(axis=1) == yb.data).sum())
                sums[2] += n
                seen += n
                if bar is not None:
                    rate = seen / max(time.perf_counter() - started, 1e-9)
                    bar.set_postfix(loss=f"{sums[0] / sums[2]:.4f}", acc=f"{sums[1] / sums[2]:.3f}",
                                    samples_s=f"{rate:.0f}")
                    bar.update(1)
                trained += 1
                if stop_after_batches is not None and trained == stop_after_batches:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            if bar is not None:
                bar.close()
            save(batch, sums, epoch)
            log(f"interrupted: saved {checkpoint_path} at epoch {epoch + 1}, batch {batch}")
            raise
        if bar is not None:
            bar.close()
        elapsed = time.perf_counter() - started
        test_loss, predictions = evaluate(model, the_run.test_images, the_run.test_labels, config.dataset)
        test_acc = float((predictions == the_run.test_labels).mean()) if len(predictions) else math.nan
        lr = optimizer.param_groups[0]["lr"]
        if config.schedule == "plateau":
            scheduler.step(test_loss)
        elif scheduler is not None and config.schedule != "onecycle":
            scheduler.step()
        row = {"epoch": epoch + 1, "train_loss": sums[0] / max(sums[2], 1), "train_acc": sums[1] / max(sums[2], 1),
               "test_loss": test_loss, "test_acc": test_acc, "lr": lr, "epoch_time_s": round(elapsed, 3),
               "samples_per_s": round(seen / max(elapsed, 1e-9), 1)}
        history.append(row)
        log(f"epoch {epoch + 1}/{config.epochs}: train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f} | "
            f"test loss {test_loss:.4f} acc {test_acc:.4f} | {elapsed:.1f} s, {row['samples_per_s']:.0f} samples/s")
        epoch_start_shuffle = None
        save(0, [0.0, 0, 0], epoch + 1)
        _write_metrics(out, history)
    return history


def _skip(batches: Iterator[Any], count: int) -> Iterator[Any]:
    for _ in range(count):
        next(batches)
    return batches


def _progress(total: int, desc: str, show: bool) -> Any:
    if not show:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # the progress extra is optional: then one line per epoch
        return None
    return tqdm(total=total, desc=desc, unit="batch", leave=False, dynamic_ncols=True)


def _write_atomic(path: Path, text: str) -> None:
    from chainrule.io import atomic_write

    atomic_write(path, lambda f: f.write(text.encode()))


def _write_metrics(out: Path, history: list[dict[str, Any]]) -> None:
    _write_atomic(out / "metrics.jsonl", "".join(json.dumps(row) + "\n" for row in history))
    text = _io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    _write_atomic(out / "metrics.csv", text.getvalue())
    try:
        from chainrule.viz.plots import plot_curves

        plot_curves(history, out / "curves.png")
    except ImportError:
        pass  # matplotlib is an optional extra; the metrics files are written regardless


def load_trained(run_dir: str | os.PathLike[str]) -> tuple[nn.Module, RunConfig]:
    """The model of a run directory (or of a checkpoint file), with its weights, in eval mode, and its config."""
    from chainrule import io

    path = Path(run_dir)
    path = path / CHECKPOINT if path.is_dir() else path
    if not path.exists():
        raise TrainingError(f"no checkpoint at {path}; train first: chainrule train --out {path.parent}")
    config = RunConfig(**io.load_checkpoint(path).config)
    model = models.create(config.model, **_model_kwargs(config))
    io.load_checkpoint(path, model=model)
    model.eval()
    return model, config


def _model_kwargs(config: RunConfig) -> dict[str, Any]:
    return {"in_features": 64 if config.dataset == "digits" else 784} if config.model.lower() == "mlp" else {}
