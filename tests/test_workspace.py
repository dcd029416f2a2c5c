"""Scratch buffers: reused per name, per thread, and never shared between live names."""

import threading

import numpy as np

from chainrule import workspace


def test_scratch_reuses_the_memory_of_a_name_and_zeroes_on_request():
    like = np.zeros(1, np.float32)
    a = workspace.scratch("test.a", (3, 4), np.float32, like)
    a[...] = 7
    b = workspace.scratch("test.a", (2, 5), np.float32, like, zero=True)
    assert b.shape == (2, 5) and b.dtype == np.float32
    assert np.shares_memory(a, b)
    np.testing.assert_array_equal(b, 0)
    c = workspace.scratch("test.c", (3, 4), np.float32, like)
    assert not np.shares_memory(a, c)


def test_scratch_grows_and_keeps_other_dtypes_aligned():
    like = np.zeros(1)
    small = workspace.scratch("test.grow", (4,), np.float32, like)
    big = workspace.scratch("test.grow", (1000,), np.float64, like, zero=True)
    assert big.shape == (1000,) and big.dtype == np.float64 and not np.shares_memory(small, big)
    assert big.ctypes.data % 8 == 0
    np.testing.assert_array_equal(big, 0)


def test_requests_above_the_cap_get_a_fresh_array(monkeypatch):
    monkeypatch.setattr(workspace, "MAX_BYTES", 64)
    like = np.zeros(1, np.float32)
    a = workspace.scratch("test.cap", (100,), np.float32, like)
    b = workspace.scratch("test.cap", (100,), np.float32, like)
    assert not np.shares_memory(a, b)


def test_each_thread_has_its_own_buffers():
    like = np.zeros(1, np.float32)
    mine = workspace.scratch("test.thread", (8,), np.float32, like)
    theirs = []
    t = threading.Thread(target=lambda: theirs.append(workspace.scratch("test.thread", (8,), np.float32, like)))
    t.start()
    t.join()
    assert not np.shares_memory(mine, theirs[0])
