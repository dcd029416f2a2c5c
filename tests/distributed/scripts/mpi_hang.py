"""Run under mpiexec: rank 1 stops taking part (a sleep, no exception) while rank 0 waits in an all_reduce; the
2-second timeout of init_process_group must end the job with a line naming rank 0 and the collective."""

import time
from datetime import timedelta

import chainrule as cr
import chainrule.distributed as dist

dist.init_process_group("mpi", timeout=timedelta(seconds=2))
if dist.get_rank() == 1:
    time.sleep(100)
dist.all_reduce(cr.ones(3))
print("rank", dist.get_rank(), "finished the all_reduce", flush=True)
