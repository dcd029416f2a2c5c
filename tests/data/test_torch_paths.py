"""PyTorch's import paths and DataLoader's signature, semantics and refusals, against torch.utils.data."""

from __future__ import annotations

import inspect
from collections import namedtuple

import numpy as np
import pytest

import chainrule
import chainrule as cr
from chainrule.data import DataError, DataLoader, Dataset, IterableDataset, TensorDataset

torch = pytest.importorskip("torch")
tud = torch.utils.data

NAMES = ("DataLoader", "Dataset", "TensorDataset", "Subset", "random_split", "Sampler", "SequentialSampler",
         "RandomSampler", "BatchSampler", "SubsetRandomSampler", "WeightedRandomSampler", "default_collate",
         "get_worker_info", "IterableDataset", "ConcatDataset")


def test_torch_utils_data_names_are_chainrule_data_objects():
    import chainrule.data as data
    from chainrule.utils import data as utils_data
    from chainrule.utils.data.dataloader import default_collate

    for name in NAMES:
        assert getattr(utils_data, name) is getattr(data, name), name
        assert hasattr(tud, name), name  # each is a torch.utils.data name too
    assert chainrule.utils.data.DataLoader is DataLoader  # `import chainrule as torch; torch.utils.data.DataLoader`
    assert default_collate is data.default_collate
    from chainrule.optim.lr_scheduler import StepLR
    from chainrule.vision import datasets, transforms

    assert StepLR.__name__ == "StepLR" and datasets.MNIST and transforms.ToTensor


def test_dataloader_signature_is_torchs():
    ours = inspect.signature(DataLoader).parameters
    theirs = inspect.signature(tud.DataLoader).parameters
    assert list(ours) == list(theirs)
    for name, p in theirs.items():
        assert ours[name].kind == p.kind, name
        if p.default is not inspect.Parameter.empty:
            assert ours[name].default == p.default, name


def _both(**kwargs):
    """The exception types torch and chainrule raise for the same DataLoader arguments (None: accepted)."""
    out = []
    for loader, ds in ((tud.DataLoader, tud.TensorDataset(torch.arange(4))), (DataLoader, TensorDataset(np.arange(4)))):
        try:
            loader(ds, **kwargs)
            out.append(None)
        except Exception as e:  # noqa: BLE001 - the type is what is compared
            out.append(e)
    return out


@pytest.mark.parametrize("kwargs, words", [
    ({"num_workers": -1}, "num_workers must be a non-negative integer, got -1"),
    ({"timeout": -1}, "timeout must be a non-negative"),
    ({"prefetch_factor": 2}, "prefetch_factor can only be given with multi-process loading"),
    ({"persistent_workers": True}, "persistent_workers=True needs num_workers > 0"),
    ({"sampler": [0, 1], "shuffle": True}, "sampler option is mutually exclusive with shuffle"),
    ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler option is mutually exclusive"),
    ({"batch_sampler": [[0]], "drop_last": True}, "batch_sampler option is mutually exclusive"),
    ({"batch_size": None, "drop_last": True}, "batch_size=None option disables auto-batching"),
    ({"multiprocessing_context": "spawn"}, "multiprocessing_context can only be used with multi-process loading"),
    ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
])
def test_refusals_match_torch(kwargs, words):
    theirs, ours = _both(**kwargs)
    assert isinstance(theirs, ValueError)
    assert isinstance(ours, ValueError) and isinstance(ours, DataError)
    assert words in str(ours) and "\n" not in str(ours)


def test_refused_start_method_and_callables():
    with pytest.raises(DataError, match="valid start method"):
        DataLoader(TensorDataset(np.arange(4)), num_workers=1, multiprocessing_context="teleport")
    with pytest.raises(TypeError, match="collate_fn must be callable"):
        DataLoader(TensorDataset(np.arange(4)), collate_fn=3)
    with pytest.raises(TypeError, match="worker_init_fn must be callable"):
        DataLoader(TensorDataset(np.arange(4)), worker_init_fn="seed")


def test_defaults_attributes_and_len_as_torch():
    x = np.arange(10)
    ours, theirs = DataLoader(TensorDataset(x), batch_size=4), tud.DataLoader(tud.TensorDataset(torch.arange(10)),
                                                                                batch_size=4)
    for name in ("batch_size", "drop_last", "num_workers", "pin_memory", "timeout", "prefetch_factor",
                 "persistent_workers"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert type(ours.sampler).__name__ == type(theirs.sampler).__name__ == "SequentialSampler"
    assert type(ours.batch_sampler).__name__ == "BatchSampler" and len(ours) == len(theirs) == 3
    shuffled = DataLoader(TensorDataset(x), shuffle=True)
    assert type(shuffled.sampler).__name__ == "RandomSampler"
    assert DataLoader(TensorDataset(x), batch_size=3, num_workers=2).prefetch_factor == 2
    assert DataLoader(TensorDataset(x), batch_size=3, pin_memory=True).pin_memory is True  # accepted: no-op on CPU


def test_batch_size_none_converts_samples_as_torch():
    loader = DataLoader(TensorDataset(np.arange(3, dtype=np.float32), np.arange(3)), batch_size=None)
    theirs = tud.DataLoader(tud.TensorDataset(torch.arange(3.0), torch.arange(3)), batch_size=None)
    assert len(loader) == len(theirs) == 3
    for (a, b), (ta, tb) in zip(loader, theirs):
        assert isinstance(a, cr.Tensor) and a.shape == tuple(ta.shape) == () and a.item() == ta.item()
        assert b.dtype == np.int64 and b.item() == tb.item()


class Mixed(Dataset):
    Pair = namedtuple("Pair", "a b")

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": np.full((2, 3), i, np.float32), "n": i, "s": f"s{i}",
                "p": self.Pair(np.float64(i) / 2, [i, -i])}


class TorchMixed(tud.Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": np.full((2, 3), i, np.float32), "n": i, "s": f"s{i}",
                "p": Mixed.Pair(np.float64(i) / 2, [i, -i])}


def test_default_collate_structures_equal_torchs():
    ours = list(DataLoader(Mixed(), batch_size=2))
    theirs = list(tud.DataLoader(TorchMixed(), batch_size=2))
    assert len(ours) == len(theirs) == 3
    for a, t in zip(ours, theirs):
        assert set(a) == set(t) and a["s"] == t["s"]
        for key in ("x", "n"):
            assert a[key].shape == tuple(t[key].shape) and str(a[key].dtype) == str(t[key].dtype).split(".")[1]
            np.testing.assert_array_equal(a[key].numpy(), t[key].numpy())
        assert isinstance(a["p"], Mixed.Pair) and isinstance(t["p"], Mixed.Pair)
        np.testing.assert_array_equal(a["p"].a.numpy(), t["p"].a.numpy())
        assert a["p"].a.dtype == np.float64
        assert [v.tolist() for v in a["p"].b] == [v.tolist() for v in t["p"].b]


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(np.arange(self.n, dtype=np.int64) * 3)


class TorchStream(tud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(np.arange(self.n, dtype=np.int64) * 3)


@pytest.mark.parametrize("batch_size, drop_last", [(4, False), (4, True), (None, False), (10, False)])
def test_iterable_dataset_batches_as_torch(batch_size, drop_last):
    ours = DataLoader(Stream(10), batch_size=batch_size, drop_last=drop_last)
    theirs = tud.DataLoader(TorchStream(10), batch_size=batch_size, drop_last=drop_last)
    assert [b.tolist() for b in ours] == [b.tolist() for b in theirs]
    with pytest.raises(TypeError):
        len(ours)


def test_iterable_dataset_refuses_shuffle_and_samplers():
    with pytest.raises(DataError, match="expected unspecified shuffle option"):
        DataLoader(Stream(3), shuffle=True)
    with pytest.raises(DataError, match="expected unspecified sampler option"):
        DataLoader(Stream(3), sampler=[0])
    with pytest.raises(TypeError, match="iterate over it"):
        Stream(3)[0]


def test_concat_dataset_and_add():
    a, b = TensorDataset(np.arange(3)), TensorDataset(np.arange(10, 14))
    both = a + b
    assert len(both) == 7 and [int(both[i][0]) for i in range(7)] == [0, 1, 2, 10, 11, 12, 13]
    assert int(both[-1][0]) == 13 and both.cumulative_sizes == [3, 7]
    with pytest.raises(IndexError, match="out of range"):
        both[7]
    assert [t[0].tolist() for t in DataLoader(both, batch_size=4)] == [[0, 1, 2, 10], [11, 12, 13]]


def test_a_pytorch_style_training_loop_runs_with_only_its_imports_changed():
    import chainrule as torch_  # the program's `import torch`
    import chainrule.nn as nn
    from chainrule.optim.lr_scheduler import StepLR
    from chainrule.utils.data import DataLoader as Loader
    from chainrule.utils.data import TensorDataset

    torch_.manual_seed(0)
    x = torch_.randn(64, 3)
    y = (x.sum(1) > 0).long() if hasattr(x, "long") else torch_.tensor((x.numpy().sum(1) > 0).astype(np.int64))
    model = nn.Linear(3, 2)
    optimizer = torch_.optim.SGD(model.parameters(), lr=0.5)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.5)
    losses = []
    for _ in range(3):
        for xb, yb in Loader(TensorDataset(x, y), batch_size=16, shuffle=True):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
    assert np.mean(losses[-4:]) < np.mean(losses[:4])
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0625)
