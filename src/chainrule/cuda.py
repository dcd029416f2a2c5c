"""``chainrule.cuda``: PyTorch's CUDA queries, answered for a machine where chainrule computes on the CPU.

``is_available()`` is False and ``device_count()`` 0, so ``device = "cuda" if cr.cuda.is_available() else "cpu"``
picks the CPU; seeding calls are accepted and do nothing (there is no CUDA generator to seed). Anything that would
need a GPU raises ``DeviceError`` saying so.
"""

from __future__ import annotations

from chainrule.devices import DeviceError

__all__ = ["current_device", "device_count", "is_available", "manual_seed", "manual_seed_all", "synchronize"]


def is_available() -> bool:
    """Whether a CUDA device can hold tensors: never, here."""
    return False


def device_count() -> int:
    """How many CUDA devices there are: 0."""
    return 0


def current_device() -> int:
    """The index of the current CUDA device; there is none, so this raises (as PyTorch without a GPU)."""
    raise DeviceError("cuda.current_device: no CUDA device is available; hint: check cr.cuda.is_available() first")


def synchronize(device: object = None) -> None:
    """Wait for CUDA work to finish; there is none, so this raises (as PyTorch without a GPU)."""
    raise DeviceError("cuda.synchronize: no CUDA device is available; hint: check cr.cuda.is_available() first")


def manual_seed(seed: int) -> None:
    """Seed the CUDA generators: there are none, so nothing happens (PyTorch ignores it silently too)."""


def manual_seed_all(seed: int) -> None:
    """Seed every CUDA generator: there are none, so nothing happens."""
