"""``chainrule.accelerator``: PyTorch 2.x's accelerator queries. chainrule computes on the CPU, which is no
accelerator: ``is_available()`` is False and ``current_accelerator()`` None, as PyTorch answers on such a machine.
"""

from __future__ import annotations

from chainrule.devices import device

__all__ = ["current_accelerator", "device_count", "is_available"]


def is_available() -> bool:
    """Whether an accelerator (CUDA, MPS, ...) is available: no."""
    return False


def current_accelerator(check_available: bool = False) -> device | None:
    """The accelerator device type, or None when there is none (always, here)."""
    return None


def device_count() -> int:
    """How many accelerator devices there are: 0."""
    return 0
