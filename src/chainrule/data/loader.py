"""``DataLoader``: a data set in (shuffled) batches of Tensors, with PyTorch's signature and semantics.

**Which samples.** A map-style data set is read through a sampler (``SequentialSampler``, or ``RandomSampler``
when ``shuffle`` is true; or the ``sampler`` / ``batch_sampler`` given), grouped by a ``BatchSampler`` of
``batch_size``. Each pass (an epoch) draws a fresh order when the pass starts, from the
``numpy.random.Generator`` given as ``generator``, else from chainrule's default generator (``cr.manual_seed``
resets it): two loaders with equally seeded generators give the same epochs, batch for batch. An
``IterableDataset`` is read in the order it yields, ``batch_size`` samples at a time.

**How a batch is built.** Two ways, with equal results:

- **fast path**: when the data set is *batchable* (see ``chainrule.data.dataset``: ``TensorDataset``, the
  IDX image data sets, ``Digits``, and a ``Subset`` of any of them), batches are cut by a ``BatchSampler`` and no
  ``collate_fn`` is given, the loader asks for the whole batch with ``dataset.get_batch(indices)``: one
  fancy-index per array, no Python loop over samples;
- otherwise it indexes the samples one by one and merges them with ``collate_fn`` (``default_collate``
  unless given; ``default_convert`` with ``batch_size=None``).

**Where.** ``num_workers=0`` loads in this process. ``num_workers > 0`` loads in that many worker processes in
parallel (``chainrule.data.workers``): the same batches in the same order, workers seeded as PyTorch's
(``get_worker_info()``), an error in a worker raised here naming the worker and the sample index, and workers
stopped when the epoch ends, when the loop is left early, or on Ctrl-C (``persistent_workers=True`` keeps them
for the next epoch). ``pin_memory`` is accepted and changes nothing (there is no GPU memory to pin for).
"""

from __future__ import annotations

import itertools
import math
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from chainrule import backend, creation
from chainrule.data.collate import default_collate, default_convert
from chainrule.data.dataset import Dataset, IterableDataset
from chainrule.data.idx import DataError
from chainrule.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, check_sampler
from chainrule.data.workers import WorkerPool, worker_seeds
from chainrule.errors import ArgumentTypeError
from chainrule.tensor import Tensor

__all__ = ["DataLoader", "default_collate", "default_convert"]


def _as_batch(batch: Any) -> Any:
    """A fast-path batch (a tuple of arrays) with every array made a Tensor."""
    if backend.is_array(batch):
        return Tensor(batch)
    if isinstance(batch, tuple):
        return tuple(_as_batch(b) for b in batch)
    return batch


def _key(index: Any) -> Any:
    """A sampler's index as the data set receives it: NumPy integers as Python ints, as PyTorch's samplers give."""
    return int(index) if isinstance(index, np.integer) else index


class _Fetcher:
    """Turns one task (the indices of a batch, or None for the next batch of a stream) into a batch; runs in
    this process or in a worker. ``where`` names what it was reading, for error messages."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable[[Any], Any], fast: bool,
                 batch_size: int | None, drop_last: bool) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.fast = fast
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.iterable = isinstance(dataset, IterableDataset)
        self.stream: Iterator[Any] | None = None
        self._reading: tuple[str, Any] = ("", None)  # what is being read, turned into words only on failure

    @property
    def where(self) -> str:
        """What the fetcher was reading when it stopped, in words: ``at sample index 7``."""
        kind, what = self._reading
        if kind == "sample":
            return f"at sample index {what!r}"
        if kind == "batch":
            return f"on the batch of sample indices {[_key(i) for i in what]}"
        if kind == "collate":
            return f"collating the batch of sample indices {[_key(i) for i in what]}"
        return "reading the IterableDataset"

    def __call__(self, indices: Any) -> Any:
        if self.iterable:
            return self._next_batch()
        if self.fast:
            idx = np.asarray(indices)
            self._reading = ("batch", idx)
            return _as_batch(self.dataset.get_batch(idx))
        if not self.auto_collation:
            self._reading = ("sample", _key(indices))
            return self.collate_fn(self.dataset[_key(indices)])
        samples = []
        for i in indices:
            self._reading = ("sample", _key(i))
            samples.append(self.dataset[_key(i)])
        self._reading = ("collate", indices)
        return self.collate_fn(samples)

    def _next_batch(self) -> Any:
        if self.stream is None:
            self.stream = iter(self.dataset)
        self._reading = ("stream", None)
        if not self.auto_collation:
            return self.collate_fn(next(self.stream))
        samples = list(itertools.islice(self.stream, self.batch_size))
        if not samples or (self.drop_last and len(samples) < (self.batch_size or 0)):
            raise StopIteration
        return self.collate_fn(samples)


def _check_int(name: str, value: Any, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        expected = "a positive integer" if least == 1 else "a non-negative integer"
        raise DataError(f"DataLoader: {name} must be {expected}, got {value!r}")
    return int(value)


def _context(multiprocessing_context: Any, num_workers: int) -> Any:
    import multiprocessing  # loaded only when worker processes are asked for

    if multiprocessing_context is None:
        methods = multiprocessing.get_all_start_methods()
        return multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    if num_workers == 0:
        raise DataError(
            "DataLoader: multiprocessing_context can only be used with multi-process loading (num_workers > 0), "
            f"but got num_workers={num_workers}"
        )
    if isinstance(multiprocessing_context, str):
        methods = multiprocessing.get_all_start_methods()
        if multiprocessing_context not in methods:
            raise DataError(
                f"DataLoader: multiprocessing_context should specify a valid start method in {methods!r}, but got "
                f"multiprocessing_context={multiprocessing_context!r}"
            )
        return multiprocessing.get_context(multiprocessing_context)
    if not isinstance(multiprocessing_context, multiprocessing.context.BaseContext):
        raise ArgumentTypeError(
            "DataLoader: multiprocessing_context should be a multiprocessing context or a start method name "
            f"('fork', 'spawn', 'forkserver'), got {type(multiprocessing_context).__name__}"
        )
    return multiprocessing_context


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples, as Tensors (PyTorch's ``DataLoader``).

    ``shuffle`` draws a new order every epoch from ``generator`` (a ``numpy.random.Generator``; chainrule's
    default generator when None); ``sampler`` or ``batch_sampler`` choose the indices instead. ``drop_last``
    drops the last, short batch. ``collate_fn`` merges a list of samples into a batch (``default_collate`` when
    None: ``(image, label)`` samples give ``(images, labels)`` Tensors). ``batch_size=None`` turns batching off.
    ``num_workers`` worker processes load batches in parallel (``prefetch_factor`` batches ahead each; see
    ``chainrule.data.workers``), ``timeout`` seconds at most per batch (0: no limit), ``worker_init_fn(id)``
    run in each worker after seeding. ``len(loader)`` is the number of batches per epoch.
    """

    def __init__(
        self,
        dataset: Dataset | Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable[Any] | None = None,
        batch_sampler: Sampler | Iterable[Any] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[Any], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: np.random.Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        num_workers = _check_int("num_workers", num_workers, 0)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise DataError(f"DataLoader: timeout must be a non-negative number of seconds, got {timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise DataError(
                "DataLoader: prefetch_factor can only be given with multi-process loading: set num_workers > 0, "
                f"or leave prefetch_factor as None (got prefetch_factor={prefetch_factor!r})"
            )
        if num_workers > 0:
            prefetch_factor = 2 if prefetch_factor is None else _check_int("prefetch_factor", prefetch_factor, 0)
        if persistent_workers and num_workers == 0:
            raise DataError("DataLoader: persistent_workers=True needs num_workers > 0")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise DataError(
                f"DataLoader: generator must be a numpy.random.Generator (np.random.default_rng(seed)), "
                f"got {type(generator).__name__}"
            )
        for name, fn in (("collate_fn", collate_fn), ("worker_init_fn", worker_init_fn)):
            if fn is not None and not callable(fn):
                raise ArgumentTypeError(f"DataLoader: {name} must be callable or None, got {type(fn).__name__}")
        if batch_size is not None:
            batch_size = _check_int("batch_size", batch_size, 1)

        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise DataError(
                        f"DataLoader with IterableDataset: expected unspecified {name} option, but got "
                        f"{name}={value!r}; an IterableDataset decides its own order"
                    )
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise DataError("DataLoader: sampler option is mutually exclusive with shuffle; shuffle in the sampler")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise DataError(
                    "DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and "
                    "drop_last; leave them at their defaults"
                )
            check_sampler("DataLoader", "batch_sampler", batch_sampler)
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise DataError(
                "DataLoader: batch_size=None option disables auto-batching and is mutually exclusive with drop_last"
            )
        if sampler is None:
            if iterable:
                sampler = None
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        else:
            check_sampler("DataLoader", "sampler", sampler)
        if batch_size is not None and batch_sampler is None and not iterable:
            batch_sampler = BatchSampler(sampler, batch_size, bool(drop_last))

        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.collate_fn = collate_fn
        self.pin_memory = bool(pin_memory)  # CPU memory is what a batch lives in already: nothing to pin
        self.pin_memory_device = pin_memory_device
        self.timeout = float(timeout)
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = (
            _context(multiprocessing_context, num_workers)
            if num_workers or multiprocessing_context is not None else None
        )
        self.generator = generator
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = bool(persistent_workers)
        self.in_order = bool(in_order)  # batches always come in order: the pipes are read in task order
        self._pool: WorkerPool | None = None

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (isinstance(self.dataset, IterableDataset) and
                                                  self.batch_size is not None)

    @property
    def uses_fast_path(self) -> bool:
        """True when batches come from ``dataset.get_batch`` (one fancy-index per batch, no per-sample loop)."""
        return (self.collate_fn is None and self.batch_sampler is not None
                and bool(getattr(self.dataset, "batchable", False)))

    def __len__(self) -> int:
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)  # TypeError when the stream has no length, as PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)  # type: ignore[arg-type]

    def _fetcher(self) -> _Fetcher:
        auto = self._auto_collation
        collate = self.collate_fn or (default_collate if auto else default_convert)
        return _Fetcher(self.dataset, auto, collate, self.uses_fast_path, self.batch_size, self.drop_last)

    def _tasks(self) -> Iterator[Any]:
        """The epoch's tasks, with its order drawn now: index batches, single indices, or None per stream batch."""
        if isinstance(self.dataset, IterableDataset):
            return itertools.repeat(None)
        if isinstance(self.batch_sampler, BatchSampler):
            return self.batch_sampler.index_batches()
        if self.batch_sampler is not None:
            return iter(self.batch_sampler)
        return iter(self.sampler)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Any]:
        if self.num_workers == 0:
            return self._single_process(self._fetcher(), self._tasks())
        return self._multi_process(self._tasks())

    @staticmethod
    def _single_process(fetcher: _Fetcher, tasks: Iterator[Any]) -> Iterator[Any]:
        for task in tasks:
            try:
                batch = fetcher(task)
            except StopIteration:
                if fetcher.iterable:  # the stream ran out
                    return
                raise RuntimeError(f"DataLoader: StopIteration raised {fetcher.where}") from None
            yield batch

    def _start_pool(self) -> WorkerPool:
        rng = self.generator if self.generator is not None else creation.default_generator()
        base_seed, _ = worker_seeds(rng, self.num_workers)
        return WorkerPool(self._fetcher(), self.num_workers, self.multiprocessing_context, base_seed,
                          self.worker_init_fn, self.timeout, int(self.prefetch_factor or 1))

    def _multi_process(self, tasks: Iterator[Any]) -> Iterator[Any]:
        if self.persistent_workers:
            pool = self._pool
            if pool is None or not pool.alive():
                if pool is not None:
                    pool.shutdown()
                pool = self._pool = self._start_pool()
                weakref.finalize(self, pool.shutdown)
            else:
                pool.drain()  # the previous epoch may have been left early
        else:
            pool = self._start_pool()
        failed = True
        try:
            yield from pool.run(tasks)
            failed = False
        finally:
            # Left early (break, an error, Ctrl-C) or done: workers that will not be reused are stopped now.
            if not self.persistent_workers or failed and not pool.alive():
                pool.shutdown()
                if self._pool is pool:
                    self._pool = None

    def __repr__(self) -> str:
        try:
            n: Any = len(self.dataset)
        except TypeError:
            n = "a stream"
        return (
            f"DataLoader({type(self.dataset).__name__} of {n}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, num_workers={self.num_workers})"
        )
