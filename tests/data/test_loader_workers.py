"""DataLoader(num_workers > 0): worker processes that really run in parallel, give the batches of
num_workers=0 in the same order, are seeded as PyTorch's, report errors by worker and index, and stop cleanly."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    DataLoader,
    DataLoaderError,
    Dataset,
    IterableDataset,
    TensorDataset,
    default_collate,
    get_worker_info,
    transforms,
)
from chainrule.data.dataset import ImageDataset

pytestmark = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="these data sets live in the test module: workers are forked")


class Samples(Dataset):
    """Not batchable: sample i is (float array, int, str, dict)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full((2,), i, np.float32), i, f"s{i}", {"sq": np.int32(i * i)}


def _flatten(batch):
    if isinstance(batch, cr.Tensor):
        return [(str(batch.dtype), batch.numpy().tolist())]
    if isinstance(batch, dict):
        return [item for key in sorted(batch) for item in [key, *_flatten(batch[key])]]
    if isinstance(batch, (tuple, list)):
        return [type(batch).__name__] + [item for b in batch for item in _flatten(b)]
    if isinstance(batch, np.ndarray):
        return [("array", batch.tolist())]
    return [batch]


def _epochs(loader, count=2):
    return [[_flatten(b) for b in loader] for _ in range(count)]


def _images():
    rng = np.random.default_rng(0)
    ds = ImageDataset(rng.integers(0, 256, (23, 4, 5), dtype=np.uint8), rng.integers(0, 10, 23))
    ds.transform = transforms.Normalize(0.5, 0.25)
    return ds


CASES = {
    "plain, shuffled": lambda: (Samples(17), {"batch_size": 4, "shuffle": True}),
    "fast path": lambda: (TensorDataset(np.arange(30.0).reshape(15, 2), np.arange(15)),
                          {"batch_size": 4, "shuffle": True, "drop_last": True}),
    "image fast path": lambda: (_images(), {"batch_size": 5, "shuffle": True}),
    "collate_fn": lambda: (Samples(9), {"batch_size": 2, "collate_fn": lambda s: np.array([x[1] for x in s])}),
    "no batching": lambda: (Samples(5), {"batch_size": None, "shuffle": True}),
    "batch_sampler": lambda: (Samples(8), {"batch_sampler": [[7, 1], [0], [3, 4, 5]]}),
    "default_collate given": lambda: (TensorDataset(np.arange(12)), {"batch_size": 5, "collate_fn": default_collate}),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("num_workers", [1, 3])
def test_workers_give_the_batches_of_one_process_in_order(case, num_workers):
    dataset, kwargs = CASES[case]()
    one = DataLoader(dataset, generator=np.random.default_rng(5), **kwargs)
    many = DataLoader(dataset, generator=np.random.default_rng(5), num_workers=num_workers, **kwargs)
    assert len(one) == len(many)
    expected, got = _epochs(one), _epochs(many)
    assert got == expected and len(got[0]) == len(one)


class Meeting(Dataset):
    """Every sample waits at a barrier for the other worker: loading only finishes if two run at once."""

    def __init__(self, barrier):
        self.barrier = barrier

    def __len__(self):
        return 4

    def __getitem__(self, i):
        self.barrier.wait(timeout=30)
        return np.int64(os.getpid())


def test_workers_really_load_in_parallel():
    barrier = multiprocessing.get_context("fork").Barrier(2)
    pids = [int(b) for b in DataLoader(Meeting(barrier), batch_size=1, num_workers=2)]
    assert len(set(pids)) == 2 and os.getpid() not in pids
    assert pids[0::2] == [pids[0]] * 2 and pids[1::2] == [pids[1]] * 2  # batches dealt round-robin


class Seeds(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        info = get_worker_info()
        return (info.id, info.num_workers, info.seed, np.float64(cr.default_generator().random()),
                np.float64(random.random()), np.float64(np.random.random()), getattr(info.dataset, "tag", -1))


def _seed_rows(loader):
    return [tuple(v.item() for v in row) for batch in loader for row in zip(*[t.numpy() for t in batch])]


def test_workers_are_seeded_as_torch():
    assert get_worker_info() is None  # in the main process
    loader = DataLoader(Seeds(), batch_size=1, num_workers=2, generator=np.random.default_rng(11))
    first, second = _seed_rows(loader), _seed_rows(loader)
    ids, counts, seeds = [r[0] for r in first], {r[1] for r in first}, [int(r[2]) for r in first]
    assert ids == [0, 1, 0, 1] and counts == {2}
    assert seeds[1] == seeds[0] + 1 and seeds[2] == seeds[0] and seeds[3] == seeds[1]  # base_seed + worker id
    for worker_first in first[:2]:  # each worker's first draws come from generators seeded with its seed
        seed = int(worker_first[2])
        assert worker_first[3] == np.random.default_rng(seed).random()
        assert worker_first[4] == random.Random(seed).random()
    assert first[0][5] != first[1][5]  # numpy's global state differs between workers
    assert int(second[0][2]) != seeds[0]  # a new base seed every epoch
    again = DataLoader(Seeds(), batch_size=1, num_workers=2, generator=np.random.default_rng(11))
    assert _seed_rows(again) == first  # the same generator gives the same seeds


def test_base_seed_leaves_the_shuffle_stream_alone():
    rng_a, rng_b = np.random.default_rng(4), np.random.default_rng(4)
    list(DataLoader(TensorDataset(np.arange(6)), shuffle=True, num_workers=2, generator=rng_a))
    list(DataLoader(TensorDataset(np.arange(6)), shuffle=True, generator=rng_b))
    assert rng_a.random() == rng_b.random()


def _tag(worker_id):
    get_worker_info().dataset.tag = 100 + worker_id


def test_worker_init_fn_runs_in_each_worker_after_seeding():
    rows = _seed_rows(DataLoader(Seeds(), batch_size=2, num_workers=2, worker_init_fn=_tag))
    assert [r[6] for r in rows] == [100, 100, 101, 101]
    assert not hasattr(Seeds(), "tag")  # the main process's data set is untouched


class Failing(Dataset):
    def __init__(self, error):
        self.error = error

    def __len__(self):
        return 12

    def __getitem__(self, i):
        if i == 7:
            raise self.error
        return i


def test_an_error_in_a_worker_names_the_worker_and_the_index():
    loader = DataLoader(Failing(ValueError("pixel 3 is\nbroken")), batch_size=2, num_workers=2)
    seen = []
    with pytest.raises(ValueError) as info:
        for batch in loader:
            seen.append(batch.tolist())
    message = str(info.value)
    assert seen == [[0, 1], [2, 3], [4, 5]]  # the batches before the failing one arrive first
    assert message.startswith("DataLoader worker 1 (pid ") and "failed at sample index 7: ValueError: pixel 3 is " \
        "broken" in message
    assert "\n" not in message and "in __getitem__" in info.value.__notes__[0]  # the worker's traceback as a note
    assert multiprocessing.active_children() == []


def test_error_types_are_kept_when_they_can_be_rebuilt():
    class LocalError(Exception):
        pass

    with pytest.raises(KeyError, match="no such key"):
        list(DataLoader(Failing(KeyError("no such key")), batch_size=4, num_workers=1))
    with pytest.raises(RuntimeError, match="LocalError: odd"):
        list(DataLoader(Failing(LocalError("odd")), batch_size=4, num_workers=1))
    with pytest.raises(ZeroDivisionError, match="in worker_init_fn: ZeroDivisionError"):
        list(DataLoader(Samples(3), num_workers=1, worker_init_fn=lambda i: 1 / 0))


class Dying(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 3:
            os._exit(3)
        return i


def test_a_dead_worker_is_reported():
    with pytest.raises(DataLoaderError, match=r"DataLoader worker 1 \(pid \d+\) exited unexpectedly with exit code 3"):
        list(DataLoader(Dying(), batch_size=1, num_workers=2))
    assert multiprocessing.active_children() == []


class Stuck(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        threading.Event().wait(60)
        return i


def test_timeout():
    with pytest.raises(DataLoaderError, match=r"timed out after 0.2 seconds waiting for worker 0"):
        list(DataLoader(Stuck(), num_workers=1, timeout=0.2))
    assert multiprocessing.active_children() == []


def test_leaving_the_loop_early_stops_the_workers():
    loader = DataLoader(TensorDataset(np.arange(100)), batch_size=3, num_workers=3, shuffle=True)
    for i, _ in enumerate(loader):
        if i == 2:
            break
    assert multiprocessing.active_children() == []
    with pytest.raises(ZeroDivisionError):  # the loop's body fails
        for _ in loader:
            raise ZeroDivisionError("in the training step")
    assert multiprocessing.active_children() == []


def test_persistent_workers_are_reused_across_epochs():
    dataset = Seeds()
    loader = DataLoader(dataset, batch_size=1, num_workers=2, persistent_workers=True,
                        generator=np.random.default_rng(2))
    first = _seed_rows(loader)
    workers = sorted(p.pid for p in multiprocessing.active_children())
    for i, _ in enumerate(loader):  # an epoch left early: the next one must start clean
        if i == 0:
            break
    second = _seed_rows(loader)
    assert sorted(p.pid for p in multiprocessing.active_children()) == workers and len(workers) == 2
    assert [r[2] for r in second] == [r[2] for r in first]  # seeded once, when they started
    assert [r[0] for r in second] == [0, 1, 0, 1]
    loader._pool.shutdown()
    assert multiprocessing.active_children() == []


class Shards(IterableDataset):
    """Worker w of k yields its own share of range(n): the items i with i % k == w."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        wid, count = (0, 1) if info is None else (info.id, info.num_workers)
        return iter([np.int64(i) for i in range(wid, self.n, count)])


def test_iterable_dataset_with_workers_interleaves_as_torch():
    torch = pytest.importorskip("torch")

    class TorchShards(torch.utils.data.IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            return iter([np.int64(i) for i in range(info.id, self.n, info.num_workers)])

    for n, batch_size in ((11, 2), (5, 3)):
        ours = [b.tolist() for b in DataLoader(Shards(n), batch_size=batch_size, num_workers=2)]
        theirs = [b.tolist() for b in torch.utils.data.DataLoader(TorchShards(n), batch_size=batch_size,
                                                                  num_workers=2)]
        assert ours == theirs
        assert sorted(i for b in ours for i in b) == list(range(n))


def test_persistent_workers_restart_their_streams_every_epoch():
    loader = DataLoader(Shards(7), batch_size=2, num_workers=2, persistent_workers=True)
    epochs = [[b.tolist() for b in loader] for _ in range(2)]
    assert epochs[0] == epochs[1] == [[0, 2], [1, 3], [4, 6], [5]]
    loader._pool.shutdown()


def test_spawned_workers_give_the_same_batches():
    dataset = TensorDataset(np.arange(10.0), np.arange(10))
    spawned = DataLoader(dataset, batch_size=4, num_workers=1, multiprocessing_context="spawn")
    assert _epochs(spawned, 1) == _epochs(DataLoader(dataset, batch_size=4), 1)


CTRL_C = """
import json, multiprocessing, os, signal, sys, time
import numpy as np
from chainrule.data import DataLoader, Dataset

class Slow(Dataset):
    def __len__(self):
        return 1000
    def __getitem__(self, i):
        time.sleep(0.05)
        return i

pids = []
try:
    for i, batch in enumerate(DataLoader(Slow(), batch_size=2, num_workers=2)):
        if i == 0:
            pids = [p.pid for p in multiprocessing.active_children()]
            os.killpg(os.getpgid(0), signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
            time.sleep(5)
except KeyboardInterrupt:
    print(json.dumps({"interrupted": True, "workers": len(pids),
                      "left": [p.pid for p in multiprocessing.active_children()]}))
"""


def test_ctrl_c_stops_the_workers():
    env = {**os.environ, "PYTHONPATH": str(Path(cr.__file__).parents[1])}
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(CTRL_C)], capture_output=True, text=True, timeout=60,
                         env=env, start_new_session=True)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"interrupted": True, "workers": 2, "left": []}
    assert "Traceback" not in run.stderr  # workers leave Ctrl-C to the main process and exit quietly
