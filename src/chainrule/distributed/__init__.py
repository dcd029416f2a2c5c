"""``chainrule.distributed``: several processes that train one model, with ``torch.distributed``'s names, on MPI.

Launch a script with ``mpiexec -n 4 python train.py`` (the ``mpi`` extra installs ``mpi4py`` and the MPICH
wheel, whose ``mpiexec`` lands beside the environment's ``python``); in it, ``init_process_group("mpi")`` takes
the rank and the number of processes from MPI. Collectives work in place on a tensor's array through mpi4py's
buffer interface (no pickling): ``all_reduce`` (``ReduceOp.SUM``, ``AVG``, ``PRODUCT``, ``MIN``, ``MAX``),
``broadcast``, ``all_gather``, ``barrier``. ``chainrule.nn.parallel.DistributedDataParallel`` averages gradients
during backward; ``chainrule.nn.SyncBatchNorm`` takes batch statistics over every process;
``chainrule.utils.data.DistributedSampler`` gives each process its share of a data set. mpi4py is imported by
``init_process_group``, never by ``import chainrule``. See docs/distributed.md.
"""

from chainrule.distributed.collectives import ReduceOp, Work, all_gather, all_reduce, broadcast
from chainrule.distributed.process_group import (
    DistError,
    barrier,
    destroy_process_group,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
    mpiexec_path,
)

__all__ = [
    "DistError", "ReduceOp", "Work", "all_gather", "all_reduce", "barrier", "broadcast", "destroy_process_group",
    "get_rank", "get_world_size", "init_process_group", "is_available", "is_initialized", "is_mpi_available",
    "mpiexec_path",
]
