"""``DataLoader``: a data set in (shuffled) batches of Tensors.

Each pass over a loader (an epoch) draws a fresh order of the samples when ``shuffle`` is true, from the
``numpy.random.Generator`` given as ``generator``, else from chainrule's default generator
(``cr.manual_seed`` resets it): two loaders with equally seeded generators give the same epochs, batch for
batch.

Batches are built in one of two ways, with equal results:

- **fast path**: when the data set is *batchable* (see ``chainrule.data.dataset``: ``TensorDataset``, the
  IDX image data sets, ``Digits``, and ``Subset``\\ s of them) and no ``collate_fn`` is given, the loader asks
  for the whole batch with ``dataset.get_batch(indices)``: one fancy-index per array, no Python loop over
  samples;
- otherwise it indexes the samples one by one and merges them with ``collate_fn`` (``default_collate``
  unless given).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from chainrule import backend, creation
from chainrule.data.dataset import Dataset
from chainrule.data.idx import DataError
from chainrule.errors import ShapeError
from chainrule.tensor import Tensor

__all__ = ["DataLoader", "default_collate"]


def _stack(arrays: list[Any]) -> Tensor:
    shapes = {tuple(a.shape) for a in arrays}
    if len(shapes) > 1:
        listed = ", ".join(str(s) for s in sorted(shapes)[:4])
        raise ShapeError(
            f"default_collate: cannot stack samples of different shapes ({listed}); make them equal "
            f"(for example with transforms.RandomCrop) or pass a collate_fn"
        )
    xp = backend.get_array_module(*arrays)
    return Tensor(xp.stack(arrays))


def default_collate(batch: Sequence[Any]) -> Any:
    """Merge a list of samples into a batch, keeping the samples' structure.

    - arrays and Tensors are stacked along a new first axis into a Tensor (dtype kept);
    - Python ints become an int64 Tensor, Python floats a float32 Tensor, bools a bool Tensor, NumPy
      scalars a Tensor of their dtype;
    - tuples (named tuples too), lists and dicts are merged field by field: a list of ``(image, label)``
      tuples becomes the tuple ``(images, labels)`` of Tensors;
    - strings and bytes are gathered into a list.
    """
    if len(batch) == 0:
        raise DataError("default_collate: the batch is empty")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([b.data for b in batch])
    if backend.is_array(elem):
        return _stack(list(batch))
    if isinstance(elem, (bool, np.bool_)):
        return Tensor(np.array(batch, dtype=np.bool_))
    if isinstance(elem, np.generic):
        return Tensor(np.array(batch, dtype=elem.dtype))
    if isinstance(elem, int):
        return Tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return Tensor(np.array(batch, dtype=np.float32))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in elem}
    if isinstance(elem, Sequence):
        sizes = {len(sample) for sample in batch}
        if len(sizes) > 1:
            raise DataError(f"default_collate: samples have different numbers of fields: {sorted(sizes)}")
        fields = [default_collate(list(column)) for column in zip(*batch)]
        if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a named tuple
            return type(elem)(*fields)
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise DataError(
        f"default_collate: cannot batch samples of type {type(elem).__name__}; return arrays, numbers, "
        f"tuples, lists or dicts from the data set, or pass a collate_fn"
    )


def _as_batch(batch: Any) -> Any:
    """A fast-path batch (a tuple of arrays) with every array made a Tensor."""
    if backend.is_array(batch):
        return Tensor(batch)
    if isinstance(batch, tuple):
        return tuple(_as_batch(b) for b in batch)
    return batch


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples, as Tensors.

    ``shuffle`` draws a new order every epoch from ``generator`` (a ``numpy.random.Generator``; chainrule's
    default generator when None). ``drop_last`` drops the last, short batch. ``collate_fn`` merges a list of
    samples into a batch (``default_collate`` when None: ``(image, label)`` samples give ``(images,
    labels)`` Tensors). ``len(loader)`` is the number of batches per epoch.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise DataError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise DataError(
                f"DataLoader: generator must be a numpy.random.Generator (np.random.default_rng(seed)), "
                f"got {type(generator).__name__}"
            )
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.generator = generator

    @property
    def uses_fast_path(self) -> bool:
        """True when batches come from ``dataset.get_batch`` (one fancy-index per batch, no per-sample loop)."""
        return self.collate_fn is None and bool(getattr(self.dataset, "batchable", False))

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        rng = self.generator if self.generator is not None else creation.default_generator()
        return rng.permutation(n)

    def __iter__(self) -> Iterator[Any]:
        # The order is drawn here, when the epoch starts, not lazily at the first batch.
        return self._batches(self._order(), len(self), self.uses_fast_path)

    def _batches(self, order: np.ndarray, count: int, fast: bool) -> Iterator[Any]:
        collate = self.collate_fn or default_collate
        size = self.batch_size
        for b in range(count):
            indices = order[b * size : (b + 1) * size]
            if fast:
                yield _as_batch(self.dataset.get_batch(indices))
            else:
                yield collate([self.dataset[int(i)] for i in indices])

    def __repr__(self) -> str:
        return (
            f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, {len(self)} batches)"
        )
