"""Dropout: zero each element with probability p during training, and scale the rest by 1/(1 − p).

Inverted dropout: the scaling happens at training time, so E[y] = (1 − p)·x/(1 − p) = x and evaluation is the
identity (no rescaling at test time). The mask is drawn from a ``numpy.random.Generator``: the one passed as
``generator``, or chainrule's default generator (``cr.manual_seed`` resets it), so a seed reproduces the mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.creation import default_generator
from chainrule.errors import ArgumentError, ArgumentTypeError, DTypeError
from chainrule.ops.operands import as_tensor, check_bool, check_number, describe, written_back
from chainrule.tensor import Tensor

__all__ = ["dropout"]


class Dropout(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
    def __init__(self, scaled_mask: Any) -> None:
        self.scaled_mask = scaled_mask  # m/(1 − p), m ∈ {0, 1}: a constant of x's shape and dtype

    def forward(self, x):
        return x * self.scaled_mask

    def backward(self, gy: Tensor) -> Tensor:
        """y = x ⊙ m/(1 − p) with a constant mask m: ∂yᵢ/∂xᵢ = mᵢ/(1 − p), so gx = gy ⊙ m/(1 − p).

        Dropped elements get no gradient, kept ones the same 1/(1 − p) scale as the forward. Shapes: all
        x.shape. gx is linear in gy and constant in x: the second derivative is 0.
        """
        return gy * Tensor(self.scaled_mask)


def dropout(
    input: Any,  # noqa: A002 - PyTorch's name
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Inverted dropout: in training each element is kept with probability 1 − p and scaled by 1/(1 − p),
    zeroed otherwise; with ``training=False`` (or p = 0) the input is returned unchanged.

    ``inplace=True`` writes the result into ``input`` where no gradient is recorded for it, as PyTorch's
    (``written_back``). The mask is ``generator.random(input.shape) >= p``, from ``generator`` or, without one,
    chainrule's default generator. p = 1 drops everything (the output and its gradient are zero).
    """
    x = as_tensor("dropout", input)
    if x.dtype.kind != "f":
        raise DTypeError(
            f"dropout: argument 'input' must be a floating-point tensor, got dtype {x.dtype}; hint: .float()"
        )
    p_value = check_number("dropout", "p", p, nan=True)
    if not 0.0 <= p_value <= 1.0:
        raise ArgumentError(f"dropout: argument 'p' is the probability of dropping an element, in [0, 1]; got {p}")
    p = p_value
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise ArgumentTypeError(
            f"dropout: argument 'generator' must be a numpy.random.Generator, got {describe(generator)}; hint: "
            f"np.random.default_rng(seed)"
        )
    if not check_bool("dropout", "training", training) or p == 0.0:
        return x
    rng = generator if generator is not None else default_generator()
    xp = backend.get_array_module(x._data)
    if p == 1.0:
        scaled_mask = xp.zeros(x.shape, dtype=x.dtype)
    else:
        keep = xp.asarray(rng.random(x.shape) >= p)
        scaled_mask = keep.astype(x.dtype) * x.dtype.type(1 / (1 - p))
    return written_back(x, Dropout(scaled_mask)(x), check_bool("dropout", "inplace", inplace))
