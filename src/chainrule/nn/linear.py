"""``Linear`` (y = x·Wᵀ + b) and ``Identity``."""

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

__all__ = ["Identity", "Linear"]


class Identity(Module):
    """Returns its input unchanged; any constructor arguments are ignored (as PyTorch's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:  # noqa: A002 - PyTorch's name
        return input


class Linear(Module):
    """y = x·Wᵀ + b over the last dim: input (..., in_features) → (..., out_features).

    Parameters (PyTorch's names and layout): ``weight`` (out_features, in_features), ``bias``
    (out_features,) or None. Initialised as PyTorch's: weight by kaiming_uniform_(a=√5), i.e.
    U(−1/√in_features, 1/√in_features), and bias by U(−1/√in_features, 1/√in_features).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        device: Any = None,
        dtype: Any = dtypes.float32,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_features = check_count("Linear", "in_features", in_features)
        self.out_features = check_count("Linear", "out_features", out_features)
        self.weight = empty_parameter((out_features, in_features), dtype, "Linear")
        if bias:
            self.bias = empty_parameter((out_features,), dtype, "Linear")
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)
        if device is not None:  # PyTorch's factory keyword: made on the CPU, then moved
            self.to(device)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
