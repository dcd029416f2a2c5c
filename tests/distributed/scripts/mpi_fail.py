"""Run under mpiexec: rank 1 raises while rank 0 waits in a collective that rank 1 never joins. The job must end
(MPI_Abort from chainrule's excepthook), with a line naming rank 1."""

import chainrule.distributed as dist

dist.init_process_group("mpi")
if dist.get_rank() == 1:
    raise ValueError("a deliberate failure")
dist.barrier()  # would wait for ever without the abort
print("rank", dist.get_rank(), "passed the barrier", flush=True)
