"""Collectives on tensors, in place on their arrays through mpi4py's buffer interface (uppercase methods: the
array's memory goes to MPI as it is, nothing is pickled)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.distributed.process_group import comm, mpi, wait
from chainrule.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError
from chainrule.ops.operands import check_bool, check_int
from chainrule.tensor import Tensor

__all__ = ["ReduceOp", "Work", "all_gather", "all_reduce", "broadcast", "allreduce_array", "iallreduce_array"]


class ReduceOp(enum.Enum):
    """How ``all_reduce`` combines the processes' values (``torch.distributed.ReduceOp``)."""

    SUM = "SUM"
    AVG = "AVG"
    PRODUCT = "PRODUCT"
    MIN = "MIN"
    MAX = "MAX"


def _mpi_op(op_name: str, op: Any) -> Any:
    if not isinstance(op, ReduceOp):
        raise ArgumentTypeError(f"{op_name}: op must be a ReduceOp (SUM, AVG, PRODUCT, MIN or MAX), got {op!r}")
    MPI = mpi()
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
            ReduceOp.MAX: MPI.MAX}[op]


class Work:
    """A collective in flight (``async_op=True``): ``wait()`` blocks until it is done and the tensor holds the
    result; ``is_completed()`` asks without blocking."""

    def __init__(self, request: Any, finish: Any = None, op: str = "collective") -> None:
        self._request, self._finish, self._done, self._op = request, finish, False, op

    def is_completed(self) -> bool:
        if not self._done and self._request.Test():
            self._complete()
        return self._done

    def wait(self, timeout: Any = None) -> bool:
        if not self._done:
            wait(self._request, self._op)
            self._complete()
        return True

    def _complete(self) -> None:
        self._done = True
        if self._finish is not None:
            self._finish()


def _tensor(op: str, tensor: Any, name: str = "tensor") -> Tensor:
    if not isinstance(tensor, Tensor):
        raise ArgumentTypeError(f"{op}: argument '{name}' must be a Tensor, got {type(tensor).__name__}")
    if not isinstance(tensor._data, np.ndarray):
        raise ArgumentTypeError(f"{op}: argument '{name}' must be on the CPU (MPI sends NumPy memory); hint: .cpu()")
    return tensor


def _buffer(tensor: Tensor) -> tuple[np.ndarray, bool]:
    """The array MPI works on in place, and whether it is a copy to write back (non-contiguous or read-only)."""
    a = tensor._data
    if a.flags.c_contiguous and a.flags.writeable:
        return a, False
    return np.ascontiguousarray(a).copy(), True


def _write_back(tensor: Tensor, buffer: np.ndarray, copied: bool) -> None:
    if copied:
        tensor.data = buffer.reshape(tensor.shape)  # a new array: bumps the version
    else:
        tensor.bump_version()


def allreduce_array(array: np.ndarray, op: ReduceOp = ReduceOp.SUM, communicator: Any = None) -> np.ndarray:
    """``array`` combined over the processes, in place (``array`` must be C-contiguous and writable)."""
    c = comm("all_reduce") if communicator is None else communicator
    wait(c.Iallreduce(mpi().IN_PLACE, array, op=_mpi_op("all_reduce", op)), "all_reduce")
    if op is ReduceOp.AVG:
        array /= array.dtype.type(c.Get_size())
    return array


def iallreduce_array(array: np.ndarray, communicator: Any = None) -> Any:
    """Start summing ``array`` over the processes in place; returns the MPI request (``Wait`` it before reading)."""
    c = comm("all_reduce") if communicator is None else communicator
    return c.Iallreduce(mpi().IN_PLACE, array, op=mpi().SUM)


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group: Any = None, async_op: bool = False) -> Work | None:
    """Combine ``tensor`` over every process, in place: afterwards each holds the sum (or average, product,
    minimum, maximum). ``AVG`` divides the sum by the world size and needs a floating-point tensor. With
    ``async_op=True`` returns a ``Work`` to ``wait()`` on; the tensor holds the result only after it."""
    name = "all_reduce"
    tensor = _tensor(name, tensor)
    mpi_op = _mpi_op(name, op)
    async_op = check_bool(name, "async_op", async_op)
    if op is ReduceOp.AVG and tensor.dtype.kind != "f":
        raise DTypeError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got {tensor.dtype}; hint: use SUM "
                         f"and divide, or convert with .float()")
    c = comm(name)
    buffer, copied = _buffer(tensor)
    size = c.Get_size()

    def finish() -> None:
        if op is ReduceOp.AVG:
            buffer[...] /= buffer.dtype.type(size)
        _write_back(tensor, buffer, copied)

    work = Work(c.Iallreduce(mpi().IN_PLACE, buffer, op=mpi_op), finish, name)
    if async_op:
        return work
    work.wait()
    return None


def broadcast(tensor: Tensor, src: int = 0, group: Any = None, async_op: bool = False) -> Work | None:
    """Copy process ``src``'s ``tensor`` into every other process's ``tensor`` (same shape and dtype), in place."""
    name = "broadcast"
    tensor = _tensor(name, tensor)
    c = comm(name)
    src = check_int(name, "src", src, 0, c.Get_size() - 1)
    buffer, copied = _buffer(tensor)
    work = Work(c.Ibcast(buffer, root=src), lambda: _write_back(tensor, buffer, copied), name)
    if async_op:
        return work
    work.wait()
    return None


def all_gather(tensor_list: Sequence[Tensor], tensor: Tensor, group: Any = None,
               async_op: bool = False) -> Work | None:
    """Fill ``tensor_list[r]`` with process r's ``tensor``, on every process; the list holds world-size tensors
    of ``tensor``'s shape and dtype, written in place."""
    name = "all_gather"
    tensor = _tensor(name, tensor)
    c = comm(name)
    size = c.Get_size()
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != size:
        got = f"{len(tensor_list)} tensors" if isinstance(tensor_list, (list, tuple)) else type(tensor_list).__name__
        raise ArgumentError(f"{name}: tensor_list must be a list of world size ({size}) tensors, got {got}; hint: "
                            f"[cr.empty_like(tensor) for _ in range(dist.get_world_size())]")
    for i, t in enumerate(tensor_list):
        _tensor(name, t, f"tensor_list[{i}]")
        if t.shape != tensor.shape or t.dtype != tensor.dtype:
            raise ShapeError(f"{name}: tensor_list[{i}] has shape {t.shape} and dtype {t.dtype}, but tensor has "
                             f"shape {tensor.shape} and dtype {tensor.dtype}; all must match")
    gathered = np.empty((size,) + tensor.shape, dtype=tensor.dtype)
    send = np.ascontiguousarray(tensor._data)  # held until the gather is complete
    wait(c.Iallgather(send, gathered), name)
    for t, part in zip(tensor_list, gathered):
        buffer, copied = _buffer(t)
        buffer[...] = part
        _write_back(t, buffer, copied)
    return Work(_Completed()) if async_op else None


class _Completed:
    """The request of a collective that ran to the end before returning."""

    def Test(self) -> bool:  # noqa: N802 - mpi4py's name
        return True

    def Wait(self) -> None:  # noqa: N802 - mpi4py's name
        return None
