"""``chainrule train``: train a model from the zoo on an image data set, with progress, metrics, plots and
checkpoints (see chainrule.training)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shlex
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from chainrule import distributed as dist
from chainrule import io, models
from chainrule.cli.common import (
    FAILURE,
    CommandError,
    UsageError,
    clean,
    count,
    describe,
    error_line,
    existing_folder,
    natural,
    nonnegative_real,
    note_line,
    positive_real,
    say,
    writable_folder,
)
from chainrule.distributed.launch import THREAD_VARIABLES, core_share, launched, mpiexec_command
from chainrule.training import (
    CHECKPOINT,
    NORMALIZATION,
    OPTIMIZERS,
    RUN_FILES,
    SCHEDULES,
    PeerError,
    RankError,
    RunConfig,
    saved_config,
)
from chainrule.training import run as run_training

DEFAULTS = RunConfig()
FIELDS = [f.name for f in dataclasses.fields(RunConfig)]

EPILOG = """\
examples:
  chainrule train --model mlp --dataset digits --epochs 3 --out runs/digits
  chainrule train --model cnn --optimizer adam --lr 0.001 --schedule cosine --epochs 5 --download
  chainrule train --resume runs/digits --epochs 6        # continue a run, to 6 epochs in all
  chainrule train --nproc 2 --epochs 1 --out runs/two     # two processes (MPI), the same result as one
"""

# "1": rank 0 shows the progress bar although its stderr is a pipe (mpiexec's); --nproc sets it on a terminal
PROGRESS_VARIABLE = "CHAINRULE_PROGRESS"


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
    p.add_argument("--nproc", type=count, default=None, metavar="N",
                   help="train on N processes: starts this command under the environment's mpiexec (needs the "
                        "mpi extra; 'mpiexec -n N chainrule train ...' does the same); --batch-size stays the "
                        "global batch, split over them (default: 1)")
    return p


def _option_adder(parser: argparse.ArgumentParser) -> Any:
    def option(flag: str, help: str, **kwargs: Any) -> None:  # noqa: A002 - argparse's name
        default = getattr(DEFAULTS, flag[2:].replace("-", "_"))
        parser.add_argument(flag, default=None, help=f"{help} (default: {default})", **kwargs)

    return option


def run(args: argparse.Namespace) -> int:
    rank, world = launched()
    try:
        return _checked_run(args, world)
    except CommandError as e:
        if rank:  # every process refuses alike: rank 0 says it
            return e.status
        raise


def _checked_run(args: argparse.Namespace, world: int) -> int:
    if args.nproc is not None and args.nproc > 1 and world > 1:
        raise UsageError(f"--nproc {args.nproc} inside a job that mpiexec started with {world} processes",
                         "leave --nproc out under mpiexec (it already started the processes)")
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
    if args.nproc is not None and args.nproc > 1:
        return _launch(args, args.nproc)  # rank 0 of the processes says the notes
    rank, world = launched()
    if rank:
        return _train_quietly(folder, config, args)
    resume = config is None
    log = _Log(notes)
    # under mpiexec stderr is a pipe to it even when it shows on a terminal: CHAINRULE_PROGRESS=1 says it does
    shown = True if os.environ.get(PROGRESS_VARIABLE) == "1" else None
    kwargs: dict[str, Any] = {"resume": resume, "epochs": args.epochs if resume else None,
                              "progress": False if args.quiet else shown, "log": log}
    if not resume:
        kwargs["force"] = args.force  # the run removes the old one's files once its data has loaded
    created = not folder.exists()
    try:
        history = run_training(config, folder, **kwargs)
    except KeyboardInterrupt as e:  # the run saved where it stopped
        log.flush()
        print(_stopped(folder), file=sys.stderr)
        return 128 + int(getattr(e, "signum", signal.SIGINT))
    except RankError as e:
        _abort(e)
    except BaseException as e:
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # a run that could not start leaves no empty folder behind
        if isinstance(e, PeerError):  # another process could not start the run, and says why
            return FAILURE
        raise
    log.flush()
    if history:
        last = history[-1]
        say(f"done: test accuracy {last['test_acc']:.4f} after {last['epoch']} epochs; files in {clean(folder)}")
    return 0


def _train_quietly(folder: Path, config: RunConfig | None, args: argparse.Namespace) -> int:
    """A process other than rank 0 of a run over several: it trains and says nothing, except why it failed."""
    resume = config is None
    kwargs: dict[str, Any] = {"resume": resume, "epochs": args.epochs if resume else None, "progress": False,
                              "log": lambda line: None}
    if not resume:
        kwargs["force"] = args.force
    try:
        run_training(config, folder, **kwargs)
    except KeyboardInterrupt as e:
        return 128 + int(getattr(e, "signum", signal.SIGINT))
    except PeerError:  # another process failed to start and says why
        return FAILURE
    except RankError as e:
        _abort(e)
    return 0


def _abort(error: RankError) -> NoReturn:
    """One line naming the process that failed, then the whole job ends (the others wait for it otherwise)."""
    what, fix, status = describe("train", error.error)
    if os.environ.get("CHAINRULE_DEBUG") == "1":
        traceback.print_exception(error.error)
    print(error_line("train", f"rank {error.rank} of {error.world} failed: {what}", f"{fix}; the job is stopped"),
          file=sys.stderr, flush=True)
    error.abort(status)
    os._exit(status)  # MPI_Abort does not return; should it, this process still must not go on


def _launch(args: argparse.Namespace, nproc: int) -> int:
    """``--nproc N``: run this command again as N processes under the environment's mpiexec; their exit status."""
    fix = 'pip install "chainrule[mpi]" (mpi4py and the MPICH wheel, which brings mpiexec)'
    if not dist.is_available():
        raise CommandError(f"--nproc {nproc} needs mpi4py, which is not installed", fix)
    launcher = dist.mpiexec_path()
    if launcher is None:
        raise CommandError(f"--nproc {nproc} needs mpiexec, found neither beside {sys.executable} nor on PATH", fix)
    command = mpiexec_command(nproc, "chainrule", ["train", *_arguments(args)], launcher)
    share = str(core_share(nproc))  # the processes share the cores: no pool bigger than a process's share
    env = {**{name: share for name in THREAD_VARIABLES}, **os.environ}
    if sys.stderr.isatty() and not args.quiet:
        env.setdefault(PROGRESS_VARIABLE, "1")
    # its own session: a Ctrl-C at the terminal reaches this process only, which passes it on once (mpiexec
    # forwards the first to every process, which saves and stops; a second would kill them)
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    with _passing_signals(proc):
        status = proc.wait()
    return 128 - status if status < 0 else status  # killed by a signal: the shell's convention


@contextlib.contextmanager
def _passing_signals(proc: subprocess.Popen) -> Iterator[None]:
    """While ``proc`` runs, SIGINT and SIGTERM are passed on to it instead of stopping this process."""
    def forward(signum: int, frame: Any) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    if threading.current_thread() is not threading.main_thread():  # only the main thread receives signals
        yield
        return
    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _arguments(args: argparse.Namespace) -> list[str]:
    """The options of ``args`` as a command line (without --nproc): what each process parses again."""
    words: list[str] = []
    for name in (*FIELDS, "out", "resume"):
        value = getattr(args, name, None)
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        words += [flag] if value is True else [flag, str(value)]
    return words + [flag for flag in ("--force", "--quiet") if getattr(args, flag[2:])]


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
