"""Piecewise-constant elementwise ops: sign, floor, ceil, round, trunc; and nan_to_num. Derivations:
docs/elementwise.md ("Rounding and sign").

Notation (docs/notation.md): y = f(x) elementwise, gy = ∂L/∂y, gx = ∂L/∂x. A step function is flat almost
everywhere, so gx = 0 (PyTorch passes the same zero gradient; the jumps have no derivative). Integer and bool
tensors keep their dtype, as PyTorch keeps them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.errors import DTypeError
from chainrule.ops.operands import as_tensor, check_int, check_number, describe
from chainrule.tensor import Tensor

__all__ = ["ceil", "floor", "nan_to_num", "round", "sign", "trunc"]


class _Step(Function):
    """A piecewise-constant function: forward on arrays, a zero gradient."""

    uses_inputs = False  # the gradient is zero whatever the input

    def backward(self, gy: Tensor) -> Tensor:
        """y = f(x) with f constant between its jumps: ∂y/∂x = 0, so gx = 0 (x's shape)."""
        return Tensor(backend.get_array_module(gy._data).zeros_like(gy._data))


class Sign(_Step):
    def forward(self, x):
        # (0 < x) − (x < 0): NaN has sign 0, as PyTorch's (NumPy's sign gives NaN)
        return ((x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)) if x.dtype.kind != "b" else x.copy()


class Floor(_Step):
    def forward(self, x):
        return backend.get_array_module(x).floor(x) if x.dtype.kind == "f" else x.copy()


class Ceil(_Step):
    def forward(self, x):
        return backend.get_array_module(x).ceil(x) if x.dtype.kind == "f" else x.copy()


class Trunc(_Step):
    def forward(self, x):
        return backend.get_array_module(x).trunc(x) if x.dtype.kind == "f" else x.copy()


class Round(_Step):
    """Round half to even (banker's rounding), as PyTorch and NumPy; ``decimals`` digits after the point."""

    def __init__(self, decimals: int) -> None:
        self.decimals = decimals

    def forward(self, x):
        if x.dtype.kind != "f":
            return x.copy()
        return backend.get_array_module(x).round(x, self.decimals)


class NanToNum(Function):
    """NaN, +inf and −inf replaced by finite numbers; finite values unchanged."""

    def __init__(self, nan: float, posinf: float | None, neginf: float | None) -> None:
        self.nan, self.posinf, self.neginf = nan, posinf, neginf

    def forward(self, x):
        xp = backend.get_array_module(x)
        info = np.finfo(x.dtype)
        posinf = info.max if self.posinf is None else self.posinf
        neginf = info.min if self.neginf is None else self.neginf
        y = xp.where(xp.isnan(x), x.dtype.type(self.nan), x)
        y = xp.where(y == np.inf, x.dtype.type(posinf), y)
        return xp.where(y == -np.inf, x.dtype.type(neginf), y)

    def backward(self, gy: Tensor) -> Tensor:
        """y = x where x is finite, else a constant: gx = gy·[x finite] (0 at NaN and ±inf, as PyTorch)."""
        x = self.inputs[0]._data
        return gy * Tensor(backend.get_array_module(x).isfinite(x).astype(gy.dtype))


def _step(op: str, cls: type[_Step], x: Any, *args: Any) -> Tensor:
    x = as_tensor(op, x)
    if x.dtype.kind == "b" and cls is not Sign:  # PyTorch refuses these for bool too: a mask has no fraction
        raise DTypeError(f"{op}: not defined for bool tensors; hint: cast first, e.g. x.float() or x.long()")
    return cls(*args)(x)


def sign(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """−1, 0 or 1 by the sign of each element (0 for NaN and ±0), in input's dtype; the gradient is zero."""
    return _step("sign", Sign, input)


def floor(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """The largest integer ≤ x elementwise, in input's dtype (integers unchanged); the gradient is zero."""
    return _step("floor", Floor, input)


def ceil(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """The smallest integer ≥ x elementwise, in input's dtype (integers unchanged); the gradient is zero."""
    return _step("ceil", Ceil, input)


def trunc(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """x rounded toward zero elementwise, in input's dtype (integers unchanged); the gradient is zero."""
    return _step("trunc", Trunc, input)


def round(input: Any, *, decimals: int = 0) -> Tensor:  # noqa: A001, A002 - PyTorch's names
    """x rounded to ``decimals`` digits after the point, halves to even (``round(2.5) = 2``), as PyTorch; the
    gradient is zero. Integers are unchanged (with ``decimals=0``; PyTorch refuses other decimals for them)."""
    x = as_tensor("round", input)
    # beyond ±1000 digits every float is already rounded (or rounds to 0), and 10**decimals would overflow
    decimals = check_int("round", "decimals", decimals, -1000, 1000)
    if x.dtype.kind == "b":
        raise DTypeError("round: not defined for bool tensors; hint: cast first, e.g. x.float() or x.long()")
    if decimals and x.dtype.kind != "f":
        raise DTypeError(f"round: decimals={decimals} needs a floating-point tensor, got dtype {x.dtype}; hint: "
                         f"call .float() first")
    return Round(decimals)(x)


def nan_to_num(input: Any, nan: float = 0.0, posinf: float | None = None,  # noqa: A002 - PyTorch's names
               neginf: float | None = None) -> Tensor:
    """NaN replaced by ``nan``, +inf by ``posinf`` and −inf by ``neginf`` (None: the dtype's largest and
    smallest finite values), as PyTorch. Integer and bool tensors have none of them and come back as a copy."""
    x = as_tensor("nan_to_num", input)
    nan = check_number("nan_to_num", "nan", nan, nan=True)
    for name, value in (("posinf", posinf), ("neginf", neginf)):
        if value is not None and not isinstance(value, (int, float, np.integer, np.floating)):
            raise DTypeError(f"nan_to_num: argument '{name}' must be a number or None, got {describe(value)}")
    if x.dtype.kind != "f":
        return Tensor(x._data.copy())
    return NanToNum(nan, None if posinf is None else float(posinf), None if neginf is None else float(neginf))(x)
