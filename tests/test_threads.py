"""Work split across threads (``chainrule.threads``): order kept, the setting's checks, and the fallbacks (no
threadpoolctl, one thread, a split inside a split). Batch norm's channel split is held to one thread bit for bit in
tests/ops/test_normalization.py."""

import pytest

import chainrule as cr
from chainrule import threads


@pytest.fixture
def restore_threads():
    before = threads.get_num_threads()
    yield
    threads.set_num_threads(before)


def test_split_keeps_order_and_runs_on_threads(restore_threads):
    threads.set_num_threads(2)
    if threads._controller() is None:
        pytest.skip("threadpoolctl is not installed: work runs on the calling thread")
    import threading

    names = threads.split(lambda i: (i * i, threading.current_thread().name), list(range(20)))
    assert [v for v, _ in names] == [i * i for i in range(20)]
    assert all(name.startswith("chainrule") for _, name in names)


def test_split_inside_a_split_runs_inline(restore_threads):
    """Work that itself splits (an op called from a split chunk) runs its items on its own thread instead of
    waiting for the pool it occupies (which would deadlock with every pool thread busy)."""
    threads.set_num_threads(2)
    outer = threads.split(lambda i: threads.split(lambda j: 10 * i + j, [0, 1, 2]), [0, 1, 2, 3])
    assert outer == [[10 * i + j for j in range(3)] for i in range(4)]


def test_without_threadpoolctl_or_with_one_thread_work_runs_in_order(monkeypatch, restore_threads):
    import threading

    main = threading.current_thread().name
    threads.set_num_threads(4)
    monkeypatch.setitem(threads._state, "controller", False)  # as without threadpoolctl
    assert threads.split(lambda i: (i, threading.current_thread().name), [1, 2]) == [(1, main), (2, main)]
    monkeypatch.undo()
    threads.set_num_threads(1)
    assert threads.split(lambda i: (i, threading.current_thread().name), [1, 2]) == [(1, main), (2, main)]


def test_an_error_in_a_chunk_reaches_the_caller(restore_threads):
    threads.set_num_threads(2)

    def work(i):
        if i == 3:
            raise ValueError("chunk 3")
        return i

    with pytest.raises(ValueError, match="chunk 3"):
        threads.split(work, list(range(6)))


def test_num_threads_setting_and_its_checks(monkeypatch, restore_threads):
    threads.set_num_threads(3)
    assert cr.get_num_threads() == 3
    cr.set_num_threads(1)
    assert threads.get_num_threads() == 1
    for bad, error in ((0, cr.errors.ArgumentError), (-2, cr.errors.ArgumentError), (2.0, TypeError),
                       (True, TypeError), ("2", TypeError)):
        with pytest.raises(error, match=r"set_num_threads: num must be a positive int"):
            cr.set_num_threads(bad)
    assert cr.get_num_threads() == 1


@pytest.mark.parametrize("env, expected", [({"CHAINRULE_NUM_THREADS": "3", "OMP_NUM_THREADS": "2"}, 3),
                                           ({"OMP_NUM_THREADS": "2"}, 2), ({"CHAINRULE_NUM_THREADS": "x"}, None)])
def test_default_thread_count_reads_the_environment(env, expected, monkeypatch):
    for name in ("CHAINRULE_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    cores = len(__import__("os").sched_getaffinity(0))
    assert threads._default_threads() == (expected if expected is not None else cores)
