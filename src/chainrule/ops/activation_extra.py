"""More activations under PyTorch's names: relu6, hardtanh, hardswish, hardsigmoid, threshold, prelu, selu, silu,
mish, logsigmoid, softmin, glu. Derivations: docs/activation.md ("Piecewise-linear activations and friends").

Notation: y = f(x); gy = ∂L/∂x's upstream ∂L/∂y and gx = ∂L/∂x have x's shape. The piecewise ops are their own
Functions because their masks depend on the input's values: an ONNX graph must recompute them (Clip, HardSwish,
HardSigmoid, PRelu, Where), and each derivative at a kink is PyTorch's. The smooth ones are compositions of
existing ops, exact, so their first and second derivatives and ONNX export come from those ops.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.errors import ArgumentError, DTypeError, ShapeError
from chainrule.ops.activation import elu, sigmoid, softmax, softplus, tanh
from chainrule.ops.elementwise import where
from chainrule.ops.operands import as_tensor, check_number, float_only, normalize_dim, same_dtype, written_back
from chainrule.ops.shape import chunk, reshape
from chainrule.tensor import Tensor

__all__ = [
    "glu", "hardsigmoid", "hardswish", "hardtanh", "logsigmoid", "mish", "prelu", "relu6", "selu", "silu",
    "softmin", "threshold",
]

# SELU's constants (Klambauer et al., 2017), as PyTorch writes them
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


_ONE_SIXTH_F32 = float(np.float32(1 / 6))


def _xp(x: Any):
    return backend.get_array_module(x)


def _float_input(op: str, x: Any, name: str = "input") -> Tensor:
    x = as_tensor(op, x, name)
    float_only(op, x, name)
    return x


class Hardtanh(Function):
    uses_inputs = False  # backward needs only the mask forward saved

    def __init__(self, min_val: float, max_val: float) -> None:
        self.min_val, self.max_val = min_val, max_val

    def forward(self, x):
        c = x.dtype.type
        # written as PyTorch's test (x ≤ lo or x ≥ hi gives 0) so that a NaN input passes its gradient, as there
        self.inside = ~((x <= c(self.min_val)) | (x >= c(self.max_val)))
        return _xp(x).clip(x, c(self.min_val), c(self.max_val))

    def backward(self, gy: Tensor) -> Tensor:
        """y = min(max(x, lo), hi): ∂y/∂x = [lo < x < hi], so gx = gy·[lo < x < hi].

        The bounds themselves get 0, as PyTorch's hardtanh_backward (unlike clamp, which passes them).
        Shapes: gy, gx x.shape.
        """
        return gy * Tensor(self.inside.astype(gy.dtype))


class Hardswish(Function):
    def forward(self, x):
        xp, c = _xp(x), x.dtype.type
        return x * xp.clip(x + c(3), c(0), c(6)) / c(6)

    def backward(self, gy: Tensor) -> Tensor:
        """y = x·relu6(x + 3)/6: ∂y/∂x = 0 for x ≤ −3, x/3 + ½ for −3 < x < 3, 1 for x ≥ 3.

        gx = gy times that, with PyTorch's choice at the kinks (−3 → 0, 3 → 1). The middle piece is written
        in x, so the second derivative (1/3 there, 0 elsewhere) follows. Shapes: gy, gx x.shape.
        """
        x = self.inputs[0]
        data = x._data
        middle = (data > -3) & (data < 3)
        upper = ~(data <= -3) & ~(data < 3)  # x ≥ 3, and NaN (PyTorch's else branch)
        return gy * where(middle, x / 3 + 0.5, Tensor(upper.astype(gy.dtype)))


class Hardsigmoid(Function):
    uses_inputs = False  # backward needs only the mask forward saved

    def forward(self, x):
        c = x.dtype.type
        self.inside = (x > c(-3)) & (x < c(3))
        return _xp(x).clip(x + c(3), c(0), c(6)) / c(6)

    def backward(self, gy: Tensor) -> Tensor:
        """y = relu6(x + 3)/6: ∂y/∂x = 1/6 for −3 < x < 3, else 0 (0 at ±3, as PyTorch): gx = gy·[−3 < x < 3]/6.

        Shapes: gy, gx x.shape.
        """
        # PyTorch's kernel multiplies by 1/6 rounded to float32 (a float literal), in every dtype
        return gy * Tensor(self.inside.astype(gy.dtype) * gy.dtype.type(_ONE_SIXTH_F32))


class Threshold(Function):
    uses_inputs = False  # backward needs only the mask forward saved

    def __init__(self, threshold: float, value: float) -> None:
        self.threshold, self.value = threshold, value

    def forward(self, x):
        c = x.dtype.type
        self.above = ~(x <= c(self.threshold))  # PyTorch's test: a NaN input stays NaN
        return _xp(x).where(self.above, x, c(self.value))

    def backward(self, gy: Tensor) -> Tensor:
        """y = x where x > θ, else v (a constant): gx = gy·[x > θ] (NaN inputs pass both, as PyTorch).

        Shapes: gy, gx x.shape."""
        return gy * Tensor(self.above.astype(gy.dtype))


class PReLU(Function):
    broadcasts = True  # the weight (C, 1, …) broadcasts over x; its gradient is summed back to that shape

    def forward(self, x, w):
        return _xp(x).where(x > 0, x, w * x)

    def backward(self, gy: Tensor) -> tuple[Tensor, Tensor]:
        """y = x where x > 0, a·x elsewhere (a the channel's weight, broadcast from (C, 1, …)).

        gx = gy where x > 0, a·gy elsewhere (a at x = 0, as PyTorch); ga = Σ over every dim but the channel of
        gy·x·[x ≤ 0] (the base class sums the broadcast gradient to a's shape). Shapes: gy, gx x.shape; ga a.shape.
        """
        x, w = self.inputs
        positive = x._data > 0
        return where(positive, gy, gy * w), where(positive, 0.0, gy * x)


def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """min(max(x, min_val), max_val); gradient 1 strictly inside, 0 at and beyond the bounds (as PyTorch)."""
    x = _float_input("hardtanh", input)
    low = check_number("hardtanh", "min_val", min_val)
    high = check_number("hardtanh", "max_val", max_val)
    if low > high:
        raise ArgumentError(
            f"hardtanh: argument 'min_val' ({low:g}) must not exceed 'max_val' ({high:g}); hint: swap them"
        )
    return written_back(x, Hardtanh(low, high)(x), inplace)


def relu6(input: Any, inplace: bool = False) -> Tensor:  # noqa: A002 - PyTorch's name
    """min(max(x, 0), 6): hardtanh(x, 0, 6), with its derivative (0 at 0 and at 6)."""
    x = _float_input("relu6", input)
    return written_back(x, Hardtanh(0.0, 6.0)(x), inplace)


def hardswish(input: Any, inplace: bool = False) -> Tensor:  # noqa: A002 - PyTorch's name
    """x·relu6(x + 3)/6 (Howard et al., 2019)."""
    x = _float_input("hardswish", input)
    return written_back(x, Hardswish()(x), inplace)


def hardsigmoid(input: Any, inplace: bool = False) -> Tensor:  # noqa: A002 - PyTorch's name
    """relu6(x + 3)/6: 0 below −3, 1 above 3, linear between."""
    x = _float_input("hardsigmoid", input)
    return written_back(x, Hardsigmoid()(x), inplace)


def threshold(input: Any, threshold: float, value: float, inplace: bool = False) -> Tensor:  # noqa: A002
    """x where x > threshold, else value."""
    x = _float_input("threshold", input)
    th = check_number("threshold", "threshold", threshold, nan=True)
    v = check_number("threshold", "value", value, nan=True)
    return written_back(x, Threshold(th, v)(x), inplace)


def prelu(input: Any, weight: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """x where x > 0, weight·x elsewhere, with one weight per channel (dim 1) or a single shared one.

    ``weight`` has shape (C,) with C = input.shape[1] (or (1,)/() for one shared slope).
    """
    x = _float_input("prelu", input)
    w = _float_input("prelu", weight, "weight")
    same_dtype("prelu", x, w, "weight")
    if w.ndim > 1:
        raise ShapeError(f"prelu: argument 'weight' must be 0-D or 1-D, got shape {w.shape}")
    n = w.numel()
    if n != 1:
        channels = x.shape[1] if x.ndim >= 2 else None
        if channels != n:
            got = f"input of shape {x.shape} with {channels} channels (dim 1)" if channels else f"{x.ndim}-D input"
            raise ShapeError(
                f"prelu: weight has {n} elements, which must equal the number of channels, but got {got}; hint: "
                f"build PReLU(num_parameters=input.shape[1]) or PReLU() for one shared slope"
            )
        w = reshape(w, (n,) + (1,) * (x.ndim - 2))
    elif w.ndim == 1 and x.ndim == 0:
        w = reshape(w, ())  # a 0-d input keeps its shape
    return PReLU()(x, w)


def selu(input: Any, inplace: bool = False) -> Tensor:  # noqa: A002 - PyTorch's name
    """scale·elu(x, alpha) with scale ≈ 1.0507, alpha ≈ 1.6733 (self-normalising networks)."""
    x = _float_input("selu", input)
    return written_back(x, elu(x, SELU_ALPHA) * SELU_SCALE, inplace)


def silu(input: Any, inplace: bool = False) -> Tensor:  # noqa: A002 - PyTorch's name
    """x·σ(x) (also called swish)."""
    x = _float_input("silu", input)
    return written_back(x, x * sigmoid(x), inplace)


def mish(input: Any, inplace: bool = False) -> Tensor:  # noqa: A002 - PyTorch's name
    """x·tanh(softplus(x)) (Misra, 2019)."""
    x = _float_input("mish", input)
    return written_back(x, x * tanh(softplus(x)), inplace)


def logsigmoid(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """log σ(x) = −softplus(−x), computed without overflow for any x."""
    x = _float_input("logsigmoid", input)
    return -softplus(-x, 1.0, math.inf)  # no linear branch: the stable formula is exact everywhere


def softmin(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:  # noqa: A002
    """softmax(−x) along ``dim``; ``dtype`` casts x first (PyTorch's signature)."""
    x = as_tensor("softmin", input) if dtype is None else as_tensor("softmin", input).to(dtype)
    float_only("softmin", x)
    if dim is None:
        warnings.warn(
            "Implicit dimension choice for softmin has been deprecated. Change the call to include dim=X as an "
            "argument.", stacklevel=_stacklevel,
        )
        dim = 0 if x.ndim in (0, 1, 3) else 1
    return softmax(-x, dim)


def glu(input: Any, dim: int = -1) -> Tensor:  # noqa: A002 - PyTorch's name
    """a·σ(b), with a and b the two halves of x along ``dim`` (gated linear unit)."""
    x = as_tensor("glu", input)
    if x.dtype.kind != "f":
        raise DTypeError(f"glu: expected a floating-point tensor, got dtype {x.dtype}; hint: call .float() first")
    if x.ndim == 0:
        raise ShapeError("glu: glu does not support scalars because halving size must be even")
    axis = normalize_dim("glu", dim, x.ndim)
    if x.shape[axis] % 2:
        raise ShapeError(
            f"glu: Halving dimension must be even, but dimension {axis} is size {x.shape[axis]}; hint: pass the dim "
            f"whose size is twice the output's"
        )
    a, b = chunk(x, 2, axis)
    return a * sigmoid(b)
