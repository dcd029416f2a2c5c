"""Norms, distances and similarities under PyTorch's names: cosine_similarity, pairwise_distance, normalize,
and bilinear (x₁ᵀ·W_k·x₂ + b_k). Derivations: docs/loss.md ("Distances and similarities").

Notation: x (…, D) reduced along ``dim``; n = ‖x‖_p; gy = ∂L/∂n has n's shape, gx = ∂L/∂x has x's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.errors import ArgumentError, ShapeError
from chainrule.ops.elementwise import abs as abs_
from chainrule.ops.elementwise import clip, where
from chainrule.ops.linalg import matmul
from chainrule.ops.operands import as_tensor, broadcast_shape, check_number, float_only, normalize_dim, same_dtype
from chainrule.ops.reduce import sum as sum_
from chainrule.ops.shape import permute, reshape, unsqueeze
from chainrule.tensor import Tensor

__all__ = ["bilinear", "cosine_similarity", "normalize", "pairwise_distance"]


def _xp(x: Any):
    return backend.get_array_module(x)


class VectorNorm(Function):
    """n = ‖x‖_p along one dim: (Σ|xᵢ|^p)^(1/p); p = ∞ is max|xᵢ|, p = 0 counts the non-zero entries."""

    uses_outputs = True  # backward divides by the norm it computed

    def __init__(self, p: float, dim: int, keepdim: bool) -> None:
        self.p, self.dim, self.keepdim = p, dim, keepdim

    def forward(self, x):
        xp, p, d = _xp(x), self.p, self.dim
        if p == 2:
            n = xp.sqrt(xp.sum(x * x, axis=d, keepdims=self.keepdim))
        elif p == 1:
            n = xp.sum(xp.abs(x), axis=d, keepdims=self.keepdim)
        elif p == np.inf:
            n = xp.max(xp.abs(x), axis=d, keepdims=self.keepdim, initial=x.dtype.type(0))
        elif p == 0:
            n = xp.sum(x != 0, axis=d, keepdims=self.keepdim).astype(x.dtype)
        else:
            c = x.dtype.type
            n = xp.sum(xp.abs(x) ** c(p), axis=d, keepdims=self.keepdim) ** c(1 / p)
        return xp.asarray(n, dtype=x.dtype)

    def backward(self, gy: Tensor) -> Tensor:
        """∂n/∂xᵢ = xᵢ·|xᵢ|^(p−2) / n^(p−1); gx = gy·∂n/∂x, broadcast along ``dim``.

        p = 2: gx = x·gy/n; p = 1: gx = sign(x)·gy; p = ∞: gy·sign(xᵢ) shared evenly among the entries with
        |xᵢ| = n; p = 0: gx = 0. Where n = 0 the gradient is 0 (PyTorch's choice: the norm has no derivative
        there). Written with n (this op's output) and x, so the second derivative follows. Shapes: gy and n
        x.shape without ``dim`` (kept as size 1 with keepdim), gx x.shape.
        """
        x, n, p = self.inputs[0], self.output(), self.p
        if not self.keepdim:
            gy, n = unsqueeze(gy, self.dim), unsqueeze(n, self.dim)
        xd = x._data
        if p == 0:
            return gy * Tensor(_xp(xd).zeros_like(xd))
        if p == 1:
            return gy * Tensor(_xp(xd).sign(xd))
        if p == np.inf:
            top = (_xp(xd).abs(xd) == n._data) & (n._data != 0)
            share = _xp(xd).sign(xd) * top / _xp(xd).maximum(top.sum(axis=self.dim, keepdims=True), 1)
            return gy * Tensor(share.astype(xd.dtype))
        zero = n._data == 0
        safe = where(zero, 1.0, n)  # the masked positions are replaced below; this only keeps them finite
        if p == 2:
            scale = gy / safe
            return where(zero, 0.0, x * scale)
        scale = gy / safe ** (p - 1)
        return where(zero, 0.0, x * abs_(x) ** (p - 2) * scale)


class ClampedNorm(Function):
    """max(n, eps) in value with the gradient of n itself: PyTorch clamps the norms of cosine_similarity in
    place under no_grad, so the clamp changes the value but not the graph."""

    uses_inputs = False  # the gradient is gy itself

    def __init__(self, eps: float) -> None:
        self.eps = eps

    def forward(self, n):
        return _xp(n).maximum(n, n.dtype.type(self.eps))

    def backward(self, gy: Tensor) -> Tensor:
        """y = max(n, ε) in value only: gn = gy (the clamp is outside the graph, as PyTorch). Shapes: gy, gn n.shape."""
        return gy


def vector_norm(op: str, x: Tensor, p: float, dim: int, keepdim: bool) -> Tensor:
    """‖x‖_p along ``dim`` (a differentiable op; p ≥ 0 or inf). The ∞-norm of nothing is refused, as PyTorch."""
    axis = normalize_dim(op, dim, x.ndim)
    if p == np.inf and x.ndim and x.shape[axis] == 0:
        raise ShapeError(
            f"{op}: the inf norm along dim {axis} of size 0 is undefined (a max over no values); hint: use p=2 or "
            f"give the dim at least one element"
        )
    return VectorNorm(p, axis, keepdim)(x)


def _check_p(op: str, p: Any) -> float:
    return check_number(op, "p", p, 0.0, hint="; hint: p is the order of the norm, e.g. 2 (Euclidean) or 1")


def _float_pair(op: str, x1: Any, x2: Any) -> tuple[Tensor, Tensor]:
    a = as_tensor(op, x1, "x1")
    b = as_tensor(op, x2, "x2")
    float_only(op, a, "x1")
    float_only(op, b, "x2")
    same_dtype(op, a, b, "x2", "x1")
    return a, b


def cosine_similarity(x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Σ (x₁/max(‖x₁‖, eps))·(x₂/max(‖x₂‖, eps)) along ``dim``; x1 and x2 broadcast (PyTorch's formula, which
    normalises each vector first so the result stays in [−1, 1])."""
    op = "cosine_similarity"
    a, b = _float_pair(op, x1, x2)
    eps = check_number(op, "eps", eps, 0.0)
    shape = broadcast_shape(op, a.shape, b.shape)
    if a.shape != shape:
        a = a.expand(*shape)
    if b.shape != shape:
        b = b.expand(*shape)
    axis = normalize_dim(op, dim, len(shape))
    na = ClampedNorm(eps)(VectorNorm(2.0, axis, True)(a))
    nb = ClampedNorm(eps)(VectorNorm(2.0, axis, True)(b))
    return sum_((a / na) * (b / nb), axis)


def pairwise_distance(x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """‖x₁ − x₂ + eps‖_p along the last dim (PyTorch adds eps to the difference, which keeps the norm of equal
    vectors away from 0)."""
    op = "pairwise_distance"
    a, b = _float_pair(op, x1, x2)
    p = _check_p(op, p)
    eps = check_number(op, "eps", eps)
    ndim = max(a.ndim, b.ndim)
    if ndim == 0:
        raise ShapeError(f"{op}: inputs must have at least one dimension, got 0-D x1 and x2")
    broadcast_shape(op, a.shape, b.shape)
    return vector_norm(op, a - b + eps, p, ndim - 1, bool(keepdim))


def normalize(input: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Any = None) -> Tensor:  # noqa: A002
    """x / max(‖x‖_p, eps) along ``dim`` (each vector scaled to unit p-norm; zero vectors stay zero)."""
    op = "normalize"
    if out is not None:
        raise ArgumentError(f"{op}: argument 'out' is not supported; hint: use the returned tensor")
    x = as_tensor(op, input)
    float_only(op, x)
    p = _check_p(op, p)
    eps = check_number(op, "eps", eps, 0.0)
    n = vector_norm(op, x, p, dim, True)
    return x / clip(n, min=eps)


def bilinear(input1: Any, input2: Any, weight: Any, bias: Any = None) -> Tensor:
    """y_k = x₁ᵀ·W_k·x₂ + b_k: input1 (…, in1), input2 (…, in2), weight (out, in1, in2), bias (out,) → (…, out).

    One matmul: (x₁ @ W reshaped to (in1, out·in2)) gives (N, out, in2), multiplied by x₂ and summed over in2.
    """
    op = "bilinear"
    x1 = as_tensor(op, input1, "input1")
    x2 = as_tensor(op, input2, "input2")
    w = as_tensor(op, weight, "weight")
    for name, t in (("input1", x1), ("input2", x2), ("weight", w)):
        float_only(op, t, name)
    same_dtype(op, x1, x2, "input2", "input1")
    same_dtype(op, x1, w, "weight", "input1")
    if w.ndim != 3:
        raise ShapeError(f"{op}: argument 'weight' must be 3-D (out_features, in1_features, in2_features), "
                         f"got shape {w.shape}")
    out, in1, in2 = w.shape
    if x1.ndim == 0 or x1.shape[-1] != in1 or x2.ndim == 0 or x2.shape[-1] != in2 or x1.shape[:-1] != x2.shape[:-1]:
        raise ShapeError(
            f"{op}: input1 must have shape (..., {in1}) and input2 shape (..., {in2}) with the same leading dims "
            f"(weight {w.shape}), got {x1.shape} and {x2.shape}"
        )
    lead = x1.shape[:-1]
    a = reshape(x1, (-1, in1))
    b = reshape(x2, (-1, 1, in2))
    wf = reshape(permute(w, (1, 0, 2)), (in1, out * in2))
    y = sum_(reshape(matmul(a, wf), (-1, out, in2)) * b, 2)
    if bias is not None:
        bt = as_tensor(op, bias, "bias")
        same_dtype(op, x1, bt, "bias", "input1")
        if bt.shape != (out,):
            raise ShapeError(f"{op}: argument 'bias' must have shape ({out},), got {bt.shape}")
        y = y + bt
    return reshape(y, lead + (out,))
