"""Channel dropout (``Dropout1d``, ``Dropout2d``) and ``AlphaDropout``, PyTorch's layers: active while
training, the identity in eval mode."""

from __future__ import annotations

import numpy as np

from chainrule.nn import functional as F  # noqa: N812 - PyTorch's conventional name
from chainrule.nn.module import Module
from chainrule.ops.operands import check_number
from chainrule.tensor import Tensor

__all__ = ["AlphaDropout", "Dropout1d", "Dropout2d"]


class _DropoutNd(Module):
    _op = staticmethod(F.dropout1d)

    def __init__(self, p: float = 0.5, inplace: bool = False, generator: np.random.Generator | None = None) -> None:
        super().__init__()
        self.p = check_number(type(self).__name__, "p", p, 0.0, 1.0,
                              hint="; hint: p is the probability of dropping, e.g. 0.5")
        self.inplace = inplace
        self.generator = generator

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return type(self)._op(input, self.p, self.training, self.inplace, generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) or (C, L) input with probability p while training, scaling the kept
    ones by 1/(1 − p). ``generator`` (a numpy.random.Generator) draws the masks."""

    _op = staticmethod(F.dropout1d)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) input with probability p while training, scaling the kept ones by
    1/(1 − p). ``generator`` (a numpy.random.Generator) draws the masks."""

    _op = staticmethod(F.dropout2d)


class AlphaDropout(_DropoutNd):
    """Alpha dropout for SELU networks: dropped elements take SELU's saturation value and an affine map keeps
    a standard normal input's mean and variance. ``generator`` draws the masks."""

    _op = staticmethod(F.alpha_dropout)
