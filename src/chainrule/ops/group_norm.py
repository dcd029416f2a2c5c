"""Group and instance normalization, PyTorch's ``F.group_norm`` and ``F.instance_norm``.

Both standardise each sample over a set of its own values, x̂ = (x − μ)/√(σ² + eps) (biased variance), then
scale and shift per channel: y = γ_c·x̂ + β_c. group_norm views (N, C, *) as (N, G, C/G·∏*) and standardises
over the last dim (each group of C/G channels of a sample); instance_norm views it as (N, C, ∏*) (each channel
of each sample: group_norm with G = C). The standardisation is layer norm's ``Standardize`` on that view, so
its derivation (docs/normalization.md), its exact second derivative and its ONNX form carry over; γ and β are
broadcasting ``Mul`` and ``Add``.

instance_norm with running statistics updates them as PyTorch does (it runs batch norm on a (1, N·C, ∏*) view
and averages the per-instance statistics over the batch): r_mean ← (1 − m)·r_mean + m·mean_n(μ_nc) and
r_var ← (1 − m)·r_var + m·mean_n(σ²_nc · k/(k − 1)), k = ∏* values per instance. With
``use_input_stats=False`` the running statistics normalise, as batch norm in eval mode.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.autograd import saved
from chainrule.errors import ArgumentError, ShapeError
from chainrule.ops.normalization import Standardize, _float_input, _param, batch_norm
from chainrule.ops.operands import _is_int, check_bool, check_number, describe
from chainrule.tensor import Tensor

__all__ = ["group_norm", "instance_norm"]


def _affine(y: Tensor, w: Tensor | None, b: Tensor | None) -> Tensor:
    per_channel = (1, y.shape[1]) + (1,) * (y.ndim - 2)
    if w is not None:
        y = y * w.reshape(per_channel)
    if b is not None:
        y = y + b.reshape(per_channel)
    return y


def group_norm(
    input: Any,  # noqa: A002 - PyTorch's name
    num_groups: int,
    weight: Any = None,
    bias: Any = None,
    eps: float = 1e-5,
) -> Tensor:
    """Group normalization of (N, C, *): each sample's channels split into ``num_groups`` groups, each group
    standardised over its channels and spatial positions; ``weight`` and ``bias`` (C,) scale and shift."""
    op = "group_norm"
    x = _float_input(op, input)
    if x.ndim < 2:
        raise ShapeError(f"{op}: input must have shape (N, C, *), got {x.shape}")
    if isinstance(num_groups, bool) or not _is_int(num_groups) or num_groups <= 0:
        raise ArgumentError(f"{op}: num_groups must be a positive int, got {describe(num_groups)}")
    n, c = x.shape[:2]
    if c % num_groups:
        raise ArgumentError(
            f"{op}: the {c} channels of input {x.shape} must split into num_groups={num_groups} equal groups; hint: "
            f"pick num_groups that divides the channel count"
        )
    eps = check_number(op, "eps", eps)
    if n * (c // num_groups) * math.prod(x.shape[2:]) == 1:  # PyTorch's check: a lone value standardises to 0
        raise ShapeError(f"{op}: expected more than 1 value per group, got input of shape {x.shape} with "
                         f"num_groups={num_groups}")
    w = _param(op, weight, "weight", (c,), x)
    b = _param(op, bias, "bias", (c,), x)
    groups = int(num_groups)
    y = Standardize((2,), eps)(x.reshape(n, groups, c // groups * math.prod(x.shape[2:]))).reshape(x.shape)
    return _affine(y, w, b)


def instance_norm(
    input: Any,  # noqa: A002 - PyTorch's name
    running_mean: Any = None,
    running_var: Any = None,
    weight: Any = None,
    bias: Any = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Instance normalization of (N, C, *): each channel of each sample standardised over its own spatial
    positions; ``weight`` and ``bias`` (C,). Running statistics (C,), when given, are updated in place from
    the batch's per-instance statistics (``use_input_stats=True``) or used instead of them (False)."""
    op = "instance_norm"
    x = _float_input(op, input)
    if x.ndim < 3:
        raise ShapeError(f"{op}: input must have shape (N, C, L) or (N, C, H, W) (…), got {x.shape}")
    use_input_stats = check_bool(op, "use_input_stats", use_input_stats)
    momentum = check_number(op, "momentum", momentum)
    eps = check_number(op, "eps", eps)
    n, c = x.shape[:2]
    rm = _param(op, running_mean, "running_mean", (c,), x)
    rv = _param(op, running_var, "running_var", (c,), x)
    if (rm is None) != (rv is None):
        raise ArgumentError(f"{op}: running_mean and running_var must both be given or both be None")
    w = _param(op, weight, "weight", (c,), x)
    b = _param(op, bias, "bias", (c,), x)
    if not use_input_stats:
        if rm is None:
            raise ArgumentError(f"{op}: use_input_stats=False needs running_mean and running_var")
        return batch_norm(x, rm, rv, w, b, False, momentum, eps)
    k = math.prod(x.shape[2:])
    if k <= 1:
        raise ShapeError(f"{op}: expected more than 1 spatial element per channel, got input of shape {x.shape}; "
                         f"hint: instance norm standardises each channel over its positions")
    fn = Standardize((2,), eps)
    y = fn(x.reshape(n, c, k)).reshape(x.shape)
    if rm is not None and rv is not None:
        _update_running(rm, rv, fn.mean[..., 0], fn.var[..., 0] * (k / (k - 1)), momentum)
    return _affine(y, w, b)


def _update_running(rm: Tensor, rv: Tensor, mu: Any, unbiased: Any, momentum: float) -> None:
    """In place: r ← (1 − m)·r + m·(the per-instance statistic averaged over the batch)."""
    for r, stat in ((rm, mu), (rv, unbiased)):
        c = r.dtype.type
        batch = stat.astype(np.float64).mean(axis=0).astype(r.dtype)
        with saved.unlocked("instance_norm", r._data):
            r._data[...] = c(1 - momentum) * r._data + c(momentum) * batch
        r.bump_version()
