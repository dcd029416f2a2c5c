"""``Bilinear``: y_k = x₁ᵀ·W_k·x₂ + b_k (PyTorch's name, layout and initialisation)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.nn import functional as F  # noqa: N812 - PyTorch's conventional name
from chainrule.nn import init
from chainrule.nn.arguments import check_count, empty_parameter
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["Bilinear"]


class Bilinear(Module):
    """input1 (…, in1_features), input2 (…, in2_features) → (…, out_features).

    Parameters: ``weight`` (out_features, in1_features, in2_features), ``bias`` (out_features,) or None, both
    U(−1/√in1_features, 1/√in1_features) as PyTorch's.
    """

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in1_features = check_count("Bilinear", "in1_features", in1_features)
        self.in2_features = check_count("Bilinear", "in2_features", in2_features)
        self.out_features = check_count("Bilinear", "out_features", out_features)
        dtype = dtypes.float32 if dtype is None else dtype
        self.weight = empty_parameter((out_features, in1_features, in2_features), dtype, "Bilinear")
        if bias:
            self.bias = empty_parameter((out_features,), dtype, "Bilinear")
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)
        if device is not None:  # PyTorch's factory keyword: made on the CPU, then moved
            self.to(device)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        bound = 1 / math.sqrt(self.in1_features) if self.in1_features > 0 else 0.0
        init.uniform_(self.weight, -bound, bound, generator=generator)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
