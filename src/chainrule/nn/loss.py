"""One module per loss; each forwards to its ``chainrule.nn.functional`` op with PyTorch's arguments.

``reduction`` is 'mean' (default), 'sum' or 'none'. PyTorch's deprecated ``size_average``/``reduce`` pair is
accepted in the same positions (with PyTorch's warning). Class weights given to a loss are buffers, as in
PyTorch, so they appear in ``state_dict``.
"""

from __future__ import annotations

from typing import Any

from chainrule.nn import functional as F  # noqa: N812 - PyTorch's conventional name
from chainrule.nn.arguments import optional_tensor, reduction_arg
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "GaussianNLLLoss", "L1Loss", "MSELoss",
    "MixtureDensityNLLLoss", "NLLLoss", "SmoothL1Loss",
]


class _Loss(Module):
    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction_arg(size_average, reduce, reduction, type(self).__name__)


class _WeightedLoss(_Loss):
    def __init__(self, weight: Any = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", optional_tensor(weight))


class CrossEntropyLoss(_WeightedLoss):
    """−log softmax(input)[target], averaged: input (N, C) or (N, C, d...) logits, target class indices
    (N, d...) or class probabilities shaped like input. ``weight`` (C,) weights classes; ``ignore_index``
    targets count for nothing; ``label_smoothing`` mixes the target with the uniform distribution."""

    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """−input[target] for log-probabilities ``input`` (N, C) or (N, C, d...), targets (N, d...)."""

    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """−[t·log p + (1 − t)·log(1 − p)] for probabilities ``input`` p and targets t; ``weight`` scales elements."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """BCELoss on sigmoid(input), computed stably from the logits; ``pos_weight`` (C,) weights positives."""

    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        pos_weight: Any = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", optional_tensor(weight))
        self.register_buffer("pos_weight", optional_tensor(pos_weight))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class MSELoss(_Loss):
    """(input − target)²."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """|input − target|."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """0.5·d²/beta where |d| < beta, |d| − 0.5·beta elsewhere (d = input − target)."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class GaussianNLLLoss(_Loss):
    """0.5·(log max(var, eps) + (input − target)² / max(var, eps)) (+ 0.5·log 2π if ``full``).

    ``forward(input, target, var)``: ``var`` is the predicted variance, input's shape or broadcastable to it.
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(None, None, reduction)
        self.full = full
        self.eps = eps

    def forward(self, input: Tensor, target: Tensor, var: Tensor | float) -> Tensor:  # noqa: A002
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)


class MixtureDensityNLLLoss(Module):
    """Negative log-likelihood of ``target`` under a Gaussian mixture (chainrule's; no PyTorch equivalent).

    ``forward(pi_logits, mu, log_sigma, target)`` forwards to ``F.mixture_density_nll``: mixture weights
    softmax(pi_logits), component means ``mu`` and log standard deviations ``log_sigma``.
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction_arg(None, None, reduction, type(self).__name__)

    def forward(self, pi_logits: Tensor, mu: Tensor, log_sigma: Tensor, target: Tensor) -> Tensor:
        return F.mixture_density_nll(pi_logits, mu, log_sigma, target, reduction=self.reduction)
