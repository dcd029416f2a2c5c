"""``DistributedSampler``: each process's share of a data set, with ``torch.utils.data.DistributedSampler``'s
indices exactly.

The epoch's order is ``torch.randperm(len(dataset))`` under a generator seeded with ``seed + epoch`` (all
processes draw the same one), reproduced here: PyTorch's CPU generator is the 32-bit Mersenne Twister seeded as
``RandomState(seed)`` seeds it, and its ``randperm`` swaps position i with i + (draw mod (n − i)). The order is
padded by repeating its start (or cut, with ``drop_last``) to a multiple of ``num_replicas``, and process
``rank`` takes every ``num_replicas``-th index from position ``rank``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

import numpy as np

from chainrule import distributed as dist
from chainrule.data.idx import DataError
from chainrule.data.sampler import Sampler
from chainrule.ops.operands import check_bool, check_int

__all__ = ["DistributedSampler", "torch_randperm"]


def torch_randperm(n: int, seed: int) -> np.ndarray:
    """``torch.randperm(n, generator=torch.Generator().manual_seed(seed))`` as an int64 array (n < 2³²/20, the
    range where PyTorch draws one 32-bit number per swap)."""
    draws = np.random.RandomState(seed & 0xFFFFFFFF).randint(0, 2**32, size=max(n - 1, 0), dtype=np.uint32)
    targets = (draws.astype(np.int64) % np.arange(n, 1, -1, dtype=np.int64)) + np.arange(n - 1, dtype=np.int64)
    # Fisher–Yates: each swap reads the previous ones, so it cannot be one array operation; it runs once per
    # epoch (on a list: a Python int swap is several times cheaper than one on array elements).
    order = list(range(n))
    for i, z in enumerate(targets.tolist()):
        order[i], order[z] = order[z], order[i]
    return np.array(order, dtype=np.int64)


class DistributedSampler(Sampler):
    """The indices of ``dataset`` that process ``rank`` of ``num_replicas`` reads this epoch.

    ``num_replicas`` and ``rank`` default to ``chainrule.distributed``'s world size and rank. ``shuffle``: a
    new order each epoch (call ``set_epoch(epoch)`` before each), the same on every process for the same
    ``seed``. Every process gets ``len(self)`` indices: without ``drop_last`` the order is padded with its own
    first indices to a multiple of ``num_replicas`` (a few samples count twice); with ``drop_last`` the tail
    is dropped instead.
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        name = "DistributedSampler"
        if num_replicas is None or rank is None:
            if not dist.is_initialized():
                raise DataError(f"{name}: num_replicas and rank default to the process group's, but "
                                f"chainrule.distributed is not initialized; hint: call "
                                f"dist.init_process_group('mpi') first, or pass num_replicas and rank")
        num_replicas = dist.get_world_size() if num_replicas is None else check_int(name, "num_replicas",
                                                                                     num_replicas, 1)
        rank = dist.get_rank() if rank is None else check_int(name, "rank", rank)
        if rank >= num_replicas or rank < 0:
            raise DataError(f"{name}: Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas, self.rank = num_replicas, rank
        self.shuffle = check_bool(name, "shuffle", shuffle)
        self.seed = check_int(name, "seed", seed)
        self.drop_last = check_bool(name, "drop_last", drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def index_array(self) -> np.ndarray:
        n = len(self.dataset)
        order = torch_randperm(n, self.seed + self.epoch) if self.shuffle else np.arange(n, dtype=np.int64)
        if not self.drop_last:
            padding = self.total_size - n
            if padding > 0:
                order = np.concatenate([order, np.resize(order, padding)]) if n else order
        else:
            order = order[: self.total_size]
        return order[self.rank : self.total_size : self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` (with ``shuffle``): call it at the start of each epoch, on every process."""
        self.epoch = check_int("DistributedSampler.set_epoch", "epoch", epoch)
