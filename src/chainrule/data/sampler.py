"""Samplers: which samples a ``DataLoader`` fetches, in which order, and how they are grouped into batches.

PyTorch's names and semantics (``torch.utils.data.sampler``): a sampler is an iterable of indices into a
map-style data set; ``BatchSampler`` groups another sampler's indices into lists of ``batch_size``.

Random samplers draw from ``generator`` (a ``numpy.random.Generator``), else from chainrule's default generator
when iteration starts (``cr.manual_seed`` makes them repeatable). ``RandomSampler`` without replacement draws
``generator.permutation(n)``, so a loader with ``shuffle=True`` gives the same order as that permutation.

Besides ``__iter__`` (Python ints, as PyTorch), the samplers built on arrays also give ``index_array()``: the
whole epoch's indices as one int64 array, so that ``BatchSampler`` cuts batches by slicing instead of a Python
loop over samples (``index_batches``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any

import numpy as np

from chainrule import creation
from chainrule.data.idx import DataError
from chainrule.errors import ArgumentTypeError
from chainrule.tensor import Tensor, as_array

__all__ = [
    "BatchSampler", "RandomSampler", "Sampler", "SequentialSampler", "SubsetRandomSampler", "WeightedRandomSampler",
]


def _check_generator(owner: str, generator: Any) -> np.random.Generator | None:
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise DataError(
            f"{owner}: generator must be a numpy.random.Generator (np.random.default_rng(seed)), "
            f"got {type(generator).__name__}"
        )
    return generator


def _positive_int(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise DataError(f"{owner}: {name} should be a positive integer value, but got {name}={value!r}")
    return int(value)


def _rng(generator: np.random.Generator | None) -> np.random.Generator:
    return generator if generator is not None else creation.default_generator()


class Sampler:
    """Base class of samplers: subclasses define ``__iter__`` (indices) and usually ``__len__``.

    ``data_source`` is accepted for compatibility with PyTorch and ignored, as there.
    """

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def index_array(self) -> np.ndarray | None:
        """The whole epoch's indices as an int64 array, or None when only ``__iter__`` gives them."""
        return None


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``, always in that order."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def index_array(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """Random indices: a permutation of the data set, or ``num_samples`` draws with ``replacement``.

    Without replacement and ``num_samples`` larger than the data set, whole permutations are concatenated and
    cut to ``num_samples`` (as PyTorch). A fresh order is drawn on each iteration.
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        if not isinstance(replacement, bool):
            raise DataError(f"RandomSampler: replacement should be a boolean value, but got replacement={replacement}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = _check_generator("RandomSampler", generator)
        if num_samples is not None:
            _positive_int("RandomSampler", "num_samples", num_samples)

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def index_array(self) -> np.ndarray:
        n, count = len(self.data_source), self.num_samples
        rng = _rng(self.generator)
        if self.replacement:
            return rng.integers(0, n, size=count, dtype=np.int64)
        if count == n:
            return rng.permutation(n).astype(np.int64, copy=False)
        rounds = [rng.permutation(n) for _ in range(-(-count // n))]
        return np.concatenate(rounds)[:count].astype(np.int64, copy=False)

    def __iter__(self) -> Iterator[int]:
        return iter(self.index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order (a fresh permutation of them on each iteration)."""

    def __init__(self, indices: Sequence[int], generator: np.random.Generator | None = None) -> None:
        self.indices = indices
        self.generator = _check_generator("SubsetRandomSampler", generator)

    def index_array(self) -> np.ndarray:
        indices = np.asarray(as_array(self.indices) if isinstance(self.indices, Tensor) else self.indices)
        return indices.reshape(-1).astype(np.int64)[_rng(self.generator).permutation(len(self.indices))]

    def __iter__(self) -> Iterator[int]:
        return iter(self.index_array().tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices in ``[0, len(weights))``, each drawn with probability proportional to its weight.

    ``replacement=False`` draws without putting an index back, so ``num_samples`` may not exceed the number of
    non-zero weights. Weights need not sum to one.
    """

    def __init__(
        self,
        weights: Sequence[float],
        num_samples: int,
        replacement: bool = True,
        generator: np.random.Generator | None = None,
    ) -> None:
        self.num_samples = _positive_int("WeightedRandomSampler", "num_samples", num_samples)
        if not isinstance(replacement, bool):
            raise DataError(
                f"WeightedRandomSampler: replacement should be a boolean value, but got replacement={replacement}"
            )
        w = np.asarray(as_array(weights) if isinstance(weights, Tensor) else weights, dtype=np.float64)
        if w.ndim != 1:
            raise DataError(f"WeightedRandomSampler: weights should be a 1-D sequence, but given weights have "
                            f"shape {tuple(w.shape)}")
        if w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise DataError("WeightedRandomSampler: weights must be finite, non-negative and not all zero, got "
                            f"{np.array2string(w, threshold=6)}")
        if not replacement and self.num_samples > np.count_nonzero(w):
            raise DataError(
                f"WeightedRandomSampler: cannot draw {self.num_samples} samples without replacement from "
                f"{np.count_nonzero(w)} non-zero weights; lower num_samples or pass replacement=True"
            )
        self.weights = w
        self.replacement = replacement
        self.generator = _check_generator("WeightedRandomSampler", generator)

    def index_array(self) -> np.ndarray:
        p = self.weights / self.weights.sum()
        rng = _rng(self.generator)
        return rng.choice(len(p), size=self.num_samples, replace=self.replacement, p=p).astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self.index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size``; ``drop_last`` drops a short last batch.

    ``list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=False))`` is
    ``[[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]``.
    """

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int, drop_last: bool) -> None:
        self.batch_size = _positive_int("BatchSampler", "batch_size", batch_size)
        if not isinstance(drop_last, bool):
            raise DataError(f"BatchSampler: drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.drop_last = drop_last

    def index_batches(self) -> Iterator[np.ndarray]:
        """The batches as int64 arrays. A sampler with ``index_array`` draws its whole order now (when the epoch
        starts) and the batches are slices of it; any other sampler is read index by index as batches are taken."""
        order = self.sampler.index_array() if isinstance(self.sampler, Sampler) else None
        if order is not None:
            return self._slices(order)
        return self._grouped()

    def _slices(self, order: np.ndarray) -> Iterator[np.ndarray]:
        size = self.batch_size
        count = len(order) // size if self.drop_last else -(-len(order) // size)
        for b in range(count):
            yield order[b * size : (b + 1) * size]

    def _grouped(self) -> Iterator[np.ndarray]:
        batch: list[int] = []
        for index in self.sampler:
            batch.append(int(index))
            if len(batch) == self.batch_size:
                yield np.asarray(batch, dtype=np.int64)
                batch = []
        if batch and not self.drop_last:
            yield np.asarray(batch, dtype=np.int64)

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.index_batches():
            yield batch.tolist()

    def __len__(self) -> int:
        try:
            n = len(self.sampler)  # type: ignore[arg-type]
        except TypeError:
            raise ArgumentTypeError(f"BatchSampler: its sampler {type(self.sampler).__name__} has no len()") from None
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def check_sampler(owner: str, name: str, sampler: Any) -> None:
    """Refuse a sampler that is not iterable (a number, None where one is needed) in one line."""
    if not isinstance(sampler, Iterable):
        raise ArgumentTypeError(
            f"{owner}: {name} must be a Sampler or an iterable of indices, got {type(sampler).__name__}"
        )
