"""``CosineSimilarity`` and ``PairwiseDistance`` (PyTorch's names, arguments and defaults)."""

from __future__ import annotations

from chainrule.nn import functional as F  # noqa: N812 - PyTorch's conventional name
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class CosineSimilarity(Module):
    """cos(x₁, x₂) along ``dim``: Σ x₁x₂ / (max(‖x₁‖, eps)·max(‖x₂‖, eps))."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """‖x₁ − x₂ + eps‖_p along the last dim."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
