"""``torch.utils.data``'s names, from ``chainrule.data`` (one implementation; this package only re-exports).

``from chainrule.utils.data import DataLoader, Dataset, TensorDataset, ...`` is the import a PyTorch program
makes, with ``torch`` replaced by ``chainrule``. Differences from PyTorch: ``generator`` is a
``numpy.random.Generator``, batches are chainrule Tensors, and ``pin_memory`` changes nothing.
"""

from chainrule.data.collate import default_collate, default_convert
from chainrule.data.dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from chainrule.data.distributed_sampler import DistributedSampler
from chainrule.data.loader import DataLoader
from chainrule.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from chainrule.data.workers import WorkerInfo, get_worker_info
from chainrule.utils.data import dataloader, dataset, distributed, sampler

__all__ = [
    "BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset", "RandomSampler", "Sampler",
    "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "WorkerInfo",
    "dataloader", "dataset", "default_collate", "default_convert", "get_worker_info", "random_split", "sampler",
    "DistributedSampler", "distributed",
]
