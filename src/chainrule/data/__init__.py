"""Data sets, loaders and transforms, with PyTorch's names; NumPy only.

- ``Dataset``, ``TensorDataset``, ``Subset``, ``random_split`` (``chainrule.data.dataset``);
- ``DataLoader`` and ``default_collate`` (``chainrule.data.loader``): batches of Tensors, shuffled from a
  seeded ``numpy.random.Generator``, with a fast path that fetches array-backed batches in one fancy-index;
- ``transforms``: ``Compose``, ``Normalize``, ``RandomCrop``, ``RandomHorizontalFlip``, ``ToFloat``, for
  single images or whole batches;
- ``read_idx`` (``chainrule.data.idx``): the IDX format of MNIST and its relatives, checked strictly;
- ``FashionMNIST``, ``MNIST``, ``KMNIST`` (``chainrule.data.mnist``) and ``Digits`` / ``load_digits``
  (scikit-learn's 8×8 digits, an optional extra).
"""

from chainrule.data import transforms
from chainrule.data.dataset import Dataset, ImageDataset, Subset, TensorDataset, random_split
from chainrule.data.digits import Digits, load_digits
from chainrule.data.idx import DataError, DataNotFoundError, MissingDependencyError, idx_sha256, read_idx
from chainrule.data.loader import DataLoader, default_collate
from chainrule.data.mnist import KMNIST, MNIST, FashionMNIST, FileSpec, IDXImageDataset, data_home

__all__ = [
    "DataError", "DataLoader", "DataNotFoundError", "Dataset", "Digits", "FashionMNIST", "FileSpec",
    "IDXImageDataset", "ImageDataset", "KMNIST", "MNIST", "MissingDependencyError", "Subset", "TensorDataset",
    "data_home", "default_collate", "idx_sha256", "load_digits", "random_split", "read_idx", "transforms",
]
