"""``chainrule.accelerator``: PyTorch 2.x's accelerator queries. The one accelerator chainrule knows is CUDA (through
CuPy); without it ``is_available()`` is False and ``current_accelerator()`` None, as PyTorch answers on such a
machine.
"""

from __future__ import annotations

from chainrule import cuda
from chainrule.devices import device

__all__ = ["current_accelerator", "device_count", "is_available"]


def is_available() -> bool:
    """Whether an accelerator (CUDA) is available."""
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> device | None:
    """The accelerator device (``device(type='cuda')``), or None when there is none."""
    return device("cuda") if cuda.is_available() else None


def device_count() -> int:
    """How many accelerator devices there are."""
    return cuda.device_count()
