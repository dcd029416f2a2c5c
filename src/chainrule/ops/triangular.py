"""``tril`` and ``triu``: the lower or upper triangle of the last two dims, the rest zeroed (PyTorch's).

Y = X ⊙ T with the fixed 0/1 mask T[i, j] = [j − i ≤ k] (tril) or [j − i ≥ k] (triu), k = ``diagonal``, so
gX = gY ⊙ T: the same op on the gradient. Causal attention masks are built with them.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.errors import ShapeError
from chainrule.ops.operands import as_tensor, check_int
from chainrule.tensor import Tensor

__all__ = ["tril", "triu"]


class Triangle(Function):
    uses_inputs = False  # backward needs only which triangle

    def __init__(self, lower: bool, diagonal: int) -> None:
        self.lower, self.diagonal = lower, diagonal

    def forward(self, x):
        xp = backend.get_array_module(x)
        return (xp.tril if self.lower else xp.triu)(x, self.diagonal)

    def backward(self, gy: Tensor) -> Tensor:
        """Y = X ⊙ T (T the fixed triangle mask): gX = gY ⊙ T, the same triangle of gY."""
        return Triangle(self.lower, self.diagonal)(gy)


def _triangle(op: str, lower: bool, input: Any, diagonal: int) -> Tensor:  # noqa: A002 - PyTorch's name
    x = as_tensor(op, input, "input")
    if x.ndim < 2:
        raise ShapeError(f"{op}: input must have at least 2 dims (a matrix or a batch of them), got shape {x.shape}")
    return Triangle(lower, check_int(op, "diagonal", diagonal))(x)


def tril(input: Any, diagonal: int = 0) -> Tensor:  # noqa: A002 - PyTorch's name
    """Entries on and below the ``diagonal``-th diagonal (0: the main one; > 0 above it, < 0 below), zeros above."""
    return _triangle("tril", True, input, diagonal)


def triu(input: Any, diagonal: int = 0) -> Tensor:  # noqa: A002 - PyTorch's name
    """Entries on and above the ``diagonal``-th diagonal, zeros below."""
    return _triangle("triu", False, input, diagonal)
