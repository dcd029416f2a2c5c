"""More binary elementwise functions: atan2, lerp, fmod, remainder. Derivations: docs/elementwise.md ("More
binary functions").

Notation (docs/notation.md): y = f(a, b) elementwise, broadcasting; gy = ∂L/∂y has y's shape; each backward
returns gradients in the broadcast shape and the Function base class sums them back to each input's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend, dtypes
from chainrule.autograd.function import Function
from chainrule.errors import ArgumentError, DTypeError
from chainrule.ops.operands import _is_scalar, as_tensor, binary, broadcast_shape, describe, scalar_array
from chainrule.tensor import Tensor

__all__ = ["atan2", "fmod", "lerp", "remainder"]


def _xp(x: Any):
    return backend.get_array_module(x)


class Atan2(Function):
    broadcasts = True

    def forward(self, a, b):
        return _xp(a).arctan2(a, b)

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """y = atan2(a, b), the angle of the point (b, a): ∂y/∂a = b/(a² + b²), ∂y/∂b = −a/(a² + b²).

        ga = gy·b/(a² + b²), gb = −gy·a/(a² + b²) (NaN at a = b = 0, where the angle has no derivative, as
        PyTorch)."""
        a, b = self.inputs
        r2 = a * a + b * b
        ga = gy * b / r2 if self.needs_input_grad[0] else None
        gb = -gy * a / r2 if self.needs_input_grad[1] else None
        return ga, gb


class Lerp(Function):
    """start + weight·(end − start), computed as PyTorch does (from the nearer end) for exact endpoints."""

    broadcasts = True

    def forward(self, start, end, weight):
        xp = _xp(start)
        diff = end - start
        return xp.where(xp.abs(weight) < 0.5, start + weight * diff, end - diff * (1 - weight))

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        """y = s + w·(e − s) = (1 − w)·s + w·e: gs = gy·(1 − w), ge = gy·w, gw = gy·(e − s)."""
        s, e, w = self.inputs
        gs = gy * (1 - w) if self.needs_input_grad[0] else None
        ge = gy * w if self.needs_input_grad[1] else None
        gw = gy * (e - s) if self.needs_input_grad[2] else None
        return gs, ge, gw


class _Modulo(Function):
    """a − b·q(a/b), with q = trunc (fmod: the sign of a) or floor (remainder: the sign of b)."""

    broadcasts = True
    rounding = "trunc"

    def forward(self, a, b):
        xp = _xp(a)
        with np.errstate(invalid="ignore", divide="ignore"):  # x mod 0 is NaN for floats: the answer
            return xp.fmod(a, b) if self.rounding == "trunc" else xp.remainder(a, b)

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """y = a − b·q(a/b) with q piecewise constant (trunc or floor): ∂y/∂a = 1, ∂y/∂b = −q(a/b).

        ga = gy, gb = −gy·q(a/b) (q is a constant where it is differentiable, as PyTorch)."""
        a, b = self.inputs[0]._data, self.inputs[1]._data
        gb = None
        if self.needs_input_grad[1]:
            xp = _xp(a)
            with np.errstate(invalid="ignore", divide="ignore"):
                q = getattr(xp, self.rounding)(a / b)
            gb = -gy * Tensor(xp.asarray(q, dtype=gy.dtype))
        return gy, gb


class Fmod(_Modulo):
    rounding = "trunc"


class Remainder(_Modulo):
    rounding = "floor"


def _operands(op: str, a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """``binary`` after turning array-likes (lists) into tensors, so that a number beside them stays weak
    (``remainder([1, 2], 1.5)`` is float32, as it is beside ``cr.tensor([1, 2])``)."""
    a = a if isinstance(a, Tensor) or _is_scalar(a) else as_tensor(op, a, "input")
    b = b if isinstance(b, Tensor) or _is_scalar(b) else as_tensor(op, b, "other")
    return binary(op, a, b)


def atan2(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """The angle of the point (other, input) in (−π, π], elementwise, broadcasting; integers in float32."""
    a, b = _operands("atan2", input, other)
    if a.dtype.kind != "f":
        a, b = (Tensor(t._data.astype(dtypes.default_float)) for t in (a, b))
    return Atan2()(a, b)


def lerp(input: Any, end: Any, weight: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """input + weight·(end − input), broadcasting; ``weight`` a number or a tensor. Floating point only, and
    ``input``, ``end`` and a tensor ``weight`` of one dtype, as PyTorch."""
    s, e = as_tensor("lerp", input, "input"), as_tensor("lerp", end, "end")
    if _is_scalar(weight) and not isinstance(weight, Tensor):
        if isinstance(weight, (bool, np.bool_)) or not isinstance(weight, (int, float, np.integer, np.floating)):
            raise DTypeError(f"lerp: argument 'weight' must be a number or a tensor, got {describe(weight)}")
        w = Tensor(scalar_array("lerp", float(weight), s.dtype, s._data))
    elif isinstance(weight, Tensor) or backend.is_array(weight):
        w = as_tensor("lerp", weight, "weight")
    else:
        raise DTypeError(f"lerp: argument 'weight' must be a number or a tensor, got {describe(weight)}; hint: wrap "
                         f"a list with cr.tensor(...)")
    for name, t in (("input", s), ("end", e), ("weight", w)):
        if t.dtype.kind != "f":
            raise DTypeError(f"lerp: argument '{name}' must be a floating-point tensor, got dtype {t.dtype}; hint: "
                             f"call .float() first")
    if e.dtype != s.dtype or w.dtype != s.dtype:
        raise DTypeError(f"lerp: input, end and weight must have one dtype, got {s.dtype}, {e.dtype} and {w.dtype}; "
                         f"hint: cast them with .float() or .double()")
    broadcast_shape("lerp", s.shape, e.shape, w.shape)
    return Lerp()(s, e, w)


def _modulo(op: str, cls: type[_Modulo], a: Any, b: Any) -> Tensor:
    a, b = _operands(op, a, b)
    if a.dtype.kind == "b":
        raise DTypeError(f"{op}: not defined for bool tensors; hint: cast with .long() first")
    if a.dtype.kind in "iu" and bool((b._data == 0).any()):
        raise ArgumentError(f"{op}: integer division by zero (argument 'other' holds a 0); hint: use floats, whose "
                            f"{op} by 0 is NaN, or mask the zeros first")
    return cls()(a, b)


def fmod(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """The C remainder a − b·trunc(a/b) elementwise, broadcasting: it has the sign of ``input``."""
    return _modulo("fmod", Fmod, input, other)


def remainder(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """Python's modulus a − b·floor(a/b) elementwise, broadcasting: it has the sign of ``other`` (``a % b``)."""
    return _modulo("remainder", Remainder, input, other)
