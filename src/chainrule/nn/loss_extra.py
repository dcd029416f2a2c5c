"""More loss modules under PyTorch's names and arguments: HuberLoss, KLDivLoss, MarginRankingLoss,
CosineEmbeddingLoss, TripletMarginLoss; each forwards to its ``chainrule.nn.functional`` op."""

from __future__ import annotations

from chainrule.errors import ArgumentError
from chainrule.nn import functional as F  # noqa: N812 - PyTorch's conventional name
from chainrule.nn.loss import _Loss
from chainrule.ops.operands import check_number
from chainrule.tensor import Tensor

__all__ = ["CosineEmbeddingLoss", "HuberLoss", "KLDivLoss", "MarginRankingLoss", "TripletMarginLoss"]


class HuberLoss(_Loss):
    """½d² where |d| < delta, delta·(|d| − ½delta) elsewhere (d = input − target)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        check_number("HuberLoss", "delta", delta, 0.0, low_open=True, finite=True)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """target·(log target − input) for log-probabilities ``input``; ``log_target``: target given as logs too.
    ``reduction='batchmean'`` gives the KL divergence per sample."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 log_target: bool = False) -> None:
        if reduction == "batchmean" and size_average is None and reduce is None:
            super().__init__(reduction="sum")
            self.reduction = "batchmean"
        else:
            super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class MarginRankingLoss(_Loss):
    """max(0, −y·(x₁ − x₂) + margin)."""

    def __init__(self, margin: float = 0.0, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """1 − cos(x₁, x₂) for y = 1, max(0, cos(x₁, x₂) − margin) for y = −1."""

    def __init__(self, margin: float = 0.0, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """max(0, margin + d(anchor, positive) − d(anchor, negative)), d the p-norm pairwise distance."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        if check_number("TripletMarginLoss", "margin", margin) <= 0:
            raise ArgumentError(
                f"TripletMarginLoss: expected margin to be greater than 0, got {margin} instead; hint: the margin "
                f"is how much farther the negative must be, e.g. 1.0"
            )
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p, eps=self.eps,
                                     swap=self.swap, reduction=self.reduction)
