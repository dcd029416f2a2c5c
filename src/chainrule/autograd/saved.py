"""Saved arrays are read-only while a graph holds them, so that nothing changes them behind the graph's back.

The version counter catches in-place writes made through a Tensor (``t.mul_(2)``, ``t[0] = 1``, ``t.data = a``),
but not a write into the array itself: ``t.numpy()[0] = 0``, or a write through a NumPy view of it. A Function whose
backward reads its inputs' (or outputs') values therefore marks their arrays read-only (``writeable = False``)
when it records itself, and makes them writable again when its backward has run or the graph is freed. A write
in between fails at once, with NumPy's "assignment destination is read-only", instead of giving a wrong
gradient later (MyGrad's rule; PyTorch does not catch such writes at all).

Bookkeeping, by the array that owns the memory (the *root*: the array itself, or the one it is a view of):

- a count of the nodes holding it, so memory saved by two nodes is released only when both are done;
- the views of it that were made read-only with it (a saved view, or a view taken while it was held), made
  writable again with it;
- memory that was read-only before (a broadcast view, a read-only buffer) is never held, so never made writable.

A NumPy view of the memory made before the graph saved it, and not saved itself, keeps its own flag: NumPy
cannot list the views of an array, so a write through such a view is not caught.

Writes that chainrule itself makes through a Tensor (its in-place methods, optimizer updates) go through
``unlocked``, which lifts the lock for the duration of the write; the Tensor's version is bumped as for any
in-place write, so a graph that saved the old values still refuses to backpropagate through them.
CuPy arrays have no read-only flag; on a GPU only the version counter guards saved values.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from chainrule.errors import BackwardError

# Reentrant: a node freed by the garbage collector releases its arrays from whatever code the collection
# interrupted, possibly code that holds this lock in the same thread.
_lock = threading.RLock()
_counts: dict[int, int] = {}  # id(root) -> how many holders it has (a holder keeps the root alive)
_views: dict[int, list[Any]] = {}  # id(root) -> [weak references to the views made read-only with it, the length
#                                    of that list at which dead references are dropped]
_ndarray = np.ndarray


def _root(a: np.ndarray) -> np.ndarray:
    # NumPy points a view's base at the array that owns the memory (never a chain of views)
    base = a.base
    return base if isinstance(base, _ndarray) else a


class Hold:
    """The memory one node holds read-only, released once: by the node's backward, or when the node is freed.

    Only a node that holds something carries one, so the cost of a finaliser (``__del__``) falls on those alone."""

    __slots__ = ("roots",)

    def __init__(self, roots: list[np.ndarray]) -> None:
        self.roots: list[np.ndarray] | None = roots

    def release(self) -> None:
        roots, self.roots = self.roots, None
        if roots:
            release(roots)

    def __del__(self) -> None:  # a graph dropped without a backward pass: its memory becomes writable again
        self.release()


def hold(arrays: Iterable[Any]) -> Hold | None:
    """Make ``arrays`` (and the memory they view) read-only for one more holder; None when there is nothing to
    hold.

    Runs for every recorded node that saves values, so it is written for speed: one lock, no calls per array."""
    held: list[np.ndarray] = []
    counts = _counts
    with _lock:
        for a in arrays:
            if not isinstance(a, _ndarray):
                continue
            base = a.base
            root = base if isinstance(base, _ndarray) else a
            key = id(root)
            n = counts.get(key)
            if n is None:
                if not root.flags.writeable or not _restorable(root):  # not ours to lock, nor to unlock
                    continue
                root.setflags(write=False)
                n = 0
            counts[key] = n + 1
            held.append(root)
            if root is not a and a.flags.writeable:  # a view made before the lock keeps its own flag
                a.setflags(write=False)
                _add_view(key, a)
    return Hold(held) if held else None


def _restorable(root: np.ndarray) -> bool:
    """Whether NumPy will let ``root`` be made writable again once locked: not when its memory belongs to a
    read-only buffer that NumPy marked writable anyway (an array unpickled from bytes, as multiprocessing hands
    them over), nor when it belongs to an object that is no buffer at all (``torch_tensor.numpy()``: NumPy
    cannot ask it). Such an array is left writable and unwatched rather than read-only for good."""
    owner = root.base
    if owner is None:
        return True
    try:
        return not memoryview(owner).readonly
    except TypeError:  # not a buffer: NumPy refuses to make such an array writable again
        return False


def _add_view(key: int, view: np.ndarray) -> None:
    # Weak references: a view nobody holds any more needs no restoring. Memory held without a break (graphs that
    # overlap step after step) collects a view per step, so dead references are dropped as the list grows.
    entry = _views.get(key)
    if entry is None:
        entry = _views[key] = [[], 64]
    refs = entry[0]
    refs.append(weakref.ref(view))
    if len(refs) >= entry[1]:
        refs[:] = [r for r in refs if r() is not None]
        entry[1] = 2 * len(refs) + 64


def release(held: list[np.ndarray]) -> None:
    """Drop one hold on each root in ``held``; memory no longer held by anyone becomes writable again."""
    counts = _counts
    with _lock:
        for root in held:
            key = id(root)
            n = counts.get(key)
            if n is None:
                continue
            if n > 1:
                counts[key] = n - 1
                continue
            del counts[key]
            root.setflags(write=True)
            entry = _views.pop(key, None)
            if entry is not None:
                for ref in entry[0]:
                    view = ref()
                    if view is not None:
                        with contextlib.suppress(ValueError):  # a view of memory made read-only by someone else since
                            view.setflags(write=True)


def adopt(a: Any) -> None:
    """``a`` is a new view whose memory is held (so NumPy made it read-only): restore it with that memory."""
    if not isinstance(a, _ndarray) or a.flags.writeable:
        return
    with _lock:
        key = id(_root(a))
        if key in _counts:
            _add_view(key, a)


@contextlib.contextmanager
def unlocked(op: str, a: Any) -> Iterator[None]:
    """Let chainrule write into ``a`` although a graph holds it read-only (the caller bumps the version).

    Refuses, with chainrule's error naming ``op``, memory that is read-only for another reason: an expanded
    tensor (several elements share one memory location, as PyTorch refuses too) or a read-only buffer.
    """
    if not isinstance(a, np.ndarray) or a.flags.writeable:
        yield
        return
    if any(stride == 0 and n > 1 for stride, n in zip(a.strides, a.shape)):
        raise BackwardError(
            f"{op}: unsupported operation: more than one element of the written-to tensor (shape {a.shape}) refers "
            f"to a single memory location, as in an expanded tensor; hint: write into a copy, t = t.clone()"
        )
    root = _root(a)
    key = id(root)
    with _lock:
        if key not in _counts:
            raise BackwardError(
                f"{op}: the tensor's memory (shape {a.shape}) is a read-only array and cannot be changed in place; "
                f"hint: write into a copy, t = t.clone()"
            )
        root.setflags(write=True)
        opened = a is not root and not a.flags.writeable
        if opened:
            a.flags.writeable = True
        try:
            yield
        finally:
            if opened:
                a.setflags(write=False)
                entry = _views.get(key)
                if entry is None or not any(r() is a for r in entry[0]):
                    _add_view(key, a)
            root.setflags(write=False)
