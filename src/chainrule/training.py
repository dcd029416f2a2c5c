"""Training a classifier end to end: data, model, optimizer, schedule, metrics, plots and checkpoints.

``run(config, out_dir)`` is what ``chainrule train`` does; tests call it directly on small data. Everything
random flows from ``config.seed`` through two generators, one for the model (initial weights, then dropout) and
one for shuffling, and both are saved in every checkpoint: a run resumed from a checkpoint ends with the same
parameters and metrics, bit for bit, as a run that was never interrupted (the wall-clock fields
``epoch_time_s`` and ``samples_per_s`` aside).

While ``run`` trains, SIGINT (Ctrl-C) and SIGTERM only raise a flag; the loop reads it between steps (a step is
forward, backward, the optimizer's update and the batch's bookkeeping, so it is never half-applied), between
evaluation batches and after each checkpoint write, saves the exact state there and raises ``Interrupted``. A
kill (SIGKILL, a crash) resumes from the last checkpoint: one is written when the run starts and at every
epoch's end, always atomically.

Files in ``out_dir``: ``config.json``; ``metrics.jsonl`` and ``metrics.csv`` (one row per epoch);
``curves.png`` (loss and accuracy); ``checkpoint.npz`` (the latest state, written atomically).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io as _io
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np

from chainrule import data, io, models, nn, optim, threads, workspace
from chainrule import distributed as dist
from chainrule.autograd.grad_mode import no_grad
from chainrule.data import DataLoader, TensorDataset
from chainrule.distributed.launch import THREAD_VARIABLES, core_share, launched, local_size
from chainrule.distributed.sharding import RowShardGenerator, shard_bounds
from chainrule.errors import ChainruleError
from chainrule.io import atomic_write
from chainrule.io.archive import temp_files
from chainrule.nn import functional as F
from chainrule.nn.parallel import DistributedDataParallel
from chainrule.tensor import Tensor
from chainrule.viz import plots

CHECKPOINT = "checkpoint.npz"
CONFIG_FILE = "config.json"
METRICS_FILES = ("metrics.jsonl", "metrics.csv")
#: the files that make a folder hold a run; ``run(..., force=True)`` removes them and the plots below
RUN_FILES = (CHECKPOINT, CONFIG_FILE, *METRICS_FILES)
OLD_RUN_FILES = (*RUN_FILES, "curves.png", "confusion.txt", "confusion.png")
#: images per forward pass when the test split is evaluated at an epoch's end
EVAL_BATCH_SIZE = 500
#: what run() saves and stops on; SIGKILL cannot be caught (it resumes from the last checkpoint)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

# mean and standard deviation of the training pixels (in [0, 1]), used to normalise inputs
NORMALIZATION = {"fashion-mnist": (0.2860, 0.3530), "mnist": (0.1307, 0.3081), "kmnist": (0.1918, 0.3483),
                 "digits": (0.3076, 0.3846)}


class TrainingError(ChainruleError, ValueError):
    """A training run cannot start or resume: a bad option, or a checkpoint from a different run."""


class Interrupted(KeyboardInterrupt):
    """Training stopped on SIGINT (Ctrl-C) or SIGTERM at a step boundary, after saving its exact state.

    A ``KeyboardInterrupt``, so code that handles Ctrl-C keeps working. ``signum`` is the signal (a command
    line exits with 128 + signum) and ``checkpoint`` the file that ``run(None, out_dir, resume=True)`` continues
    from.
    """

    def __init__(self, signum: int, checkpoint: Path) -> None:
        super().__init__(f"training stopped by {signal.Signals(signum).name}; the state is saved in {checkpoint}")
        self.signum = int(signum)
        self.checkpoint = checkpoint


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
        """Refuse a setting that cannot train: one ``TrainingError`` naming the field, the value and the fix."""
        problem = self.problem()
        if problem:
            raise TrainingError(f"train: {problem}")

    def problem(self) -> str | None:
        """What is wrong with this configuration (the first problem found), or None when it can train."""
        return (_choice_problem(self) or _count_problem(self) or _real_problem(self) or _warmup_problem(self)
                or _flag_problem(self))

    @classmethod
    def from_saved(cls, saved: Any, source: str, command: str = "train") -> RunConfig:
        """The configuration stored in a checkpoint (``source`` names the file), read strictly and checked;
        ``command`` starts the messages of the TrainingError that refuses it."""
        fields = [f.name for f in dataclasses.fields(cls)]
        if not isinstance(saved, Mapping):
            raise TrainingError(f"{command}: {source} holds no run configuration (found {type(saved).__name__}); it "
                                f"was not written by chainrule train — start a new run instead")
        missing = [name for name in fields if name not in saved]
        unknown = [str(name) for name in saved if name not in fields]
        if missing or unknown:
            what = "; ".join(part for part in (missing and f"it lacks {', '.join(missing)}",
                                               unknown and f"it has unknown fields {', '.join(unknown)}") if part)
            raise TrainingError(f"{command}: the run configuration in {source} does not fit this chainrule ({what}) "
                                f"— start a new run instead")
        config = cls(**{name: saved[name] for name in fields})
        problem = config.problem()
        if problem:
            raise TrainingError(f"{command}: the run configuration in {source} cannot be used: {problem} (the file "
                                f"was edited or damaged — start a new run instead)")
        return config


def _shown(value: Any) -> str:
    return f"{value!r} (a {type(value).__name__})" if not isinstance(value, (int, float)) or isinstance(
        value, bool) else repr(value)


# Python numbers only (a NumPy float64 is a float): the config is written as JSON, which takes nothing else
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _choice_problem(config: RunConfig) -> str | None:
    choices = (("model", models.classifier_names()), ("dataset", list(NORMALIZATION)),
               ("optimizer", list(OPTIMIZERS)), ("schedule", list(SCHEDULES)))
    for name, options in choices:
        value = getattr(config, name)
        if not isinstance(value, str) or (value.lower() if name == "model" else value) not in options:
            shown = repr(value) if isinstance(value, str) else _shown(value)
            return f"unknown {name} {shown}; choose one of {', '.join(options)}"
    return None


_COUNT_EXAMPLES = {"epochs": 10, "batch_size": 128, "limit_train": 1000, "limit_test": 1000, "warmup_epochs": 1,
                   "seed": 0}


def _count_problem(config: RunConfig) -> str | None:
    for name, optional in (("epochs", False), ("batch_size", False), ("limit_train", True), ("limit_test", True),
                           ("warmup_epochs", False), ("seed", False)):
        value = getattr(config, name)
        if optional and value is None:
            continue
        low = 0 if name in ("warmup_epochs", "seed") else 1
        if not _is_int(value) or value < low:
            fix = "leave it out (None) for all, or give" if optional else "give"
            return f"{name} must be a whole number ≥ {low}, got {_shown(value)} — {fix} an int such as " \
                   f"{_COUNT_EXAMPLES[name]}"
    return None


def _real_problem(config: RunConfig) -> str | None:
    for name, low_open in (("lr", True), ("momentum", False), ("weight_decay", False)):
        value = getattr(config, name)
        if not _is_real(value) or not math.isfinite(value) or value < 0 or (low_open and value == 0):
            bound = "> 0" if low_open else "≥ 0"
            return f"{name} must be a finite number {bound}, got {_shown(value)} — give e.g. " \
                   f"{getattr(RunConfig, name) if low_open else 0.0}"
    return None


def _warmup_problem(config: RunConfig) -> str | None:
    if not config.warmup_epochs:
        return None
    if config.schedule not in WARMUP_SCHEDULES:
        return (f"warmup_epochs={config.warmup_epochs} has no effect with schedule {config.schedule!r} (it warms "
                f"up the {', '.join(WARMUP_SCHEDULES)} schedules) — set warmup_epochs to 0 or change the schedule")
    if config.warmup_epochs >= config.epochs:
        return (f"warmup_epochs must be < epochs ({config.epochs}), got {config.warmup_epochs} — shorten the "
                f"warm-up or train for more epochs")
    return None


def _flag_problem(config: RunConfig) -> str | None:
    if not isinstance(config.download, bool):
        return f"download must be True or False, got {_shown(config.download)} — pass a bool"
    if config.data_dir is not None and not isinstance(config.data_dir, (str, os.PathLike)):
        return f"data_dir must be a folder's path or None, got {_shown(config.data_dir)} — pass a path, or None " \
               f"to search the usual places"
    return None


OPTIMIZERS: dict[str, Callable[[Any, RunConfig], optim.Optimizer]] = {
    "sgd": lambda p, c: optim.SGD(p, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay),
    "adam": lambda p, c: optim.Adam(p, lr=c.lr, weight_decay=c.weight_decay),
    "adamw": lambda p, c: optim.AdamW(p, lr=c.lr, weight_decay=c.weight_decay),
    "rmsprop": lambda p, c: optim.RMSprop(p, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay),
    "adagrad": lambda p, c: optim.Adagrad(p, lr=c.lr, weight_decay=c.weight_decay),
}
SCHEDULES = ("none", "step", "cosine", "onecycle", "plateau")
WARMUP_SCHEDULES = ("none", "step", "cosine")  # onecycle warms up on its own; plateau reacts to the test loss
EPOCH_SCHEDULES = ("step", "cosine", "onecycle")  # shaped by the total number of epochs, fixed when a run starts


# ----- data ----------------------------------------------------------------------------------------------


def load_split(config: RunConfig, train: bool) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(images uint8 or float (N, 1, H, W), labels int64 (N,), class names) of one split."""
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
    forward: Any = None  # what trains: ``model``, or DistributedDataParallel around it over several processes
    row_generator: RowShardGenerator | None = None  # dropout's masks, drawn for the global batch (several processes)

    def __post_init__(self) -> None:
        if self.forward is None:
            self.forward = self.model


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
    if config.warmup_epochs and config.schedule in WARMUP_SCHEDULES:
        warmup = lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=config.warmup_epochs)
        main = warmup if main is None else lr_scheduler.SequentialLR(
            optimizer, [warmup, main], milestones=[config.warmup_epochs])
    return main


def evaluate(model: nn.Module, images: np.ndarray, labels: np.ndarray, dataset: str, batch_size: int = 500
             ) -> tuple[float, np.ndarray]:
    """(mean cross-entropy, predicted classes) over a whole split, in eval mode and without a graph."""
    return cast(tuple[float, np.ndarray], _evaluate(model, images, labels, dataset, batch_size))  # no stop: never None


def _evaluate(model: nn.Module, images: np.ndarray, labels: np.ndarray, dataset: str, batch_size: int,
              stop: Callable[[], bool] | None = None) -> tuple[float, np.ndarray] | None:
    """``evaluate``, asking ``stop()`` before each batch: None when it said to stop (nothing else changes)."""
    was_training = model.training
    model.eval()
    total, predictions = 0.0, []
    try:
        with no_grad():
            for start in range(0, len(images), batch_size):
                if stop is not None and stop():
                    return None
                logits = model(to_input(images[start : start + batch_size], dataset))
                y = Tensor(labels[start : start + batch_size])
                total += F.cross_entropy(logits, y, reduction="sum").item()
                predictions.append(logits.numpy().argmax(axis=1))
    finally:
        model.train(was_training)
    return total / max(len(images), 1), np.concatenate(predictions) if predictions else np.zeros(0, np.int64)


def format_duration(seconds: float) -> str:
    """A duration for people: ``42s``, ``2m 05s``, ``1h 07m``, ``3d 04h`` (rounded to the second; ``?`` when
    unknown)."""
    if not math.isfinite(seconds):
        return "?"
    total = max(0, round(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def saved_config(out_dir: str | os.PathLike[str]) -> RunConfig:
    """The configuration of the run saved in ``out_dir`` (a run folder, or its checkpoint file), checked.

    Raises ``TrainingError`` when there is no checkpoint or its configuration cannot be used, and
    ``CheckpointError`` (chainrule.io) when the file is not an intact checkpoint.
    """
    path = _checkpoint_of(Path(out_dir), "train")
    return RunConfig.from_saved(io.load_checkpoint(path).config, str(path))


def _checkpoint_of(path: Path, command: str) -> Path:
    checkpoint = path if path.is_file() or path.suffix == ".npz" else path / CHECKPOINT
    if not checkpoint.is_file():
        raise TrainingError(f"{command}: no checkpoint at {checkpoint} — train first: chainrule train --out "
                            f"{checkpoint.parent}")
    return checkpoint


def run(
    config: RunConfig | None, out_dir: str | os.PathLike[str], resume: bool = False, epochs: int | None = None,
    progress: bool | None = None, log: Callable[[str], None] = print, stop_after_batches: int | None = None,
    force: bool = False,
) -> list[dict[str, Any]]:
    """Train (or continue training) and return the metrics of every epoch.

    ``resume=True`` continues from ``out_dir/checkpoint.npz`` with the configuration saved there (``config`` is
    not needed); ``epochs`` may set a new total. A new run refuses a folder that already holds one unless
    ``force=True``, which removes the previous run's files first (and says so). Everything is checked and the
    data loaded before anything on disk changes.

    SIGINT (Ctrl-C) and SIGTERM stop the run at the next step boundary: the exact state is saved and
    ``Interrupted`` (a ``KeyboardInterrupt``) is raised; resuming then gives the same result, bit for bit, as
    an uninterrupted run. ``stop_after_batches`` stops the same way after that many batches (tests).
    Like every training program, it asks glibc to keep freed memory for the next step
    (``workspace.keep_freed_memory``; ``CHAINRULE_MALLOC=default`` keeps glibc's defaults).

    Started by ``mpiexec -n P`` (or inside a process group already initialized), the P processes train one run
    together: each takes its contiguous share of every global batch of ``batch_size`` (the single-process batch
    sequence), DistributedDataParallel averages the gradients, batch norms become SyncBatchNorm and dropout's
    masks are the single-process masks' rows, so the result equals one process's to float32 rounding on any P.
    Rank 0 alone logs, shows progress and writes files; the test split is evaluated in shares and the sums
    reduced. Every process stops at the same step on a signal (the flags are reduced after each step). A run
    that cannot start raises on every process (``PeerError`` on those that did not fail themselves); a process
    that fails while training raises ``RankError``, which must end the job (``RankError.abort``).
    """
    workspace.keep_freed_memory()
    ranks = _join_processes()
    try:
        history = _run(config, Path(out_dir), resume, epochs, progress, log, stop_after_batches, force, ranks)
    except RankError:
        raise  # the process group stays: the others wait in a collective until the job is aborted
    except BaseException:
        ranks.leave()
        raise
    ranks.leave()
    return history


def _run(config: RunConfig | None, out: Path, resume: bool, epochs: int | None, progress: bool | None,
         log: Callable[[str], None], stop_after_batches: int | None, force: bool, ranks: _Ranks
         ) -> list[dict[str, Any]]:
    if not ranks.lead:
        log, progress = _silent, False
    try:
        the_run, position, history = _start(config, out, resume, epochs, force, ranks)
    except Exception as e:
        ranks.agree(e)  # every process raises, so none waits for the others in a collective
        raise
    ranks.agree(None)  # nothing is written before every process has checked and loaded everything
    training = _Training(the_run, out, position, history, log, sys.stderr.isatty() if progress is None else progress,
                         stop_after_batches, ranks)
    with _stop_on_signals(training.flag):
        try:
            if ranks.lead:
                _begin_writing(training, force and not resume, resume, ranks.world)
        except Exception as e:
            ranks.agree(e, lead_only=True)
            raise
        ranks.agree(None, lead_only=True)
        if ranks.many:
            the_run.forward = DistributedDataParallel(the_run.model, broadcast_buffers=False)
        try:
            training.stop_if_asked(saved=True)  # the checkpoint on disk is the exact state
            training.train()
        except Exception as e:
            if ranks.many:
                raise RankError(ranks.rank, ranks.world, e) from e
            raise
    return history


def _start(config: RunConfig | None, out: Path, resume: bool, epochs: int | None, force: bool, ranks: _Ranks
           ) -> tuple[Run, _Position, list[dict[str, Any]]]:
    """Check everything, load the data and build the run (from the checkpoint when resuming); nothing written."""
    if resume:
        checkpoint = _checkpoint_of(out, "train --resume")
        if checkpoint.name != CHECKPOINT or not out.is_dir():
            raise TrainingError(f"train --resume: {out} is a file; give the folder of the run (the one that holds "
                                f"{CHECKPOINT})")
        saved = io.load_checkpoint(checkpoint)
        config = RunConfig.from_saved(saved.config, str(checkpoint))
        config.epochs = _resumed_epochs(saved.epoch, epochs, config)
    elif config is None:
        raise TrainingError("train: a new run needs a RunConfig")
    else:
        config.check()
        _refuse_held_folder(out, force)
    if ranks.many and config.batch_size < ranks.world:
        raise TrainingError(f"train: a batch of {config.batch_size} cannot be split over {ranks.world} processes "
                            f"(each needs at least one image a step) — give --batch-size ≥ {ranks.world}, or start "
                            f"fewer processes")
    the_run = build(config)  # loads the data: a run that cannot start has not touched the disk yet
    if ranks.many:
        _spread(the_run, ranks)
    position, history = _Position(), []
    if resume:
        saved = io.load_checkpoint(out / CHECKPOINT, model=the_run.model, optimizer=the_run.optimizer,
                                   scheduler=the_run.scheduler, rng=_generators(the_run))
        position, history = _Position.from_checkpoint(saved, len(the_run.loader)), saved.extra["history"]
    return the_run, position, history


def _begin_writing(training: _Training, replace: bool, resume: bool, world: int) -> None:
    """The folder ready, the first checkpoint (a new run) and config.json (with the number of processes)."""
    out, log, position = training.out, training.log, training.position
    _prepare_folder(out, replace=replace, log=log)
    if resume:
        log(f"resumed from {out / CHECKPOINT}: epoch {position.epoch}, batch {position.batch}")
    else:
        training.save()  # from now on a kill can be resumed
    with _writing(out):
        saved = {**dataclasses.asdict(training.run.config), "world_size": world}
        _write_atomic(out / CONFIG_FILE, json.dumps(saved, indent=2) + "\n")


def _resumed_epochs(done: int | None, epochs: int | None, config: RunConfig) -> int:
    if epochs is None:
        return config.epochs
    if not _is_int(epochs) or epochs < 1:
        raise TrainingError(f"train --resume: epochs must be a whole number ≥ 1, got {_shown(epochs)} — give the "
                            f"new total number of epochs")
    if _is_int(done) and epochs < done:
        raise TrainingError(f"train --resume: the run has already trained {done} epochs, more than the {epochs} "
                            f"asked — give a total of at least {done}")
    if epochs != config.epochs and config.schedule in EPOCH_SCHEDULES:
        raise TrainingError(f"train --resume: the {config.schedule!r} schedule of this run is laid out over its "
                            f"{config.epochs} epochs and cannot be stretched to {epochs} — resume without a new "
                            f"total, or start over with --force")
    if config.warmup_epochs and epochs <= config.warmup_epochs:
        raise TrainingError(f"train --resume: the run warms up for {config.warmup_epochs} epochs — give a total "
                            f"above that, not {epochs}")
    return int(epochs)


def _refuse_held_folder(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise TrainingError(f"train: {out} is a file, not a folder — choose another output folder")
    if not force and any((out / name).exists() for name in RUN_FILES):
        raise TrainingError(f"train: {out} already holds a run — continue it with --resume {out}, or start over "
                            f"with --force")


def _prepare_folder(out: Path, replace: bool, log: Callable[[str], None]) -> None:
    """Create the folder; remove what killed writes left of the run's files (and, replacing, the old run)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TrainingError(f"train: cannot create the output folder {out} ({e.strerror or e}) — choose another "
                            f"folder") from e
    owned = (*RUN_FILES, "curves.png")  # not the files another command may be writing now (confusion.*)
    for leftover in (t for name in owned for t in temp_files(out / name)):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(leftover)
    if replace:
        old = [name for name in OLD_RUN_FILES if (out / name).exists()]
        if old:
            log(f"train: --force: replacing the previous run in {out} (removing {', '.join(old)})")
        for name in old:
            (out / name).unlink()


def _generators(the_run: Run) -> dict[str, np.random.Generator]:
    return {"model": the_run.model_rng, "shuffle": the_run.shuffle_rng}


# ----- several processes (mpiexec) ---------------------------------------------------------------------------


class PeerError(TrainingError):
    """A run over several processes could not start because another process failed (that one says why)."""


class RankError(TrainingError):
    """A process of a run over several processes failed while training. The others wait for it in a collective,
    so the job must end: ``abort()`` (MPI_Abort) makes mpiexec stop every process. ``error`` is what it raised."""

    def __init__(self, rank: int, world: int, error: BaseException) -> None:
        text = str(error).splitlines()[0] if str(error) else ""
        what = text.removeprefix("train: ") if isinstance(error, ChainruleError) else f"{type(error).__name__}: {text}"
        super().__init__(f"train: rank {rank} of {world} failed: {what}")
        self.rank, self.world, self.error = rank, world, error

    def abort(self, status: int = 1) -> None:
        dist.process_group.abort(status)


@dataclasses.dataclass
class _Ranks:
    """This process's place among the processes training one run; rank 0 of 1 when it trains alone."""

    rank: int = 0
    world: int = 1
    started: bool = False  # run() initialized the process group, so it destroys it

    @property
    def many(self) -> bool:
        return self.world > 1

    @property
    def lead(self) -> bool:
        return self.rank == 0

    def sum(self, values: Any) -> np.ndarray:
        """``values`` summed over the processes (float64)."""
        return dist.collectives.allreduce_array(np.array(values, dtype=np.float64))

    def agree(self, error: Exception | None, lead_only: bool = False) -> None:
        """Whether every process is ready to go on; when one is not, raise on every process: the first that
        failed raises its error (naming its rank unless all failed alike, or only rank 0 had work to fail),
        the others ``PeerError``. Alone, nothing to agree on: the caller raises its own error."""
        if not self.many:
            return
        flags = np.zeros(self.world)
        flags[self.rank] = error is not None
        failed = np.flatnonzero(self.sum(flags))
        if not len(failed):
            return
        first = int(failed[0])
        if self.rank != first:
            raise PeerError(f"train: rank {first} of {self.world} could not start the run (its message says why)")
        assert error is not None
        if lead_only or len(failed) == self.world:
            raise error
        raise TrainingError(f"train: rank {first} of {self.world} could not start the run: "
                            f"{str(error).removeprefix('train: ')}") from error

    def leave(self) -> None:
        if self.started:
            dist.destroy_process_group()


def _join_processes() -> _Ranks:
    """The process group this run trains in: the one initialized already, or MPI's world when mpiexec started
    this process as one of several (read from the environment first: MPI is not started for one process)."""
    if dist.is_initialized():
        return _Ranks(dist.get_rank(), dist.get_world_size())
    rank, world = launched()
    if world == 1:
        return _Ranks()
    if not dist.is_available():
        if rank:  # rank 0 says it: one line, not one per process
            raise PeerError("train: rank 0 says why the run could not start")
        raise TrainingError(f"train: mpiexec started {world} processes, but mpi4py is not installed — "
                            f"pip install \"chainrule[mpi]\"")
    dist.init_process_group("mpi")
    _share_cores()
    return _Ranks(dist.get_rank(), dist.get_world_size(), started=True)


def _share_cores() -> None:
    """Limit this process's thread pools to its share of the host's cores, unless the environment sizes them.

    Each of P processes would otherwise run as many BLAS threads as there are cores, and threads that outnumber
    the cores wait on each other (on the 2-core machine, busy, a LeNet-5 step with 2 BLAS threads took 400–580 ms
    against 46 ms with one). ``--nproc`` sets the variables; this covers ``mpiexec``.
    """
    if any(name in os.environ for name in THREAD_VARIABLES):
        return
    share = core_share(local_size())
    threads.set_num_threads(share)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the fast extra is optional; without it BLAS keeps its own count
        return
    threadpool_limits(limits=share, user_api="blas")


def _silent(line: str) -> None:
    """The log of every process but rank 0."""


def _spread(the_run: Run, ranks: _Ranks) -> None:
    """Make a run built for one process train its share on this one: batch norms take their statistics over
    every process, and dropout draws the masks of the global batch (taking this process's rows)."""
    nn.SyncBatchNorm.convert_sync_batchnorm(the_run.model)  # the same parameters: the optimizer still holds them
    generator = RowShardGenerator(the_run.model_rng.bit_generator)  # shares the state that checkpoints save
    for module in the_run.model.modules():
        if getattr(module, "generator", None) is the_run.model_rng:
            module.generator = generator
            the_run.row_generator = generator


def _evaluate_shared(model: nn.Module, images: np.ndarray, labels: np.ndarray, dataset: str, batch_size: int,
                     ranks: _Ranks) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) over a split, each process evaluating its share of the batches."""
    batches = -(-len(images) // batch_size)
    first, stop = shard_bounds(batches, ranks.world, ranks.rank)
    was_training = model.training
    model.eval()
    total, correct = 0.0, 0
    try:
        with no_grad():
            for start in range(first * batch_size, min(stop * batch_size, len(images)), batch_size):
                logits = model(to_input(images[start : start + batch_size], dataset))
                y = labels[start : start + batch_size]
                total += F.cross_entropy(logits, Tensor(y), reduction="sum").item()
                correct += int((logits.numpy().argmax(axis=1) == y).sum())
    finally:
        model.train(was_training)
    total, correct = ranks.sum([total, correct])
    count = len(images)
    return total / max(count, 1), float(correct / count) if count else math.nan


class _StopFlag:
    """Set by SIGINT or SIGTERM while run() trains (the first signal wins); read by the loop at safe points."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def set(self, signum: int, frame: Any = None) -> None:
        if self.signum is None:
            self.signum = signum

    def is_set(self) -> bool:
        return self.signum is not None

    def counts(self) -> list[int]:
        """[SIGINT seen, SIGTERM seen] as 0 or 1: summed over the processes, every one reads the same decision."""
        return [int(self.signum == signal.SIGINT), int(self.signum == signal.SIGTERM)]


def _agreed_signal(counts: Any) -> int | None:
    """The signal every process stops on, from the summed ``_StopFlag.counts``: SIGINT before SIGTERM."""
    return signal.SIGINT if counts[0] else signal.SIGTERM if counts[1] else None


@contextlib.contextmanager
def _stop_on_signals(flag: _StopFlag) -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM only set ``flag``; the previous handlers come back after.

    Only the main thread may set handlers (elsewhere the signals are not delivered to this code anyway). A
    signal ignored on purpose (SIG_IGN: e.g. a background job's Ctrl-C) or handled outside Python stays so.
    """
    previous: dict[int, Any] = {}
    try:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                handler = signal.getsignal(signum)
                if handler is not None and handler is not signal.SIG_IGN:
                    previous[signum] = signal.signal(signum, flag.set)
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@dataclasses.dataclass
class _Position:
    """Where training stands: epochs completed, batches done in the current one and their sums."""

    epoch: int = 0
    batch: int = 0
    sums: list[Any] = dataclasses.field(default_factory=lambda: [0.0, 0, 0])  # loss · n, correct, n
    epoch_start_shuffle: dict[str, Any] | None = None  # the shuffle generator's state before this epoch's order

    @classmethod
    def from_checkpoint(cls, saved: Any, steps_per_epoch: int) -> _Position:
        extra, where = saved.extra, saved.path
        if not isinstance(extra, Mapping) or not all(k in extra for k in ("batch", "sums", "history")):
            raise TrainingError(f"train --resume: {where} was not written by chainrule train (it has no training "
                                f"position) — start a new run instead")
        batch, sums, shuffle = extra["batch"], extra["sums"], extra.get("epoch_start_shuffle")
        if not (_is_int(saved.epoch) and saved.epoch >= 0 and _is_int(batch) and 0 <= batch <= steps_per_epoch
                and isinstance(sums, list) and len(sums) == 3 and all(_is_real(v) for v in sums)
                and isinstance(extra["history"], list) and all(isinstance(row, dict) for row in extra["history"])
                and (batch == 0 or isinstance(shuffle, Mapping))):
            raise TrainingError(f"train --resume: the training position saved in {where} is malformed (epoch "
                                f"{saved.epoch!r}, batch {batch!r} of {steps_per_epoch}) — start a new run instead")
        return cls(saved.epoch, batch, list(sums), dict(shuffle) if batch else None)


class _Training:
    """The loop of run(): steps, evaluation, metrics and checkpoints, stopping only at safe points."""

    def __init__(self, the_run: Run, out: Path, position: _Position, history: list[dict[str, Any]],
                 log: Callable[[str], None], show: bool, stop_after_batches: int | None,
                 ranks: _Ranks | None = None) -> None:
        self.run, self.out, self.position, self.history, self.log = the_run, out, position, history, log
        self.show, self.stop_after_batches = show, stop_after_batches
        self.ranks = ranks or _Ranks()
        self.flag = _StopFlag()
        self.agreed: int | None = None  # the signal the processes agreed on after the last step (several)
        self.trained = 0  # batches trained by this call (for stop_after_batches)
        self.epoch_seconds: list[float] = []  # wall time of each whole epoch trained by this call (the ETA)

    @property
    def checkpoint(self) -> Path:
        return self.out / CHECKPOINT

    def save(self) -> None:
        if not self.ranks.lead:
            return  # the state is the same on every process: rank 0 writes it
        the_run, pos = self.run, self.position
        steps = len(the_run.loader)
        with _writing(self.checkpoint):
            io.save_checkpoint(
                self.checkpoint, model=the_run.model, optimizer=the_run.optimizer, scheduler=the_run.scheduler,
                epoch=pos.epoch, step=pos.epoch * steps + pos.batch, config=dataclasses.asdict(the_run.config),
                rng=_generators(the_run),
                extra={"batch": pos.batch, "sums": pos.sums, "history": self.history,
                       "epoch_start_shuffle": pos.epoch_start_shuffle if pos.batch else None},
            )

    def stop_if_asked(self, saved: bool = False, agreed: bool = False) -> None:
        """At a safe point: when a signal came, save the exact state (unless just saved) and raise Interrupted.

        Over several processes the decision is the same on all: the flags are summed over them (``agreed``:
        the step just did, with its sums)."""
        if agreed:
            signum = self.agreed
        else:
            signum = _agreed_signal(self.ranks.sum(self.flag.counts())) if self.ranks.many else self.flag.signum
        if signum is None:
            return
        if not saved:
            self.save()  # a second signal now only sets the flag again: the write finishes
        pos = self.position
        where = f"epoch {pos.epoch + 1}, batch {pos.batch}" if pos.batch else f"the end of epoch {pos.epoch}"
        self.log(f"interrupted: saved {self.checkpoint} at {where}")
        raise Interrupted(signum, self.checkpoint)

    def train(self) -> None:
        for epoch in range(self.position.epoch, self.run.config.epochs):
            started = time.perf_counter()
            elapsed, seen = self.train_epoch(epoch)
            row = self.finish_epoch(epoch, elapsed, seen)
            self.epoch_seconds.append(time.perf_counter() - started)
            self.log_epoch(row)
            self.stop_if_asked(saved=True)  # a signal during the writes: they finished, the checkpoint is exact

    def train_epoch(self, epoch: int) -> tuple[float, int]:
        """The epoch's remaining batches; (seconds, images) trained by this call."""
        the_run, pos = self.run, self.position
        rng = the_run.shuffle_rng.bit_generator
        if pos.batch:  # mid-epoch resume: draw the same order again, then skip the batches already done
            rng.state = pos.epoch_start_shuffle
        pos.epoch_start_shuffle = rng.state
        the_run.model.train()
        first, started, seen = pos.batch, time.perf_counter(), 0
        bar = _progress(len(the_run.loader), f"epoch {epoch + 1}/{the_run.config.epochs}", self.show)
        try:
            for xb, yb in _skip(iter(the_run.loader), pos.batch):
                seen += self.shard_step(xb, yb) if self.ranks.many else self.step(xb, yb)
                if bar is not None:
                    self.show_progress(bar, epoch, first, started, seen)
                self.stop_if_asked(agreed=self.ranks.many)
        finally:
            if bar is not None:
                bar.close()
        return time.perf_counter() - started, seen

    def step(self, xb: Tensor, yb: Tensor) -> int:
        """One optimization step and its bookkeeping, never interrupted half-way (signals wait for its end)."""
        the_run, pos = self.run, self.position
        config, optimizer = the_run.config, the_run.optimizer
        logits = the_run.model(to_input(xb._data, config.dataset))
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if config.schedule == "onecycle":
            the_run.scheduler.step()
        n = len(yb)
        pos.sums[0] += loss.item() * n
        pos.sums[1] += int((logits.numpy().argmax(axis=1) == yb._data).sum())
        pos.sums[2] += n
        pos.batch += 1
        self.trained += 1
        if self.stop_after_batches is not None and self.trained == self.stop_after_batches:
            self.flag.set(signal.SIGINT)
        return n

    def shard_step(self, xb: Tensor, yb: Tensor) -> int:
        """``step`` over several processes: this one trains on its rows of the global batch; the sums of the
        batch's bookkeeping and the stop flags are reduced over the processes in one allreduce."""
        the_run, pos, ranks = self.run, self.position, self.ranks
        config, optimizer = the_run.config, the_run.optimizer
        total = len(yb)
        lo, hi = shard_bounds(total, ranks.world, ranks.rank)
        if the_run.row_generator is not None:
            the_run.row_generator.shard(lo, hi, total)
        y = yb._data[lo:hi]
        logits = the_run.forward(to_input(xb._data[lo:hi], config.dataset))
        n = hi - lo
        # the share's mean weighted by n·P/N: the average DistributedDataParallel takes is the global batch's mean
        loss = F.cross_entropy(logits, Tensor(y)) if n else F.cross_entropy(logits, Tensor(y), reduction="sum")
        optimizer.zero_grad()
        (loss * (n * ranks.world / total)).backward()
        optimizer.step()
        if config.schedule == "onecycle":
            the_run.scheduler.step()
        pos.batch += 1
        self.trained += 1
        if self.stop_after_batches is not None and self.trained == self.stop_after_batches:
            self.flag.set(signal.SIGINT)
        correct = int((logits.numpy().argmax(axis=1) == y).sum())
        loss_sum, correct, seen, *signals = self.ranks.sum([loss.item() * n, correct, n, *self.flag.counts()])
        pos.sums[0] += float(loss_sum)
        pos.sums[1] += int(correct)
        pos.sums[2] += int(seen)
        self.agreed = _agreed_signal(signals)
        return total

    def show_progress(self, bar: Any, epoch: int, first: int, started: float, seen: int) -> None:
        pos, steps = self.position, len(self.run.loader)
        elapsed = max(time.perf_counter() - started, 1e-9)
        per_batch = elapsed / (pos.batch - first)
        later = self.epoch_time(per_batch * steps) * (self.run.config.epochs - epoch - 1)
        run_left = per_batch * (steps - pos.batch) + later  # the bar estimates this epoch only; this is the run
        bar.set_postfix(loss=f"{pos.sums[0] / pos.sums[2]:.4f}", acc=f"{pos.sums[1] / pos.sums[2]:.3f}",
                        samples_s=f"{seen / elapsed:.0f}", run_eta=format_duration(run_left))
        bar.update(pos.batch - bar.n)

    def epoch_time(self, guess: float) -> float:
        """The mean wall time of the whole epochs trained so far by this call (``guess`` before the first)."""
        return sum(self.epoch_seconds) / len(self.epoch_seconds) if self.epoch_seconds else guess

    def finish_epoch(self, epoch: int, elapsed: float, seen: int) -> dict[str, Any]:
        """Evaluate, step the schedule, record the epoch's metrics, write them and the checkpoint."""
        the_run, config = self.run, self.run.config
        if self.ranks.many:  # a few seconds at most: a signal waits for the agreement after it
            test_loss, test_acc = _evaluate_shared(the_run.model, the_run.test_images, the_run.test_labels,
                                                   config.dataset, EVAL_BATCH_SIZE, self.ranks)
        else:
            result = _evaluate(the_run.model, the_run.test_images, the_run.test_labels, config.dataset,
                               EVAL_BATCH_SIZE, stop=self.flag.is_set)
            if result is None:
                self.stop_if_asked()  # saved with the epoch's batches done: a resume evaluates again
            test_loss, predictions = result  # type: ignore[misc]
            test_acc = float((predictions == the_run.test_labels).mean()) if len(predictions) else math.nan
        lr = the_run.optimizer.param_groups[0]["lr"]
        if config.schedule == "plateau":
            the_run.scheduler.step(test_loss)
        elif the_run.scheduler is not None and config.schedule != "onecycle":
            the_run.scheduler.step()
        sums = self.position.sums
        row = {"epoch": epoch + 1, "train_loss": sums[0] / max(sums[2], 1), "train_acc": sums[1] / max(sums[2], 1),
               "test_loss": test_loss, "test_acc": test_acc, "lr": lr, "epoch_time_s": round(elapsed, 3),
               "samples_per_s": round(seen / max(elapsed, 1e-9), 1), "world_size": self.ranks.world}
        self.history.append(row)
        self.position = _Position(epoch + 1)
        # the metrics first, the checkpoint last: a kill in between redoes this epoch and writes both again
        if self.ranks.lead:
            with _writing(self.out):
                _write_metrics(self.out, self.history)
        self.save()
        return row

    def log_epoch(self, row: dict[str, Any]) -> None:
        epochs = self.run.config.epochs
        remaining = self.epoch_time(math.nan) * (epochs - row["epoch"])
        self.log(f"epoch {row['epoch']}/{epochs}: train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f} | "
                 f"test loss {row['test_loss']:.4f} acc {row['test_acc']:.4f} | {row['epoch_time_s']:.1f} s, "
                 f"{row['samples_per_s']:.0f} samples/s | ETA {format_duration(remaining)}")


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """A failed write (a full disk, a folder made read-only) as one TrainingError naming the file."""
    try:
        yield
    except OSError as e:
        raise TrainingError(f"train: cannot write to {path} ({e.strerror or e}) — free some space or choose "
                            f"another output folder") from e


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
    atomic_write(path, lambda f: f.write(text.encode()))


def _write_metrics(out: Path, history: list[dict[str, Any]]) -> None:
    _write_atomic(out / "metrics.jsonl", "".join(json.dumps(row) + "\n" for row in history))
    text = _io.StringIO()
    # every row's columns, in order of appearance (a run resumed from an older checkpoint gains world_size)
    writer = csv.DictWriter(text, fieldnames=list(dict.fromkeys(key for row in history for key in row)))
    writer.writeheader()
    writer.writerows(history)
    _write_atomic(out / "metrics.csv", text.getvalue())
    try:
        plots.plot_curves(history, out / "curves.png")
    except ImportError:
        pass  # matplotlib is an optional extra; the metrics files are written regardless


def load_trained(run_dir: str | os.PathLike[str]) -> tuple[nn.Module, RunConfig]:
    """The model of a run directory (or of a checkpoint file), with its weights, in eval mode, and its config."""
    path = _checkpoint_of(Path(run_dir), "load")
    config = RunConfig.from_saved(io.load_checkpoint(path).config, str(path), "load")
    model = models.create(config.model, **_model_kwargs(config))
    io.load_checkpoint(path, model=model)
    model.eval()
    return model, config


def _model_kwargs(config: RunConfig) -> dict[str, Any]:
    return {"in_features": 64 if config.dataset == "digits" else 784} if config.model.lower() == "mlp" else {}
