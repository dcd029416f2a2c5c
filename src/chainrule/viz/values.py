"""Numbers and arrays as short text: exact for small values, a summary (shape, norm, min/max, zeros) for big ones.

Everything the tables, the DOT files and the SVG pictures print goes through ``fmt_value``, so a value reads
the same everywhere.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import backend

MAX_SHOWN = 6  # arrays with more elements are summarized rather than printed
DIGITS = 6  # significant digits of a printed number


def to_numpy(value: Any) -> np.ndarray | None:
    """A NumPy array for a Tensor, an array or a number (None stays None)."""
    if value is None:
        return None
    data = getattr(value, "data", value)
    if backend.is_array(data):
        return backend.to_numpy(data)
    return np.asarray(data)


def plain(value: Any) -> Any:
    """The value for a plain structure: a Python float for a one-element 0-d array, else a NumPy array copy."""
    array = to_numpy(value)
    if array is None:
        return None
    if array.ndim == 0:
        return array.item()
    return array.copy()


def fmt_number(x: Any, digits: int = DIGITS) -> str:
    """``x`` with up to ``digits`` significant digits: -12, 0.196612, 1e+20, nan, inf."""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    v = float(x)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.{digits}g}"


def summary(array: np.ndarray, digits: int = 3) -> str:
    """shape, norm, min/max and the fraction of zeros: what a big tensor shows instead of its values."""
    a = np.asarray(array)
    return f"shape {tuple(a.shape)}, {statistics(a, digits)}"


def statistics(array: np.ndarray, digits: int = 3) -> str:
    """norm, min, max and the fraction of zeros of an array (its summary without the shape)."""
    a = np.asarray(array)
    if a.size == 0:
        return "empty"
    if a.dtype.kind not in "fiub":
        return f"dtype {a.dtype}"
    with np.errstate(all="ignore"):
        f = a.astype(np.float64)
        norm = float(np.sqrt(np.sum(f * f)))
        zeros = float(np.mean(f == 0))
        low, high = float(np.min(f)), float(np.max(f))
    return (
        f"norm {fmt_number(norm, digits)}, min {fmt_number(low, digits)}, max {fmt_number(high, digits)}, "
        f"{fmt_number(100 * zeros, digits)}% zeros"
    )


def fmt_value(value: Any, max_shown: int = MAX_SHOWN, digits: int = DIGITS) -> str:
    """A scalar as a number, a small array as nested brackets, a big one as its ``summary``; None as '—'."""
    a = to_numpy(value)
    if a is None:
        return "—"
    if a.ndim == 0:
        return fmt_number(a.item(), digits)
    if a.size > max_shown:
        return summary(a)
    return _nested(a.tolist(), digits)


def _nested(items: Any, digits: int) -> str:
    if isinstance(items, list):
        return "[" + ", ".join(_nested(i, digits) for i in items) + "]"
    return fmt_number(items, digits)


_SUBSCRIPT_DIGITS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")


def is_compound(name: str) -> bool:
    """True when a name is an expression (``x + y``) that needs brackets inside a formula (``fc.weight`` and
    ``W[0]`` do not)."""
    simple = name.replace(".", "_").replace("[", "_").replace("]", "_").replace(",", "_")
    simple = simple.translate(_SUBSCRIPT_DIGITS)  # automatic names such as matmul₁ are names, not expressions
    return not (simple.isidentifier() or ("_" + simple).isidentifier() or _is_number(name) or _is_call(name))


def _is_call(name: str) -> bool:
    """``exp(-s)`` or ``max(x, y)``: a function applied to one bracketed group."""
    head, bracket, _ = name.partition("(")
    if not bracket or not head.isidentifier() or not name.endswith(")"):
        return False
    depth = 0
    for k, ch in enumerate(name[len(head):]):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and k < len(name) - len(head) - 1:
            return False  # the first group closes before the end: exp(a) + exp(b)
    return depth == 0


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return not text.startswith("-")


def wrap(name: str) -> str:
    """``name`` bracketed when it is an expression, so that ``z·(x + y)`` reads right."""
    return f"({name})" if is_compound(name) else name
