"""Data sets, loaders and transforms, with PyTorch's names; NumPy only.

- ``Dataset``, ``IterableDataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``, ``random_split``
  (``chainrule.data.dataset``);
- ``DataLoader`` (``chainrule.data.loader``): batches of Tensors, shuffled from a seeded
  ``numpy.random.Generator``, with a fast path that fetches array-backed batches in one fancy-index, and
  ``num_workers`` worker processes (``chainrule.data.workers``: ``get_worker_info``);
- ``default_collate``, ``default_convert`` (``chainrule.data.collate``);
- samplers (``chainrule.data.sampler``): ``Sampler``, ``SequentialSampler``, ``RandomSampler``,
  ``SubsetRandomSampler``, ``WeightedRandomSampler``, ``BatchSampler``; ``DistributedSampler``
  (``chainrule.data.distributed_sampler``): one process's share, with PyTorch's indices;
- ``transforms``: ``Compose``, ``Normalize``, ``RandomCrop``, ``RandomHorizontalFlip``, ``ToFloat``, for
  single images or whole batches;
- ``read_idx`` (``chainrule.data.idx``): the IDX format of MNIST and its relatives, checked strictly;
- ``FashionMNIST``, ``MNIST``, ``KMNIST`` (``chainrule.data.mnist``) and ``Digits`` / ``load_digits``
  (scikit-learn's 8×8 digits, an optional extra).
"""

from chainrule.data import transforms
from chainrule.data.collate import default_collate, default_convert
from chainrule.data.dataset import (
    ConcatDataset,
    Dataset,
    ImageDataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
from chainrule.data.digits import Digits, load_digits
from chainrule.data.distributed_sampler import DistributedSampler
from chainrule.data.idx import DataError, DataNotFoundError, MissingDependencyError, idx_sha256, read_idx
from chainrule.data.loader import DataLoader
from chainrule.data.mnist import KMNIST, MNIST, FashionMNIST, FileSpec, IDXImageDataset, data_home
from chainrule.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from chainrule.data.workers import DataLoaderError, WorkerInfo, get_worker_info

__all__ = [
    "BatchSampler", "ConcatDataset", "DataError", "DataLoader", "DataLoaderError", "DataNotFoundError", "Dataset",
    "Digits", "FashionMNIST", "FileSpec", "IDXImageDataset", "ImageDataset", "IterableDataset", "KMNIST", "MNIST",
    "MissingDependencyError", "RandomSampler", "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler",
    "TensorDataset", "WeightedRandomSampler", "WorkerInfo", "data_home", "default_collate", "default_convert",
    "get_worker_info", "idx_sha256", "load_digits", "random_split", "read_idx", "transforms",
    "DistributedSampler",
]
