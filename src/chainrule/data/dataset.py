"""Data sets: indexable collections of samples, with PyTorch's names.

A ``Dataset`` has ``__getitem__(i)`` (one sample, usually a tuple such as ``(image, label)``) and
``__len__``. Samples are NumPy arrays and Python numbers; ``DataLoader`` stacks them into Tensors.

**Batch protocol.** A data set stored as arrays may also define ``get_batch(indices)``: given a 1-D NumPy
integer array it returns the whole batch at once as a tuple of arrays whose first axis is the batch (one
fancy-index per array instead of a Python loop over samples), equal to stacking the samples one by one.
``DataLoader`` uses it when the data set's ``batchable`` attribute is true and no ``collate_fn`` is given.
``TensorDataset``, ``Subset`` of a batchable data set, and the image data sets (``FashionMNIST``, ``MNIST``,
``KMNIST``, ``Digits``) implement it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule import creation
from chainrule.data.idx import DataError
from chainrule.errors import ShapeError
from chainrule.tensor import Tensor, as_array

__all__ = ["ConcatDataset", "Dataset", "ImageDataset", "IterableDataset", "Subset", "TensorDataset", "random_split"]


def _index_array(indices: Any, n: int) -> np.ndarray:
    """``indices`` as an int64 array, checked against a data set of length ``n``; negatives count from the end."""
    idx = np.asarray(indices)
    if idx.size == 0:
        return idx.astype(np.int64)
    if idx.dtype.kind not in "iu":
        raise DataError(f"batch indices must be integers, got dtype {idx.dtype}")
    idx = idx.astype(np.int64, copy=False)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)][0]
        raise IndexError(f"index {bad} is out of range for a data set of {n} samples")
    return idx


class Dataset(ABC):
    """An indexable collection of samples: subclasses define ``__getitem__(index)`` and ``__len__()``."""

    #: True when ``get_batch(indices)`` returns whole batches (see the module docstring).
    batchable: bool = False

    @abstractmethod
    def __getitem__(self, index: int) -> Any: ...

    @abstractmethod
    def __len__(self) -> int: ...

    def get_batch(self, indices: np.ndarray) -> tuple[Any, ...]:
        raise NotImplementedError(f"{type(self).__name__} has no batched access; index it sample by sample")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__`` (and ``__len__`` only if they know their length).

    ``DataLoader`` batches what ``iter(dataset)`` yields. With ``num_workers > 0`` every worker iterates its own
    copy of the data set, so ``__iter__`` should use ``get_worker_info()`` to yield only its share (else each
    sample comes once per worker, as in PyTorch).
    """

    def __iter__(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __getitem__(self, index: int) -> Any:
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate over it instead of indexing it")

    def __len__(self) -> int:
        raise TypeError(f"{type(self).__name__} is an IterableDataset without __len__: its length is not known")

    def __add__(self, other: Dataset) -> Any:
        raise TypeError(f"{type(self).__name__} is an IterableDataset: use itertools.chain to join streams")


class ConcatDataset(Dataset):
    """The samples of ``datasets`` one after another: index ``len(datasets[0])`` is ``datasets[1][0]``."""

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise DataError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise DataError("ConcatDataset does not support IterableDataset; use itertools.chain")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a data set of {n} samples")
        index = index + n if index < 0 else index
        which = int(np.searchsorted(self.cumulative_sizes, index, side="right"))
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


class TensorDataset(Dataset):
    """Samples are slices along the first axis of ``tensors`` (Tensors or arrays of equal first dimension).

    ``ds[i]`` is the tuple ``(t0[i], t1[i], ...)`` of NumPy values (arrays, or NumPy scalars for 1-D inputs).
    Batched access (``get_batch``) indexes each array once with the whole batch of indices.
    """

    batchable = True

    def __init__(self, *tensors: Tensor | np.ndarray | Sequence[Any]) -> None:
        if not tensors:
            raise DataError("TensorDataset needs at least one tensor or array")
        arrays = []
        for i, t in enumerate(tensors):
            a = as_array(t)  # Tensors unwrapped, arrays kept, Python data with chainrule's dtypes
            if a.ndim == 0:
                raise ShapeError(f"TensorDataset: tensor {i} is a scalar (shape ()); samples are taken along dim 0")
            arrays.append(a)
        sizes = [a.shape[0] for a in arrays]
        if len(set(sizes)) > 1:
            shapes = ", ".join(f"tensor {i}: {tuple(a.shape)}" for i, a in enumerate(arrays))
            raise ShapeError(
                f"TensorDataset: all tensors must have the same size in the first dimension (the number of "
                f"samples), got sizes {sizes} ({shapes})"
            )
        self.tensors = tuple(arrays)

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        return tuple(a[index] for a in self.tensors)

    def __len__(self) -> int:
        return int(self.tensors[0].shape[0])

    def get_batch(self, indices: np.ndarray) -> tuple[Any, ...]:
        idx = _index_array(indices, len(self))
        return tuple(a[idx] for a in self.tensors)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order. Batchable when ``dataset`` is."""

    def __init__(self, dataset: Dataset, indices: Sequence[int] | np.ndarray) -> None:
        self.dataset = dataset
        self.indices = _index_array(indices, len(dataset)).reshape(-1)

    @property
    def batchable(self) -> bool:  # type: ignore[override]
        return bool(getattr(self.dataset, "batchable", False))

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def __len__(self) -> int:
        return len(self.indices)

    def get_batch(self, indices: np.ndarray) -> tuple[Any, ...]:
        return self.dataset.get_batch(self.indices[_index_array(indices, len(self))])


def random_split(
    dataset: Dataset, lengths: Sequence[int | float], generator: np.random.Generator | None = None
) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    ``lengths`` are sample counts summing to ``len(dataset)``, or fractions summing to 1 (each gets
    ``floor(fraction * n)`` samples and the remainder is dealt out one by one from the first split on, as in
    PyTorch). The permutation comes from ``generator`` (a ``numpy.random.Generator``), else chainrule's
    default generator, so a seeded generator gives the same split every time.
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise DataError("random_split: lengths is empty")
    if all(isinstance(x, (int, np.integer)) for x in lengths):
        counts = [int(x) for x in lengths]
    elif all(0 <= float(x) <= 1 for x in lengths) and math.isclose(sum(float(x) for x in lengths), 1.0, abs_tol=1e-6):
        counts = [math.floor(n * float(x)) for x in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
    else:
        raise DataError(
            f"random_split: lengths must be sample counts summing to {n} or fractions summing to 1, got {lengths}"
        )
    if any(c < 0 for c in counts) or sum(counts) != n:
        raise DataError(f"random_split: lengths {counts} sum to {sum(counts)}, but the data set has {n} samples")
    rng = generator if generator is not None else creation.default_generator()
    order = rng.permutation(n)
    bounds = np.cumsum([0, *counts])
    return [Subset(dataset, order[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]


class ImageDataset(Dataset):
    """Images with integer class labels, held as arrays: the base of the MNIST family and ``Digits``.

    ``data`` is ``uint8`` N×H×W, ``targets`` int64 N, ``classes`` the class names; pixel values run from 0 to
    ``max_value`` (255 for MNIST, 16 for the scikit-learn digits). ``ds[i]`` is ``(image, label)``: a float32
    1×H×W image scaled to [0, 1] (then passed through ``transform`` if one is set) and a Python int.

    ``get_batch`` does the same for a whole batch with one fancy-index, giving float32 B×1×H×W and int64 B;
    it is used by ``DataLoader`` when the transform is None or works on batches (``transform.batched`` is
    true, as for every transform in ``chainrule.data.transforms``). ``arrays()`` gives the whole data set at
    once, without the transform.
    """

    classes: Sequence[str] = ()
    max_value: int = 255

    def __init__(self, data: np.ndarray, targets: np.ndarray, transform: Callable | None = None) -> None:
        data = np.asarray(data)
        targets = np.asarray(targets)
        name = type(self).__name__
        if data.ndim != 3:
            raise ShapeError(f"{name}: images must be N×H×W, got shape {data.shape}")
        if targets.shape != (len(data),):
            raise ShapeError(f"{name}: {len(data)} images but labels of shape {targets.shape}")
        self.data = data.astype(np.uint8, copy=False)
        self.targets = targets.astype(np.int64, copy=False)
        self.transform = transform

    @property
    def batchable(self) -> bool:  # type: ignore[override]
        return self.transform is None or bool(getattr(self.transform, "batched", False))

    def __len__(self) -> int:
        return len(self.data)

    def _images(self, raw: np.ndarray) -> np.ndarray:
        images = np.divide(raw, np.float32(self.max_value), dtype=np.float32)
        return images[..., None, :, :]  # add the channel axis: 1×H×W, or B×1×H×W

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        image = self._images(self.data[index])
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[index])

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = _index_array(indices, len(self))
        images = self._images(self.data[idx])
        if self.transform is not None:
            images = self.transform(images)
        return images, self.targets[idx]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All images as float32 N×1×H×W in [0, 1] and all labels as int64 N (no transform applied)."""
        return self._images(self.data), self.targets

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} images of {self.data.shape[1]}×{self.data.shape[2]})"
