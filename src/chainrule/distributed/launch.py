"""Being started by ``mpiexec``, told without importing mpi4py, and starting ``mpiexec`` for a command.

``launched()`` reads the environment the MPI launcher gives each process (MPICH's and Intel MPI's ``PMI_RANK``
and ``PMI_SIZE``, Open MPI's ``OMPI_COMM_WORLD_RANK`` and ``OMPI_COMM_WORLD_SIZE``, MVAPICH's ``MV2_COMM_WORLD_*``),
so a program can ask whether it runs as one of several processes before it pays for starting MPI.
``mpiexec_command`` is the command line that starts ``n`` copies of this Python on a module.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from chainrule.distributed.process_group import mpiexec_path

__all__ = ["THREAD_VARIABLES", "core_share", "launched", "local_size", "mpiexec_command"]

#: the variables that size a process's thread pools (OpenMP, OpenBLAS, MKL, chainrule's own)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "CHAINRULE_NUM_THREADS")

# (rank variable, size variable) of each launcher, the most common first
_LAUNCHER_VARIABLES = (
    ("PMI_RANK", "PMI_SIZE"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
    ("MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE"),
)


def launched(environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """(rank, number of processes) that an MPI launcher started this process as; (0, 1) when none did.

    Only the environment is read: MPI is not started and mpi4py not imported.
    """
    env = os.environ if environ is None else environ
    for rank_name, size_name in _LAUNCHER_VARIABLES:
        rank, size = env.get(rank_name, ""), env.get(size_name, "")
        if rank.isdigit() and size.isdigit() and 0 <= int(rank) < int(size):
            return int(rank), int(size)
    return 0, 1


def local_size(environ: Mapping[str, str] | None = None) -> int:
    """How many processes of the job run on this host (MPICH's ``MPI_LOCALNRANKS``, Open MPI's
    ``OMPI_COMM_WORLD_LOCAL_SIZE``); the job's size when the launcher does not say; 1 without a launcher."""
    env = os.environ if environ is None else environ
    for name in ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "MV2_COMM_WORLD_LOCAL_SIZE"):
        value = env.get(name, "")
        if value.isdigit() and int(value) >= 1:
            return int(value)
    return launched(env)[1]


def core_share(processes: int) -> int:
    """The cores each of ``processes`` processes on this host may use: this process's cores divided among them."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, processes))


def mpiexec_command(nproc: int, module: str, args: Sequence[str], mpiexec: str | None = None) -> list[str]:
    """``[mpiexec, -n, nproc, python, -m, module, *args]`` with this environment's ``mpiexec`` and Python.

    Raises ``FileNotFoundError`` naming what is missing when there is no ``mpiexec`` to run.
    """
    launcher = mpiexec or mpiexec_path()
    if launcher is None:
        raise FileNotFoundError("mpiexec")
    return [launcher, "-n", str(nproc), sys.executable, "-m", module, *args]
