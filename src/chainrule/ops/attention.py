"""Scaled dot-product attention, composed of chainrule ops (so its gradients, of any order, come from theirs).

Notation: Q (..., L, E) queries, K (..., S, E) keys, V (..., S, Ev) values, s = 1/√E (or ``scale``):

    A = softmax(s·Q·Kᵀ + M)   (..., L, S)   M = 0 where a query may attend a key, −∞ where not (a boolean mask,
                                             or causal: key j ≤ query i), or the float mask itself
    O = A·V                   (..., L, Ev)

Gradients (the chain rule through the three ops, with P = s·Q·Kᵀ + M and gA = gO·Vᵀ):
gV = Aᵀ·gO, gP = A ⊙ (gA − Σ_S(gA ⊙ A)) (softmax's rule), gQ = s·gP·K, gK = s·gPᵀ·Q. A query row that may attend
no key at all gives an output row of zeros and zero gradients (PyTorch's rule since 2.5), not NaN.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.errors import ArgumentError, ShapeError
from chainrule.ops.activation import softmax
from chainrule.ops.dropout import dropout
from chainrule.ops.elementwise import where
from chainrule.ops.operands import as_tensor, check_number, float_only, same_dtype
from chainrule.tensor import Tensor

__all__ = ["scaled_dot_product_attention"]


def _check(op: str, q: Tensor, k: Tensor, v: Tensor) -> None:
    for name, t in (("query", q), ("key", k), ("value", v)):
        float_only(op, t)
        if t.ndim < 2:
            raise ShapeError(f"{op}: {name} must have at least 2 dims (..., length, features), got shape {t.shape}")
    same_dtype(op, q, k, "key")
    same_dtype(op, q, v, "value")
    if q.shape[-1] != k.shape[-1]:
        raise ShapeError(f"{op}: query and key must have the same last dim (features), got {q.shape} and {k.shape}")
    if k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"{op}: key and value must have the same length (dim −2), got {k.shape} and {v.shape}")


def _group_heads(op: str, q: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor, tuple[int, ...]]:
    """Grouped-query attention: each of K's and V's heads (dim −3) serves g = Hq/Hk query heads. Q (..., Hq, L, E)
    is viewed as (..., Hk, g, L, E) and K, V as (..., Hk, 1, S, ·), so the products broadcast over the g query heads
    of a group without copying K or V; returns those views and the shape to give the output back."""
    if q.ndim < 3 or k.ndim < 3 or v.ndim < 3 or k.shape[-3] != v.shape[-3] or q.shape[-3] % k.shape[-3]:
        raise ShapeError(f"{op}: enable_gqa needs key and value with the same heads (dim −3), a divisor of the "
                         f"query's; got query {q.shape}, key {k.shape}, value {v.shape}")
    heads = k.shape[-3]
    groups = q.shape[-3] // heads
    lead = q.shape[:-3]
    out_shape = (*lead, q.shape[-3], q.shape[-2], v.shape[-1])
    q = q.reshape(*lead, heads, groups, q.shape[-2], q.shape[-1])
    return q, k.unsqueeze(-3), v.unsqueeze(-3), out_shape


def scaled_dot_product_attention(
    query: Any, key: Any, value: Any, attn_mask: Any = None, dropout_p: float = 0.0, is_causal: bool = False,
    scale: float | None = None, enable_gqa: bool = False, *, generator: np.random.Generator | None = None,
) -> Tensor:
    """softmax(Q·Kᵀ·scale + mask)·V, PyTorch's ``F.scaled_dot_product_attention``: a boolean ``attn_mask`` says
    which keys each query may attend (True: may), a float one is added to the scores; ``is_causal`` lets query i
    attend keys j ≤ i; ``dropout_p`` drops attention weights (always, as PyTorch: pass 0 in evaluation)."""
    op = "scaled_dot_product_attention"
    q, k, v = as_tensor(op, query, "query"), as_tensor(op, key, "key"), as_tensor(op, value, "value")
    _check(op, q, k, v)
    out_shape = None
    if enable_gqa:
        q, k, v, out_shape = _group_heads(op, q, k, v)
    length, source = q.shape[-2], k.shape[-2]
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else check_number(op, "scale", scale, finite=True)
    dropout_p = check_number(op, "dropout_p", dropout_p, 0.0, 1.0)
    scores = (q @ k.transpose(-2, -1)) * scale
    xp = backend.get_array_module(scores._data)
    allowed = None
    if is_causal:
        if attn_mask is not None:
            raise ArgumentError(f"{op}: pass either attn_mask or is_causal=True, not both (PyTorch's rule)")
        allowed = Tensor(xp.tril(xp.ones((length, source), dtype=bool)))
    elif attn_mask is not None:
        mask = as_tensor(op, attn_mask, "attn_mask")
        if mask.dtype == np.bool_:
            allowed = mask
        else:
            same_dtype(op, scores, mask, "attn_mask")
            scores = scores + mask
    some = None
    if allowed is not None:
        # a query that may attend no key gets zeros (not the NaN of a softmax over −∞ alone): its row keeps its
        # finite scores through the softmax and is zeroed after it
        some = xp.broadcast_to(allowed._data, scores.shape).any(axis=-1, keepdims=True)
        scores = where(Tensor(allowed._data | ~some), scores, Tensor(xp.asarray(-np.inf, dtype=scores.dtype)))
    weights = softmax(scores, -1)
    if some is not None and not some.all():
        weights = where(Tensor(some), weights, Tensor(xp.zeros((), dtype=scores.dtype)))
    if dropout_p > 0:
        weights = dropout(weights, dropout_p, training=True, generator=generator)
    out = weights @ v
    return out if out_shape is None else out.reshape(*out_shape)
