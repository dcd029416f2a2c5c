"""Run under mpiexec: with small buckets, DistributedDataParallel starts each bucket's allreduce during
backward, in bucket order, before the first layer's gradients are final; and the averages stay right.
Rank 0 prints ``RESULT {json}``."""

from __future__ import annotations

import json

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
import chainrule.nn.parallel as parallel
from chainrule import nn

events: list[str] = []
start = parallel.iallreduce_array


def logged_start(array, communicator=None):
    events.append(f"launch {array.size}")
    return start(array, communicator)


parallel.iallreduce_array = logged_start

dist.init_process_group("mpi")
rank, world = dist.get_rank(), dist.get_world_size()
cr.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2))
ddp = parallel.DistributedDataParallel(model, bucket_cap_mb=100 / 2**20)  # 100 bytes: a bucket per layer or so
first = model[0].weight
first.register_post_accumulate_grad_hook(lambda p: events.append("first layer final"))
sizes = [len(b.params) for b in ddp._buckets]
x = np.random.default_rng(rank).standard_normal((3, 4)).astype(np.float32)
ddp(cr.tensor(x)).pow(2).sum().backward()
grads = [p.grad.numpy().copy() for p in model.parameters()]

# the same gradients by hand: each rank's own, summed over the ranks, divided by the world size
local = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2))
local.load_state_dict(model.state_dict())
local(cr.tensor(x)).pow(2).sum().backward()
diff = 0.0
for p, g in zip(local.parameters(), grads):
    total = p.grad.detach().clone()
    dist.all_reduce(total)
    diff = max(diff, float(np.max(np.abs(total.numpy() / world - g))))
if rank == 0:
    print("RESULT " + json.dumps({"events": events, "buckets": sizes, "diff": diff}), flush=True)
dist.destroy_process_group()
