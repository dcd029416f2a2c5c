"""``GroupNorm``, ``InstanceNorm1d`` and ``InstanceNorm2d``, with PyTorch's arguments, defaults, parameters and
buffers (state_dict keys ``weight``, ``bias``, and with ``track_running_stats`` ``running_mean``,
``running_var``, ``num_batches_tracked``)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.errors import ArgumentError, ShapeError
from chainrule.nn import functional as F  # noqa: N812 - PyTorch's conventional name
from chainrule.nn import init
from chainrule.nn.arguments import affine_parameters, check_count
from chainrule.nn.module import Module
from chainrule.nn.normalization import _BatchNorm
from chainrule.ops.operands import check_number
from chainrule.tensor import Tensor

__all__ = ["GroupNorm", "InstanceNorm1d", "InstanceNorm2d"]


class GroupNorm(Module):
    """y = (x − mean) / √(var + eps) · weight + bias, statistics over each group of ``num_channels /
    num_groups`` channels (and all positions) of each sample. ``weight`` (ones) and ``bias`` (zeros) are
    (num_channels,) parameters when ``affine`` (keyword ``bias=False``: no bias, as in PyTorch 2.13)."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        *,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.num_groups = check_count("GroupNorm", "num_groups", num_groups, 1)
        self.num_channels = check_count("GroupNorm", "num_channels", num_channels, 1)
        if num_channels % num_groups:
            raise ArgumentError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups}); hint: "
                f"each group takes an equal share of the channels"
            )
        self.eps = check_number("GroupNorm", "eps", eps, 0.0, finite=True, hint="; hint: e.g. eps=1e-5")
        self.affine = affine
        dtype = dtypes.default_float if dtype is None else dtype  # PyTorch's None: the default float dtype
        affine_parameters(self, (num_channels,), dtype, "GroupNorm", affine, bias)
        self.reset_parameters()
        if device is not None:  # PyTorch's factory keyword: made on the CPU, then moved
            self.to(device)

    def reset_parameters(self) -> None:
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class _InstanceNorm(_BatchNorm):
    """Each channel of each sample standardised over its positions: y = (x − mean) / √(var + eps) · weight + bias.

    ``affine`` (default False) adds ``weight`` (ones) and ``bias`` (zeros; keyword ``bias=False``: none) of
    shape (num_features,);
    ``track_running_stats`` (default False) keeps ``running_mean`` and ``running_var`` (moved by ``momentum``
    towards the batch's per-instance statistics while training) and uses them in eval mode, as PyTorch.
    """

    _no_batch_dims = 2

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        *,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, bias=bias, device=device,
                         dtype=dtypes.default_float if dtype is None else dtype, generator=generator)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        name = type(self).__name__
        if input.ndim not in (self._no_batch_dims, self._no_batch_dims + 1):
            raise ShapeError(f"{name}: expected {self._no_batch_dims}D (unbatched) or {self._no_batch_dims + 1}D "
                             f"input (got {input.ndim}D input)")
        channels = input.shape[input.ndim - self._no_batch_dims]
        if channels != self.num_features:
            if self.affine or self.track_running_stats:
                raise ShapeError(f"{name}: expected input's size at dim={input.ndim - self._no_batch_dims} to match "
                                 f"num_features ({self.num_features}), but got: {channels}")
            warnings.warn(f"{name}: input's size at dim={input.ndim - self._no_batch_dims} ({channels}) does not "
                          f"match num_features ({self.num_features}), which is unused because affine=False",
                          stacklevel=2)
        unbatched = input.ndim == self._no_batch_dims
        x = input.unsqueeze(0) if unbatched else input
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or not self.track_running_stats,
                            self.momentum if self.momentum is not None else 0.0, self.eps)
        return y.squeeze(0) if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or unbatched (C, L) input, per sample and channel."""

    _no_batch_dims = 2


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or unbatched (C, H, W) input, per sample and channel."""

    _no_batch_dims = 3
