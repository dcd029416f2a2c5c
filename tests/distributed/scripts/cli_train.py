"""``chainrule train`` (the real command line) with one change for a test, then its exit status.

Usage: cli_train.py [--synthetic] --stop-after K ARGS...   stop like a Ctrl-C after K batches (on every process)
       cli_train.py [--synthetic] --fail-rank R ARGS...    rank R raises ValueError in its second training step
       cli_train.py [--synthetic] --refuse-rank R ARGS...  rank R cannot start (its build raises TrainingError)
       cli_train.py [--synthetic] ARGS...                  unchanged

``--synthetic`` reads IDX files without checking them against the official data set's hashes (tests write
small synthetic ones).
"""

from __future__ import annotations

import sys

from chainrule import training
from chainrule.cli import main
from chainrule.data import mnist
from chainrule.distributed.launch import launched


def unverified() -> None:
    original = mnist.IDXImageDataset.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **{**kwargs, "verify": False})

    mnist.IDXImageDataset.__init__ = init


def stop_after(batches: int) -> None:
    original = training._Training.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.stop_after_batches = batches

    training._Training.__init__ = init


def fail_on(rank: int) -> None:
    original = training._Training.shard_step

    def shard_step(self, xb, yb):
        if self.ranks.rank == rank and self.trained == 1:
            raise ValueError("a deliberate failure")
        return original(self, xb, yb)

    training._Training.shard_step = shard_step


def refuse_on(rank: int) -> None:
    original = training.build

    def build(config):
        if launched()[0] == rank:
            raise training.TrainingError("train: a deliberate refusal — nothing to fix")
        return original(config)

    training.build = build


if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv[0] == "--synthetic":
        unverified()
        argv = argv[1:]
    if argv[0] == "--stop-after":
        stop_after(int(argv[1]))
        argv = argv[2:]
    elif argv[0] == "--fail-rank":
        fail_on(int(argv[1]))
        argv = argv[2:]
    elif argv[0] == "--refuse-rank":
        refuse_on(int(argv[1]))
        argv = argv[2:]
    sys.exit(main(argv))
