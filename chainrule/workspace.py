"""Scratch buffers that kernels reuse from call to call instead of allocating afresh.

A large NumPy array is memory the C library maps from the system and gives back when the array dies; the next
array of that size maps it again and takes a page fault on every 4 KiB page it first writes. Kernels that build
a big temporary every step (im2col's column buffer, the GEMM's output, col2im's image buffer) therefore ask for
a named scratch buffer here: the same memory, already mapped and often still in cache, every call.

Rules for callers: a buffer is valid until the next request for the same name, so use one name per live
temporary and never return a scratch array to the user (copy out of it). Buffers are per thread, NumPy only
(CuPy has its own memory pool), and at most ``MAX_BYTES`` each; larger requests get a fresh array.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from chainrule import backend

__all__ = ["scratch"]

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
