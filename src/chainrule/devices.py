"""``chainrule.devices``: ``cr.device``, where a tensor's numbers live, with PyTorch's names (``cr.device("cpu")``).

A tensor on the CPU holds a NumPy array; one on "cuda:N" holds an array of the device module (CuPy, see
``chainrule.backend``) on device N. ``device("cuda")`` can always be built and compared (so a program that writes
``device = cr.device("cuda" if cr.cuda.is_available() else "cpu")`` runs unchanged); asking to put numbers on it
without a device module or a GPU raises ``DeviceError`` saying so and how to go on.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.errors import ArgumentError, ArgumentTypeError, ChainruleError

__all__ = ["DeviceError", "as_device", "check_available", "check_same_device", "device", "move"]

#: The device types a device string may name (PyTorch's common ones); "cpu" and "cuda" can hold tensors.
DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "meta")
_SPEC = re.compile(r"([a-z]+)(?::(\d+))?")


class DeviceError(ChainruleError, RuntimeError):
    """A tensor or module was asked onto a device this machine does not have (CUDA without a GPU)."""


class device:  # noqa: N801 - PyTorch's name: cr.device("cpu")
    """A device: ``type`` ('cpu', 'cuda', ...) and ``index`` (an int, or None for "the current one").

    ``device("cpu")``, ``device("cuda:1")``, ``device("cuda", 1)`` and ``device(other_device)`` as in PyTorch;
    ``str`` gives ``'cuda:1'``, ``repr`` ``device(type='cuda', index=1)``. Two devices are equal when type and
    index are (``device("cpu") != device("cpu:0")``, and a device never equals a string), as in PyTorch.
    """

    __slots__ = ("_type", "_index")

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002 - PyTorch's name
        if isinstance(type, device):
            if index is not None:
                raise ArgumentError(f"device: an index ({index}) cannot be given with a device ({type}); hint: "
                                    f"device('{type.type}:{index}')")
            self._type, self._index = type.type, type.index
            return
        if isinstance(type, (int, np.integer)) and not isinstance(type, (bool, np.bool_)) and index is None:
            self._type, self._index = "cuda", _check_index(int(type))  # device(0) is cuda:0, as in PyTorch
            return
        if not isinstance(type, str):
            raise ArgumentTypeError(
                f"device: expected a device string such as 'cpu' or 'cuda:0' (or a device), got "
                f"{builtins.type(type).__name__} {type!r}; hint: cr.device('cpu')"
            )
        match = _SPEC.fullmatch(type.strip())
        if match is None or match.group(1) not in DEVICE_TYPES:
            raise ArgumentError(
                f"device: invalid device string {type!r}; expected one of {', '.join(DEVICE_TYPES)}, optionally "
                f"followed by ':index' (e.g. 'cpu' or 'cuda:0')"
            )
        if match.group(2) is not None and index is not None:
            raise ArgumentError(f"device: the string {type!r} already has an index; do not pass index={index} too")
        self._type = match.group(1)
        self._index = int(match.group(2)) if match.group(2) is not None else _check_index(index)

    @property
    def type(self) -> str:  # noqa: A003 - PyTorch's name
        return self._type

    @property
    def index(self) -> int | None:
        return self._index

    def __str__(self) -> str:
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self) -> str:
        if self._index is None:
            return f"device(type='{self._type}')"
        return f"device(type='{self._type}', index={self._index})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, device):
            return NotImplemented
        return (self._type, self._index) == (other._type, other._index)

    def __hash__(self) -> int:
        return hash((self._type, self._index))

    def __reduce__(self) -> tuple[Any, ...]:
        return (device, (str(self),))


def _check_index(index: Any) -> int | None:
    if index is None:
        return None
    if isinstance(index, bool) or not isinstance(index, int):
        raise ArgumentTypeError(f"device: argument 'index' must be an int or None, got {index!r}")
    if index < 0:
        raise ArgumentError(f"device: argument 'index' must be ≥ 0, got {index}")
    return index


CPU = device("cpu")


def as_device(op: str, value: Any) -> device:
    """A ``device=`` argument (a device, a string such as 'cpu' or 'cuda:0', or None for the CPU) as a device.

    An int means a CUDA device index, as in PyTorch.
    """
    if value is None:
        return CPU
    if isinstance(value, device):
        return value
    if isinstance(value, str):
        try:
            return device(value)
        except (ArgumentError, ArgumentTypeError) as e:
            raise ArgumentError(f"{op}: {e}") from None
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        value = int(value)
        if value < 0:
            raise ArgumentError(f"{op}: a device index must be ≥ 0, got {value}; hint: device='cpu'")
        return device("cuda", value)
    raise ArgumentTypeError(
        f"{op}: argument 'device' must be a device, a string such as 'cpu', or None, got {type(value).__name__} "
        f"{value!r}; hint: device='cpu'"
    )


def check_available(op: str, value: Any) -> device:
    """``value`` as a device that can hold tensors here, with its index filled in for CUDA (``'cuda'`` is the
    current device, ``cuda:0`` unless changed), or ``DeviceError`` saying why not."""
    dev = as_device(op, value)
    if dev.type == "cpu":
        if dev.index not in (None, 0):
            raise DeviceError(f"{op}: there is one CPU device, cpu (or cpu:0); got {dev}; hint: device='cpu'")
        return CPU
    if dev.type == "cuda":
        count = backend.device_count()
        if count == 0:
            raise DeviceError(
                f"{op}: no CUDA device is available (cr.cuda.is_available() is False), so nothing can be placed on "
                f"{dev}; hint: pick the device with device = 'cuda' if cr.cuda.is_available() else 'cpu' (a GPU "
                f"needs CuPy: pip install 'chainrule[gpu]')"
            )
        index = backend.current_device() if dev.index is None else dev.index
        if index >= count:
            raise DeviceError(f"{op}: there is no CUDA device {index}: this machine has {count} (cuda:0 to "
                              f"cuda:{count - 1}); hint: pick an index below {count}")
        return device("cuda", index)
    raise DeviceError(f"{op}: the {dev.type} device is not available (chainrule computes on the CPU and CUDA); "
                      f"hint: use device='cpu'")


def move(array: Any, dev: device) -> Any:
    """``array`` on ``dev`` (a device from ``check_available``): the same array when it is there already, else
    a copy on that device."""
    return backend.to_device(array, None if dev.type == "cpu" else dev.index)


def check_same_device(op: str, arrays: Sequence[Any]) -> None:
    """Refuse (``DeviceError`` naming both devices) the arrays of one op when they live on different devices."""
    first = backend.device_of(arrays[0])
    for a in arrays[1:]:
        where = backend.device_of(a)
        if where != first:
            raise DeviceError(
                f"{op}: expected all tensors to be on the same device, but found at least two devices, {first} and "
                f"{where}; hint: move them to one device first, e.g. other.to(x.device)"
            )
