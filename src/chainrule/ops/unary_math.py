"""More elementwise functions: log1p, expm1, log2, log10, exp2, erf, rsqrt, reciprocal, square, tan.
Derivations: docs/elementwise.md ("More elementwise functions").

Notation (docs/notation.md): y = f(x) elementwise, gy = ∂L/∂y, gx = ∂L/∂x = gy ⊙ f'(x). Integer and bool input
is computed in float32 (PyTorch's default float); ``square`` keeps integers integer, as PyTorch's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import backend, dtypes
from chainrule.autograd.function import Function
from chainrule.ops.activation import _erf
from chainrule.ops.elementwise import exp, pow
from chainrule.ops.operands import as_tensor
from chainrule.tensor import Tensor

__all__ = ["erf", "exp2", "expm1", "log10", "log1p", "log2", "reciprocal", "rsqrt", "square", "tan"]

LN2 = math.log(2.0)
LN10 = math.log(10.0)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _xp(x: Any):
    return backend.get_array_module(x)


class Log1p(Function):
    def forward(self, x):
        with np.errstate(divide="ignore", invalid="ignore"):  # log1p(−1) = −inf, below −1 NaN: the answers
            return _xp(x).log1p(x)

    def backward(self, gy: Tensor) -> Tensor:
        """y = ln(1 + x): ∂y/∂x = 1/(1 + x), so gx = gy / (1 + x)."""
        return gy / (1 + self.inputs[0])


class Expm1(Function):
    uses_inputs = False
    uses_outputs = True  # backward reads y

    def forward(self, x):
        with np.errstate(over="ignore"):
            return _xp(x).expm1(x)

    def backward(self, gy: Tensor) -> Tensor:
        """y = eˣ − 1: ∂y/∂x = eˣ = y + 1, so gx = gy·(y + 1)."""
        return gy * (self.output() + 1)


class Log2(Function):
    def forward(self, x):
        with np.errstate(divide="ignore", invalid="ignore"):
            return _xp(x).log2(x)

    def backward(self, gy: Tensor) -> Tensor:
        """y = log₂ x = ln x / ln 2: ∂y/∂x = 1/(x ln 2), so gx = gy / (x·ln 2)."""
        return gy / (self.inputs[0] * LN2)


class Log10(Function):
    def forward(self, x):
        with np.errstate(divide="ignore", invalid="ignore"):
            return _xp(x).log10(x)

    def backward(self, gy: Tensor) -> Tensor:
        """y = log₁₀ x = ln x / ln 10: ∂y/∂x = 1/(x ln 10), so gx = gy / (x·ln 10)."""
        return gy / (self.inputs[0] * LN10)


class Exp2(Function):
    uses_inputs = False
    uses_outputs = True  # backward reads y

    def forward(self, x):
        with np.errstate(over="ignore"):
            return _xp(x).exp2(x)

    def backward(self, gy: Tensor) -> Tensor:
        """y = 2ˣ = e^(x ln 2): ∂y/∂x = 2ˣ·ln 2 = y·ln 2, so gx = gy·y·ln 2."""
        return gy * self.output() * LN2


class Erf(Function):
    def forward(self, x):
        return _erf(x).astype(x.dtype, copy=False)

    def backward(self, gy: Tensor) -> Tensor:
        """y = erf x = (2/√π) ∫₀ˣ e^(−t²) dt: ∂y/∂x = (2/√π)·e^(−x²), so gx = gy·(2/√π)·e^(−x²)."""
        x = self.inputs[0]
        return gy * exp(-(x * x)) * TWO_OVER_SQRT_PI


class Rsqrt(Function):
    uses_inputs = False
    uses_outputs = True  # backward reads y

    def forward(self, x):
        xp = _xp(x)
        with np.errstate(divide="ignore", invalid="ignore"):  # rsqrt(0) = inf, of a negative NaN: the answers
            return xp.reciprocal(xp.sqrt(x))

    def backward(self, gy: Tensor) -> Tensor:
        """y = x^(−1/2): ∂y/∂x = −½·x^(−3/2) = −½·y³, so gx = −½·gy·y³."""
        y = self.output()
        return gy * (y * y * y) * -0.5


class Reciprocal(Function):
    uses_inputs = False
    uses_outputs = True  # backward reads y

    def forward(self, x):
        with np.errstate(divide="ignore"):  # 1/0 = inf: the answer
            return _xp(x).reciprocal(x)

    def backward(self, gy: Tensor) -> Tensor:
        """y = 1/x: ∂y/∂x = −1/x² = −y², so gx = −gy·y²."""
        y = self.output()
        return -(gy * (y * y))


class Tan(Function):
    uses_inputs = False
    uses_outputs = True  # backward reads y

    def forward(self, x):
        with np.errstate(invalid="ignore"):  # tan(±inf) is NaN: the answer
            return _xp(x).tan(x)

    def backward(self, gy: Tensor) -> Tensor:
        """y = tan x: ∂y/∂x = 1/cos² x = 1 + tan² x = 1 + y², so gx = gy·(1 + y²)."""
        y = self.output()
        return gy * (1 + y * y)


def _floating(op: str, x: Any) -> Tensor:
    """``x`` as a float tensor: integers and bools become float32, as PyTorch's default float."""
    x = as_tensor(op, x)
    if x.dtype.kind != "f":
        x = Tensor(x._data.astype(dtypes.default_float))
    return x


def log1p(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """ln(1 + x) elementwise, accurate for small x (where 1 + x would round to 1)."""
    return Log1p()(_floating("log1p", input))


def expm1(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """eˣ − 1 elementwise, accurate for small x."""
    return Expm1()(_floating("expm1", input))


def log2(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """Base-2 logarithm elementwise."""
    return Log2()(_floating("log2", input))


def log10(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """Base-10 logarithm elementwise."""
    return Log10()(_floating("log10", input))


def exp2(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """2ˣ elementwise."""
    return Exp2()(_floating("exp2", input))


def erf(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """The error function (2/√π) ∫₀ˣ e^(−t²) dt elementwise."""
    return Erf()(_floating("erf", input))


def rsqrt(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """1/√x elementwise (inf at 0, NaN below)."""
    return Rsqrt()(_floating("rsqrt", input))


def reciprocal(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """1/x elementwise (±inf at ±0)."""
    return Reciprocal()(_floating("reciprocal", input))


def tan(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """tan x elementwise."""
    return Tan()(_floating("tan", input))


def square(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """x² elementwise: ``pow(x, 2)``, whose gradient is 2x·gy. Integers stay integers and bools become int64,
    as PyTorch's."""
    x = as_tensor("square", input)
    if x.dtype.kind == "b":
        x = Tensor(x._data.astype(np.int64))
    return pow(x, 2)
