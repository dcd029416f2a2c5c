"""``chainrule.backends``: PyTorch's per-backend queries (``cr.backends.mps.is_available()``), answered for the CPU."""

from chainrule.backends import mps

__all__ = ["mps"]
