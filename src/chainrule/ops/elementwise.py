"""Elementwise arithmetic and math functions. See docs/elementwise.md for the derivations.

Notation (docs/notation.md): y = f(x) elementwise; gy = ∂L/∂y has y's shape; each backward returns
gx = ∂L/∂x = gy ⊙ f'(x), where ⊙ is the elementwise product. Binary ops broadcast their inputs; their
gradients come back in the broadcast shape and the Function base class sums them to each input's shape.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from chainrule import backend, dtypes
from chainrule.autograd.broadcast import Add
from chainrule.autograd.function import Function
from chainrule.errors import ArgumentError, ArgumentTypeError, DTypeError
from chainrule.ops.operands import (
    _is_scalar,
    as_dtype,
    as_tensor,
    binary,
    broadcast_shape,
    describe,
    float_only,
    scalar_dtype,
)
from chainrule.tensor import Tensor


def _xp(*arrays: Any):
    return backend.get_array_module(*arrays)


def _array(v: Any) -> Any:
    """NumPy's arithmetic on 0-d arrays gives scalars; a fast route returns arrays."""
    return np.asarray(v) if isinstance(v, np.generic) else v


# ----- arithmetic ---------------------------------------------------------------------------------------


class Sub(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
    broadcasts = True

    def forward(self, a, b):
        return a - b

    def backward(self, gy: Tensor) -> tuple[Tensor, Tensor]:
        """y = a − b: ∂y/∂a = 1, ∂y/∂b = −1, so ga = gy, gb = −gy."""
        return gy, -gy

    def fast_backward(self, gy: Any) -> tuple[Any, Any]:
        """The same on arrays (no nodes: the cost of a small op is its Python frames)."""
        return gy, _array(-gy)


class Mul(Function):
    broadcasts = True

    def forward(self, a, b):
        return a * b

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """y = a·b: ∂y/∂a = b, ∂y/∂b = a — multiplication swaps its inputs: ga = gy·b, gb = gy·a."""
        a, b = self.inputs
        ga = gy * b if self.needs_input_grad[0] else None
        gb = gy * a if self.needs_input_grad[1] else None
        return ga, gb

    def fast_backward(self, gy: Any) -> tuple[Any, Any]:
        """The same products on arrays."""
        a, b = self.inputs
        ga = _array(gy * b._data) if self.needs_input_grad[0] else None
        gb = _array(gy * a._data) if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    broadcasts = True

    def forward(self, a, b):
        return a / b

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """y = a / b: ∂y/∂a = 1/b, ∂y/∂b = −a/b², so ga = gy / b, gb = −gy·a / b²."""
        a, b = self.inputs
        ga = gy / b if self.needs_input_grad[0] else None
        gb = -gy * a / (b * b) if self.needs_input_grad[1] else None
        return ga, gb

    def fast_backward(self, gy: Any) -> tuple[Any, Any]:
        """The same quotients on arrays, in the same order."""
        a, b = self.inputs[0]._data, self.inputs[1]._data
        ga = _array(gy / b) if self.needs_input_grad[0] else None
        gb = _array(-gy * a / (b * b)) if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
    def forward(self, x):
        return -x

    def backward(self, gy: Tensor) -> Tensor:
        """y = −x: gx = −gy."""
        return -gy


class PowScalar(Function):
    """x ** c for a constant exponent c."""

    def __init__(self, exponent: float) -> None:
        self.exponent = exponent

    def forward(self, x):
        return x**self.exponent

    def backward(self, gy: Tensor) -> Tensor:
        """y = x^c: ∂y/∂x = c·x^(c−1), so gx = gy·c·x^(c−1)."""
        (x,) = self.inputs
        c = self.exponent
        if c == 0:
            return gy * 0
        return gy * c * x ** (c - 1)


class Pow(Function):
    """a ** b for two tensors."""
    uses_outputs = True  # backward reads the output's values

    broadcasts = True

    def forward(self, a, b):
        return a**b

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """y = a^b: ∂y/∂a = b·a^(b−1), ∂y/∂b = a^b·ln a = y·ln a.

        ga = gy·b·a^(b−1), taken as 0 where b = 0 (y = 1 is constant there);
        gb = gy·y·ln a, taken as 0 where a = 0 and b ≥ 0 (PyTorch's convention: the limit of a^b·ln a as
        a → 0⁺ for b > 0).
        """
        a, b = self.inputs
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = where(b._data == 0, 0, gy * b * a ** (b - 1))
        if self.needs_input_grad[1]:
            limit = (a._data == 0) & (b._data >= 0)
            gb = where(limit, 0, gy * self.output() * log(where(limit, 1, a)))  # ln 1 = 0 where the limit applies
        return ga, gb


class Cast(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype

    def forward(self, x):
        self.x_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy: Tensor) -> Tensor:
        """y = x converted to another dtype: gx = gy converted back to x's dtype."""
        return cast(gy, self.x_dtype)


def add(a: Any, b: Any) -> Tensor:
    """a + b, broadcasting."""
    a, b = binary("add", a, b)
    return Add()(a, b)


def _no_bool(op: str, *xs: Any, hint: str) -> None:
    """Refuse bool operands (tensors, arrays or Python bools) where PyTorch does: −, neg, abs, bool ** bool."""
    for x in xs:
        if isinstance(x, (bool, np.bool_)) or (hasattr(x, "dtype") and getattr(x.dtype, "kind", None) == "b"):
            raise DTypeError(f"{op}: not defined for bool operands (got dtype bool); hint: {hint}")


def sub(a: Any, b: Any) -> Tensor:
    """a − b, broadcasting."""
    hint = "for masks use a != b (exclusive or), or cast first with .long()"
    _no_bool("sub", a, b, hint=hint)  # a Python bool too, before it takes the other operand's dtype
    a, b = binary("sub", a, b)
    _no_bool("sub", a, hint=hint)  # two array-likes of bools
    return Sub()(a, b)


def mul(a: Any, b: Any) -> Tensor:
    """a · b elementwise, broadcasting."""
    a, b = binary("mul", a, b)
    return Mul()(a, b)


def div(a: Any, b: Any) -> Tensor:
    """a / b elementwise, broadcasting (true division)."""
    a, b = binary("div", a, b)
    if a.dtype.kind != "f":
        a, b = a.float(), b.float()
    return Div()(a, b)


def neg(x: Any) -> Tensor:
    """−x."""
    x = as_tensor("neg", x)
    _no_bool("neg", x, hint="to invert a mask use mask == 0")
    return Neg()(x)


def _no_negative_int_powers(op: str, base: Tensor, exponent: Any) -> None:
    """Integers to negative integer powers are not integers (NumPy refuses, PyTorch truncates or refuses)."""
    if base.dtype.kind not in "iu":
        return
    negative = bool((exponent._data < 0).any()) if isinstance(exponent, Tensor) else exponent < 0
    if negative:
        raise ArgumentError(
            f"{op}: integers to negative integer powers are not allowed (base dtype {base.dtype}); hint: cast the "
            f"base to float first, e.g. x.float() ** -1"
        )


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001 - PyTorch's name
    """a ** b: a constant exponent uses d(x^c) = c·x^(c−1)dx; a tensor exponent also gets a gradient.

    dtypes as PyTorch: an int tensor to a float power is float32, a bool tensor to an int power int64.
    """
    if isinstance(a, Tensor) and isinstance(b, (int, float, np.integer, np.floating)) and not isinstance(b, bool):
        a = as_tensor("pow", a)
        dtype = scalar_dtype("pow", b, a.dtype)
        if dtype != a.dtype:
            a = a.to(dtype)
        _no_negative_int_powers("pow", a, b)
        return PowScalar(b.item() if isinstance(b, np.generic) else b)(a)
    a, b = binary("pow", a, b)
    if a.dtype.kind == "b":
        _no_bool("pow", a, hint="cast first, e.g. x.long()")
    _no_negative_int_powers("pow", a, b)
    return Pow()(a, b)


def cast(x: Any, dtype: Any) -> Tensor:
    """``x`` converted to ``dtype``; the gradient is converted back."""
    x = as_tensor("cast", x)
    dtype = as_dtype("cast", dtype)
    if x.dtype == dtype:
        return x
    return Cast(dtype)(x)


# ----- unary math -----------------------------------------------------------------------------------------


class Exp(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
    uses_outputs = True  # backward reads the output's values
    def forward(self, x):
        return _xp(x).exp(x)

    def backward(self, gy: Tensor) -> Tensor:
        """y = eˣ: ∂y/∂x = eˣ = y, so gx = gy·y."""
        return gy * self.output()


class Log(Function):
    def forward(self, x):
        with np.errstate(divide="ignore"):  # ln 0 = −inf exactly (a mask of log(tril(ones)) relies on it), silently
            return _xp(x).log(x)

    def backward(self, gy: Tensor) -> Tensor:
        """y = ln x: ∂y/∂x = 1/x, so gx = gy / x."""
        return gy / self.inputs[0]


class Sqrt(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
    uses_outputs = True  # backward reads the output's values
    def forward(self, x):
        return _xp(x).sqrt(x)

    def backward(self, gy: Tensor) -> Tensor:
        """y = √x: ∂y/∂x = 1/(2√x) = 1/(2y), so gx = gy / (2y)."""
        return gy / (2 * self.output())


class Abs(Function):
    def forward(self, x):
        return _xp(x).abs(x)

    def backward(self, gy: Tensor) -> Tensor:
        """y = |x|: ∂y/∂x = sign(x) (0 at x = 0, as PyTorch), so gx = gy·sign(x)."""
        x = self.inputs[0]._data
        return gy * Tensor(_xp(x).sign(x))


class Sin(Function):
    def forward(self, x):
        return _xp(x).sin(x)

    def backward(self, gy: Tensor) -> Tensor:
        """y = sin x: gx = gy·cos x."""
        return gy * cos(self.inputs[0])


class Cos(Function):
    def forward(self, x):
        return _xp(x).cos(x)

    def backward(self, gy: Tensor) -> Tensor:
        """y = cos x: gx = −gy·sin x."""
        return -gy * sin(self.inputs[0])


def _float_unary(op: str, fn: type[Function], x: Any) -> Tensor:
    x = as_tensor(op, x)
    float_only(op, x)
    return fn()(x)


def exp(x: Any) -> Tensor:
    """eˣ elementwise."""
    return _float_unary("exp", Exp, x)


def log(x: Any) -> Tensor:
    """Natural logarithm elementwise."""
    return _float_unary("log", Log, x)


def sqrt(x: Any) -> Tensor:
    """√x elementwise."""
    return _float_unary("sqrt", Sqrt, x)


def abs(x: Any) -> Tensor:  # noqa: A001 - PyTorch's name
    """|x| elementwise."""
    x = as_tensor("abs", x)
    _no_bool("abs", x, hint="a mask is its own absolute value")
    return Abs()(x)


def sin(x: Any) -> Tensor:
    """sin x elementwise."""
    return _float_unary("sin", Sin, x)


def cos(x: Any) -> Tensor:
    """cos x elementwise."""
    return _float_unary("cos", Cos, x)


# ----- selection: maximum, minimum, clip, where -----------------------------------------------------------


class Maximum(Function):
    broadcasts = True

    def forward(self, a, b):
        return _xp(a).maximum(a, b)

    def backward(self, gy: Tensor) -> tuple[Tensor, Tensor]:
        """y = max(a, b) routes gy to the larger input: ga = gy·[a > b], gb = gy·[b > a].

        At a tie each side gets gy/2 (PyTorch's convention, the mean of the two one-sided derivatives).
        """
        return _route(gy, *self.inputs, larger=True)


class Minimum(Function):
    broadcasts = True

    def forward(self, a, b):
        return _xp(a).minimum(a, b)

    def backward(self, gy: Tensor) -> tuple[Tensor, Tensor]:
        """y = min(a, b): ga = gy·[a < b], gb = gy·[b < a], and gy/2 to each side at a tie."""
        return _route(gy, *self.inputs, larger=False)


def _route(gy: Tensor, a: Tensor, b: Tensor, larger: bool) -> tuple[Tensor, Tensor]:
    a, b = a._data, b._data
    wins = a > b if larger else a < b
    weight_a = wins + 0.5 * (a == b)  # 1 where a wins, 1/2 at ties, 0 where b wins
    weight_a = Tensor(_xp(weight_a).asarray(weight_a, dtype=gy.dtype))
    return gy * weight_a, gy * (1 - weight_a)


class Clip(Function):
    def __init__(self, low: Any, high: Any) -> None:
        self.low, self.high = low, high

    def forward(self, x):
        return _xp(x).clip(x, self.low, self.high)

    def backward(self, gy: Tensor) -> Tensor:
        """y = min(max(x, lo), hi): gx = gy where lo ≤ x ≤ hi (bounds included, as PyTorch), else 0."""
        x = self.inputs[0]._data
        inside = _xp(x).ones(x.shape, dtype=bool)
        if self.low is not None:
            inside &= x >= self.low
        if self.high is not None:
            inside &= x <= self.high
        return gy * Tensor(inside.astype(gy.dtype))


class Where(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
    holds = ("condition",)  # the caller's mask: backward routes by it, so it stays read-only until then
    broadcasts = True

    def __init__(self, condition: Any) -> None:
        self.condition = condition

    def forward(self, a, b):
        return _xp(a).where(self.condition, a, b)

    def backward(self, gy: Tensor) -> tuple[Tensor, Tensor]:
        """y = a where c else b: ga = gy where c else 0, gb = 0 where c else gy.

        The condition c is a constant (booleans carry no gradient).
        """
        c = Tensor(self.condition.astype(gy.dtype))
        return gy * c, gy * (1 - c)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum of a and b, broadcasting."""
    a, b = binary("maximum", a, b)
    return Maximum()(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum of a and b, broadcasting."""
    a, b = binary("minimum", a, b)
    return Minimum()(a, b)


def clip(x: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
    """Values of ``x`` limited to [min, max] (either may be None). Also ``clamp``.

    The bounds are numbers, weak as in ``binary``: an int tensor clipped at 0.5 is float32, as PyTorch.
    """
    x = as_tensor("clip", x)
    if min is None and max is None:
        raise ArgumentError("clip: at least one of min and max must be given")
    dtype = x.dtype
    for name, bound in (("min", min), ("max", max)):
        if bound is not None:
            if not _is_scalar(bound) or backend.is_array(bound):
                raise ArgumentTypeError(f"clip: argument '{name}' must be a number or None, got {describe(bound)}")
            dtype = dtypes.result_dtype("clip", dtype, scalar_dtype("clip", bound, x.dtype))
    if min is not None and max is not None and min > max:
        raise ArgumentError(f"clip: min ({min}) must not exceed max ({max})")
    if dtype != x.dtype:
        x = x.to(dtype)
    low = None if min is None else dtype.type(min)
    high = None if max is None else dtype.type(max)
    return Clip(low, high)(x)


clamp = clip


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Elementwise ``a if condition else b``, broadcasting all three."""
    cond = as_tensor("where", condition, "condition")._data
    if cond.dtype != bool:
        raise DTypeError(f"where: condition must be boolean, got dtype {cond.dtype}; hint: compare, e.g. x > 0")
    a, b = binary("where", a, b)
    broadcast_shape("where", cond.shape, a.shape, b.shape)
    return Where(cond)(a, b)


# ----- comparisons (outside the graph) -------------------------------------------------------------------


def _compare(op: str, a: Any, b: Any) -> Tensor:
    a, b = binary(op, a, b)
    return Tensor(getattr(operator, op)(a._data, b._data))


def lt(a: Any, b: Any) -> Tensor:
    """``a < b`` elementwise, broadcasting: a bool tensor, outside the graph (``torch.lt``).

    Raises:
        ShapeError: shapes that do not broadcast.
        DTypeError: float32 meeting float64, or an operand that is not numbers.
    """
    return _compare("lt", a, b)


def le(a: Any, b: Any) -> Tensor:
    """``a <= b`` elementwise, broadcasting: a bool tensor, outside the graph (``torch.le``).

    Raises:
        ShapeError: shapes that do not broadcast.
        DTypeError: float32 meeting float64, or an operand that is not numbers.
    """
    return _compare("le", a, b)


def gt(a: Any, b: Any) -> Tensor:
    """``a > b`` elementwise, broadcasting: a bool tensor, outside the graph (``torch.gt``).

    Raises:
        ShapeError: shapes that do not broadcast.
        DTypeError: float32 meeting float64, or an operand that is not numbers.
    """
    return _compare("gt", a, b)


def ge(a: Any, b: Any) -> Tensor:
    """``a >= b`` elementwise, broadcasting: a bool tensor, outside the graph (``torch.ge``).

    Raises:
        ShapeError: shapes that do not broadcast.
        DTypeError: float32 meeting float64, or an operand that is not numbers.
    """
    return _compare("ge", a, b)


def eq(a: Any, b: Any) -> Tensor:
    """``a == b`` elementwise, broadcasting: a bool tensor, outside the graph (``torch.eq``).

    Raises:
        ShapeError: shapes that do not broadcast.
        DTypeError: float32 meeting float64, or an operand that is not numbers.
    """
    return _compare("eq", a, b)


def ne(a: Any, b: Any) -> Tensor:
    """``a != b`` elementwise, broadcasting: a bool tensor, outside the graph (``torch.ne``).

    Raises:
        ShapeError: shapes that do not broadcast.
        DTypeError: float32 meeting float64, or an operand that is not numbers.
    """
    return _compare("ne", a, b)
