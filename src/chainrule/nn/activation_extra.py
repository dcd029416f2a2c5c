"""More activation modules under PyTorch's names (ReLU6, PReLU, SELU, SiLU, Mish, Hardtanh, Hardswish,
Hardsigmoid, Threshold, LogSigmoid, Softmin, GLU); each forwards to its ``chainrule.nn.functional`` op."""

from __future__ import annotations

from typing import Any

from chainrule import dtypes
from chainrule.errors import ArgumentError
from chainrule.nn import functional as F  # noqa: N812 - PyTorch's conventional name
from chainrule.nn import init
from chainrule.nn.arguments import check_count, empty_parameter
from chainrule.nn.module import Module
from chainrule.ops.operands import check_number
from chainrule.tensor import Tensor

__all__ = [
    "GLU", "Hardsigmoid", "Hardswish", "Hardtanh", "LogSigmoid", "Mish", "PReLU", "ReLU6", "SELU", "SiLU",
    "Softmin", "Threshold",
]


def _inplace(inplace: bool, first: bool = True) -> str:
    return ("inplace=True" if first else ", inplace=True") if inplace else ""


class Hardtanh(Module):
    """min(max(x, min_val), max_val)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace
        if check_number("Hardtanh", "min_val", min_val) > check_number("Hardtanh", "max_val", max_val):
            raise ArgumentError(
                f"Hardtanh: argument 'min_val' ({min_val}) must not exceed 'max_val' ({max_val}); hint: swap them"
            )

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + _inplace(self.inplace, False)


class ReLU6(Hardtanh):
    """min(max(x, 0), 6)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.relu6(input, self.inplace)

    def extra_repr(self) -> str:
        return _inplace(self.inplace)


class _Inplace(Module):
    _fn = staticmethod(F.selu)

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return type(self)._fn(input, self.inplace)

    def extra_repr(self) -> str:
        return _inplace(self.inplace)


class SELU(_Inplace):
    """scale·elu(x, alpha), scale ≈ 1.0507, alpha ≈ 1.6733."""

    _fn = staticmethod(F.selu)


class SiLU(_Inplace):
    """x·σ(x)."""

    _fn = staticmethod(F.silu)


class Mish(_Inplace):
    """x·tanh(softplus(x))."""

    _fn = staticmethod(F.mish)


class Hardswish(_Inplace):
    """x·relu6(x + 3)/6."""

    _fn = staticmethod(F.hardswish)


class Hardsigmoid(_Inplace):
    """relu6(x + 3)/6."""

    _fn = staticmethod(F.hardsigmoid)


class Threshold(Module):
    """x where x > threshold, else value."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        check_number("Threshold", "threshold", threshold, nan=True)
        check_number("Threshold", "value", value, nan=True)
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}" + _inplace(self.inplace, False)


class LogSigmoid(Module):
    """log σ(x)."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.logsigmoid(input)


class Softmin(Module):
    """softmax(−x) along ``dim``."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.softmin(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class GLU(Module):
    """a·σ(b) with a, b the halves of the input along ``dim``."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class PReLU(Module):
    """x where x > 0, a·x elsewhere, with a learned slope a: one shared (``num_parameters=1``) or one per
    channel (dim 1 of the input). Parameter ``weight`` (num_parameters,), filled with ``init``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.num_parameters = check_count("PReLU", "num_parameters", num_parameters, 1)
        self.init = check_number("PReLU", "init", init)
        self.weight = empty_parameter((num_parameters,), dtypes.float32 if dtype is None else dtype, "PReLU")
        self.reset_parameters()
        if device is not None:  # PyTorch's factory keyword: made on the CPU, then moved
            self.to(device)

    def reset_parameters(self) -> None:
        _init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


_init = init  # PReLU's argument 'init' shadows the module inside __init__
