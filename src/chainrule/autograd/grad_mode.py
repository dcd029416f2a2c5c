"""Whether operations record the graph: ``no_grad``, ``enable_grad``, ``set_grad_enabled``."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

_state = threading.local()


def is_grad_enabled() -> bool:
    """True when new operations record themselves for backward (the default)."""
    return getattr(_state, "enabled", True)


@contextlib.contextmanager
def set_grad_enabled(mode: bool) -> Iterator[None]:
    """Context manager that turns graph recording on or off, restoring the previous mode on exit."""
    previous = is_grad_enabled()
    _state.enabled = bool(mode)
    try:
        yield
    finally:
        _state.enabled = previous


def no_grad() -> contextlib.AbstractContextManager[None]:
    """Operations inside ``with cr.no_grad():`` build no graph: for evaluation and parameter updates.

    Also usable as a decorator: ``@cr.no_grad()``.
    """
    return set_grad_enabled(False)


def enable_grad() -> contextlib.AbstractContextManager[None]:
    """Turn recording back on inside a ``no_grad`` block."""
    return set_grad_enabled(True)
