"""Apple's Metal (MPS) backend: not available to chainrule, which computes on the CPU with NumPy."""

from __future__ import annotations

__all__ = ["is_available", "is_built"]


def is_available() -> bool:
    """Whether MPS can hold tensors: no."""
    return False


def is_built() -> bool:
    """Whether this build supports MPS: no."""
    return False
