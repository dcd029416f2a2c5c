"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d`` and ``LayerNorm``, with PyTorch's buffers and names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.errors import ShapeError
from chainrule.nn import functional as F  # noqa: N812 - PyTorch's conventional name
from chainrule.nn import init
from chainrule.nn.arguments import affine_parameters, check_count
from chainrule.nn.module import Module
from chainrule.ops.operands import check_number, int_tuple
from chainrule.tensor import Tensor

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]


class _BatchNorm(Module):
    """y = (x − mean) / √(var + eps) · weight + bias per channel (dim 1), as PyTorch's BatchNorm.

    Training: mean and (biased) var come from the batch, and, with ``track_running_stats``, the buffers
    ``running_mean`` and ``running_var`` (unbiased var) move towards them by ``momentum``
    (r ← (1 − momentum)·r + momentum·batch; ``momentum=None``: a cumulative average over
    ``num_batches_tracked`` batches). Eval: the running statistics are used. Parameters ``weight`` (ones) and
    ``bias`` (zeros) exist when ``affine`` (keyword ``bias=False``: no bias, as in PyTorch 2.13).
    """

    _expected_dims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        bias: bool = True,
        device: Any = None,
        dtype: Any = dtypes.float32,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = check_count(name, "num_features", num_features, 1)
        # PyTorch builds eps ≤ 0 but refuses it in training; a zero eps divides by zero on a constant channel
        self.eps = check_number(name, "eps", eps, 0.0, low_open=True, finite=True,
                                hint="; hint: eps keeps the division away from zero, e.g. 1e-5")
        if momentum is not None:  # None: a cumulative average
            check_number(name, "momentum", momentum, 0.0, 1.0,
                         hint="; hint: momentum is the weight of the new batch's statistics, e.g. 0.1")
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        affine_parameters(self, (num_features,), dtype, name, affine, bias)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=dtypes.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()
        if device is not None:  # PyTorch's factory keyword: made on the CPU, then moved
            self.to(device)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim not in self._expected_dims:
            wanted = " or ".join(f"{d}D" for d in self._expected_dims)
            raise ShapeError(f"{type(self).__name__}: expected {wanted} input (got {input.ndim}D input)")
        if input.shape[1] != self.num_features:
            raise ShapeError(
                f"{type(self).__name__}: expected {self.num_features} channels in dim 1, got input of shape "
                f"{input.shape}"
            )

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked.item()) if self.momentum is None else self.momentum
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if keep else None,
            self.running_var if keep else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input, per channel C (statistics over N and L).

    y = (x − mean) / √(var + eps) · weight + bias. Training uses the batch's mean and biased var and updates
    the buffers running_mean, running_var (unbiased) by ``momentum`` (None: cumulative average) and
    num_batches_tracked; eval uses the running statistics. ``generator`` is accepted for uniformity (the
    initialisation, weight 1 and bias 0, draws nothing).
    """

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input, per channel C (statistics over N, H and W).

    y = (x − mean) / √(var + eps) · weight + bias. Training uses the batch's mean and biased var and updates
    the buffers running_mean, running_var (unbiased) by ``momentum`` (None: cumulative average) and
    num_batches_tracked; eval uses the running statistics. ``generator`` is accepted for uniformity (the
    initialisation, weight 1 and bias 0, draws nothing).
    """

    _expected_dims = (4,)


class LayerNorm(Module):
    """y = (x − mean) / √(var + eps) · weight + bias over the last len(normalized_shape) dims of each sample.

    ``weight`` (ones) and ``bias`` (zeros) have shape ``normalized_shape`` when ``elementwise_affine``
    (``bias=False`` drops the bias). ``generator`` is accepted for uniformity; the initialisation draws nothing.
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        *,
        device: Any = None,
        dtype: Any = dtypes.float32,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        shape = int_tuple("LayerNorm", "normalized_shape", normalized_shape)
        for n in shape:
            check_count("LayerNorm", "normalized_shape", n, 0)
        self.normalized_shape = shape
        # a negative eps can make var + eps negative: a NaN from the square root, with no error
        self.eps = check_number("LayerNorm", "eps", eps, 0.0, finite=True, hint="; hint: e.g. eps=1e-5")
        self.elementwise_affine = elementwise_affine
        affine_parameters(self, self.normalized_shape, dtype, "LayerNorm", elementwise_affine, bias)
        self.reset_parameters()
        if device is not None:  # PyTorch's factory keyword: made on the CPU, then moved
            self.to(device)

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")
