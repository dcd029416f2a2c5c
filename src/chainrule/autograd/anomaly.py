"""Anomaly mode: stop at the first NaN or Inf, in forward or backward, and say where it came from.

Inside ``with cr.detect_anomaly():`` every Function checks its outputs, and the engine checks every gradient a
backward rule returns and every sum of gradients (a tensor used twice receives two finite gradients whose sum can
still overflow; so can adding into a leaf's ``.grad``). The first non-finite value raises ``AnomalyError`` naming
the op, the shapes and statistics of its inputs, and the line of user code that created the node (recorded at
forward time, only in this mode, since walking the stack costs time).
"""

from __future__ import annotations

import contextlib
import os
import threading
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

from chainrule import backend
from chainrule.errors import ChainruleError

_state = threading.local()
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class AnomalyError(ChainruleError, FloatingPointError):
    """A NaN or Inf appeared in a forward output or a backward gradient under ``detect_anomaly``."""


def is_anomaly_enabled() -> bool:
    """True inside ``detect_anomaly()`` in this thread: every op's outputs and gradients are checked for NaN/inf."""
    return getattr(_state, "enabled", False)


def checks_forward() -> bool:
    """True when Function calls should check their outputs: anomaly mode, outside a backward rule (whose
    result is checked as a whole, under the rule's own name)."""
    return getattr(_state, "enabled", False) and not getattr(_state, "in_backward", False)


@contextlib.contextmanager
def backward_rule() -> Iterator[None]:
    previous = getattr(_state, "in_backward", False)
    _state.in_backward = True
    try:
        yield
    finally:
        _state.in_backward = previous


@contextlib.contextmanager
def detect_anomaly(check_nan: bool = True) -> Iterator[None]:
    """Check every forward output and backward gradient for NaN/Inf while inside this block (slow: debug only)."""
    previous = is_anomaly_enabled()
    _state.enabled = bool(check_nan)
    try:
        yield
    finally:
        _state.enabled = previous


def user_frame() -> traceback.FrameSummary | None:
    """The innermost stack frame outside the chainrule package: the user's line that made the node."""
    for frame in reversed(traceback.extract_stack()[:-1]):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE + os.sep):
            return frame
    return None


def where(frame: traceback.FrameSummary | None) -> str:
    if frame is None:
        return "an unknown line"
    code = f": {frame.line.strip()}" if frame.line else ""
    return f"{frame.filename}:{frame.lineno} in {frame.name}{code}"


def _stats(array: Any) -> str:
    xp = backend.get_array_module(array)
    if array.dtype.kind not in "fc":
        return f"shape {array.shape} {array.dtype}"
    if array.size == 0:
        return f"shape {array.shape} {array.dtype}, empty"
    finite = xp.isfinite(array)
    parts = f"shape {array.shape} {array.dtype}"
    if finite.any():
        values = array[finite]
        parts += f", min {float(values.min()):.4g}, max {float(values.max()):.4g}, mean {float(values.mean()):.4g}"
    nan, inf = int(xp.isnan(array).sum()), int(xp.isinf(array).sum())
    if nan or inf:
        parts += f", {nan} NaN, {inf} Inf"
    return parts


def _bad(array: Any) -> tuple[int, int] | None:
    if array.dtype.kind not in "fc":
        return None
    xp = backend.get_array_module(array)
    if bool(xp.isfinite(array).all()):
        return None
    return int(xp.isnan(array).sum()), int(xp.isinf(array).sum())


def check_forward(name: str, inputs: Sequence[Any], outputs: Sequence[Any], frame: Any) -> None:
    """Raise if an output array holds NaN or Inf."""
    for k, out in enumerate(outputs):
        bad = _bad(out)
        if bad:
            described = "; ".join(f"#{i} {_stats(x)}" for i, x in enumerate(inputs))
            raise AnomalyError(
                f"detect_anomaly: {name} produced {bad[0]} NaN and {bad[1]} Inf in output {k} (shape {out.shape}) "
                f"during forward. Inputs: {described or 'none'}. The node was created at {where(frame)}"
            )


def check_backward(name: str, inputs: Sequence[Any], grads: Sequence[Any], frame: Any) -> None:
    """Raise if a gradient returned by a backward rule holds NaN or Inf."""
    for i, g in enumerate(grads):
        if g is None:
            continue
        bad = _bad(g)
        if bad:
            described = "; ".join(f"#{j} {_stats(x)}" for j, x in enumerate(inputs))
            raise AnomalyError(
                f"detect_anomaly: backward of {name} returned {bad[0]} NaN and {bad[1]} Inf in the gradient for "
                f"input {i} (shape {g.shape}). Inputs: {described}. The node was created at {where(frame)}"
            )


def check_sum(x: Any, a: Any, b: Any, total: Any) -> None:
    """Raise if adding two gradients of ``x`` (fan-out, or ``.grad`` accumulation) gave NaN or Inf."""
    bad = _bad(total)
    if not bad:
        return
    fn = getattr(x, "creator", None)
    if fn is None:
        what, frame = f"the leaf tensor of shape {tuple(x.shape)} (into its .grad)", None
    else:
        what, frame = f"output {x.output_index} of {fn.name}", getattr(fn, "created_at", None)
    cause = "their sum overflowed" if _bad(a) is None and _bad(b) is None else "one of them was not finite"
    raise AnomalyError(
        f"detect_anomaly: summing the gradients that reach {what} gave {bad[0]} NaN and {bad[1]} Inf "
        f"(shape {total.shape}); {cause}. Gradients: #0 {_stats(a)}; #1 {_stats(b)}. "
        + (f"The node was created at {where(frame)}" if fn is not None else "Each use of the leaf sent one of them")
    )
