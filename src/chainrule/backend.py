"""Which array library runs the numbers.

Ops never import NumPy directly for their arithmetic: they ask this module for the array module that owns
their inputs (``get_array_module``), so a CuPy array is computed by CuPy and a NumPy array by NumPy without a
line of op code changing. CuPy is optional; when it is not installed every array is a NumPy array.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

try:  # CuPy is an optional extra (``pip install chainrule[gpu]``).
    import cupy as _cupy
except Exception:  # pragma: no cover - depends on the machine
    _cupy = None


def get_array_module(*arrays: Any) -> ModuleType:
    """The array module (``numpy`` or ``cupy``) that owns ``arrays``; NumPy when none is a CuPy array."""
    if _cupy is not None:
        for a in arrays:
            if isinstance(a, _cupy.ndarray):
                return _cupy
    return np


def is_array(x: Any) -> bool:
    """True for an array of any supported backend."""
    return isinstance(x, np.ndarray) or (_cupy is not None and isinstance(x, _cupy.ndarray))


def to_numpy(a: Any) -> np.ndarray:
    """A host (NumPy) copy of ``a``; NumPy arrays are returned as they are."""
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return _cupy.asnumpy(a)
    return np.asarray(a)


def device_of(a: Any) -> str:
    """``'cpu'`` for NumPy arrays, ``'cuda:N'`` for CuPy arrays."""
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return f"cuda:{a.device.id}"
    return "cpu"
