"""Splitting an op's work across the cores: items run on a pool of threads, each calling BLAS on one thread.

Batch norm's compiled passes run one channel at a time and release the GIL, so the channels of a large input are
split across threads (``chainrule.ops.normalization``). Work that calls BLAS runs with BLAS limited to one thread
for the length of the split, so that two pools of threads do not fight over the cores.

Convolutions do not split their batch chunks. Measured in isolation, a split was 1.2–1.45× faster for 3×3 layers
of 32–64 channels, but a CompactCNN training step that split them took 255–271 ms against 227–235 ms without,
back to back; LeNet's thin layers were 1.2–1.5× slower split.

The limit on BLAS's threads needs ``threadpoolctl`` (in the ``fast`` extra: ``pip install "chainrule[fast]"``);
without it, items run one after another. ``set_num_threads(1)`` or ``CHAINRULE_NUM_THREADS=1`` does the same.
While a split runs, BLAS is limited to one thread for the whole process, then restored.

Results do not depend on the split: each item computes exactly what it computes on one thread (tests: equal bit for
bit).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from chainrule.errors import ArgumentError, ArgumentTypeError

__all__ = ["get_num_threads", "set_num_threads", "split"]

T = TypeVar("T")
R = TypeVar("R")

_lock = threading.Lock()
_state: dict[str, Any] = {"threads": None, "pool": None, "controller": None}


def _default_threads() -> int:
    """CHAINRULE_NUM_THREADS, else OMP_NUM_THREADS (as PyTorch reads it), else the cores this process may use."""
    for name in ("CHAINRULE_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) >= 1:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """The number of threads an op may split its batch across (PyTorch's ``torch.get_num_threads``)."""
    if _state["threads"] is None:
        _state["threads"] = _default_threads()
    return _state["threads"]


def set_num_threads(num: int) -> None:
    """Let ops split their batch across at most ``num`` threads (1: never split), as ``torch.set_num_threads``."""
    if not isinstance(num, int) or isinstance(num, bool):
        raise ArgumentTypeError(f"set_num_threads: num must be a positive int, got {type(num).__name__}")
    if num < 1:
        raise ArgumentError(f"set_num_threads: num must be a positive int, got {num}")
    with _lock:
        _state["threads"] = num
        if _state["pool"] is not None:
            _state["pool"].shutdown(wait=False)
            _state["pool"] = None


def _controller() -> Any:
    """threadpoolctl's controller of the BLAS libraries loaded (built once: it scans the process), or None."""
    if _state["controller"] is None:
        if importlib.util.find_spec("threadpoolctl") is None:
            _state["controller"] = False
        else:
            from threadpoolctl import ThreadpoolController

            _state["controller"] = ThreadpoolController()
    return _state["controller"] or None


def _pool(threads: int) -> ThreadPoolExecutor:
    with _lock:
        if _state["pool"] is None:
            _state["pool"] = ThreadPoolExecutor(threads, thread_name_prefix="chainrule")
        return _state["pool"]


@contextlib.contextmanager
def _one_blas_thread(controller: Any) -> Iterator[None]:
    with controller.limit(limits=1, user_api="blas"):
        yield


def split(work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """[work(item) for item in items], the items run on up to ``get_num_threads()`` threads when that can pay
    (more than one item and thread, threadpoolctl installed, not already inside a split), results in item order."""
    threads = min(get_num_threads(), len(items))
    controller = _controller() if threads > 1 and not getattr(_inside, "split", False) else None
    if controller is None:
        return [work(item) for item in items]
    with _one_blas_thread(controller):
        return list(_pool(threads).map(_marked(work), items))


_inside = threading.local()


def _marked(work: Callable[[T], R]) -> Callable[[T], R]:
    """``work`` flagged as running inside a split, so that an op it calls does not split again (and wait on the
    pool it is running on)."""

    def run(item: T) -> R:
        _inside.split = True
        try:
            return work(item)
        finally:
            _inside.split = False

    return run
