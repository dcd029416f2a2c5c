"""The default process group: MPI's world, duplicated so that chainrule's messages never meet a user's own.

A rank that dies of an uncaught exception would leave the others blocked in their next collective for ever, so
``init_process_group`` installs an excepthook that prints the traceback and one line naming the rank, then calls
``MPI_Abort``: mpiexec ends every process of the job within seconds. A rank that stops answering without an
exception (a deadlock, a rank stuck in a loop) is caught by the timeout: every collective is started non-blocking
and waited for by ``wait``, which aborts the job, naming the rank and the collective, once ``timeout`` has passed.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import time
import traceback
from datetime import timedelta
from types import TracebackType
from typing import Any

from chainrule.errors import ArgumentError, ChainruleError

__all__ = [
    "DistError", "barrier", "destroy_process_group", "get_rank", "get_world_size", "init_process_group",
    "is_available", "is_initialized", "is_mpi_available", "mpiexec_path",
]


class DistError(ChainruleError, RuntimeError):
    """A distributed call that cannot go on (``torch.distributed.DistError``)."""


# PyTorch's default for CPU process groups.
DEFAULT_TIMEOUT = timedelta(minutes=30)


class _Group:
    """The state of the default process group (one per process)."""

    comm: Any = None  # an mpi4py communicator while initialized
    side: dict[str, Any] = {}  # duplicates of comm, one per user of collectives inside backward (by name)
    rank = 0
    size = 1
    previous_excepthook: Any = None
    timeout = DEFAULT_TIMEOUT.total_seconds()


_group = _Group()


def is_available() -> bool:
    """Whether chainrule.distributed can run here: mpi4py is installed (``pip install "chainrule[mpi]"``)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_mpi_available() -> bool:
    """Whether the MPI backend is available (the only backend chainrule has): the same as ``is_available()``."""
    return is_available()


def mpiexec_path() -> str | None:
    """The ``mpiexec`` that launches this Python: the one beside ``sys.executable`` (the MPICH wheel puts it in the
    environment's bin/), else the first on PATH, else None."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    return shutil.which("mpiexec")


def mpi() -> Any:
    """mpi4py's ``MPI`` module, imported (and MPI started) on first use."""
    if not is_available():
        raise DistError(
            "chainrule.distributed: mpi4py is not installed; hint: pip install \"chainrule[mpi]\" (mpi4py and the "
            "MPICH wheel, which brings mpiexec)"
        )
    from mpi4py import MPI

    return MPI


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout: timedelta | None = None,
    world_size: int = -1,
    rank: int = -1,
    store: Any = None,
    group_name: str = "",
    pg_options: Any = None,
    device_id: Any = None,
) -> None:
    """Join the processes that ``mpiexec`` started: rank and world size come from ``MPI.COMM_WORLD``.

    ``backend`` must be ``"mpi"`` (or None); ``world_size`` and ``rank``, when given, must agree with MPI's.
    ``init_method``, ``store``, ``group_name``, ``pg_options`` and ``device_id`` are accepted for PyTorch's
    signature: MPI needs no rendezvous. ``timeout`` (default 30 minutes, as PyTorch) bounds the wait in every
    collective: past it the job is aborted with a line naming the rank and the collective.
    """
    op = "init_process_group"
    if timeout is not None and (not isinstance(timeout, timedelta) or timeout.total_seconds() <= 0):
        raise ArgumentError(f"{op}: timeout must be a positive datetime.timedelta, got {timeout!r}; hint: "
                            f"timeout=datetime.timedelta(minutes=30)")
    if backend is not None and (not isinstance(backend, str) or backend.lower() != "mpi"):
        raise ArgumentError(
            f"{op}: backend {backend!r} is not supported; chainrule runs on MPI only: pass backend='mpi' and "
            f"launch with mpiexec -n N python script.py"
        )
    if _group.comm is not None:
        raise DistError(f"{op}: trying to initialize the default process group twice!")
    MPI = mpi()
    world = MPI.COMM_WORLD
    for name, given, actual in (("world_size", world_size, world.Get_size()), ("rank", rank, world.Get_rank())):
        if given not in (-1, None) and given != actual:
            raise ArgumentError(
                f"{op}: {name}={given} but MPI started this process with {name} {actual}; hint: leave {name} "
                f"out (MPI sets it) or launch with mpiexec -n <world_size>"
            )
    _group.timeout = (timeout or DEFAULT_TIMEOUT).total_seconds()
    _group.comm = world.Dup()
    _group.rank, _group.size = _group.comm.Get_rank(), _group.comm.Get_size()
    _group.previous_excepthook = sys.excepthook
    sys.excepthook = _abort_on_uncaught


def _abort_on_uncaught(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
    traceback.print_exception(kind, error, tb)
    message = str(error).splitlines()[0] if str(error) else ""
    print(f"chainrule.distributed: rank {_group.rank} failed: {kind.__name__}: {message}", file=sys.stderr,
          flush=True)
    (_group.comm if _group.comm is not None else mpi().COMM_WORLD).Abort(1)


def abort(status: int = 1) -> None:
    """End every process of the job now (``MPI_Abort``): mpiexec stops them all within seconds. For a process
    that cannot go on while the others wait for it in a collective."""
    (_group.comm if _group.comm is not None else mpi().COMM_WORLD).Abort(status)


def wait(request: Any, op: str) -> None:
    """Wait for a non-blocking MPI request; abort the job if it has not completed within the group's timeout."""
    if request.Test():
        return
    deadline = time.monotonic() + _group.timeout
    spins = 0
    while not request.Test():
        spins += 1
        if spins > 1000:  # a long wait: stop spinning on a core another rank may need
            time.sleep(1e-4)
            if time.monotonic() > deadline:
                message = (f"chainrule.distributed: rank {_group.rank} failed: {op} did not complete within "
                           f"{timedelta(seconds=_group.timeout)}; another rank stopped taking part (raise the "
                           f"timeout of init_process_group if it is only slow)")
                print(message, file=sys.stderr, flush=True)
                comm(op).Abort(1)


def is_initialized() -> bool:
    """Whether ``init_process_group`` has run (and ``destroy_process_group`` not since)."""
    return _group.comm is not None


def comm(op: str) -> Any:
    """The default group's communicator; a clear error before ``init_process_group``."""
    if _group.comm is None:
        raise DistError(
            f"{op}: Default process group has not been initialized, please make sure to call "
            f"init_process_group."
        )
    return _group.comm


def side_comm(name: str) -> Any:
    """A communicator of the group's processes reserved for ``name`` (made, collectively, on first use).

    MPI pairs collectives by their order on a communicator; DistributedDataParallel's allreduces start when
    buckets fill while SyncBatchNorm's run inside the same backward, so each keeps its own communicator and the
    two orders cannot interleave differently on different processes."""
    group = comm(name)
    if name not in _group.side:
        _group.side[name] = group.Dup()
    return _group.side[name]


def get_rank(group: Any = None) -> int:
    """This process's rank, 0 … world size − 1."""
    comm("get_rank")
    return _group.rank


def get_world_size(group: Any = None) -> int:
    """The number of processes in the group."""
    comm("get_world_size")
    return _group.size


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None) -> None:
    """Wait until every process has reached this call."""
    wait(comm("barrier").Ibarrier(), "barrier")


def destroy_process_group(group: Any = None) -> None:
    """Leave the process group: free its communicator and restore the excepthook. MPI itself stays up until the
    process exits (mpi4py finalizes it then), so a group can be initialized again."""
    if _group.comm is None:
        return
    for side in _group.side.values():
        side.Free()
    _group.side = {}
    _group.comm.Free()
    _group.comm = None
    _group.rank, _group.size = 0, 1
    if sys.excepthook is _abort_on_uncaught:
        sys.excepthook = _group.previous_excepthook
