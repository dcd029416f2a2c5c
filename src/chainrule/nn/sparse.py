"""``Embedding``: a lookup table of learned vectors, one row per index."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.autograd.grad_mode import no_grad
from chainrule.errors import ArgumentError, ShapeError
from chainrule.nn import functional as F  # noqa: N812 - PyTorch's conventional name
from chainrule.nn import init
from chainrule.nn.arguments import check_count, empty_parameter
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops.operands import check_int
from chainrule.tensor import Tensor, as_array

__all__ = ["Embedding"]


class Embedding(Module):
    """Integer indices of any shape (...) → their rows of ``weight`` (num_embeddings, embedding_dim): (..., dim).

    ``weight`` starts as N(0, 1) samples (PyTorch's init). ``padding_idx`` (negative counts from the end)
    names a row that starts at zero and receives no gradient: a "blank" token. ``max_norm``, ``norm_type``,
    ``scale_grad_by_freq`` and ``sparse`` as ``F.embedding``'s (rows renormalised when looked up; gradients
    scaled by frequency; sparse gradients refused).
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Any = None,
        _freeze: bool = False,
        device: Any = None,
        dtype: Any = dtypes.float32,
        *,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        num_embeddings = check_count("Embedding", "num_embeddings", num_embeddings)
        embedding_dim = check_count("Embedding", "embedding_dim", embedding_dim)
        if padding_idx is not None:
            padding_idx = check_int("Embedding", "padding_idx", padding_idx)
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ArgumentError(
                    f"Embedding: argument 'padding_idx' must be within num_embeddings ({num_embeddings}), i.e. in "
                    f"[{-num_embeddings}, {num_embeddings - 1}], got {padding_idx}; hint: padding_idx names a row"
                )
            padding_idx = padding_idx % num_embeddings
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        if sparse:
            raise ArgumentError("Embedding: sparse=True (sparse gradients) is not supported: chainrule's gradients "
                                "are dense arrays; pass sparse=False (the optimizers give the same updates)")
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        dtype = dtypes.float32 if dtype is None else dtype
        if _weight is None:
            self.weight = empty_parameter((num_embeddings, embedding_dim), dtype, "Embedding")
            self.reset_parameters(generator)
        else:  # from_pretrained: the given table, not re-initialised
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ShapeError(f"Embedding: _weight must have shape ({num_embeddings}, {embedding_dim}), got "
                                 f"{tuple(_weight.shape)}")
            self.weight = _weight
        if _freeze:
            self.weight.requires_grad = False
        if device is not None:  # PyTorch's factory keyword: made on the CPU, then moved
            self.to(device)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        init.normal_(self.weight, generator=generator)
        if self.padding_idx is not None:
            with no_grad():  # an in-place write through the Tensor: versioned, and allowed while a graph holds it
                self.weight[self.padding_idx] = 0

    @classmethod
    def from_pretrained(
        cls, embeddings: Any, freeze: bool = True, padding_idx: int | None = None, max_norm: float | None = None,
        norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False,
    ) -> Embedding:
        """An Embedding whose weight is a copy of the 2-D ``embeddings``; ``freeze`` stops it from learning."""
        array = as_array(embeddings)
        if array.ndim != 2:
            raise ShapeError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {array.shape}")
        weight = Parameter(array.copy(), requires_grad=not freeze)
        return cls(array.shape[0], array.shape[1], padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=weight, dtype=array.dtype)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s
