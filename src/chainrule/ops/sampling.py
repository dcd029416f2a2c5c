"""Random draws shaped by tensors: multinomial (category indices) and normal (Gaussian samples with tensor or
number parameters). The numbers come from chainrule's default generator (``cr.manual_seed``) or ``generator``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import backend, dtypes, random
from chainrule.autograd.function import Function
from chainrule.devices import move
from chainrule.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError
from chainrule.ops.operands import (
    as_tensor,
    broadcast_shape,
    check_bool,
    check_int,
    check_number,
    check_size,
    describe,
    int_tuple,
)
from chainrule.tensor import Tensor

__all__ = ["multinomial", "normal"]


def _generator(op: str, generator: Any) -> np.random.Generator:
    """``generator``, or the default one (``cr.manual_seed``) when None (as the factories in creation.py)."""
    if generator is None:
        return random.default()
    if not isinstance(generator, np.random.Generator):
        raise ArgumentTypeError(f"{op}: argument 'generator' must be a chainrule.Generator or a "
                                f"numpy.random.Generator, got {describe(generator)}; hint: cr.Generator()")
    return generator


def multinomial(input: Any, num_samples: int, replacement: bool = False, *,  # noqa: A002 - PyTorch's names
                generator: Any = None) -> Tensor:
    """``num_samples`` category indices per row of ``input`` (1-D: one distribution; 2-D: one per row), drawn
    with probability proportional to the weights (non-negative, finite, not all zero). Without ``replacement``
    each category is drawn at most once (so at most as many samples as nonzero weights). An int64 tensor of
    shape (num_samples,) or (rows, num_samples) that does not require grad.

    Vectorised over rows: with replacement, one ``searchsorted`` of uniform draws into every row's cumulative
    weights at once (row r's cdf is offset by r); without, the ``num_samples`` smallest of Exp(1)/weight
    (the exponential race: the first to arrive is drawn with probability ∝ weight, then the next, ...)."""
    w = as_tensor("multinomial", input)
    if w.dtype.kind != "f":
        raise DTypeError(f"multinomial: argument 'input' must be a floating-point tensor of weights, got dtype "
                         f"{w.dtype}; hint: call .float() first")
    if w.ndim not in (1, 2):
        raise ShapeError(f"multinomial: argument 'input' must be 1-D or 2-D (rows of weights), got shape {w.shape}")
    k = check_int("multinomial", "num_samples", num_samples, 1)
    replacement = check_bool("multinomial", "replacement", replacement)
    rng = _generator("multinomial", generator)
    p = backend.to_numpy(w._data).astype(np.float64).reshape(-1, w.shape[-1])
    rows, n = p.shape
    if n == 0:
        raise ShapeError("multinomial: argument 'input' has no categories (its last dim is 0)")
    if not np.isfinite(p).all() or (p < 0).any():
        raise ArgumentError("multinomial: the weights must be finite and non-negative (got NaN, inf or a negative "
                            "value); hint: softmax the scores, or clamp them at 0")
    positive = (p > 0).sum(axis=1)
    if (positive == 0).any():
        raise ArgumentError(f"multinomial: row {int(np.argmax(positive == 0))} of the weights is all zero; each row "
                            f"needs a positive weight")
    if not replacement and k > int(positive.min()):
        raise ArgumentError(f"multinomial: cannot draw {k} samples without replacement from a row with only "
                            f"{int(positive.min())} nonzero weights; hint: pass replacement=True or fewer samples")
    check_size("multinomial", "the samples", (rows, k), np.int64)
    if replacement:
        cdf = np.cumsum(p, axis=1)
        cdf /= cdf[:, -1:]
        cdf[:, -1] = 1.0  # exactly 1: a draw below 1 always lands in the row
        offsets = np.arange(rows, dtype=np.float64)[:, None]
        u = rng.random((rows, k)) + offsets
        picks = np.searchsorted((cdf + offsets).reshape(-1), u.reshape(-1), side="right").reshape(rows, k)
        picks = np.minimum(picks - np.arange(rows)[:, None] * n, n - 1)
    else:
        with np.errstate(divide="ignore"):  # a zero weight (−0.0 too) never arrives: its key is inf
            keys = np.where(p > 0, rng.exponential(size=(rows, n)) / p, np.inf)
        picks = np.argsort(keys, axis=1, kind="stable")[:, :k]
    picks = picks.astype(np.int64).reshape(w.shape[:-1] + (k,))
    return Tensor(move(picks, w.device) if w.device.type != "cpu" else picks)


class Normal(Function):
    """Samples of N(mean, std²): a draw, not a function of its parameters in PyTorch's autograd either (its
    derivative rule for normal(mean, std) passes zeros)."""

    uses_inputs = False  # the gradient is zero
    broadcasts = True  # mean and std broadcast; their (zero) gradients are summed back to each shape

    def __init__(self, noise: Any) -> None:
        self.noise = noise

    def forward(self, mean, std):
        return mean + std * self.noise

    def backward(self, gy: Tensor) -> tuple[Tensor, Tensor]:
        """PyTorch's rule for ``normal``: g_mean = 0 and g_std = 0 (broadcast shape; summed to each input's). For
        a pathwise gradient write ``mean + std * cr.randn_like(mean)``."""
        zeros = Tensor(backend.get_array_module(gy._data).zeros_like(gy._data))
        return zeros, zeros


def normal(mean: Any = 0.0, std: Any = 1.0, size: Sequence[int] | None = None, *,
           generator: Any = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Samples of N(mean, std²), as PyTorch's forms: ``normal(mean_tensor, std_tensor)`` (broadcasting),
    ``normal(mean_tensor, std=1.0)``, ``normal(mean, std_tensor)`` and ``normal(mean, std, size)`` with two
    numbers. ``std`` must be ≥ 0. The result's dtype is the tensors' (float32 for numbers)."""
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    rng = _generator("normal", generator)
    if not tensors:
        m = check_number("normal", "mean", mean)
        s = check_number("normal", "std", std, 0)
        if size is None:
            raise ArgumentError("normal: with a number mean and std, argument 'size' is needed; hint: "
                                "cr.normal(0.0, 1.0, size=(3,))")
        shape = int_tuple("normal", "size", size)
        for n in shape:
            if n < 0:
                raise ArgumentError(f"normal: argument 'size' must hold non-negative sizes, got {shape}")
        dt = dtypes.default_float if dtype is None else np.dtype(dtype)
        return Tensor((m + s * rng.standard_normal(shape)).astype(dt), requires_grad=requires_grad)
    if size is not None:
        raise ArgumentError("normal: argument 'size' is only for number mean and std; a tensor parameter gives "
                            "the shape")
    ref = tensors[0]
    if ref.dtype.kind != "f":
        raise DTypeError(f"normal: a tensor mean or std must be floating point, got dtype {ref.dtype}; hint: call "
                         f".float() first")
    m = mean if isinstance(mean, Tensor) else _number_as("mean", mean, ref)
    s = std if isinstance(std, Tensor) else _number_as("std", std, ref, low=0)
    if m.dtype != s.dtype:
        raise DTypeError(f"normal: mean and std must have one dtype, got {m.dtype} and {s.dtype}")
    if not bool((s._data >= 0).all()):  # NaN too, as PyTorch
        raise ArgumentError("normal: argument 'std' must be ≥ 0 everywhere, got a negative value or NaN")
    shape = broadcast_shape("normal", m.shape, s.shape)
    noise = rng.standard_normal(shape).astype(m.dtype)
    xp = backend.get_array_module(m._data)
    if xp is not np:
        noise = move(noise, m.device)
    return Normal(noise)(m, s)


def _number_as(name: str, value: Any, like: Tensor, low: float | None = None) -> Tensor:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(f"normal: argument '{name}' must be a number or a tensor, got {describe(value)}")
    v = check_number("normal", name, value, low)
    return Tensor(backend.get_array_module(like._data).asarray(v, dtype=like.dtype))
