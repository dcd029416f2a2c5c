"""More losses under PyTorch's names: huber_loss, kl_div, margin_ranking_loss, cosine_embedding_loss,
triplet_margin_loss. Each is a composition of differentiable ops (PyTorch's formulas, term for term), so the
gradients and second derivatives come from those ops. Derivations: docs/loss.md.

Notation: x input, t target, d = x − t, r = gy/n for reduction 'mean' (n elements), gy for 'sum'.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule.errors import ShapeError
from chainrule.ops.distance import pairwise_distance
from chainrule.ops.elementwise import abs as abs_
from chainrule.ops.elementwise import exp, log, minimum, sqrt, where
from chainrule.ops.loss import _check_reduction, _elementwise_pair, _float_arg, _reduce, _same_dtype
from chainrule.ops.operands import as_tensor, broadcast_shape, check_number, reduction_arg
from chainrule.ops.reduce import sum as sum_
from chainrule.tensor import Tensor

__all__ = ["cosine_embedding_loss", "huber_loss", "kl_div", "margin_ranking_loss", "triplet_margin_loss"]




def _hinge(v: Tensor) -> Tensor:
    """max(v, 0) as PyTorch's clamp_min(0): gradient 1 where v ≥ 0 (the bound included), 0 below; NaN stays."""
    return where(v._data < 0, 0.0, v)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0,  # noqa: A002
               weight: Any = None) -> Tensor:
    """½d² where |d| < delta, delta·(|d| − ½delta) elsewhere (d = x − t).

    Gradient gx = r·d inside, r·delta·sign(d) outside; gt = −gx. ``weight`` (PyTorch 2.6+) scales each element.
    """
    op = "huber_loss"
    _check_reduction(op, reduction)
    delta = check_number(op, "delta", delta, 0.0, low_open=True, finite=True,
                         hint="; hint: delta is where the loss turns from quadratic to linear, e.g. 1.0")
    x, t = _elementwise_pair(op, input, target)
    d = x - t
    a = abs_(d)
    loss = where(a._data < delta, d * d * 0.5, (a - 0.5 * delta) * delta)
    if weight is not None:
        w = _float_arg(op, weight, "weight")
        _same_dtype(op, x, w, "weight")
        loss = loss * w
    return _reduce(loss, reduction)


def kl_div(input: Any, target: Any, size_average: bool | None = None, reduce: bool | None = None,  # noqa: A002
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Pointwise KL divergence with x = log q (log-probabilities) and t = p: t·(log t − x), or, with
    ``log_target``, eᵗ·(t − x). 0·log 0 is taken as 0. ``reduction='batchmean'`` divides the sum by the batch
    size (the mathematical KL per sample); 'mean' divides by every element (with PyTorch's warning).

    Gradient gx = −t·r (−eᵗ·r with log_target); gt = (log t + 1 − x)·r where t ≠ 0.
    """
    op = "kl_div"
    if reduction != "batchmean":
        reduction = reduction_arg(size_average, reduce, reduction, op)
    x = _float_arg(op, input, "input")
    t = _float_arg(op, target, "target")
    _same_dtype(op, x, t, "target")
    broadcast_shape(op, x.shape, t.shape)
    if log_target:
        loss = exp(t) * (t - x)
    else:
        zero = t._data == 0
        # xlogy(t, t) = 0 where t = 0: the log is taken of 1 there and that branch dropped; a negative target
        # gives NaN, as PyTorch's (it is not a probability)
        with np.errstate(invalid="ignore"):
            loss = where(zero, 0.0, t * log(where(zero, 1.0, t))) - t * x
    if reduction == "batchmean":
        total = loss.sum()
        return total / x.shape[0] if x.ndim else total
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support size.'batchmean' "
            "divides only by the batch size, and aligns with the KL div math definition.'mean' will be changed "
            "to behave the same as 'batchmean' in the next major release.",
            stacklevel=2,
        )
    return _reduce(loss, reduction)


def margin_ranking_loss(input1: Any, input2: Any, target: Any, margin: float = 0.0,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """max(0, −y·(x₁ − x₂) + margin): y = 1 asks x₁ to rank above x₂ by the margin, y = −1 below."""
    op = "margin_ranking_loss"
    reduction = reduction_arg(size_average, reduce, reduction, op)
    x1 = _float_arg(op, input1, "input1")
    x2 = _float_arg(op, input2, "input2")
    y = _float_arg(op, target, "target")
    _same_dtype(op, x1, x2, "input2", "input1")
    _same_dtype(op, x1, y, "target", "input1")
    if not x1.ndim == x2.ndim == y.ndim:
        raise ShapeError(
            f"{op}: All input tensors should have same dimension but got sizes: input1: {x1.shape}, input2: "
            f"{x2.shape}, target: {y.shape}"
        )
    broadcast_shape(op, x1.shape, x2.shape, y.shape)
    margin = check_number(op, "margin", margin)
    return _reduce(_hinge(-y * (x1 - x2) + margin), reduction)


def cosine_embedding_loss(input1: Any, input2: Any, target: Any, margin: float = 0.0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Tensor:
    """1 − cos(x₁, x₂) where y = 1, max(0, cos(x₁, x₂) − margin) where y = −1 (0 for any other y), with
    cos = Σx₁x₂ / √((Σx₁² + ε)(Σx₂² + ε)), ε = 1e-12, over the feature dim (PyTorch's formula)."""
    op = "cosine_embedding_loss"
    reduction = reduction_arg(size_average, reduce, reduction, op)
    x1 = _float_arg(op, input1, "input1")
    x2 = _float_arg(op, input2, "input2")
    y = as_tensor(op, target, "target")  # ±1 labels, int or float: they select a branch, no gradient
    margin = check_number(op, "margin", margin)
    if x1.ndim not in (1, 2) or x1.shape != x2.shape:
        raise ShapeError(
            f"{op}: input1 and input2 must have one shape, (N, D) or (D,), got {x1.shape} and {x2.shape}"
        )
    if y.shape != x1.shape[:-1]:
        raise ShapeError(
            f"{op}: target must have shape {x1.shape[:-1]} (one ±1 per pair), got {y.shape}; hint: a "
            f"{'0-D' if x1.ndim == 1 else '1-D'} target for {x1.ndim}-D inputs"
        )
    _same_dtype(op, x1, x2, "input2", "input1")
    dim = x1.ndim - 1
    eps = 1e-12
    prod = sum_(x1 * x2, dim)
    mag1 = sum_(x1 * x1, dim) + eps
    mag2 = sum_(x2 * x2, dim) + eps
    cos = prod / sqrt(mag1 * mag2)
    yd = y._data
    loss = where(yd == 1, 1 - cos, 0.0) + where(yd == -1, _hinge(cos - margin), 0.0)
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor: Any, positive: Any, negative: Any, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average: bool | None = None,
                        reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) − d(a, n)) with d = pairwise_distance(·, ·, p, eps); ``swap`` uses
    min(d(a, n), d(p, n)) for the negative distance (Balntas et al., 2016)."""
    op = "triplet_margin_loss"
    reduction = reduction_arg(size_average, reduce, reduction, op)
    a = _float_arg(op, anchor, "anchor")
    pos = _float_arg(op, positive, "positive")
    neg = _float_arg(op, negative, "negative")
    _same_dtype(op, a, pos, "positive", "anchor")
    _same_dtype(op, a, neg, "negative", "anchor")
    if not (a.ndim == pos.ndim == neg.ndim) or a.ndim not in (1, 2):
        raise ShapeError(
            f"{op}: The anchor, positive, and negative tensors are expected to have the same number of dimensions "
            f"(1 or 2), but got: anchor {a.ndim}D, positive {pos.ndim}D, and negative {neg.ndim}D inputs"
        )
    margin = check_number(op, "margin", margin)
    d_pos = pairwise_distance(a, pos, p, eps)
    d_neg = pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(pos, neg, p, eps))
    return _reduce(_hinge(d_pos - d_neg + margin), reduction)
