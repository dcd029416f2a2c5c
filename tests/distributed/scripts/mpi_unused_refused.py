"""Run under mpiexec: a parameter that gets no gradient, without find_unused_parameters, is refused by name
(on every rank, as every rank leaves it unused); rank 0 prints the error."""

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn
from chainrule.nn.parallel import DistributedDataParallel


class Partly(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.used, self.unused = nn.Linear(2, 2), nn.Linear(2, 2)

    def forward(self, x):
        return self.used(x)


dist.init_process_group("mpi")
ddp = DistributedDataParallel(Partly())
try:
    ddp(cr.tensor(np.ones((1, 2), dtype=np.float32))).sum().backward()
except dist.DistError as error:
    if dist.get_rank() == 0:
        print("REFUSED", error, flush=True)
dist.destroy_process_group()
