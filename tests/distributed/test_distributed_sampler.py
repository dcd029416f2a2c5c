"""DistributedSampler: the same indices as torch.utils.data.DistributedSampler for every rank, epoch, seed,
shuffle and drop_last, without a process group (num_replicas and rank given)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.utils.data as tud

from chainrule.data import DataError
from chainrule.data.distributed_sampler import torch_randperm
from chainrule.utils.data import DataLoader, DistributedSampler, TensorDataset
from chainrule.utils.data.distributed import DistributedSampler as FromTorchPath


@pytest.mark.parametrize("n", [1, 10, 11, 37])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_indices_equal_torch(n, replicas, shuffle, drop_last):
    data = list(range(n))
    for rank in range(replicas):
        mine = DistributedSampler(data, num_replicas=replicas, rank=rank, shuffle=shuffle, seed=7,
                                  drop_last=drop_last)
        theirs = tud.DistributedSampler(data, num_replicas=replicas, rank=rank, shuffle=shuffle, seed=7,
                                        drop_last=drop_last)
        for epoch in (0, 3):
            mine.set_epoch(epoch)
            theirs.set_epoch(epoch)
            assert list(mine) == list(theirs)
            assert len(mine) == len(theirs)


def test_shards_cover_the_data_set_once_per_epoch_when_it_divides():
    shards = [list(DistributedSampler(range(12), num_replicas=3, rank=r, seed=1)) for r in range(3)]
    assert sorted(sum(shards, [])) == list(range(12))
    assert FromTorchPath is DistributedSampler


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**32 + 5])
def test_randperm_equals_torch(seed):
    g = torch.Generator()
    g.manual_seed(seed)
    np.testing.assert_array_equal(torch_randperm(1000, seed), torch.randperm(1000, generator=g).numpy())


def test_feeds_a_data_loader():
    ds = TensorDataset(np.arange(10, dtype=np.float32))
    sampler = DistributedSampler(ds, num_replicas=2, rank=1, shuffle=False)
    batches = [b[0].numpy().tolist() for b in DataLoader(ds, batch_size=2, sampler=sampler)]
    assert batches == [[1.0, 3.0], [5.0, 7.0], [9.0]]


def test_refuses_bad_rank_and_missing_process_group():
    with pytest.raises(DataError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(DataError, match="not initialized"):
        DistributedSampler(range(4))
