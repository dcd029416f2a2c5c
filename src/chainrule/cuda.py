"""``chainrule.cuda``: PyTorch's CUDA queries, answered by the device module (CuPy, see ``chainrule.backend``).

Without CuPy or a GPU, ``is_available()`` is False and ``device_count()`` 0, so ``device = "cuda" if
cr.cuda.is_available() else "cpu"`` picks the CPU; seeding calls are accepted and do nothing (random numbers are
drawn by chainrule's generator on the host, then copied to the device). Anything that needs a GPU raises
``DeviceError`` saying so.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.devices import DeviceError, as_device

__all__ = ["current_device", "device_count", "is_available", "manual_seed", "manual_seed_all", "synchronize"]


def is_available() -> bool:
    """Whether a CUDA device can hold tensors: a device module is present and sees at least one GPU."""
    return backend.device_count() > 0


def device_count() -> int:
    """How many CUDA devices there are (0 without CuPy or a GPU)."""
    return backend.device_count()


def _require(op: str) -> None:
    if not is_available():
        raise DeviceError(f"cuda.{op}: no CUDA device is available; hint: check cr.cuda.is_available() first")


def current_device() -> int:
    """The index of the current CUDA device; raises without one (as PyTorch without a GPU)."""
    _require("current_device")
    return backend.current_device()


def synchronize(device: Any = None) -> None:
    """Wait for the work queued on a CUDA device (the current one by default) to finish."""
    _require("synchronize")
    index = None if device is None else as_device("cuda.synchronize", device).index
    backend.synchronize(index)


def manual_seed(seed: int) -> None:
    """Seed the CUDA generators: chainrule draws on the host (``cr.manual_seed``), so nothing happens."""


def manual_seed_all(seed: int) -> None:
    """Seed every CUDA generator: chainrule draws on the host, so nothing happens."""
