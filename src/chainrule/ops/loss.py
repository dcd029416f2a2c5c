"""Loss functions under PyTorch's names and signatures. Derivations: docs/loss.md.

Each loss pairs an output layer with the negative log-likelihood of a distribution:

| distribution     | output layer               | loss                                            |
|------------------|----------------------------|-------------------------------------------------|
| Bernoulli        | sigmoid                    | binary_cross_entropy(_with_logits)              |
| categorical      | softmax                    | cross_entropy (on logits), nll_loss (log-probs) |
| Gaussian         | linear                     | mse_loss (fixed variance), gaussian_nll_loss    |
| Laplace          | linear                     | l1_loss (smooth_l1_loss: Huber-like)            |
| Gaussian mixture | mixture density network    | mixture_density_nll                             |

Notation: ℓᵢ is the loss of one element (one sample, or one sample and position for K-dim inputs); the
reduction gives L = Σᵢ ℓᵢ ('sum'), Σᵢ ℓᵢ / n ('mean', n the number of elements or the summed class weights),
or the ℓᵢ themselves ('none'). gy = ∂(reduced loss)/∂… flows in as the gradient of that output; every
backward first turns it into rᵢ = ∂L/∂ℓᵢ (gy, gy/n, or gyᵢ) and then applies the per-element rule.
The class weights of cross_entropy and nll_loss are constants, as in PyTorch: no gradient flows to them.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.errors import ArgumentError, DTypeError, IndexValueError, ShapeError
from chainrule.ops.activation import Softplus, log_softmax, sigmoid, softmax
from chainrule.ops.elementwise import abs as abs_
from chainrule.ops.elementwise import clip, exp, log, maximum, where
from chainrule.ops.operands import (
    as_tensor,
    broadcast_shape,
    check_bool,
    check_int,
    check_number,
    first_outside,
    same_dtype,
)
from chainrule.ops.reduce import logsumexp
from chainrule.ops.reduce import sum as sum_
from chainrule.tensor import Tensor

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "gaussian_nll_loss", "l1_loss",
    "mixture_density_nll", "mse_loss", "nll_loss", "smooth_l1_loss",
]

_REDUCTIONS = ("mean", "sum", "none")


# ----- argument checks shared by every loss ------------------------------------------------------------------


def _float_arg(op: str, x: Any, name: str) -> Tensor:
    x = as_tensor(op, x, name)
    if x.dtype.kind != "f":
        raise DTypeError(
            f"{op}: argument '{name}' must be a floating-point tensor, got dtype {x.dtype}; hint: call .float() first"
        )
    return x


_same_dtype = same_dtype


def _check_reduction(op: str, reduction: str) -> None:
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ArgumentError(f"{op}: argument 'reduction' must be one of 'mean', 'sum', 'none', got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        if loss.numel() == 0:  # the mean of no losses is NaN, as PyTorch (0/0), with an empty gradient
            return loss.sum() * float("nan")
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _xp(x: Any):
    return backend.get_array_module(x)


def _first_bad(op: str, name: str, values: Any, bad: Any, expected: str, hint: str = "") -> None:
    """Raise an ArgumentError (a ValueError) naming the first element of ``values`` where ``bad`` holds, if any."""
    first_outside(op, name, values, bad, expected, hint)


def _elementwise_pair(op: str, input: Any, target: Any) -> tuple[Tensor, Tensor]:  # noqa: A002
    """input and target as float tensors of one dtype; different shapes broadcast with a warning (as PyTorch)."""
    x = _float_arg(op, input, "input")
    t = _float_arg(op, target, "target")
    _same_dtype(op, x, t, "target")
    if t.shape != x.shape:
        shape = broadcast_shape(op, x.shape, t.shape)
        warnings.warn(
            f"{op}: target shape {t.shape} differs from input shape {x.shape}; they broadcast to {shape}, which "
            f"is rarely what is meant (an (N, 1) input against an (N,) target gives an (N, N) loss)",
            UserWarning,
            stacklevel=3,
        )
    return x, t


# ----- categorical: cross_entropy and nll_loss --------------------------------------------------------------


def _class_weight(op: str, weight: Any, n_classes: int, x: Tensor) -> Any:
    """The class weights as a constant array of shape (C,), or None."""
    if weight is None:
        return None
    w = _float_arg(op, weight, "weight")
    _same_dtype(op, x, w, "weight")
    if w.shape != (n_classes,):
        raise ShapeError(f"{op}: argument 'weight' must have shape ({n_classes},) (one per class), got {w.shape}")
    return w._data


def _class_targets(op: str, target: Tensor, x_shape: tuple[int, ...], ignore_index: int, class_weight: Any,
                   unbatched: bool) -> tuple[Any, Any, Any]:
    """Validate class-index targets; return (safe indices, valid mask, per-element weight w[yᵢ]·[valid])."""
    if target.dtype.kind not in "iu":
        raise DTypeError(
            f"{op}: class-index targets must have an integer dtype, got {target.dtype}; pass class probabilities "
            f"of the input's shape {x_shape} for soft targets"
        )
    n_classes = x_shape[1]
    expected = x_shape[:1] + x_shape[2:]
    want = expected[1:] if unbatched else expected
    if target.shape != want:
        batch = ""
        if want and target.ndim and target.shape[0] != want[0] and not unbatched:
            batch = f"; the batch sizes differ: input {x_shape[0]}, target {target.shape[0]}"
        raise ShapeError(
            f"{op}: class-index target must have shape {want} (the input's shape without the class dim), "
            f"got {target.shape}{batch}"
        )
    t = target._data.reshape(expected)
    xp = _xp(t)
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= n_classes))
    first_outside(op, "target", target._data, bad.reshape(target.shape), f"[0, {n_classes})",
                  f"; class indices must lie in [0, {n_classes}) or equal ignore_index ({ignore_index})",
                  IndexValueError)
    safe = xp.where(valid, t, 0)
    w_t = valid.astype(np.float64) if class_weight is None else class_weight[safe] * valid
    return safe, valid, w_t


def _one_hot_rows(safe: Any, n_classes: int, dtype: Any) -> Any:
    """onehot(y) with the class axis at dim 1: shape (N, C, d1, ...)."""
    xp = _xp(safe)
    classes = xp.arange(n_classes).reshape((1, n_classes) + (1,) * (safe.ndim - 1))
    return (safe[:, None] == classes).astype(dtype)


class _ClassLoss(Function):
    """Shared by the categorical losses: the reduction and the rᵢ = ∂L/∂ℓᵢ it implies."""

    def __init__(self, reduction: str) -> None:
        self.reduction = reduction

    def reduce(self, loss: Any, denominator: Any) -> Any:
        if self.reduction == "none":
            return loss
        total = loss.sum()
        if self.reduction == "sum":
            return total
        with np.errstate(invalid="ignore", divide="ignore"):  # all targets ignored: 0/0 = nan, as PyTorch
            return (total / denominator).astype(loss.dtype)

    def per_element(self, gy: Any) -> Any:
        """r = ∂L/∂ℓ with a class dim of size 1 at dim 1, so that it broadcasts over (N, C, d1, ...); gy a Tensor
        (backward) or an array (fast_backward)."""
        if self.reduction == "none":
            return gy.unsqueeze(1) if isinstance(gy, Tensor) else gy[:, None]
        if self.reduction == "mean":
            with np.errstate(divide="ignore"):
                return gy * (1.0 / self.denominator if self.denominator else math.inf)
        return gy


class CrossEntropyIndex(_ClassLoss):
    """Fused log-softmax + negative log-likelihood for integer class targets (with weights and smoothing)."""

    def __init__(self, reduction: str, smoothing: float, safe: Any, valid: Any, w_t: Any, weight: Any) -> None:
        super().__init__(reduction)
        self.smoothing, self.safe, self.valid, self.w_t, self.weight = smoothing, safe, valid, w_t, weight

    def class_weight(self, x: Any) -> Any:
        """w_c shaped (1, C, 1, ...) to broadcast against x; ones without weights."""
        n_classes = x.shape[1]
        w_c = _xp(x).ones(n_classes, dtype=x.dtype) if self.weight is None else self.weight
        return w_c.reshape((1, n_classes) + (1,) * (x.ndim - 2))

    def forward(self, x):
        xp = _xp(x)
        c = x.dtype.type
        shifted = x - x.max(axis=1, keepdims=True)  # stable for any logits: the largest exponent is e⁰
        e = xp.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        logp = shifted - xp.log(total)
        self.p = e / total
        w_t = self.w_t.astype(x.dtype, copy=False)
        picked = xp.take_along_axis(logp, self.safe[:, None], axis=1)[:, 0]  # gather: no 0·(−∞) products
        loss = -w_t * picked
        if self.smoothing > 0:
            smooth = -(logp * self.class_weight(x)).sum(axis=1)
            loss = c(1 - self.smoothing) * loss + c(self.smoothing / x.shape[1]) * smooth
        loss = xp.where(self.valid, loss, c(0))  # ignored targets: 0, even next to ±inf or NaN logits
        self.denominator = float(w_t.sum())
        return self.reduce(loss, self.denominator)

    def target(self, x: Any) -> tuple[Any, Any]:
        """q_ic = [valid]·((1 − ε)·w[yᵢ]·δ_{c,yᵢ} + (ε/C)·w_c) and Q = Σ_c q (keepdim), built only for backward."""
        c = x.dtype.type
        n_classes = x.shape[1]
        w_t = self.w_t.astype(x.dtype, copy=False)[:, None]
        valid = self.valid[:, None]
        q = _one_hot_rows(self.safe, n_classes, x.dtype) * (w_t * c(1 - self.smoothing))
        big_q = w_t * c(1 - self.smoothing)
        if self.smoothing > 0:
            w_c = self.class_weight(x)
            q = q + c(self.smoothing / n_classes) * w_c * valid
            big_q = big_q + c(self.smoothing / n_classes) * w_c.sum(axis=1, keepdims=True) * valid
        return q, big_q

    def backward(self, gy: Tensor) -> Tensor:
        """ℓᵢ = −Σ_c q_ic·log p_ic with p = softmax(xᵢ) over the class dim 1 and q the (smoothed, weighted)
        target: ∂ℓᵢ/∂x_ic = p_ic·Σ_k q_ik − q_ic (from ∂log p_ik/∂x_ic = δ_kc − p_ic).

        gx = r ⊙ (p ⊙ Q − q), Q = Σ_c q (keepdim), r = ∂L/∂ℓ: gy/W for 'mean' (W = Σᵢ w[yᵢ] over targets not
        ignored), gy for 'sum', gy unsqueezed at dim 1 for 'none'. Without weights and smoothing, q = onehot(y)
        and Q = 1: gx = (p − y)/N. Shapes: x, p, q, gx (N, C, d1, ...); Q (N, 1, d1, ...). p is differentiable
        (softmax), so the second derivative follows; q and Q are constants.
        """
        x = self.inputs[0]
        q, big_q = self.target(x._data)
        return self.per_element(gy) * (softmax(x, 1) * Tensor(big_q) - Tensor(q))

    def fast_backward(self, gy: Any) -> Any:
        """The same on arrays, with the p that forward saved."""
        q, big_q = self.target(self.inputs[0]._data)
        return self.per_element(gy) * (self.p * big_q - q)


class CrossEntropyProb(_ClassLoss):
    """Fused log-softmax + cross-entropy against class probabilities (soft targets of the input's shape)."""

    def __init__(self, reduction: str, smoothing: float, weight: Any) -> None:
        super().__init__(reduction)
        self.smoothing, self.weight = smoothing, weight

    def class_weight(self, ndim: int, like: Any) -> Any:
        n_classes = like.shape[1]
        w = _xp(like).ones(n_classes, dtype=like.dtype) if self.weight is None else self.weight
        return w.reshape((1, n_classes) + (1,) * (ndim - 2))

    def forward(self, x, t):
        xp = _xp(x)
        c = x.dtype.type
        n_classes = x.shape[1]
        shifted = x - x.max(axis=1, keepdims=True)
        e = xp.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        self.logp = shifted - xp.log(total)
        self.p = e / total
        smoothed = t * c(1 - self.smoothing) + c(self.smoothing / n_classes) if self.smoothing > 0 else t
        loss = -(self.logp * smoothed * self.class_weight(x.ndim, x)).sum(axis=1)
        self.denominator = float(x.size // n_classes) if x.size else math.nan
        return self.reduce(loss, self.denominator)

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """ℓᵢ = −Σ_c w_c·t'_ic·log p_ic with t' = (1 − ε)t + ε/C and p = softmax(xᵢ) over dim 1.

        gx = r ⊙ (p ⊙ Q − q) with q = w ⊙ t', Q = Σ_c q (keepdim); gt = −r ⊙ (1 − ε)·w ⊙ log p.
        r = ∂L/∂ℓ: gy/(N·d1·…) for 'mean' (PyTorch does not divide by the weights here), gy for 'sum', gy
        unsqueezed at dim 1 for 'none'. Shapes: x, t, gx, gt (N, C, d1, ...). p, log p and q are
        differentiable in x and t, so second derivatives follow.
        """
        x, t = self.inputs
        r = self.per_element(gy)
        w = Tensor(self.class_weight(x.ndim, x._data))
        gx = gt = None
        if self.needs_input_grad[0]:
            q = self.smoothed(t) * w
            gx = r * (softmax(x, 1) * sum_(q, 1, keepdim=True) - q)
        if self.needs_input_grad[1]:
            gt = r * (log_softmax(x, 1) * w) * -(1 - self.smoothing)
        return gx, gt

    def fast_backward(self, gy: Any) -> tuple[Any, Any]:
        """The same on arrays, with the p and log p that forward saved."""
        x, t = self.inputs[0]._data, self.inputs[1]._data
        r = self.per_element(gy)
        w = self.class_weight(x.ndim, x)
        gx = gt = None
        if self.needs_input_grad[0]:
            q = self.smoothed(t) * w
            gx = r * (self.p * q.sum(axis=1, keepdims=True) - q)
        if self.needs_input_grad[1]:
            gt = r * (self.logp * w) * -(1 - self.smoothing)
        return gx, gt

    def smoothed(self, t: Any) -> Any:
        """t' = (1 − ε)t + ε/C, a Tensor or an array like t."""
        return t * (1 - self.smoothing) + self.smoothing / t.shape[1] if self.smoothing > 0 else t


class NLLLoss(_ClassLoss):
    def __init__(self, reduction: str, safe: Any, w_t: Any, valid: Any) -> None:
        super().__init__(reduction)
        self.safe, self.w_t, self.valid = safe, w_t, valid

    def forward(self, x):
        xp = _xp(x)
        w_t = self.w_t.astype(x.dtype, copy=False)
        picked = xp.take_along_axis(x, self.safe[:, None], axis=1)[:, 0]
        self.denominator = float(w_t.sum())
        loss = xp.where(self.valid, -w_t * picked, x.dtype.type(0))  # ignored: 0, even next to ±inf or NaN
        return self.reduce(loss, self.denominator)

    def backward(self, gy: Tensor) -> Tensor:
        """ℓᵢ = −w[yᵢ]·x_{i,yᵢ} (x holds log-probabilities): ∂ℓᵢ/∂x_ic = −w[yᵢ]·δ_{c,yᵢ}.

        gx = −r ⊙ w[y]·onehot(y), r as in cross_entropy (gy/Σ w[yᵢ] for 'mean'); ignored targets have
        w[yᵢ] = 0. Shapes: x, gx (N, C, d1, ...). gx does not depend on x: the second derivative is 0.
        """
        x = self.inputs[0]
        q = _one_hot_rows(self.safe, x.shape[1], x.dtype) * self.w_t.astype(x.dtype)[:, None]
        return self.per_element(gy) * Tensor(-q)


def _batched(op: str, x: Tensor) -> tuple[Tensor, bool]:
    if x.ndim == 0:
        raise ShapeError(f"{op}: input must have shape (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    if x.shape[1 if x.ndim > 1 else 0] == 0:
        raise ShapeError(f"{op}: input of shape {x.shape} has no classes (its class dim has size 0)")
    if x.ndim == 1:
        return x.unsqueeze(0), True
    return x, False


def cross_entropy(
    input: Any,  # noqa: A002 - PyTorch's name
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between the softmax of ``input`` (logits) and ``target``: the categorical distribution's
    negative log-likelihood, the cost paired with a **softmax** output layer (categorical/softmax/cross-entropy).

    One fused op, log-softmax and NLL together: it is stable for logits of any size (the max is subtracted) and
    its gradient is computed directly as (p − y)/N (see ``CrossEntropyIndex.backward``).

    - input: logits (C,), (N, C) or (N, C, d1, ...), the class dim is 1.
    - target: class indices of shape (), (N,) or (N, d1, ...) (an integer dtype; ``ignore_index`` marks
      elements that contribute nothing), or class probabilities of the input's shape (a float dtype).
    - weight: (C,) class weights. With class indices and 'mean' the sum is divided by Σᵢ w[yᵢ], as PyTorch.
    - label_smoothing ε: the target becomes (1 − ε)·target + ε/C.
    """
    op = "cross_entropy"
    _check_reduction(op, reduction)
    ignore_index = check_int(op, "ignore_index", ignore_index)
    label_smoothing = check_number(op, "label_smoothing", label_smoothing, 0.0, 1.0)
    x0 = _float_arg(op, input, "input")
    x, unbatched = _batched(op, x0)
    w = _class_weight(op, weight, x.shape[1], x)
    t = as_tensor(op, target, "target")
    if t.dtype.kind == "f":
        if t.shape != x0.shape:
            raise ShapeError(
                f"{op}: float targets are class probabilities and must have the input's shape {x0.shape}, got "
                f"{t.shape}; class indices need an integer dtype (e.g. target.long())"
            )
        _same_dtype(op, x, t, "target")
        if ignore_index >= 0:
            raise ArgumentError(f"{op}: ignore_index ({ignore_index}) is not supported for class-probability targets")
        if unbatched:
            t = t.unsqueeze(0)
        loss = CrossEntropyProb(reduction, label_smoothing, w)(x, t)
    else:
        safe, valid, w_t = _class_targets(op, t, x.shape, ignore_index, w, unbatched)
        loss = CrossEntropyIndex(reduction, label_smoothing, safe, valid, w_t, w)(x)
    return loss.reshape(()) if unbatched and reduction == "none" else loss


def nll_loss(
    input: Any,  # noqa: A002 - PyTorch's name
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood −w[y]·input[y] of class-index targets, where ``input`` holds log-probabilities
    (the output of ``log_softmax``): categorical/log-softmax/NLL. ``cross_entropy`` fuses the two steps.

    Shapes as ``cross_entropy`` with class indices; 'mean' divides by Σᵢ w[yᵢ] over targets not ignored.
    """
    op = "nll_loss"
    _check_reduction(op, reduction)
    ignore_index = check_int(op, "ignore_index", ignore_index)
    x0 = _float_arg(op, input, "input")
    x, unbatched = _batched(op, x0)
    w = _class_weight(op, weight, x.shape[1], x)
    t = as_tensor(op, target, "target")
    safe, valid, w_t = _class_targets(op, t, x.shape, ignore_index, w, unbatched)
    loss = NLLLoss(reduction, safe, w_t, valid)(x)
    return loss.reshape(()) if unbatched and reduction == "none" else loss


# ----- Bernoulli: binary_cross_entropy and its logits form -----------------------------------------------------


class BinaryCrossEntropy(Function):
    """ℓ = −(t·log x + (1 − t)·log(1 − x)) elementwise, each log clamped at −100 (PyTorch's rule)."""

    def forward(self, x, t):
        xp = _xp(x)
        floor = x.dtype.type(-100)
        with np.errstate(divide="ignore"):  # log 0 = −inf, then clamped
            log_x = xp.maximum(xp.log(x), floor)
            log_1mx = xp.maximum(xp.log1p(-x), floor)
        return -(t * log_x + (1 - t) * log_1mx)

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """∂ℓ/∂x = −t/x + (1 − t)/(1 − x) = (x − t)/(x(1 − x)); ∂ℓ/∂t = log(1 − x) − log x.

        gx = gy·(x − t)/max(x(1 − x), 1e-12) (PyTorch bounds the denominator the same way), and
        gt = gy·(max(log(1 − x), −100) − max(log x, −100)). Shapes: all x.shape.
        """
        x, t = self.inputs
        gx = gt = None
        if self.needs_input_grad[0]:
            gx = gy * (x - t) / maximum(x * (1 - x), 1e-12)
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gt = gy * (clip(log(1 - x), min=-100) - clip(log(x), min=-100))
        return gx, gt


def _optional_weight(op: str, weight: Any, x: Tensor, name: str = "weight") -> Tensor | None:
    """A weight tensor that broadcasts to the input's shape (PyTorch's rule), or None."""
    if weight is None:
        return None
    w = _float_arg(op, weight, name)
    _same_dtype(op, x, w, name)
    if broadcast_shape(op, w.shape, x.shape) != x.shape:
        raise ShapeError(f"{op}: argument '{name}' of shape {w.shape} must broadcast to the input's shape {x.shape}")
    return w


def binary_cross_entropy(
    input: Any, target: Any, weight: Any = None, reduction: str = "mean"  # noqa: A002 - PyTorch's name
) -> Tensor:
    """−w·(t·log x + (1 − t)·log(1 − x)): the Bernoulli negative log-likelihood, the cost paired with a
    **sigmoid** output layer (Bernoulli/sigmoid/BCE). ``input`` holds probabilities in [0, 1]; each log is
    clamped at −100 as PyTorch does. For logits use ``binary_cross_entropy_with_logits``, which is stable.
    """
    op = "binary_cross_entropy"
    _check_reduction(op, reduction)
    x = _float_arg(op, input, "input")
    t = _float_arg(op, target, "target")
    _same_dtype(op, x, t, "target")
    if t.shape != x.shape:
        raise ShapeError(f"{op}: target must have the input's shape {x.shape}, got {t.shape}")
    hint = "; binary_cross_entropy takes probabilities (apply sigmoid, or use binary_cross_entropy_with_logits)"
    _first_bad(op, "input", x._data, ~((x._data >= 0) & (x._data <= 1)), "[0, 1]", hint)
    _first_bad(op, "target", t._data, ~((t._data >= 0) & (t._data <= 1)), "[0, 1]")
    w = _optional_weight(op, weight, x)
    loss = BinaryCrossEntropy()(x, t)
    return _reduce(loss if w is None else loss * w, reduction)


class BinaryCrossEntropyWithLogits(Function):
    """ℓ = −(p_w·t·log σ(z) + (1 − t)·log(1 − σ(z))) = (1 − t)·z + l·softplus(−z), l = 1 + (p_w − 1)·t.

    Inputs (z, t) or (z, t, p_w) with p_w broadcasting to z. log σ(z) = −softplus(−z) and log(1 − σ(z)) =
    −softplus(z) = −z − softplus(−z) are computed as max(−z, 0) + log(1 + e^(−|z|)): no overflow for any z.
    """

    broadcasts = True

    def forward(self, z, t, pos_weight=None):
        xp = _xp(z)
        softplus_neg = xp.maximum(-z, z.dtype.type(0)) + xp.log1p(xp.exp(-xp.abs(z)))
        scale = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
        return (1 - t) * z + scale * softplus_neg

    def backward(self, gy: Tensor) -> tuple[Tensor | None, ...]:
        """With l = 1 + (p_w − 1)t and σ(−z) = 1 − σ(z):

        ∂ℓ/∂z = (1 − t) − l·σ(−z) = l·σ(z) − p_w·t, which is σ(z) − t without pos_weight;
        ∂ℓ/∂t = −z + (p_w − 1)·softplus(−z); ∂ℓ/∂p_w = t·softplus(−z).
        gz, gt, gp_w are gy times those, in the broadcast shape (the base class sums p_w's back to its shape).
        """
        z, t = self.inputs[:2]
        pos_weight = self.inputs[2] if len(self.inputs) > 2 else None
        needs = self.needs_input_grad
        gz = gt = gpw = None
        if needs[0]:
            if pos_weight is None:
                gz = gy * (sigmoid(z) - t)
            else:
                gz = gy * ((1 + (pos_weight - 1) * t) * sigmoid(z) - pos_weight * t)
        if needs[1]:
            gt = -gy * z if pos_weight is None else gy * ((pos_weight - 1) * _softplus(-z) - z)
        if pos_weight is not None and needs[2]:
            gpw = gy * t * _softplus(-z)
        return (gz, gt) if pos_weight is None else (gz, gt, gpw)


def _softplus(x: Tensor) -> Tensor:
    """log(1 + eˣ) without the linear cut-off, differentiable (its backward is σ(x))."""
    return Softplus(1.0, math.inf)(x)


def binary_cross_entropy_with_logits(
    input: Any,  # noqa: A002 - PyTorch's name
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """Sigmoid and binary cross-entropy fused, on logits z: ℓ = −w·(p_w·t·log σ(z) + (1 − t)·log(1 − σ(z))).

    The Bernoulli negative log-likelihood with a **sigmoid** output layer (Bernoulli/sigmoid/BCE), computed
    stably for logits of any size; its gradient is w·(σ(z) − t) (with pos_weight: w·((1 + (p_w − 1)t)σ(z) −
    p_w·t)). ``pos_weight`` (e.g. one per class, broadcasting along the last dim) weighs the positive term.
    """
    op = "binary_cross_entropy_with_logits"
    _check_reduction(op, reduction)
    z = _float_arg(op, input, "input")
    t = _float_arg(op, target, "target")
    _same_dtype(op, z, t, "target")
    if t.shape != z.shape:
        raise ShapeError(f"{op}: target must have the input's shape {z.shape}, got {t.shape}")
    w = _optional_weight(op, weight, z)
    pw = _optional_weight(op, pos_weight, z, "pos_weight")
    fn = BinaryCrossEntropyWithLogits()
    loss = fn(z, t) if pw is None else fn(z, t, pw)
    return _reduce(loss if w is None else loss * w, reduction)


# ----- Gaussian and Laplace: mse_loss, l1_loss, smooth_l1_loss, gaussian_nll_loss ------------------------------


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002 - PyTorch's name
    """(x − t)²: the Gaussian negative log-likelihood with a fixed variance, up to constants; the cost paired
    with a **linear** output layer (Gaussian/linear/MSE).

    Composed of differentiable ops; gradient gx = 2(x − t)·r, gt = −gx, with r = gy/n for 'mean'.
    """
    _check_reduction("mse_loss", reduction)
    x, t = _elementwise_pair("mse_loss", input, target)
    d = x - t
    return _reduce(d * d, reduction)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002 - PyTorch's name
    """|x − t|: the Laplace negative log-likelihood up to constants, with a **linear** output layer.

    Gradient gx = sign(x − t)·r (0 where x = t, as PyTorch), gt = −gx.
    """
    _check_reduction("l1_loss", reduction)
    x, t = _elementwise_pair("l1_loss", input, target)
    return _reduce(abs_(x - t), reduction)


def smooth_l1_loss(
    input: Any, target: Any, reduction: str = "mean", beta: float = 1.0  # noqa: A002 - PyTorch's name
) -> Tensor:
    """0.5·d²/β where |d| < β, |d| − 0.5·β elsewhere (d = x − t): quadratic near 0 like MSE, linear in the tails
    like L1 (robust regression with a **linear** output layer). β = 0 gives l1_loss, as PyTorch.

    Gradient gx = r·d/β where |d| < β, r·sign(d) elsewhere; gt = −gx.
    """
    op = "smooth_l1_loss"
    _check_reduction(op, reduction)
    beta = check_number(op, "beta", beta)
    if beta < 0:
        raise ArgumentError(f"{op}: argument 'beta' must be ≥ 0, got {beta:g}")
    x, t = _elementwise_pair(op, input, target)
    d = x - t
    a = abs_(d)
    if beta == 0:
        return _reduce(a, reduction)
    loss = where(a._data < beta, d * d * (0.5 / beta), a - 0.5 * beta)
    return _reduce(loss, reduction)


def gaussian_nll_loss(
    input: Any,  # noqa: A002 - PyTorch's name
    target: Any,
    var: Any,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """½(log v + (x − t)²/v) (+ ½·log 2π if ``full``): the Gaussian negative log-likelihood with a predicted
    variance v, for a **linear** mean output and a positive variance output (Gaussian/linear/NLL).

    ``var`` has the input's shape, or one dim fewer (the last is shared), or size 1 in one dim
    (homoscedastic), or is a float. Values below ``eps`` are raised to eps for the loss, but, as PyTorch, the
    gradient passes to var as if they were not (the clamp is outside the graph).
    Gradients: gx = r·(x − t)/v, gt = −gx, gv = r·½(1/v − (x − t)²/v²).
    """
    op = "gaussian_nll_loss"
    _check_reduction(op, reduction)
    full = check_bool(op, "full", full)
    eps = check_number(op, "eps", eps, 0.0)
    x, t = _elementwise_pair(op, input, target)
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if not var >= 0:
            raise ArgumentError(f"{op}: argument 'var' must be non-negative, got {var}")
        v = Tensor(_xp(x._data).full(x.shape, var, dtype=x.dtype))
    else:
        v = _float_arg(op, var, "var")
        _same_dtype(op, x, v, "var")
        _first_bad(op, "var", v._data, v._data < 0, "[0, ∞)", "; variances must be non-negative")
    if v.shape != x.shape:
        if v.shape == x.shape[:-1]:
            v = v.unsqueeze(-1)
        elif not (v.ndim == x.ndim and [b for a, b in zip(x.shape, v.shape) if a != b] == [1]):
            raise ShapeError(
                f"{op}: var of shape {v.shape} does not fit input of shape {x.shape}; expected {x.shape}, "
                f"{x.shape[:-1]}, or the input's shape with one dim of size 1"
            )
    xp = _xp(v._data)
    clamped = xp.maximum(v._data, v.dtype.type(eps))
    offset = xp.where(clamped == v._data, v.dtype.type(0), clamped - v._data)  # 0, not inf − inf, where v = ±inf
    v = v + Tensor(offset)  # the values of max(v, eps), the gradient of v (a constant offset)
    d = x - t
    loss = 0.5 * (log(v) + d * d / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# ----- Gaussian mixture: mixture density networks --------------------------------------------------------------


def mixture_density_nll(
    pi_logits: Any, mu: Any, log_sigma: Any, target: Any, reduction: str = "mean"
) -> Tensor:
    """Negative log-likelihood of ``target`` under a Gaussian mixture with diagonal covariances, the cost of a
    **mixture density network** output layer (Gaussian mixture/mixture density/NLL, Bishop 1994).

    Arguments (N samples, K components, D output dims):

    - pi_logits (N, K): unnormalised mixing logits; the weights are π = softmax(pi_logits) over K.
    - mu (N, K) or (N, K, D): component means.
    - log_sigma: the shape of mu: log standard deviations (σ = e^log_sigma > 0 whatever the network outputs).
    - target (N,) when mu is (N, K) (D = 1), or (N, D).
    - reduction: 'mean' (over N), 'sum', or 'none' (shape (N,)).

    ℓₙ = −log Σₖ πₙₖ·N(tₙ | μₙₖ, diag σ²ₙₖ)
       = −logsumexp_k(log_softmax(pi_logits)ₙₖ − Σ_d (log σₙₖd + ½ log 2π + ½((tₙd − μₙₖd)/σₙₖd)²)).

    Everything is in log space and combined with logsumexp, so no density underflows even when every component
    is far from the target; the constant ½·D·log 2π is included, so the value is the true NLL. The op is
    composed of differentiable ops; the gradient of the per-sample loss is ∂ℓ/∂pi_logits = π − γ,
    ∂ℓ/∂μ = −γ·(t − μ)/σ², ∂ℓ/∂log σ = γ·(1 − ((t − μ)/σ)²), where γₙₖ is the posterior responsibility of
    component k for tₙ (the softmax over k of the log terms above). See docs/loss.md.
    """
    op = "mixture_density_nll"
    _check_reduction(op, reduction)
    logits = _float_arg(op, pi_logits, "pi_logits")
    m = _float_arg(op, mu, "mu")
    s = _float_arg(op, log_sigma, "log_sigma")
    t = _float_arg(op, target, "target")
    for name, other in (("mu", m), ("log_sigma", s), ("target", t)):
        _same_dtype(op, logits, other, name)
    if logits.ndim != 2:
        raise ShapeError(f"{op}: pi_logits must have shape (N, K), got {logits.shape}")
    n, k = logits.shape
    if m.ndim not in (2, 3) or m.shape[:2] != (n, k):
        raise ShapeError(f"{op}: mu must have shape ({n}, {k}) or ({n}, {k}, D) to match pi_logits, got {m.shape}")
    if s.shape != m.shape:
        raise ShapeError(f"{op}: log_sigma must have mu's shape {m.shape}, got {s.shape}")
    expected = (n,) if m.ndim == 2 else (n, m.shape[2])
    if t.shape != expected:
        raise ShapeError(f"{op}: target must have shape {expected} for mu of shape {m.shape}, got {t.shape}")
    if m.ndim == 2:  # one output dim: the same formula with D = 1
        m, s, t = m.unsqueeze(-1), s.unsqueeze(-1), t.unsqueeze(-1)
    z = (t.unsqueeze(1) - m) * exp(-s)  # (N, K, D) standardised residuals
    log_component = -sum_(s + 0.5 * z * z + 0.5 * math.log(2 * math.pi), 2)  # (N, K): log N(t | μ_k, σ_k²)
    loss = -logsumexp(log_softmax(logits, 1) + log_component, 1)  # (N,)
    return _reduce(loss, reduction)
