"""Dataset, TensorDataset, Subset, random_split, DataLoader and default_collate."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    DataError,
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
    transforms,
)
from chainrule.data.dataset import ImageDataset
from chainrule.errors import ShapeError


def _xy(n=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3, 2)).astype(np.float32), rng.integers(0, 5, n)


def _collect(loader):
    return [tuple(t.numpy().copy() for t in batch) for batch in loader]


def _assert_same_batches(a, b):
    assert len(a) == len(b)
    for xs, ys in zip(a, b):
        assert len(xs) == len(ys)
        for x, y in zip(xs, ys):
            assert x.dtype == y.dtype and x.shape == y.shape
            np.testing.assert_array_equal(x, y)


class Squares(Dataset):
    """A plain (not batchable) data set: sample i is (float array, int, str)."""

    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return np.full((2,), i * i, dtype=np.float32), i, f"s{i}"

    def __len__(self):
        return self.n


# ----- Dataset, TensorDataset, Subset, random_split ----------------------------------------------------
def test_dataset_is_abstract():
    with pytest.raises(TypeError):
        Dataset()


def test_tensor_dataset_accepts_tensors_arrays_and_lists():
    x, y = _xy()
    ds = TensorDataset(cr.tensor(x), y, [float(v) for v in range(10)])
    assert len(ds) == 10
    a, b, c = ds[3]
    np.testing.assert_array_equal(a, x[3])
    assert b == y[3] and c == 3.0
    assert ds.tensors[2].dtype == np.float32  # Python floats take chainrule's default dtype
    assert ds.batchable


def test_tensor_dataset_checks_first_dimensions():
    with pytest.raises(ShapeError, match=r"same size in the first dimension.*\[10, 9\].*tensor 1: \(9,\)"):
        TensorDataset(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(ShapeError, match="scalar"):
        TensorDataset(np.zeros(()))
    with pytest.raises(DataError):
        TensorDataset()


def test_subset_and_its_batches():
    x, y = _xy()
    sub = Subset(TensorDataset(x, y), [7, 2, 5])
    assert len(sub) == 3 and sub.batchable
    np.testing.assert_array_equal(sub[1][0], x[2])
    bx, by = sub.get_batch(np.array([2, 0]))
    np.testing.assert_array_equal(bx, x[[5, 7]])
    np.testing.assert_array_equal(by, y[[5, 7]])
    with pytest.raises(IndexError):
        sub.get_batch(np.array([3]))
    assert len(Subset(TensorDataset(x, y), [])) == 0
    assert not Subset(Squares(4), [0, 1]).batchable


def test_random_split_counts_fractions_and_seed():
    ds = TensorDataset(np.arange(10))
    parts = random_split(ds, [3, 7], generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == [3, 7]
    values = sorted(int(v) for p in parts for (v,) in (p[i] for i in range(len(p))))
    assert values == list(range(10))
    again = random_split(ds, [3, 7], generator=np.random.default_rng(0))
    np.testing.assert_array_equal(parts[0].indices, again[0].indices)
    assert [len(p) for p in random_split(ds, [0.5, 0.3, 0.2], generator=np.random.default_rng(1))] == [5, 3, 2]
    assert [len(p) for p in random_split(TensorDataset(np.arange(11)), [0.5, 0.5])] == [6, 5]
    with pytest.raises(DataError, match="sum to 9"):
        random_split(ds, [4, 5])
    with pytest.raises(DataError):
        random_split(ds, [0.5, 0.6])


def test_random_split_uses_the_default_generator():
    ds = TensorDataset(np.arange(20))
    cr.manual_seed(11)
    a = random_split(ds, [10, 10])
    cr.manual_seed(11)
    b = random_split(ds, [10, 10])
    np.testing.assert_array_equal(a[0].indices, b[0].indices)


# ----- DataLoader ----------------------------------------------------------------------------------
def test_len_batches_and_drop_last():
    x, y = _xy(10)
    ds = TensorDataset(x, y)
    loader = DataLoader(ds, batch_size=4)
    assert len(loader) == 3
    batches = list(loader)
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    assert all(isinstance(t, cr.Tensor) for b in batches for t in b)
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), x)
    dropped = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [b[0].shape[0] for b in dropped] == [4, 4]
    assert len(DataLoader(ds, batch_size=5, drop_last=True)) == 2
    assert len(DataLoader(ds)) == 10
    assert len(DataLoader(TensorDataset(np.zeros((3, 1))), batch_size=4, drop_last=True)) == 0


def test_shuffle_is_reproducible_with_a_seeded_generator():
    x, y = _xy(23)
    ds = TensorDataset(x, y)
    a = DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(42))
    b = DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(42))
    epoch_a1, epoch_a2 = _collect(a), _collect(a)
    _assert_same_batches(epoch_a1, _collect(b))
    _assert_same_batches(epoch_a2, _collect(b))  # the second epochs agree too
    labels1 = np.concatenate([batch[0] for batch in epoch_a1])
    labels2 = np.concatenate([batch[0] for batch in epoch_a2])
    assert not np.array_equal(labels1, labels2)  # a fresh order every epoch
    assert sorted(map(tuple, labels1.reshape(23, -1))) == sorted(map(tuple, x.reshape(23, -1)))  # a permutation
    unshuffled = np.concatenate([b[0] for b in _collect(DataLoader(ds, batch_size=5))])
    np.testing.assert_array_equal(unshuffled, x)


def test_shuffle_without_generator_uses_the_default_generator():
    ds = TensorDataset(np.arange(30))
    cr.manual_seed(5)
    first = _collect(DataLoader(ds, batch_size=30, shuffle=True))
    cr.manual_seed(5)
    second = _collect(DataLoader(ds, batch_size=30, shuffle=True))
    _assert_same_batches(first, second)


def test_order_is_drawn_when_the_epoch_starts():
    ds = TensorDataset(np.arange(12))
    loader = DataLoader(ds, batch_size=4, shuffle=True, generator=np.random.default_rng(3))
    it = iter(loader)
    order = np.random.default_rng(3).permutation(12)
    np.testing.assert_array_equal(next(it)[0].numpy(), order[:4])


def test_fast_path_equals_slow_path():
    x, y = _xy(37, seed=4)
    ds = TensorDataset(x, y, np.arange(37.0))
    fast = DataLoader(ds, batch_size=8, shuffle=True, generator=np.random.default_rng(9))
    slow = DataLoader(ds, batch_size=8, shuffle=True, generator=np.random.default_rng(9), collate_fn=default_collate)
    assert fast.uses_fast_path and not slow.uses_fast_path
    _assert_same_batches(_collect(fast), _collect(slow))
    sub = random_split(ds, [20, 17], generator=np.random.default_rng(0))[1]
    _assert_same_batches(
        _collect(DataLoader(sub, batch_size=6)), _collect(DataLoader(sub, batch_size=6, collate_fn=default_collate))
    )


def test_fast_path_never_indexes_single_samples(monkeypatch):
    ds = TensorDataset(*_xy(16))

    def refuse(self, index):
        raise AssertionError("per-sample __getitem__ on the fast path")

    monkeypatch.setattr(TensorDataset, "__getitem__", refuse)
    assert sum(b[0].shape[0] for b in DataLoader(ds, batch_size=5, shuffle=True)) == 16


def _images(n=30, seed=0):
    rng = np.random.default_rng(seed)
    return ImageDataset(rng.integers(0, 256, (n, 6, 5), dtype=np.uint8), rng.integers(0, 10, n))


def test_image_dataset_fast_path_equals_slow_path_with_a_batched_transform():
    ds = _images()
    x, label = ds[3]
    assert x.shape == (1, 6, 5) and x.dtype == np.float32 and isinstance(label, int)
    np.testing.assert_array_equal(x[0], ds.data[3] / np.float32(255))
    double = transforms.Lambda(lambda a: a * 2, batched=True)
    ds.transform = transforms.Compose([transforms.Normalize(0.5, 0.25), double])
    fast = DataLoader(ds, batch_size=7, shuffle=True, generator=np.random.default_rng(1))
    slow = DataLoader(ds, batch_size=7, shuffle=True, generator=np.random.default_rng(1), collate_fn=default_collate)
    assert fast.uses_fast_path
    _assert_same_batches(_collect(fast), _collect(slow))
    images, labels = ds.arrays()
    assert images.shape == (30, 1, 6, 5) and labels.dtype == np.int64


def test_unbatched_transform_goes_sample_by_sample():
    ds = _images()
    ds.transform = lambda image: image[:, :4, :4]  # written for one C×H×W image
    loader = DataLoader(ds, batch_size=8)
    assert not loader.uses_fast_path
    xb, yb = next(iter(loader))
    assert xb.shape == (8, 1, 4, 4) and yb.dtype == np.int64


def test_plain_dataset_collates_tuples():
    loader = DataLoader(Squares(5), batch_size=2)
    assert not loader.uses_fast_path and len(loader) == 3
    x, i, s = next(iter(loader))
    assert isinstance(x, cr.Tensor) and x.dtype == np.float32 and x.shape == (2, 2)
    assert isinstance(i, cr.Tensor) and i.dtype == np.int64
    assert s == ["s0", "s1"]


def test_default_collate_structures():
    Point = namedtuple("Point", "x y")
    batch = default_collate([Point(np.zeros(2), 1), Point(np.ones(2), 2)])
    assert isinstance(batch, Point) and batch.x.shape == (2, 2) and batch.y.dtype == np.int64
    d = default_collate([{"a": 1.5, "b": [1, 2]}, {"a": 2.5, "b": [3, 4]}])
    assert d["a"].dtype == np.float32 and isinstance(d["b"], list) and d["b"][1].tolist() == [2, 4]
    assert default_collate([True, False]).dtype == np.bool_
    assert default_collate([np.float64(1), np.float64(2)]).dtype == np.float64
    assert default_collate([np.int32(1), np.int32(2)]).dtype == np.int32
    t = default_collate([cr.ones(2, 3), cr.zeros(2, 3)])
    assert isinstance(t, cr.Tensor) and t.shape == (2, 2, 3)
    pair = default_collate([(np.zeros(3, np.float32), 0), (np.ones(3, np.float32), 1)])
    assert isinstance(pair, tuple) and pair[0].shape == (2, 3) and pair[1].tolist() == [0, 1]


def test_default_collate_errors():
    with pytest.raises(ShapeError, match="different shapes"):
        default_collate([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(DataError, match="cannot batch samples of type object"):
        default_collate([object(), object()])
    with pytest.raises(DataError, match="empty"):
        default_collate([])


def test_custom_collate_fn():
    loader = DataLoader(TensorDataset(np.arange(6)), batch_size=4, collate_fn=lambda samples: len(samples))
    assert list(loader) == [4, 2]


def test_bad_arguments():
    ds = TensorDataset(np.arange(4))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(DataError, match="batch_size"):
            DataLoader(ds, batch_size=bad)
    with pytest.raises(DataError, match="numpy.random.Generator"):
        DataLoader(ds, generator=42)
