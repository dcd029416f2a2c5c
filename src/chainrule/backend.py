"""Which array library runs the numbers.

Ops never import NumPy directly for their arithmetic: they ask this module for the array module that owns
their inputs (``get_array_module``), so a device array is computed by the device module and a NumPy array by
NumPy without a line of op code changing.

The *device module* is the array library of the "cuda" device: CuPy when it is installed (``pip install
chainrule[gpu]``), or any module with CuPy's API given to ``use_device_module`` (the test-suite's NumPy-backed
stand-in, for machines without a GPU). With none, every array is a NumPy array and "cuda" is unavailable.
Moving values between the devices (``to_device``, ``to_numpy``) is the only place host and device meet.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

try:  # CuPy is an optional extra (``pip install chainrule[gpu]``).
    import cupy as _cupy
except Exception:  # pragma: no cover - depends on the machine
    _cupy = None

_device: ModuleType | None = _cupy  # the array module of the "cuda" device, or None
_device_ndarray: type | None = None if _cupy is None else _cupy.ndarray
#: True while a device module is in use: only then can two arrays of one op live on different devices (the
#: Function call path reads this one flag, so NumPy-only programs pay nothing for the device check).
devices_in_use: bool = _cupy is not None


def use_device_module(module: ModuleType | None) -> ModuleType | None:
    """Make ``module`` (CuPy, or a module with CuPy's API) the array module of the "cuda" device; returns the
    previous one, so that a caller can restore it. ``None`` leaves only the CPU."""
    global _device, _device_ndarray, devices_in_use
    previous = _device
    _device, _device_ndarray = module, (None if module is None else module.ndarray)
    devices_in_use = module is not None
    return previous


def device_module() -> ModuleType | None:
    """The array module of the "cuda" device (CuPy), or None when there is none."""
    return _device


def get_array_module(*arrays: Any) -> ModuleType:
    """The array module (NumPy, or the device module) that owns ``arrays``; NumPy when none is a device array."""
    if _device_ndarray is not None:
        for a in arrays:
            if isinstance(a, _device_ndarray):
                return _device  # type: ignore[return-value]
    return np


def is_array(x: Any) -> bool:
    """True for an array of any supported backend."""
    return isinstance(x, np.ndarray) or (_device_ndarray is not None and isinstance(x, _device_ndarray))


def is_device_array(x: Any) -> bool:
    """True for an array of the device module (values on a GPU)."""
    return _device_ndarray is not None and isinstance(x, _device_ndarray)


def to_numpy(a: Any) -> np.ndarray:
    """A host (NumPy) copy of a device array; NumPy arrays (and other host data) as ``numpy.asarray`` gives them."""
    if _device_ndarray is not None and isinstance(a, _device_ndarray):
        return _device.asnumpy(a)  # type: ignore[union-attr]
    return np.asarray(a)


def device_of(a: Any) -> str:
    """``'cpu'`` for NumPy arrays, ``'cuda:N'`` for device arrays."""
    if _device_ndarray is not None and isinstance(a, _device_ndarray):
        return f"cuda:{a.device.id}"
    return "cpu"


def device_count() -> int:
    """How many devices the device module sees (0 without one, or when its driver reports an error)."""
    if _device is None:
        return 0
    try:
        return int(_device.cuda.runtime.getDeviceCount())
    except Exception:  # CuPy installed on a machine without a usable GPU or driver
        return 0


def current_device() -> int:
    """The index of the device module's current device."""
    return int(_device.cuda.Device().id)  # type: ignore[union-attr]


def to_device(a: Any, index: int | None) -> Any:
    """``a`` on CUDA device ``index`` (None: on the CPU), copied only when it is not there already."""
    if index is None:
        return to_numpy(a) if is_device_array(a) else a
    if is_device_array(a) and a.device.id == index:
        return a
    with _device.cuda.Device(index):  # type: ignore[union-attr]
        return _device.array(a)  # type: ignore[union-attr]  # a copy: host → device, or device → device


def synchronize(index: int | None = None) -> None:
    """Wait until the work queued on device ``index`` (the current one when None) has finished."""
    _device.cuda.Device(index).synchronize()  # type: ignore[union-attr]
