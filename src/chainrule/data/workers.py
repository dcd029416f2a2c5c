"""Worker processes for ``DataLoader(num_workers > 0)``: batches loaded in parallel, delivered in order.

**Protocol.** Each worker is a process with one duplex pipe to the main process. The main process hands out
the epoch's batches round-robin (batch ``k`` to worker ``k % num_workers``, skipping workers whose iterable data
set has run out) and keeps at most ``prefetch_factor`` batches outstanding per worker. A worker answers its
tasks in the order it receives them, so the next batch of the epoch is always the next answer on one known
pipe: batches arrive in exactly the order of ``num_workers=0``, with no reordering buffer.

**What crosses the pipes.** Tasks are index arrays; results are the collated batch with every Tensor replaced by
its NumPy array (``pack``/``unpack``), so only NumPy arrays and plain Python values travel between these
processes (through ``multiprocessing``'s pipes, which only ever connect processes this module started).

**Seeding** (as PyTorch): each epoch draws a ``base_seed`` from the loader's generator; worker ``i`` seeds
chainrule's default generator, ``random`` and ``numpy.random`` from ``base_seed + i`` before ``worker_init_fn``
runs, and ``get_worker_info()`` tells the code running in it who it is. ``base_seed`` comes from
``generator.spawn`` (a child seed), which leaves the generator's own stream untouched: shuffled orders are the
same whatever ``num_workers`` is.

**Errors and shutdown.** An exception in a worker comes back to the main process and is raised there, of the
same type when it can be rebuilt from its message, as one line naming the worker, its pid and the sample index
(the worker's traceback is attached as a note). A worker that dies or goes silent past ``timeout`` raises
``DataLoaderError``. Workers ignore Ctrl-C (the main process gets it and stops them), stop when told, when the
main process disappears, or are terminated when they do not stop within half a second.
"""

from __future__ import annotations

import os
import pickle
import random
import signal
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule.errors import ChainruleError
from chainrule.random import manual_seed
from chainrule.tensor import Tensor, as_array

__all__ = ["DataLoaderError", "WorkerInfo", "WorkerPool", "get_worker_info", "worker_seeds"]

#: Seconds between a waiting side's checks that the other side is still alive.
_POLL_S = 0.1
#: Seconds workers get to stop by themselves before they are terminated.
_STOP_S = 0.5


class DataLoaderError(ChainruleError, RuntimeError):
    """A ``DataLoader`` worker died, or no batch came within ``timeout`` (PyTorch raises ``RuntimeError``)."""


@dataclass(frozen=True)
class WorkerInfo:
    """Who the current worker is: ``id`` (0..num_workers-1), ``num_workers``, ``seed`` and its copy of ``dataset``."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """In a ``DataLoader`` worker process, its ``WorkerInfo``; ``None`` in the main process (as PyTorch).

    An ``IterableDataset`` uses it in ``__iter__`` to give each worker its own share of the stream.
    """
    return _worker_info


def worker_seeds(generator: np.random.Generator, num_workers: int) -> tuple[int, list[int]]:
    """``(base_seed, [base_seed + i for each worker])`` from a child of ``generator`` (its stream is not drawn)."""
    try:
        child = generator.spawn(1)[0]
    except TypeError:  # a bit generator made without a SeedSequence cannot spawn: draw instead
        child = generator
    base = int(child.integers(0, 2**62))
    return base, [base + i for i in range(num_workers)]


def _seed_everything(seed: int, base_seed: int, worker_id: int) -> None:
    manual_seed(seed)
    random.seed(seed)
    # numpy's legacy global state takes at most 32 bits per word: spread base_seed and the id over four words
    words = np.random.SeedSequence([worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32]).generate_state(4)
    np.random.seed(words)


class _Packed:
    """A Tensor crossing between processes, as its array (rebuilt as a Tensor on arrival)."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Packed, (self.array,))


def pack(obj: Any) -> Any:
    """``obj`` with every Tensor (inside tuples, named tuples, lists and dicts) replaced by its array."""
    if isinstance(obj, Tensor):
        return _Packed(np.asarray(as_array(obj)))
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(pack(v) for v in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(pack(v) for v in obj)
    if isinstance(obj, dict):
        return type(obj)((k, pack(v)) for k, v in obj.items())
    return obj


def unpack(obj: Any) -> Any:
    """The inverse of ``pack``."""
    if isinstance(obj, _Packed):
        return Tensor(obj.array)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(unpack(v) for v in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(unpack(v) for v in obj)
    if isinstance(obj, Mapping):
        return type(obj)((k, unpack(v)) for k, v in obj.items())
    return obj


#: The message that starts a new epoch in a worker that stays from one epoch to the next.
_NEW_EPOCH = "new epoch"


class _Exhausted:
    """The answer of a worker whose iterable data set has no more batches."""


class _Message(str):
    """A message that prints as itself even where Python shows its repr (``str(KeyError(m))``)."""

    def __repr__(self) -> str:
        return str(self)


@dataclass
class _Failure:
    """An exception raised in a worker, as plain values; ``rebuild`` makes the exception in the main process."""

    worker_id: int
    pid: int
    where: str
    type_name: str
    exc_type: type | None
    message: str
    trace: str

    @classmethod
    def of(cls, error: BaseException, worker_id: int, where: str) -> _Failure:
        exc_type: type | None = type(error)
        try:
            pickle.dumps(exc_type)  # a class defined inside a function cannot travel; RuntimeError stands in
        except Exception:
            exc_type = None
        message = error.args[0] if isinstance(error, KeyError) and len(error.args) == 1 else error
        return cls(worker_id, os.getpid(), where, type(error).__name__, exc_type, str(message),
                   traceback.format_exc())

    def rebuild(self) -> BaseException:
        text = _Message(f"DataLoader worker {self.worker_id} (pid {self.pid}) failed {self.where}: "
                        f"{self.type_name}: {' '.join(self.message.split())}")
        error: BaseException
        try:
            error = self.exc_type(text) if self.exc_type is not None else RuntimeError(text)
            if str(error) != text:  # the type builds its message from other arguments: keep the line intact
                raise TypeError
        except Exception:
            error = RuntimeError(text)
        error.add_note(f"traceback in DataLoader worker {self.worker_id}:\n{self.trace.rstrip()}")
        return error


def _worker_loop(fetcher: Any, conn: Any, done: Any, worker_id: int, num_workers: int, base_seed: int,
                 init_fn: Callable[[int], None] | None, parent_pid: int) -> None:
    """Body of a worker process: answer tasks ``(k, indices)`` with ``(k, batch)`` until told to stop."""
    global _worker_info
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle; it stops us
    seed = base_seed + worker_id
    _seed_everything(seed, base_seed, worker_id)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, fetcher.dataset)
    init_failure = None
    if init_fn is not None:
        try:
            init_fn(worker_id)
        except Exception as e:
            init_failure = _Failure.of(e, worker_id, "in worker_init_fn")
    try:
        while True:
            if not conn.poll(_POLL_S):
                if os.getppid() != parent_pid:  # the main process is gone: nobody will read our batches
                    return
                continue
            task = conn.recv()
            if task is None:
                return
            if task == _NEW_EPOCH:  # a persistent worker's next epoch: a stream starts again from its beginning
                fetcher.stream = None
                continue
            if done.is_set():
                continue
            k, indices = task
            result: Any
            if init_failure is not None:
                result = init_failure
            else:
                try:
                    result = pack(fetcher(indices))
                except StopIteration as e:
                    result = _Exhausted() if fetcher.iterable else _Failure.of(e, worker_id, fetcher.where)
                except Exception as e:
                    result = _Failure.of(e, worker_id, fetcher.where)
            try:
                conn.send((k, result))
            except (pickle.PicklingError, TypeError, AttributeError) as e:  # the batch itself cannot travel
                conn.send((k, _Failure.of(e, worker_id, f"sending the batch of {fetcher.where}")))
    except (EOFError, OSError, KeyboardInterrupt):
        return


class WorkerPool:
    """``num_workers`` processes running ``fetcher`` on the tasks they are sent; see the module docstring."""

    def __init__(self, fetcher: Any, num_workers: int, context: Any, base_seed: int,
                 init_fn: Callable[[int], None] | None, timeout: float, prefetch: int) -> None:
        self.num_workers = num_workers
        self.timeout = timeout
        self.prefetch = max(1, prefetch)
        self.done = context.Event()
        self.conns, self.procs = [], []
        try:
            for i in range(num_workers):
                mine, theirs = context.Pipe(duplex=True)
                proc = context.Process(
                    target=_worker_loop, name=f"chainrule-DataLoader-worker-{i}", daemon=True,
                    args=(fetcher, theirs, self.done, i, num_workers, base_seed, init_fn, os.getpid()),
                )
                proc.start()
                theirs.close()
                self.conns.append(mine)
                self.procs.append(proc)
        except BaseException:
            self.shutdown()
            raise
        self.pending: list[int] = [0] * num_workers  # tasks sent to each worker and not yet answered
        self.epochs = 0

    def run(self, tasks: Iterator[Any]) -> Iterator[Any]:
        """Send ``tasks`` round-robin and yield their results in task order (for iterable data sets, every
        worker's batches interleaved until all have run out)."""
        owners: list[int] = []  # owners[k]: the worker that has task k
        active = list(range(self.num_workers))
        turn, sent, received = 0, 0, 0
        tasks = iter(tasks)
        exhausted_tasks = False
        if self.epochs:
            for conn in self.conns:
                conn.send(_NEW_EPOCH)
        self.epochs += 1

        def send_one() -> None:
            nonlocal turn, sent, exhausted_tasks
            while not exhausted_tasks and active:
                w = active[turn % len(active)]
                if self.pending[w] >= self.prefetch:
                    return
                try:
                    indices = next(tasks)
                except StopIteration:
                    exhausted_tasks = True
                    return
                self.conns[w].send((sent, indices))
                self.pending[w] += 1
                owners.append(w)
                sent += 1
                turn += 1

        send_one()
        while received < sent:
            w = owners[received]
            k, result = self._receive(w)
            self.pending[w] -= 1
            received += 1
            if isinstance(result, _Exhausted):
                if w in active:
                    active.remove(w)
                send_one()
                continue
            if isinstance(result, _Failure):
                raise result.rebuild()
            send_one()
            yield unpack(result)

    def _receive(self, w: int) -> Any:
        conn, proc = self.conns[w], self.procs[w]
        give_up = time.monotonic() + self.timeout if self.timeout > 0 else None
        while not conn.poll(_POLL_S):
            if not proc.is_alive():
                if conn.poll(0):  # it answered before it ended
                    break
                raise self._died(w)
            if give_up is not None and time.monotonic() > give_up:
                raise DataLoaderError(
                    f"DataLoader timed out after {self.timeout:g} seconds waiting for worker {w} (pid {proc.pid}); "
                    f"raise timeout= or make the data set's __getitem__ faster"
                )
        try:
            return conn.recv()
        except (EOFError, OSError):  # the pipe closed under us: the worker ended mid-answer or without one
            proc.join(_STOP_S)
            raise self._died(w) from None

    def _died(self, w: int) -> DataLoaderError:
        proc = self.procs[w]
        return DataLoaderError(
            f"DataLoader worker {w} (pid {proc.pid}) exited unexpectedly with exit code {proc.exitcode}; it may "
            f"have been killed (out of memory?) or crashed in native code: run with num_workers=0 to see the "
            f"error in this process"
        )

    def drain(self) -> None:
        """Read and drop the answers still owed (an epoch left early) so the next epoch starts clean."""
        for w, count in enumerate(self.pending):
            for _ in range(count):
                self._receive(w)
            self.pending[w] = 0

    def alive(self) -> bool:
        return all(p.is_alive() for p in self.procs)

    def shutdown(self) -> None:
        """Stop every worker: ask, wait up to half a second (reading what they still send), then terminate."""
        self.done.set()
        for conn in self.conns:
            try:
                conn.send(None)
            except OSError:
                pass
        stop_by = time.monotonic() + _STOP_S
        for conn, proc in zip(self.conns, self.procs):
            while proc.is_alive() and time.monotonic() < stop_by:
                try:  # a worker blocked sending a batch nobody wants finishes once it is read
                    while conn.poll(0):
                        conn.recv()
                except (EOFError, OSError):
                    pass
                proc.join(0.02)
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
            proc.join(_STOP_S)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for conn in self.conns:
            conn.close()
        self.conns, self.procs = [], []
