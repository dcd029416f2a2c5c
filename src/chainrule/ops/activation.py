"""Activations: tanh, sigmoid, relu, leaky_relu, softmax, log_softmax, elu, gelu, softplus.
Derivations: docs/activation.md.

Notation: y = f(x); gy = ∂L/∂y and gx = ∂L/∂x have x's shape. softmax and log_softmax act along ``dim``;
Σ_d below sums over that dim only, keeping it (so it broadcasts back).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.errors import ArgumentError
from chainrule.ops.elementwise import exp, where
from chainrule.ops.operands import as_tensor, check_number, float_only, normalize_dim, written_back
from chainrule.ops.reduce import sum as sum_
from chainrule.tensor import Tensor

__all__ = ["elu", "gelu", "leaky_relu", "log_softmax", "relu", "sigmoid", "softmax", "softplus", "tanh"]


def _xp(x: Any):
    return backend.get_array_module(x)


class Tanh(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
    uses_outputs = True  # backward reads the output's values
    def forward(self, x):
        return _xp(x).tanh(x)

    def backward(self, gy: Tensor) -> Tensor:
        """y = tanh x: ∂y/∂x = 1 − tanh²x = 1 − y², so gx = gy·(1 − y²)."""
        y = self.output()
        return gy * (1 - y * y)

    def fast_backward(self, gy: Any) -> Any:
        """gy·(1 − y²) on arrays, in one buffer."""
        y = self.output()._data
        xp = _xp(y)
        g = xp.multiply(y, y, out=xp.empty_like(y))  # out=: an array even when 0-d
        xp.subtract(1, g, out=g)
        g *= gy
        return g


def sigmoid_array(x: Any) -> Any:
    """σ(x) = 1/(1 + e^−x) on an array, in three in-place passes. For x below about −88 (float32) e^−x
    overflows to inf and 1/(1 + inf) = 0, the correctly rounded limit, so the overflow is expected and silenced;
    the two-branch form with e^−|x| was measured 10× slower (a select and two divisions)."""
    xp = _xp(x)
    with np.errstate(over="ignore"):
        e = xp.exp(-x, out=xp.empty_like(x))  # out=: an array even for 0-d x, so the passes stay in place
    e += 1
    return xp.reciprocal(e, out=e)


class Sigmoid(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
    uses_outputs = True  # backward reads the output's values
    def forward(self, x):
        return sigmoid_array(x)

    def backward(self, gy: Tensor) -> Tensor:
        """y = σ(x) = 1/(1 + e^−x): ∂y/∂x = σ(x)(1 − σ(x)) = y(1 − y), so gx = gy·y·(1 − y)."""
        y = self.output()
        return gy * y * (1 - y)

    def fast_backward(self, gy: Any) -> Any:
        """gy·y·(1 − y) on arrays, in one buffer."""
        y = self.output()._data
        xp = _xp(y)
        g = xp.subtract(1, y, out=xp.empty_like(y))  # out=: an array even when 0-d
        g *= y
        g *= gy
        return g


class ReLU(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
    def forward(self, x):
        self.positive = x > 0  # one byte per element is all backward needs
        return _xp(x).maximum(x, x.dtype.type(0))

    def backward(self, gy: Tensor) -> Tensor:
        """y = max(x, 0): gx = gy·[x > 0]; the derivative at x = 0 is taken as 0, as PyTorch does."""
        return gy * Tensor(self.positive.astype(gy.dtype))

    def fast_backward(self, gy: Any) -> Any:
        """gy·[x > 0] on arrays, without converting the mask."""
        xp = _xp(gy)
        return xp.multiply(gy, self.positive, out=xp.empty_like(gy))


class LeakyReLU(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
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
    uses_inputs = False  # backward needs only shapes or what forward saved
    uses_outputs = True  # backward reads the output's values
    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x):
        if x.size == 0:
            return x.copy()
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
    uses_inputs = False  # backward needs only shapes or what forward saved
    uses_outputs = True  # backward reads the output's values
    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x):
        if x.size == 0:
            return x.copy()
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


def relu(x: Any, inplace: bool = False) -> Tensor:
    """max(x, 0) elementwise; its derivative at 0 is taken as 0. ``inplace``: see ``written_back``."""
    x = as_tensor("relu", x)
    float_only("relu", x)
    return written_back(x, ReLU()(x), inplace)


def leaky_relu(x: Any, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, negative_slope·x otherwise. ``inplace``: see ``written_back``."""
    x = as_tensor("leaky_relu", x)
    float_only("leaky_relu", x)
    slope = check_number("leaky_relu", "negative_slope", negative_slope, nan=True)
    return written_back(x, LeakyReLU(slope)(x), inplace)


def softmax(x: Any, dim: int = -1, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """exp(x) / Σ exp(x) along ``dim``, stable for any logits (the max is subtracted first); ``dtype`` casts x
    first (PyTorch's signature; ``_stacklevel`` is accepted and unused)."""
    x = as_tensor("softmax", x) if dtype is None else as_tensor("softmax", x).to(dtype)
    float_only("softmax", x)
    axis = normalize_dim("softmax", dim, x.ndim)
    return Softmax(axis if x.ndim else None)(x)  # a 0-d tensor is its own (one-element) slice


def log_softmax(x: Any, dim: int = -1, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """x − logsumexp(x) along ``dim``, stable for any logits; ``dtype`` casts x first (PyTorch's signature;
    ``_stacklevel`` is accepted and unused)."""
    x = as_tensor("log_softmax", x) if dtype is None else as_tensor("log_softmax", x).to(dtype)
    float_only("log_softmax", x)
    axis = normalize_dim("log_softmax", dim, x.ndim)
    return LogSoftmax(axis if x.ndim else None)(x)  # a 0-d tensor is its own (one-element) slice


# ----- elu, gelu, softplus ---------------------------------------------------------------------------------


def _erf(x: Any) -> Any:
    """The error function erf(x) = (2/√π) ∫₀ˣ e^(−t²) dt elementwise, in x's dtype.

    SciPy's (or CuPy's) erf when installed; otherwise a NumPy evaluation accurate to about 2e-15: for |x| < 2.5
    the series erf(a) = (2/√π) e^(−a²) Σₙ a(2a²)ⁿ / (1·3·…·(2n+1)), whose terms are all positive (no
    cancellation); beyond, erfc(a) = e^(−a²)/√π · 1/(a + ½/(a + 1/(a + (3/2)/(a + …)))) as a continued fraction.
    """
    xp = _xp(x)
    if xp is not np:
        if xp.__name__ == "cupy":
            from cupyx.scipy.special import erf as cupy_erf

            return cupy_erf(x)
        return _erf_numpy(x).astype(x.dtype, copy=False)  # another device module: the series, in its arrays
    scipy_erf = _load_scipy_erf() if _scipy_erf is _NOT_LOADED else _scipy_erf
    if scipy_erf is not None:
        return scipy_erf(x)
    return _erf_numpy(x).astype(x.dtype, copy=False)


def _erf_numpy(x: Any) -> Any:
    xp = _xp(x)
    x64 = xp.asarray(x, dtype=np.float64)
    a = xp.abs(x64)
    small = a < 2.5
    s = xp.where(small, a, 0.0)
    two_s2 = 2 * s * s
    term, total = s.copy(), s.copy()
    for n in range(1, 60):
        term = term * two_s2 / (2 * n + 1)
        total += term
    series = (2 / math.sqrt(math.pi)) * xp.exp(-s * s) * total
    b = xp.where(small, 2.5, a)
    with np.errstate(invalid="ignore", over="ignore"):
        f = b.copy()
        for k in range(60, 0, -1):
            f = b + (k / 2) / f
        erfc = xp.exp(-b * b) / math.sqrt(math.pi) / f
    return xp.sign(x64) * xp.where(small, series, 1 - erfc)


# SciPy is optional (faster than the NumPy fallback, which is used without it) and slow to import: its erf is
# imported on the first call, not with chainrule. None once SciPy is known to be missing.
_NOT_LOADED: Any = object()
_scipy_erf: Any = _NOT_LOADED


def _load_scipy_erf() -> Any:
    global _scipy_erf
    try:
        from scipy.special import erf as _scipy_erf
    except ImportError:  # pragma: no cover - depends on the environment
        _scipy_erf = None
    return _scipy_erf


class ELU(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
    uses_outputs = True  # backward reads the output's values
    def __init__(self, alpha: float) -> None:
        self.alpha = alpha

    def forward(self, x):
        xp = _xp(x)
        self.positive = x > 0
        negative = x.dtype.type(self.alpha) * xp.expm1(xp.minimum(x, x.dtype.type(0)))  # no overflow for x ≫ 0
        return xp.where(self.positive, x, negative)

    def backward(self, gy: Tensor) -> Tensor:
        """y = x for x > 0, α(eˣ − 1) otherwise: ∂y/∂x = 1 for x > 0, αeˣ = y + α otherwise.

        gx = gy where x > 0, gy·(y + α) elsewhere (α at x = 0, as PyTorch). y is this op's output, so the
        second derivative d(y + α)/dx = αeˣ comes from differentiating y again. Shapes: all x.shape.
        """
        return gy * where(self.positive, 1.0, self.output() + self.alpha)


class NormalCDF(Function):
    """Φ(x) = ½(1 + erf(x/√2)), the standard normal distribution function (a building block of gelu)."""

    def forward(self, x):
        half = x.dtype.type(0.5)
        return half * (1 + _erf(x * x.dtype.type(math.sqrt(0.5))))

    def backward(self, gy: Tensor) -> Tensor:
        """y = Φ(x): ∂y/∂x = φ(x) = e^(−x²/2)/√(2π), the normal density, so gx = gy·φ(x). Shapes: x.shape."""
        return gy * _normal_pdf(self.inputs[0])


def _normal_pdf(x: Tensor) -> Tensor:
    """φ(x) = e^(−x²/2)/√(2π) in differentiable ops."""
    return exp(x * x * -0.5) * (1 / math.sqrt(2 * math.pi))


_GELU_K = math.sqrt(2 / math.pi)  # tanh approximation: y = ½x(1 + tanh(k(x + c·x³)))
_GELU_C = 0.044715


class GELU(Function):
    def __init__(self, approximate: str) -> None:
        self.approximate = approximate

    def forward(self, x):
        c = x.dtype.type
        if self.approximate == "tanh":
            inner = c(_GELU_K) * (x + c(_GELU_C) * x * x * x)
            return c(0.5) * x * (1 + _xp(x).tanh(inner))
        return x * (c(0.5) * (1 + _erf(x * c(math.sqrt(0.5)))))

    def backward(self, gy: Tensor) -> Tensor:
        """Exact: y = x·Φ(x), so ∂y/∂x = Φ(x) + x·φ(x) and gx = gy·(Φ(x) + x·φ(x)).

        tanh: y = ½x(1 + t), t = tanh(u), u = k(x + c·x³) with k = √(2/π), c = 0.044715:
        ∂y/∂x = ½(1 + t) + ½x(1 − t²)·k(1 + 3c·x²), and gx = gy times that.
        Both are written in differentiable ops (Φ is ``NormalCDF``), so the second derivative exists.
        Shapes: gy, gx and x all x.shape.
        """
        x = self.inputs[0]
        if self.approximate == "tanh":
            t = tanh(_GELU_K * (x + _GELU_C * x * x * x))
            return gy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _GELU_K * (1 + 3 * _GELU_C * x * x))
        return gy * (NormalCDF()(x) + x * _normal_pdf(x))


class Softplus(Function):
    def __init__(self, beta: float, threshold: float) -> None:
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        xp = _xp(x)
        c = x.dtype.type
        bx = x * c(self.beta)
        self.linear = bx > self.threshold
        # log(1 + e^z) = max(z, 0) + log(1 + e^(−|z|)): the exponential never overflows
        smooth = (xp.maximum(bx, c(0)) + xp.log1p(xp.exp(-xp.abs(bx)))) / c(self.beta)
        return xp.where(self.linear, x, smooth)

    def backward(self, gy: Tensor) -> Tensor:
        """y = (1/β)·log(1 + e^(βx)): ∂y/∂x = e^(βx)/(1 + e^(βx)) = σ(βx); y = x where βx > threshold.

        gx = gy·σ(βx), or gy where the linear branch was taken. Shapes: all x.shape.
        """
        return where(self.linear, gy, gy * sigmoid(self.inputs[0] * self.beta))


def elu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002 - PyTorch's name
    """x for x > 0, alpha·(eˣ − 1) otherwise. ``inplace``: see ``written_back``."""
    x = as_tensor("elu", input)
    float_only("elu", x)
    return written_back(x, ELU(check_number("elu", "alpha", alpha, nan=True))(x), inplace)


def gelu(input: Any, approximate: str = "none") -> Tensor:  # noqa: A002 - PyTorch's name
    """x·Φ(x) with Φ the standard normal CDF (``approximate='none'``), or its tanh approximation
    ½x(1 + tanh(√(2/π)(x + 0.044715x³))) (``approximate='tanh'``)."""
    x = as_tensor("gelu", input)
    float_only("gelu", x)
    if approximate not in ("none", "tanh") or not isinstance(approximate, str):
        raise ArgumentError(f"gelu: argument 'approximate' must be 'none' or 'tanh', got {approximate!r}")
    return GELU(approximate)(x)


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002 - PyTorch's name
    """(1/beta)·log(1 + e^(beta·x)), and x itself where beta·x > threshold (as PyTorch), without overflow."""
    x = as_tensor("softplus", input)
    float_only("softplus", x)
    beta = check_number("softplus", "beta", beta)
    if beta <= 0:
        raise ArgumentError(f"softplus: argument 'beta' must be positive, got {beta:g}")
    return Softplus(beta, check_number("softplus", "threshold", threshold, nan=True))(x)
