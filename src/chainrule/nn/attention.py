"""``MultiheadAttention``: PyTorch's layer, parameters, state_dict keys, masks and outputs.

With E = embed_dim, H = num_heads, D = E/H, for query (L, N, E), key (S, N, Ek), value (S, N, Ev) (batch_first:
(N, L, E) ...)::

    Q = query·W_qᵀ + b_q,  K = key·W_kᵀ + b_k,  V = value·W_vᵀ + b_v        (the rows of in_proj_weight, or
                                                                          q/k/v_proj_weight when Ek or Ev ≠ E)
    split into H heads of D features:  A_h = softmax(Q_h·K_hᵀ/√D + M),  O_h = A_h·V_h
    output = [O_1 | … | O_H]·W_oᵀ + b_o   (out_proj),  weights = A (averaged over heads unless told not to)

M merges ``attn_mask`` (L, S) or (N·H, L, S) and ``key_padding_mask`` (N, S): for boolean masks True means *may not
attend* (the opposite of scaled_dot_product_attention's boolean mask, as in PyTorch); float masks are added.
Gradients come from the composed ops (linear, matmul, softmax, dropout).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import backend, dtypes
from chainrule.errors import ArgumentError, DTypeError, ShapeError
from chainrule.nn import functional as F  # noqa: N812 - PyTorch's conventional name
from chainrule.nn import init
from chainrule.nn.arguments import check_count, empty_parameter
from chainrule.nn.linear import Linear
from chainrule.nn.module import Module
from chainrule.ops.operands import as_tensor, check_number
from chainrule.ops.shape import cat
from chainrule.tensor import Tensor

__all__ = ["MultiheadAttention"]


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al., 2017), ``torch.nn.MultiheadAttention``'s signature and behaviour."""

    def __init__(
        self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True, add_bias_kv: bool = False,
        add_zero_attn: bool = False, kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
        *, device: Any = None, dtype: Any = dtypes.float32, generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        layer = "MultiheadAttention"
        self.embed_dim = check_count(layer, "embed_dim", embed_dim, 1)
        self.num_heads = check_count(layer, "num_heads", num_heads, 1)
        if embed_dim % num_heads:
            raise ArgumentError(f"{layer}: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        self.kdim = embed_dim if kdim is None else check_count(layer, "kdim", kdim, 1)
        self.vdim = embed_dim if vdim is None else check_count(layer, "vdim", vdim, 1)
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout = check_number(layer, "dropout", dropout, 0.0, 1.0)
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        self.generator = generator
        e = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = empty_parameter((3 * e, e), dtype, layer)
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = empty_parameter((e, e), dtype, layer)
            self.k_proj_weight = empty_parameter((e, self.kdim), dtype, layer)
            self.v_proj_weight = empty_parameter((e, self.vdim), dtype, layer)
        if bias:
            self.in_proj_bias = empty_parameter((3 * e,), dtype, layer)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(e, e, bias=bias, dtype=dtype, generator=generator)
        if add_bias_kv:
            self.bias_k = empty_parameter((1, 1, e), dtype, layer)
            self.bias_v = empty_parameter((1, 1, e), dtype, layer)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters(generator)
        if device is not None:  # PyTorch's factory keyword: made on the CPU, then moved
            self.to(device)

    def _reset_parameters(self, generator: np.random.Generator | None) -> None:
        """As PyTorch: Xavier-uniform projections, zero biases, Xavier-normal bias_k and bias_v."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight, generator=generator)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w, generator=generator)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k, generator=generator)
            init.xavier_normal_(self.bias_v, generator=generator)

    def _projections(self) -> tuple[Tensor, Tensor, Tensor, Tensor | None, Tensor | None, Tensor | None]:
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            wq, wk, wv = w[:e], w[e:2 * e], w[2 * e:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        return wq, wk, wv, bq, bk, bv

    def forward(
        self, query: Any, key: Any, value: Any, key_padding_mask: Any = None, need_weights: bool = True,
        attn_mask: Any = None, average_attn_weights: bool = True, is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """(attn_output (L, N, E) — (N, L, E) with batch_first, (L, E) unbatched —, attn_weights (N, L, S)
        averaged over heads, (N, H, L, S) with average_attn_weights=False, or None without need_weights)."""
        layer = "MultiheadAttention"
        q, k, v = (as_tensor(layer, t, name) for t, name in ((query, "query"), (key, "key"), (value, "value")))
        if is_causal and attn_mask is None:
            raise ArgumentError(f"{layer}: is_causal=True is a hint that attn_mask is the causal mask: pass "
                                f"attn_mask too (e.g. Transformer.generate_square_subsequent_mask(L))")
        unbatched = q.ndim == 2
        if unbatched:
            q, k, v = q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = as_tensor(layer, key_padding_mask, "key_padding_mask").unsqueeze(0)
        elif self.batch_first:
            q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
        if q.ndim != 3 or k.ndim != 3 or v.ndim != 3:
            raise ShapeError(f"{layer}: query, key and value must all be 3-D (batched) or 2-D (unbatched), got "
                             f"{query.shape}, {key.shape}, {value.shape}")
        length, batch, e = q.shape
        if e != self.embed_dim or k.shape[-1] != self.kdim or v.shape[-1] != self.vdim:
            raise ShapeError(f"{layer}: expected features (embed_dim, kdim, vdim) = ({self.embed_dim}, {self.kdim}, "
                             f"{self.vdim}), got {q.shape[-1]}, {k.shape[-1]}, {v.shape[-1]}")
        if k.shape[:2] != v.shape[:2] or k.shape[1] != batch:
            raise ShapeError(f"{layer}: key and value must be (S, N, ·) with the query's batch N = {batch}, got "
                             f"{k.shape} and {v.shape}")
        wq, wk, wv, bq, bk, bv = self._projections()
        q, k, v = F.linear(q, wq, bq), F.linear(k, wk, bk), F.linear(v, wv, bv)
        mask = self._mask(attn_mask, key_padding_mask, length, k.shape[0], batch, q.dtype)
        if self.bias_k is not None:
            k = cat([k, self.bias_k.expand(1, batch, e)])
            v = cat([v, self.bias_v.expand(1, batch, e)])
            mask = None if mask is None else F.pad(mask, (0, 1))
        heads, d = self.num_heads, self.head_dim
        q = q.reshape(length, batch * heads, d).transpose(0, 1)  # (N·H, L, D)
        k = k.reshape(k.shape[0], batch * heads, d).transpose(0, 1)  # (N·H, S, D)
        v = v.reshape(v.shape[0], batch * heads, d).transpose(0, 1)
        if self.add_zero_attn:
            k = cat([k, Tensor(np.zeros((batch * heads, 1, d), dtype=k.dtype))], 1)
            v = cat([v, Tensor(np.zeros((batch * heads, 1, d), dtype=v.dtype))], 1)
            mask = None if mask is None else F.pad(mask, (0, 1))
        scores = (q * (1 / math.sqrt(d))) @ k.transpose(1, 2)  # (N·H, L, S)
        if mask is not None:
            scores = scores + mask
        weights = F.softmax(scores, -1)
        if self.dropout > 0 and self.training:
            weights = F.dropout(weights, self.dropout, training=True, generator=self.generator)
        out = (weights @ v).transpose(0, 1).reshape(length * batch, e)  # (L·N, E): heads side by side
        out = self.out_proj(out).reshape(length, batch, e)
        if unbatched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        weights = weights.reshape(batch, heads, length, weights.shape[-1])
        if average_attn_weights:
            weights = weights.mean(1)
        return out, (weights.squeeze(0) if unbatched else weights)

    def _mask(self, attn_mask: Any, key_padding_mask: Any, length: int, source: int, batch: int,
              dtype: Any) -> Tensor | None:
        """attn_mask and key_padding_mask as one additive float mask (N·H, L, S) or (L, S), −inf where a query may
        not attend a key; None when neither is given."""
        layer = "MultiheadAttention"
        merged = None
        if attn_mask is not None:
            m = _additive(layer, "attn_mask", attn_mask, dtype)
            if m.shape not in ((length, source), (batch * self.num_heads, length, source)):
                raise ShapeError(f"{layer}: attn_mask must be ({length}, {source}) or "
                                 f"({batch * self.num_heads}, {length}, {source}), got {m.shape}")
            merged = m
        if key_padding_mask is not None:
            p = _additive(layer, "key_padding_mask", key_padding_mask, dtype)
            if p.shape != (batch, source):
                raise ShapeError(f"{layer}: key_padding_mask must be ({batch}, {source}) (batch, source length), "
                                 f"got {p.shape}")
            p = p.reshape(batch, 1, 1, source).expand(batch, self.num_heads, 1, source)
            p = p.reshape(batch * self.num_heads, 1, source)
            merged = p if merged is None else merged + p
        return merged


def _additive(layer: str, name: str, mask: Any, dtype: Any) -> Tensor:
    """A boolean mask (True: may not attend) as 0/−inf of ``dtype``; a float mask as it is (no gradient)."""
    m = as_tensor(layer, mask, name)
    if m.dtype == np.bool_:
        xp = backend.get_array_module(m._data)
        return Tensor(xp.where(m._data, xp.asarray(-np.inf, dtype=dtype), xp.asarray(0, dtype=dtype)))
    if m.dtype != dtype:
        raise DTypeError(f"{layer}: a float {name} must have the query's dtype {np.dtype(dtype)}, got {m.dtype}")
    return m
