"""Channel dropout and alpha dropout: PyTorch's ``F.dropout1d``, ``F.dropout2d`` and ``F.alpha_dropout``.

Channel dropout keeps or drops whole channels: one draw per (n, c), a mask of shape (N, C, 1, …) that
broadcasts over the positions, kept channels scaled by 1/(1 − p). It is dropout's ``Dropout`` op with that
mask, so gx = gy ⊙ m/(1 − p), summed over nothing (the mask broadcasts into gy's shape).

Alpha dropout keeps SELU's self-normalising mean 0 and variance 1: a dropped element is set to SELU's negative
saturation α' = −λ·α ≈ −1.7581 instead of 0, then y = a·(x·m + α'·(1 − m)) + b with
a = ((1 − p)(1 + p·α'²))^(−1/2) and b = −a·α'·p, which restore mean and variance. As ops that is
y = x·(a·m) + (a·α'·(1 − m) + b): a multiply and an add by constants, so gx = gy ⊙ a·m.

The masks come from ``generator`` (a numpy.random.Generator) or chainrule's default generator.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.creation import default_generator
from chainrule.errors import ArgumentTypeError, DTypeError, ShapeError
from chainrule.ops.dropout import Dropout
from chainrule.ops.operands import as_tensor, check_bool, check_number, describe, written_back
from chainrule.tensor import Tensor

__all__ = ["alpha_dropout", "dropout1d", "dropout2d"]

SELU_SATURATION = -1.7580993408473766  # −λ·α of SELU, its limit at −∞


def _arguments(op: str, input: Any, p: Any, training: Any, generator: Any) -> tuple[Tensor, float, bool, Any]:  # noqa: A002
    x = as_tensor(op, input)
    if x.dtype.kind != "f":
        raise DTypeError(f"{op}: argument 'input' must be a floating-point tensor, got dtype {x.dtype}; hint: .float()")
    p = check_number(op, "p", p, 0.0, 1.0, hint="; hint: p is the probability of dropping, e.g. 0.5")
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise ArgumentTypeError(
            f"{op}: argument 'generator' must be a numpy.random.Generator, got {describe(generator)}; hint: "
            f"np.random.default_rng(seed)"
        )
    rng = generator if generator is not None else default_generator()
    return x, p, check_bool(op, "training", training), rng


def _channel_dropout(op: str, x: Tensor, p: float, training: bool, inplace: bool, rng: Any, batched: bool) -> Tensor:
    """Drop whole channels: the mask has one entry per (n, c) (per c unbatched), size 1 over the positions."""
    if not training or p == 0.0:
        return x
    lead = 2 if batched else 1
    shape = x.shape[:lead] + (1,) * (x.ndim - lead)
    xp = backend.get_array_module(x._data)
    if p == 1.0:
        scaled_mask = xp.zeros(shape, dtype=x.dtype)
    else:
        keep = xp.asarray(rng.random(shape) >= p)
        scaled_mask = keep.astype(x.dtype) * x.dtype.type(1 / (1 - p))
    return written_back(x, Dropout(scaled_mask)(x), check_bool(op, "inplace", inplace))


def dropout1d(
    input: Any,  # noqa: A002 - PyTorch's name
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Zero whole channels of (N, C, L) or unbatched (C, L) input with probability p, scaling the kept ones by
    1/(1 − p); the identity when not training."""
    op = "dropout1d"
    x, p, training, rng = _arguments(op, input, p, training, generator)
    if x.ndim not in (2, 3):
        raise ShapeError(f"{op}: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape {x.shape}; hint: "
                         f"dropout2d for images, dropout for elementwise dropout")
    return _channel_dropout(op, x, p, training, inplace, rng, x.ndim == 3)


def dropout2d(
    input: Any,  # noqa: A002 - PyTorch's name
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Zero whole channels of (N, C, H, W) input with probability p, scaling the kept ones by 1/(1 − p).

    As PyTorch, a 3-D input is read as (N, C, L) (channel dropout over dim 1, with a warning), and inputs of
    another rank are accepted with a warning and have their dims 0 and 1 read as N and C."""
    op = "dropout2d"
    x, p, training, rng = _arguments(op, input, p, training, generator)
    if x.ndim < 2:
        raise ShapeError(f"{op}: expected a 4-D (N, C, H, W) input, got shape {x.shape}")
    if x.ndim == 3:
        warnings.warn("dropout2d: received a 3-D input; it is read as (N, C, L) and whole channels of dim 1 are "
                      "dropped (PyTorch's behaviour); use dropout1d for that, or pass (N, C, H, W)", stacklevel=2)
    elif x.ndim != 4:
        warnings.warn(f"dropout2d: received a {x.ndim}-D input; dropout2d expects (N, C, H, W); use dropout for "
                      f"elementwise dropout", stacklevel=2)
    return _channel_dropout(op, x, p, training, inplace, rng, True)


def alpha_dropout(
    input: Any,  # noqa: A002 - PyTorch's name
    p: float = 0.5,
    training: bool = False,
    inplace: bool = False,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Alpha dropout (for SELU networks): dropped elements become SELU's saturation value, then an affine map
    keeps the mean and variance of a standard normal input; the identity when not training."""
    op = "alpha_dropout"
    x, p, training, rng = _arguments(op, input, p, training, generator)
    inplace = check_bool(op, "inplace", inplace)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return written_back(x, x * Tensor(backend.get_array_module(x._data).zeros((), dtype=x.dtype)), inplace)
    xp = backend.get_array_module(x._data)
    keep = xp.asarray(rng.random(x.shape) >= p).astype(x.dtype)
    a = (1 - p) * (1 + p * SELU_SATURATION**2)
    a = a**-0.5
    scale = keep * x.dtype.type(a)
    shift = (1 - keep) * x.dtype.type(a * SELU_SATURATION) + x.dtype.type(-a * SELU_SATURATION * p)
    return written_back(x, x * Tensor(scale) + Tensor(shift), inplace)

