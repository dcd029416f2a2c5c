"""Ops that split their batch across threads (``chainrule.threads``): the same bits as on one thread, the
setting's checks, and the fallbacks (no threadpoolctl, one thread, a split inside a split)."""

import numpy as np
import pytest
from helpers import rng

import chainrule as cr
import chainrule.nn.functional as F
import chainrule.ops.conv_layout as layout
from chainrule import threads


@pytest.fixture
def restore_threads():
    before = threads.get_num_threads()
    yield
    threads.set_num_threads(before)


def _conv_step(x, w, b, stride, padding):
    """Output and the three gradients of sum(conv2d(x, w, b) · r) on the training route (fast backward)."""
    xs = [cr.Tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.conv2d(*xs, stride=stride, padding=padding)
    weights = cr.Tensor(rng(5).standard_normal(y.shape).astype(y.dtype))
    (y * weights).sum().backward()
    return [y.numpy().copy()] + [t.grad.numpy().copy() for t in xs]


@pytest.mark.parametrize("stride, padding, dtype", [(1, 1, np.float32), (2, 1, np.float32), (1, 0, np.float64)])
def test_split_convolution_equals_one_thread_bit_for_bit(stride, padding, dtype, monkeypatch, restore_threads):
    """A convolution whose chunks are worth splitting (32 filters, 16·3·3 = 144-long receptive fields), cut into
    chunks of one image: forward, ∂L/∂X, ∂L/∂W, ∂L/∂b on 2 and 3 threads equal those on one thread exactly."""
    monkeypatch.setattr(layout, "COL_BYTES", 1)
    r = rng(3)
    x = r.standard_normal((5, 16, 9, 8)).astype(dtype)
    w = (r.standard_normal((32, 16, 3, 3)) * 0.1).astype(dtype)
    b = r.standard_normal(32).astype(dtype)
    g = layout.ConvGeometry(5, 16, 9, 8, 32, 3, 3, (stride, stride), (1, 1), (padding,) * 4, 1)
    assert layout.split_worthwhile(g, layout.batch_chunks(g, np.dtype(dtype).itemsize))
    threads.set_num_threads(1)
    one = _conv_step(x, w, b, stride, padding)
    for count in (2, 3):
        threads.set_num_threads(count)
        for a, e in zip(_conv_step(x, w, b, stride, padding), one):
            assert a.dtype == dtype
            np.testing.assert_array_equal(a, e)


def test_thin_convolutions_stay_on_one_thread():
    """LeNet's layers (6 and 16 filters) and a 32←1 3×3 layer (9-long receptive fields) are not split."""
    for g in (layout.ConvGeometry(128, 1, 28, 28, 6, 5, 5, (1, 1), (1, 1), (2,) * 4, 1),
              layout.ConvGeometry(128, 6, 14, 14, 16, 5, 5, (1, 1), (1, 1), (0,) * 4, 1),
              layout.ConvGeometry(128, 1, 28, 28, 32, 3, 3, (1, 1), (1, 1), (1,) * 4, 1)):
        assert not layout.split_worthwhile(g, layout.batch_chunks(g, 4))
    big = layout.ConvGeometry(64, 64, 32, 32, 64, 3, 3, (1, 1), (1, 1), (1,) * 4, 1)
    assert layout.split_worthwhile(big, layout.batch_chunks(big, 4))


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
