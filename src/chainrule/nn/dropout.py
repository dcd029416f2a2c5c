"""``Dropout``: zero each element with probability p while training, scaling the rest by 1/(1 − p)."""

from __future__ import annotations

import numpy as np

from chainrule.nn import functional as F  # noqa: N812 - PyTorch's conventional name
from chainrule.nn.module import Module
from chainrule.ops.operands import check_number
from chainrule.tensor import Tensor

__all__ = ["Dropout"]


class Dropout(Module):
    """Inverted dropout while ``training``; the identity in eval mode.

    ``generator`` (a ``numpy.random.Generator``) draws the masks; without one the default generator is used.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False, generator: np.random.Generator | None = None) -> None:
        super().__init__()
        p = check_number("Dropout", "p", p, 0.0, 1.0,
                         hint="; hint: p is the probability of dropping an element (dropout probability), e.g. 0.5")
        self.p = p
        self.inplace = inplace
        self.generator = generator

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.dropout(input, p=self.p, training=self.training, inplace=self.inplace, generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
