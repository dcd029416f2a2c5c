"""Activations: tanh, sigmoid, relu, leaky_relu, softmax, log_softmax. Derivations: docs/activation.md.

Notation: y = f(x); gy = ∂L/∂y and gx = ∂L/∂x have x's shape. softmax and log_softmax act along ``dim``;
Σ_d below sums over that dim only, keeping it (so it broadcasts back).
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.ops.elementwise import exp
from chainrule.ops.operands import as_tensor, float_only, normalize_dim
from chainrule.ops.reduce import sum as sum_
from chainrule.tensor import Tensor


def _xp(x: Any):
    return backend.get_array_module(x)


class Tanh(Function):
    def forward(self, x):
        return _xp(x).tanh(x)

    def backward(self, gy: Tensor) -> Tensor:
        """y = tanh x: ∂y/∂x = 1 − tanh²x = 1 − y², so gx = gy·(1 − y²)."""
        y = self.output()
        return gy * (1 - y * y)


class Sigmoid(Function):
    def forward(self, x):
        xp = _xp(x)
        e = xp.exp(-xp.abs(x))  # e^(−|x|) ≤ 1 never overflows
        return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)

    def backward(self, gy: Tensor) -> Tensor:
        """y = σ(x) = 1/(1 + e^−x): ∂y/∂x = σ(x)(1 − σ(x)) = y(1 − y), so gx = gy·y·(1 − y)."""
        y = self.output()
        return gy * y * (1 - y)


class ReLU(Function):
    def forward(self, x):
        self.positive = x > 0  # one byte per element is all backward needs
        return _xp(x).maximum(x, x.dtype.type(0))

    def backward(self, gy: Tensor) -> Tensor:
        """y = max(x, 0): gx = gy·[x > 0]; the derivative at x = 0 is taken as 0, as PyTorch does."""
        return gy * Tensor(self.positive.astype(gy.dtype))


class LeakyReLU(Function):
    def __init__(self, negative_slope: float) -> None:
        self.negative_slope = negative_slope

    def forward(self, x):
        self.positive = x > 0
        return _xp(x).where(self.positive, x, x * x.dtype.type(self.negative_slope))

    def backward(self, gy: Tensor) -> Tensor:
        """y = x if x > 0 else s·x: gx = gy where x > 0, s·gy elsewhere (s at x = 0, as PyTorch)."""
        xp = _xp(self.positive)
        one, s = gy.dtype.type(1), gy.dtype.type(self.negative_slope)
        return gy * Tensor(xp.where(self.positive, one, s))


class Softmax(Function):
    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x):
        xp = _xp(x)
        e = xp.exp(x - x.max(axis=self.dim, keepdims=True))  # shift by the max: exp never overflows
        return e / e.sum(axis=self.dim, keepdims=True)

    def backward(self, gy: Tensor) -> Tensor:
        """yᵢ = e^xᵢ / Σⱼ e^xⱼ: ∂yᵢ/∂xₖ = yᵢ(δᵢₖ − yₖ), so gx = y ⊙ (gy − Σ_d gy ⊙ y).

        Shapes: gy, y, gx all x.shape; the sum runs over ``dim`` with keepdim. No Jacobian is formed.
        """
        y = self.output()
        return y * (gy - sum_(gy * y, self.dim, keepdim=True))


class LogSoftmax(Function):
    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x):
        xp = _xp(x)
        shifted = x - x.max(axis=self.dim, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=self.dim, keepdims=True))

    def backward(self, gy: Tensor) -> Tensor:
        """yᵢ = xᵢ − log Σⱼ e^xⱼ: ∂yᵢ/∂xₖ = δᵢₖ − softmax(x)ₖ, so gx = gy − e^y ⊙ Σ_d gy.

        Shapes: gy, y, gx all x.shape; e^y is softmax(x).
        """
        return gy - exp(self.output()) * sum_(gy, self.dim, keepdim=True)


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent elementwise."""
    x = as_tensor("tanh", x)
    float_only("tanh", x)
    return Tanh()(x)


def sigmoid(x: Any) -> Tensor:
    """The logistic function 1/(1 + e^−x), computed without overflow for any x."""
    x = as_tensor("sigmoid", x)
    float_only("sigmoid", x)
    return Sigmoid()(x)


def relu(x: Any) -> Tensor:
    """max(x, 0) elementwise; its derivative at 0 is taken as 0."""
    x = as_tensor("relu", x)
    float_only("relu", x)
    return ReLU()(x)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope·x otherwise."""
    x = as_tensor("leaky_relu", x)
    float_only("leaky_relu", x)
    return LeakyReLU(negative_slope)(x)


def softmax(x: Any, dim: int = -1) -> Tensor:
    """exp(x) / Σ exp(x) along ``dim``, stable for any logits (the max is subtracted first)."""
    x = as_tensor("softmax", x)
    float_only("softmax", x)
    return Softmax(normalize_dim("softmax", dim, x.ndim))(x)


def log_softmax(x: Any, dim: int = -1) -> Tensor:
    """x − logsumexp(x) along ``dim``, stable for any logits."""
    x = as_tensor("log_softmax", x)
    float_only("log_softmax", x)
    return LogSoftmax(normalize_dim("log_softmax", dim, x.ndim))(x)
