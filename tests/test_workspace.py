"""Scratch buffers: reused per name, per thread, and never shared between live names; freed memory kept."""

import ctypes
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

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


_FAULTS = """
import resource, sys, numpy as np, chainrule
if sys.argv[1] == "call":
    chainrule.workspace.keep_freed_memory()
arrays = [np.ones(1 << 19, np.float32) for _ in range(10)]  # ten 2 MiB arrays, as a training step's activations
del arrays
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    arrays = [np.ones(1 << 19, np.float32) for _ in range(10)]
    del arrays
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc settings")
def test_freed_memory_is_reused_once_asked_for_and_the_setting_can_be_turned_off():
    """Once keep_freed_memory has run (called, or CHAINRULE_MALLOC=keep at import), allocating and freeing the
    same 20 MiB of arrays step after step costs no new page faults. Importing chainrule alone leaves glibc's
    defaults, which hand the memory back so that every step faults it in again; so does
    CHAINRULE_MALLOC=default, even when it is called."""
    if not hasattr(ctypes.CDLL(None), "gnu_get_libc_version"):
        pytest.skip("not glibc")

    def faults(call, env):
        run = subprocess.run([sys.executable, "-c", _FAULTS, call], env={**os.environ, **env}, capture_output=True,
                             text=True, check=True)
        return int(run.stdout)

    pages = 20 * 10 * (2 << 20) // 4096  # what 20 steps touch
    unset = {"CHAINRULE_MALLOC": ""}
    called, at_import = faults("call", unset), faults("-", {"CHAINRULE_MALLOC": "keep"})
    imported, refused = faults("-", unset), faults("call", {"CHAINRULE_MALLOC": "default"})
    assert called < pages // 50 and at_import < pages // 50, (called, at_import)
    assert imported > pages // 2 and refused > pages // 2, (imported, refused)
    assert workspace.keep_freed_memory() is True
    assert workspace.malloc_tuned is True
