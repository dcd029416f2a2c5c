"""Run under mpiexec: train with DistributedDataParallel on shards of a global batch, then compare rank 0's
parameters with one process training on the whole batch. Prints one line ``RESULT {json}`` on rank 0.

Usage: mpi_train.py MODEL OPTIMIZER [--accumulate] where MODEL is mlp, mlp_unused (a layer the forward skips),
cnn (no batch norm: plain BatchNorm's statistics are per process by design) or cnn_sync (SyncBatchNorm) and
OPTIMIZER is sgd or adam. The global batch splits over the ranks into contiguous shards, unequal when it does
not divide:
each rank's loss is its shard's mean scaled by n_rank·world/N, so the average DDP takes is the global mean.
"""

from __future__ import annotations

import json
import sys

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
import chainrule.nn.functional as F  # noqa: N812 - the usual alias
from chainrule import nn
from chainrule.nn.parallel import DistributedDataParallel

STEPS = 4
GLOBAL_BATCH = 8


class MLP(nn.Module):
    def __init__(self, unused: bool = False) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(5, 16), nn.Linear(16, 3)
        self.spare = nn.Linear(3, 3) if unused else None

    def forward(self, x):
        return self.fc2(self.fc1(x).tanh())


def build(name: str, seed: int) -> nn.Module:
    cr.manual_seed(seed)
    if name.startswith("mlp"):
        return MLP(unused=name == "mlp_unused")
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(4 * 3 * 3, 3))
    # No bias before a batch norm: its true gradient is 0, and Adam would magnify the rounding noise around it.
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(4 * 3 * 3, 3))
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)


def data(name: str, step: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.random.default_rng(100 + step)
    if name.startswith("mlp"):
        return r.standard_normal((GLOBAL_BATCH, 5)).astype(np.float32), r.standard_normal((GLOBAL_BATCH, 3)).astype(
            np.float32)
    return (r.standard_normal((GLOBAL_BATCH, 2, 6, 6)).astype(np.float32),
            r.integers(0, 3, GLOBAL_BATCH).astype(np.int64))


def loss_of(name: str, out, y):
    return F.mse_loss(out, cr.tensor(y)) if name.startswith("mlp") else F.cross_entropy(out, cr.tensor(y))


def optimizer(kind: str, params):
    if kind == "sgd":
        return cr.optim.SGD(params, lr=0.1, momentum=0.9)
    return cr.optim.Adam(params, lr=0.01)


def train(model, name: str, kind: str, shard: slice, scale: float, accumulate: bool, wrapped=None) -> None:
    runner = wrapped or model
    opt = optimizer(kind, model.parameters())
    for step in range(STEPS):
        x, y = data(name, step)
        x, y = x[shard], y[shard]
        opt.zero_grad()
        if accumulate:  # two micro-batches; the first without averaging (no_sync), the second averages the total
            half = len(x) // 2
            with runner.no_sync() if wrapped is not None else _nothing():
                (loss_of(name, runner(cr.tensor(x[:half])), y[:half]) * (scale / 2)).backward()
            (loss_of(name, runner(cr.tensor(x[half:])), y[half:]) * (scale / 2)).backward()
        else:
            (loss_of(name, runner(cr.tensor(x)), y) * scale).backward()
        opt.step()


class _nothing:  # noqa: N801 - a context manager used like a function
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return None


def main() -> None:
    name, kind = sys.argv[1], sys.argv[2]
    accumulate = "--accumulate" in sys.argv
    reference = build(name, seed=0)  # one process on the whole batch, before any process group exists
    train(reference, name, kind, slice(None), 1.0, accumulate)
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    bounds = [GLOBAL_BATCH * r // world for r in range(world + 1)]
    shard = slice(bounds[rank], bounds[rank + 1])
    scale = (bounds[rank + 1] - bounds[rank]) * world / GLOBAL_BATCH

    model = build(name, seed=rank)  # different initial values on each rank: DDP must copy rank 0's
    ddp = DistributedDataParallel(model, find_unused_parameters=name == "mlp_unused")
    assert ddp.module is model
    assert all(k.startswith("module.") for k in ddp.state_dict())
    train(model, name, kind, shard, scale, accumulate, wrapped=ddp)

    # every replica holds the same values
    spread = 0.0
    for p in [*model.parameters(), *model.buffers()]:
        gathered = [cr.empty_like(p) for _ in range(world)]
        dist.all_gather(gathered, p.detach())
        spread = max(spread, max(float(np.max(np.abs(g.numpy().astype(np.float64) - p.numpy()))) for g in gathered))
    unused_grad_is_none = all(p.grad is None for p in model.spare.parameters()) if name == "mlp_unused" else None

    if rank == 0:
        mine = dict(model.state_dict())
        ref = dict(reference.state_dict())
        diff = max(float(np.max(np.abs(mine[k].numpy().astype(np.float64) - ref[k].numpy()))) for k in ref)
        start = build(name, 0).state_dict()
        moved = min(float(np.max(np.abs(ref[k].numpy() - start[k].numpy()))) for k in ref if ref[k].dtype.kind == "f"
                    and k not in ("spare.weight", "spare.bias"))
        dtypes = sorted({str(p.dtype) for p in model.parameters()})
        print("RESULT " + json.dumps({"max_diff": diff, "spread": spread, "moved": moved, "world": world,
                                      "dtypes": dtypes, "unused_grad_is_none": unused_grad_is_none}), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
