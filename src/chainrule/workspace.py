"""Scratch buffers that kernels reuse from call to call instead of allocating afresh.

A large NumPy array is memory the C library maps from the system and gives back when the array dies; the next
array of that size maps it again and takes a page fault on every 4 KiB page it first writes. Kernels that build
a big temporary every step (im2col's column buffer, the GEMM's output, col2im's image buffer) therefore ask for
a named scratch buffer here: the same memory, already mapped and often still in cache, every call.

Rules for callers: a buffer is valid until the next request for the same name, so use one name per live
temporary and never return a scratch array to the user (copy out of it). Buffers are per thread, NumPy only
(CuPy has its own memory pool), and at most ``MAX_BYTES`` each; larger requests get a fresh array.

Every other array (an op's output, a gradient) is fresh, so ``keep_freed_memory`` asks the C library to reuse
freed memory instead of handing it back to the system: see there. Importing chainrule does not call it (a
library changes no process-wide setting by being imported); the training loop (``chainrule train``) and the
benchmarks do, and ``CHAINRULE_MALLOC=keep`` in the environment makes ``import chainrule`` do it.
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import threading
from typing import Any

import numpy as np

from chainrule import backend

__all__ = ["keep_freed_memory", "scratch"]

MAX_BYTES = 64 << 20

_local = threading.local()


def scratch(name: str, shape: tuple[int, ...], dtype: Any, like: Any, zero: bool = False) -> Any:
    """An uninitialised (or, with ``zero``, zeroed) array of ``shape`` and ``dtype`` in the scratch buffer
    ``name``, on the backend of the array ``like``."""
    xp = backend.get_array_module(like)
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if xp is not np or nbytes > MAX_BYTES:
        return (xp.zeros if zero else xp.empty)(shape, dtype=dtype)
    buffers = _local.__dict__.setdefault("buffers", {})
    buf = buffers.get(name)
    if buf is None or buf.nbytes < nbytes:
        buf = buffers[name] = np.empty(nbytes, dtype=np.uint8)
    out = buf[:nbytes].view(dtype).reshape(shape)
    if zero:
        out.fill(0)
    return out


# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 256 << 20

#: True once ``keep_freed_memory`` has changed glibc's settings in this process.
malloc_tuned = False


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep freed memory for the next allocation: blocks under 64 MiB come from the heap (not
    from a fresh mapping each time), and the heap is given back to the system only when 256 MiB of it are free.

    A training step allocates and frees the same arrays of a few MiB every step (activations, gradients). With
    glibc's defaults the freed top of the heap is returned to the system and the next step page-faults every
    4 KiB of it again: measured 1.3× the time of a LeNet-5 training step (median 38 ms against 28.5 ms per
    batch of 128). The price is that up to 256 MiB of freed memory stays with the process, so it is a choice
    for the program, not for the library: call it once before training (``chainrule train`` does), or set
    ``CHAINRULE_MALLOC=keep`` to have ``import chainrule`` call it. ``CHAINRULE_MALLOC=default`` keeps glibc's
    defaults even when it is called. Returns True when the settings were applied (Linux with glibc only).
    """
    global malloc_tuned
    if os.environ.get("CHAINRULE_MALLOC") == "default" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version"):  # glibc only: other C libraries ignore or reject these
        return False
    applied = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(M_TRIM_THRESHOLD,
                                                                                      TRIM_THRESHOLD))
    malloc_tuned = malloc_tuned or applied
    return applied
