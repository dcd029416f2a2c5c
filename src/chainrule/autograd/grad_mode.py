"""Whether operations record the graph: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

_state = threading.local()


def is_grad_enabled() -> bool:
    """True when new operations record themselves for backward (the default)."""
    return getattr(_state, "enabled", True)


class set_grad_enabled(contextlib.ContextDecorator):  # noqa: N801 - PyTorch's name for a context manager
    """Context manager (and decorator) that turns graph recording on or off, restoring the previous mode on exit.

    A class rather than a generator: the engine enters one per node of every backward pass."""

    __slots__ = ("mode", "previous")

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)

    def __enter__(self) -> None:
        self.previous = getattr(_state, "enabled", True)
        _state.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _state.enabled = self.previous


def no_grad() -> contextlib.AbstractContextManager[None]:
    """Operations inside ``with cr.no_grad():`` build no graph: for evaluation and parameter updates.

    Also usable as a decorator: ``@cr.no_grad()``.
    """
    return set_grad_enabled(False)


def enable_grad() -> contextlib.AbstractContextManager[None]:
    """Turn recording back on inside a ``no_grad`` block."""
    return set_grad_enabled(True)


def inference_mode(mode: Any = True) -> Any:
    """PyTorch's ``inference_mode``: here the same as ``no_grad`` (``mode=False``: recording stays on).

    A context manager (``with cr.inference_mode():``) and a decorator, with or without the call
    (``@cr.inference_mode()``, ``@cr.inference_mode``).
    """
    if callable(mode):  # used bare as a decorator: mode is the function
        return set_grad_enabled(False)(mode)
    return set_grad_enabled(not mode)
