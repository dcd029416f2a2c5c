"""Samplers: PyTorch's names, orders, lengths and refusals (torch.utils.data as the reference)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    BatchSampler,
    DataError,
    DataLoader,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
)
from chainrule.errors import ArgumentTypeError

torch = pytest.importorskip("torch")
tud = torch.utils.data


def test_sequential_and_batch_sampler_equal_torch():
    for n, size, drop in [(10, 3, False), (10, 3, True), (9, 3, True), (1, 4, False), (0, 2, False)]:
        ours = BatchSampler(SequentialSampler(range(n)), size, drop)
        theirs = tud.BatchSampler(tud.SequentialSampler(range(n)), size, drop)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
        assert all(type(i) is int for batch in ours for i in batch)
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3] and len(SequentialSampler(range(4))) == 4


def test_batch_sampler_over_a_plain_iterable_groups_as_torch():
    ours = BatchSampler(iter([5, 1, 4, 2, 3]), 2, False)
    assert list(ours) == list(tud.BatchSampler(iter([5, 1, 4, 2, 3]), 2, False)) == [[5, 1], [4, 2], [3]]
    assert list(BatchSampler([5, 1, 4, 2, 3], 2, True)) == [[5, 1], [4, 2]]


def test_random_sampler_is_a_seeded_permutation():
    sampler = RandomSampler(range(12), generator=np.random.default_rng(3))
    first, second = list(sampler), list(sampler)
    assert sorted(first) == list(range(12)) and first != second  # a fresh order per pass
    assert first == np.random.default_rng(3).permutation(12).tolist()
    cr.manual_seed(7)
    a = list(RandomSampler(range(12)))
    cr.manual_seed(7)
    assert list(RandomSampler(range(12))) == a  # the default generator when none is given


def test_random_sampler_num_samples_and_replacement():
    more = list(RandomSampler(range(5), num_samples=12, generator=np.random.default_rng(0)))
    assert len(more) == 12 and sorted(more[:5]) == sorted(more[5:10]) == list(range(5))  # whole permutations
    drawn = list(RandomSampler(range(5), replacement=True, num_samples=200, generator=np.random.default_rng(0)))
    assert len(drawn) == 200 and set(drawn) == set(range(5))
    assert len(RandomSampler(range(5), num_samples=3)) == len(tud.RandomSampler(range(5), num_samples=3)) == 3
    with pytest.raises(DataError, match="num_samples should be a positive integer"):
        RandomSampler(range(5), num_samples=0)
    with pytest.raises(ValueError):
        tud.RandomSampler(range(5), num_samples=0)
    with pytest.raises(DataError, match="replacement should be a boolean"):
        RandomSampler(range(5), replacement=1)


def test_subset_random_sampler_permutes_the_given_indices():
    indices = [10, 20, 30, 40]
    out = list(SubsetRandomSampler(indices, generator=np.random.default_rng(1)))
    assert sorted(out) == indices and len(SubsetRandomSampler(indices)) == 4
    assert out == np.asarray(indices)[np.random.default_rng(1).permutation(4)].tolist()


def test_weighted_random_sampler_follows_the_weights():
    weights = [0.0, 1.0, 3.0]
    draws = np.array(list(WeightedRandomSampler(weights, 4000, generator=np.random.default_rng(0))))
    counts = np.bincount(draws, minlength=3)
    assert counts[0] == 0 and 0.70 < counts[2] / 4000 < 0.80  # 3/4 expected
    once = list(WeightedRandomSampler([1, 1, 0, 1], 3, replacement=False, generator=np.random.default_rng(2)))
    assert sorted(once) == [0, 1, 3]
    assert len(WeightedRandomSampler(weights, 7)) == len(tud.WeightedRandomSampler(weights, 7)) == 7
    with pytest.raises(DataError, match="without replacement from 2 non-zero weights"):
        WeightedRandomSampler([1, 0, 1], 3, replacement=False)
    with pytest.raises(DataError, match="non-negative"):
        WeightedRandomSampler([1, -1], 2)
    with pytest.raises(DataError, match="1-D"):
        WeightedRandomSampler([[1, 2]], 2)


def test_batch_sampler_refusals_match_torch():
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError):
            tud.BatchSampler(range(3), bad, False)
        with pytest.raises(DataError, match=f"batch_size should be a positive integer value, but got batch_size={bad}"):
            BatchSampler(range(3), bad, False)
    with pytest.raises(DataError, match="drop_last should be a boolean"):
        BatchSampler(range(3), 2, 1)
    with pytest.raises(ArgumentTypeError, match="has no len"):
        len(BatchSampler(iter(range(3)), 2, False))


def test_loader_with_a_sampler_or_a_batch_sampler():
    ds = TensorDataset(np.arange(10) * 10)
    loader = DataLoader(ds, batch_size=3, sampler=[9, 8, 7, 1])
    assert [b[0].tolist() for b in loader] == [[90, 80, 70], [10]] and len(loader) == 2
    batches = DataLoader(ds, batch_sampler=[[0, 2], [4], [9, 1, 3]])
    assert [b[0].tolist() for b in batches] == [[0, 20], [40], [90, 10, 30]] and len(batches) == 3
    assert batches.batch_size is None and batches.uses_fast_path
    weighted = DataLoader(ds, batch_size=4, sampler=WeightedRandomSampler([0] * 9 + [1], 8))
    assert [b[0].tolist() for b in weighted] == [[90] * 4, [90] * 4]


def test_a_custom_sampler_subclass():
    class Evens(Sampler):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(0, self.n, 2))

        def __len__(self):
            return (self.n + 1) // 2

    loader = DataLoader(TensorDataset(np.arange(7)), batch_size=2, sampler=Evens(7))
    assert [b[0].tolist() for b in loader] == [[0, 2], [4, 6]] and len(loader) == 2
