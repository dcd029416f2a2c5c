"""scikit-learn's 8×8 digits as a chainrule data set (scikit-learn is in the test extra)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from chainrule.data import DataLoader, Digits, load_digits, random_split, transforms
from chainrule.data.loader import default_collate


def test_missing_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"chainrule\[digits\]"):
        load_digits()


def test_digits_data_set():
    datasets = pytest.importorskip("sklearn.datasets")
    reference = datasets.load_digits()
    ds = Digits()
    assert len(ds) == 1797 and ds.data.shape == (1797, 8, 8) and ds.data.dtype == np.uint8
    assert ds.data.max() == 16 and ds.targets.dtype == np.int64
    np.testing.assert_array_equal(ds.data, reference.images)
    np.testing.assert_array_equal(ds.targets, reference.target)
    np.testing.assert_array_equal(np.unique(ds.targets), np.arange(10))
    x, y = ds[5]
    assert x.shape == (1, 8, 8) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    np.testing.assert_allclose(x[0], reference.images[5] / 16)
    assert y == reference.target[5] and isinstance(y, int)
    images, labels = load_digits()
    assert images.shape == (1797, 8, 8) and labels.shape == (1797,)


def test_digits_in_a_loader():
    pytest.importorskip("sklearn")
    ds = Digits(transform=transforms.Compose([transforms.RandomCrop(8, padding=1), transforms.Normalize(0.3, 0.4)]))
    train, test = random_split(ds, [0.8, 0.2], generator=np.random.default_rng(0))
    assert len(train) + len(test) == 1797
    loader = DataLoader(train, batch_size=64, shuffle=True, drop_last=True, generator=np.random.default_rng(1))
    assert loader.uses_fast_path and len(loader) == len(train) // 64
    xb, yb = next(iter(loader))
    assert xb.shape == (64, 1, 8, 8) and xb.dtype == np.float32 and yb.dtype == np.int64
    plain = Digits()
    fast = [b for b in DataLoader(plain, batch_size=500)]
    slow = [b for b in DataLoader(plain, batch_size=500, collate_fn=default_collate)]
    for (xa, ya), (xs, ys) in zip(fast, slow):
        np.testing.assert_array_equal(xa.numpy(), xs.numpy())
        np.testing.assert_array_equal(ya.numpy(), ys.numpy())
