"""Normalization: batch_norm and layer_norm. Derivations: docs/normalization.md.

Both standardise x over a set of dims D, x̂ = (x − μ)/σ with μ = mean_D(x) and σ = √(var_D(x) + eps) (the
biased variance, dividing by n = ∏_{d∈D} x.shape[d]), then scale and shift per feature: y = γ·x̂ + β.
batch_norm takes D = every dim but the channel dim 1; layer_norm the last len(normalized_shape) dims.

layer_norm's standardisation is one fused Function (``Standardize``) with the closed-form backward
gx = (1/σ)(gx̂ − mean_D(gx̂) − x̂·mean_D(gx̂·x̂)); γ and β are applied with ordinary broadcasting ops, so
their gradients gγ = Σ gy·x̂ and gβ = Σ gy come from ``Mul`` and ``Add`` (summed by the base class).
batch_norm in training is one Function for all three steps (``BatchNorm``: statistics, standardisation, γ and β),
the layer of every CNN: two passes over x forward and two over gy backward (compiled with the ``fast`` extra)
instead of one per op, and x̂ is recomputed from x instead of kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import backend, compiled, threads
from chainrule.autograd import saved
from chainrule.autograd.broadcast import FAST_SUM_DTYPES, array_sum
from chainrule.autograd.function import Function
from chainrule.errors import ArgumentError, ShapeError
from chainrule.ops.operands import as_tensor, check_bool, check_number, float_only, int_tuple, same_dtype
from chainrule.ops.reduce import mean, var
from chainrule.tensor import Tensor

__all__ = ["batch_norm", "layer_norm"]


class Standardize(Function):
    """x̂ = (x − μ)/σ over the dims D, with μ = mean_D(x) and σ = √(var_D(x) + eps) (biased variance)."""
    uses_outputs = True  # backward reads the output's values

    def __init__(self, dims: tuple[int, ...], eps: float) -> None:
        self.dims, self.eps = dims, eps

    def forward(self, x):
        xp = backend.get_array_module(x)
        if x.dtype not in FAST_SUM_DTYPES or x.size == 0:  # float16: NumPy's means, which accumulate in float32
            self.mean = x.mean(axis=self.dims, keepdims=True)
            centered = x - self.mean
            self.var = (centered * centered).mean(axis=self.dims, keepdims=True)  # biased: divides by n
        else:
            n = x.dtype.type(math.prod(x.shape[d] for d in self.dims))  # the number of values in each mean
            self.mean = array_sum(x, self.dims, keepdim=True) / n
            centered = x - self.mean
            self.var = array_sum(xp.square(centered), self.dims, keepdim=True) / n  # biased: divides by n
        self.rstd = 1 / xp.sqrt(self.var + x.dtype.type(self.eps))
        centered *= self.rstd
        return centered

    def backward(self, gy: Tensor) -> Tensor:
        """x̂ = (x − μ)/σ. With ∂μ/∂xⱼ = 1/n and ∂σ/∂xⱼ = (xⱼ − μ)/(nσ) = x̂ⱼ/n:

        ∂x̂ᵢ/∂xⱼ = (δᵢⱼ − 1/n)/σ − x̂ᵢ·x̂ⱼ/(nσ), so gx = (1/σ)(gy − mean_D(gy) − x̂ ⊙ mean_D(gy ⊙ x̂)).

        Here gy = ∂L/∂x̂ (the caller's γ has already been applied). Shapes: gy, x̂, gx x.shape; the means and
        1/σ have size 1 at each dim of D (keepdim). x̂ is this op's output and 1/σ is recomputed in
        differentiable ops, so the second derivative is exact.
        """
        x = self.inputs[0]
        if x.numel() == 0:  # nothing was standardised: the gradient is as empty as gy
            return gy
        xhat = self.output()
        rstd = (var(x, self.dims, keepdim=True, correction=0) + self.eps) ** -0.5
        return rstd * (gy - mean(gy, self.dims, keepdim=True) - xhat * mean(gy * xhat, self.dims, keepdim=True))

    def fast_backward(self, gy: Any) -> Any:
        """The same formula on arrays, with the 1/σ that forward saved."""
        xhat = self.output()._data
        if xhat.size == 0:
            return gy
        if xhat.dtype in FAST_SUM_DTYPES:
            return _standardize_grad(gy, xhat, self.rstd, self.dims)
        # float16: NumPy's means, which accumulate in float32 (as ``mean`` does)
        dims = self.dims
        return self.rstd * (gy - gy.mean(axis=dims, keepdims=True) - xhat * (gy * xhat).mean(axis=dims, keepdims=True))


def _standardize_grad(g: Any, xh: Any, rstd: Any, dims: tuple[int, ...]) -> Any:
    """``Standardize.backward``'s formula on arrays, gx = (1/σ)(g − mean_D(g) − x̂ ⊙ mean_D(g ⊙ x̂)), in two
    buffers (float32 and float64; for float16 ``fast_backward`` keeps NumPy's means, which accumulate wider)."""
    n = xh.dtype.type(xh.size // rstd.size)  # the number of values in each mean
    t = g * xh
    backend.get_array_module(t).multiply(xh, array_sum(t, dims, keepdim=True) / n, out=t)  # x̂ ⊙ mean_D(g ⊙ x̂)
    gx = g - array_sum(g, dims, keepdim=True) / n
    gx -= t
    gx *= rstd
    return gx


class BatchNorm(Function):
    """Training-mode batch norm on (N, C, ...) over D = every dim but 1, with n = x.numel()/C values per channel:
    y = x̂·γ + β, x̂ = (x − μ)·r, μ = mean_D(x), r = 1/√(var_D(x) + eps) (biased variance), γ and β optional."""

    def __init__(self, eps: float, has_weight: bool, has_bias: bool) -> None:
        self.eps, self.has_weight, self.has_bias = eps, has_weight, has_bias

    def forward(self, x, *params):
        weight, bias = self._params(params)
        route = _compiled_forward if compiled.available(x) else _batch_norm_forward
        y, self.mean, self.var, self.rstd = route(x, weight, bias, self.eps)
        return y

    def _params(self, params: tuple[Any, ...]) -> tuple[Any, Any]:
        """(γ, β) from the inputs after x; None for one not given."""
        weight = params[0] if self.has_weight else None
        bias = params[-1] if self.has_bias else None
        return weight, bias

    def backward(self, gy: Tensor) -> tuple[Tensor | None, ...]:
        """With x̂ = (x − μ)·r and g = gy·γ = ∂L/∂x̂ (docs/normalization.md):

        gx = r·(g − mean_D(g) − x̂ ⊙ mean_D(g ⊙ x̂))   x.shape
        gγ = Σ_D gy ⊙ x̂                              (C,)
        gβ = Σ_D gy                                   (C,)

        On Tensors, with μ and r recomputed from x by differentiable ops, so the rule is itself differentiable."""
        x, *params = self.inputs
        weight, _ = self._params(tuple(params))
        dims, per_channel = _channel_dims(x.ndim), _per_channel(x)
        r = (var(x, dims, keepdim=True, correction=0) + self.eps) ** -0.5
        xhat = (x - mean(x, dims, keepdim=True)) * r
        g = gy if weight is None else gy * weight.reshape(per_channel)
        need = self.needs_input_grad
        gx = r * (g - mean(g, dims, keepdim=True) - xhat * mean(g * xhat, dims, keepdim=True)) if need[0] else None
        grads = [gx]
        if self.has_weight:
            grads.append((gy * xhat).sum(dims) if need[len(grads)] else None)
        if self.has_bias:
            grads.append(gy.sum(dims) if need[len(grads)] else None)
        return tuple(grads)

    def fast_backward(self, gy: Any) -> tuple[Any, ...]:
        """The same three gradients on arrays, from x and the μ and r that forward saved."""
        x = self.inputs[0]._data
        weight, _ = self._params(tuple(p._data for p in self.inputs[1:]))
        route = _compiled_backward if compiled.available(x, gy) else _batch_norm_grads
        gx, gw, gb = route(gy, x, self.mean, self.rstd, weight)
        return (gx,) + ((gw,) if self.has_weight else ()) + ((gb,) if self.has_bias else ())


def _channel_dims(ndim: int) -> tuple[int, ...]:
    """D for batch norm: every dim but the channel dim 1."""
    return (0,) + tuple(range(2, ndim))


def _per_channel(x: Any) -> tuple[int, ...]:
    """The shape (1, C, 1, ...) in which a per-channel value broadcasts against x."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _batch_norm_forward(x: Any, weight: Any, bias: Any, eps: float) -> tuple[Any, Any, Any, Any]:
    """(y, μ, σ², r) on arrays, μ and r of shape (1, C, 1, ...), σ² (the biased variance, for the running
    statistics) of shape (C,): the reference that the compiled kernel is held to.
    y = (x − μ)·(r·γ) + β: the centred copy is the output's buffer, scaled and shifted in place."""
    xp = backend.get_array_module(x)
    dims = _channel_dims(x.ndim)
    n = x.dtype.type(x.size // x.shape[1])
    mu = array_sum(x, dims, keepdim=True) / n
    y = x - mu
    variance = array_sum(xp.square(y), dims, keepdim=True) / n
    rstd = 1 / xp.sqrt(variance + x.dtype.type(eps))
    y *= rstd if weight is None else rstd * weight.reshape(rstd.shape)
    if bias is not None:
        y += bias.reshape(rstd.shape)
    return y, mu, variance.reshape(x.shape[1]), rstd


def _batch_norm_grads(gy: Any, x: Any, mu: Any, rstd: Any, weight: Any) -> tuple[Any, Any, Any]:
    """(gx, gγ, gβ) on arrays (``BatchNorm.backward``'s formulas, with x̂ recomputed from x), the reference that
    the compiled kernel is held to: gx = (r·γ)·(gy − gβ/n − x̂·gγ/n), since mean_D(g) = γ·gβ/n and
    mean_D(g ⊙ x̂) = γ·gγ/n."""
    dims = _channel_dims(x.ndim)
    n = x.dtype.type(x.size // x.shape[1])
    gb = array_sum(gy, dims, keepdim=True)
    xhat = x - mu
    xhat *= rstd
    gw = array_sum(gy * xhat, dims, keepdim=True)
    xhat *= gw / n
    gx = gy - gb / n
    gx -= xhat
    gx *= rstd if weight is None else rstd * weight.reshape(rstd.shape)
    c = x.shape[1]
    return gx, gw.reshape(c), gb.reshape(c)


# Batch norm's compiled passes run over channels; a large input's channels are split across threads (each pass
# reads memory at one core's rate; measured on CompactCNN's (128, 32, 28, 28) layers).
SPLIT_MIN_SIZE = 1 << 20


def _channel_ranges(x: Any) -> list[tuple[int, int]]:
    """Contiguous ranges of channels, one per thread when x is large enough to split, else one."""
    c = x.shape[1]
    parts = min(threads.get_num_threads(), c) if x.size >= SPLIT_MIN_SIZE else 1
    bounds = [c * i // parts for i in range(parts + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def _compiled_forward(x: Any, weight: Any, bias: Any, eps: float) -> tuple[Any, Any, Any, Any]:
    """``_batch_norm_forward`` in compiled passes per channel (``chainrule.compiled.normalization``)."""
    n, c = x.shape[0], x.shape[1]
    x3 = np.ascontiguousarray(x).reshape(n, c, -1)
    y = np.empty(x.shape, dtype=x.dtype)
    mu, variance, rstd = (np.empty(c, dtype=x.dtype) for _ in range(3))
    weight = np.ones(c, dtype=x.dtype) if weight is None else weight
    bias = np.zeros(c, dtype=x.dtype) if bias is None else bias
    kernel = compiled.module("normalization").batch_norm_forward
    threads.split(lambda r: kernel(x3, weight, bias, eps, y.reshape(x3.shape), mu, variance, rstd, r[0], r[1]),
                  _channel_ranges(x))
    shape = _per_channel(x)
    return y, mu.reshape(shape), variance, rstd.reshape(shape)


def _compiled_backward(gy: Any, x: Any, mu: Any, rstd: Any, weight: Any) -> tuple[Any, Any, Any]:
    """``_batch_norm_grads`` in two compiled passes per channel (``chainrule.compiled.normalization``)."""
    n, c = x.shape[0], x.shape[1]
    x3, gy3 = np.ascontiguousarray(x).reshape(n, c, -1), np.ascontiguousarray(gy).reshape(n, c, -1)
    gx = np.empty(x.shape, dtype=x.dtype)
    gw, gb = np.empty(c, dtype=x.dtype), np.empty(c, dtype=x.dtype)
    weight = np.ones(c, dtype=x.dtype) if weight is None else weight
    kernel = compiled.module("normalization").batch_norm_backward
    threads.split(lambda r: kernel(gy3, x3, mu.reshape(c), rstd.reshape(c), weight, gx.reshape(x3.shape), gw, gb,
                                   r[0], r[1]), _channel_ranges(x))
    return gx, gw, gb


def _float_input(op: str, x: Any) -> Tensor:
    x = as_tensor(op, x)
    float_only(op, x)
    return x


def _param(op: str, p: Any, name: str, shape: tuple[int, ...], x: Tensor) -> Tensor | None:
    """An optional per-feature tensor (weight, bias, running statistics) of ``shape`` and x's dtype."""
    if p is None:
        return None
    p = as_tensor(op, p, name)
    if p.shape != shape:
        raise ShapeError(f"{op}: argument '{name}' must have shape {shape}, got {p.shape}")
    same_dtype(op, x, p, name)
    return p


def batch_norm(
    input: Any,  # noqa: A002 - PyTorch's name
    running_mean: Any,
    running_var: Any,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalization over the channel dim 1 of an (N, C) or (N, C, d1, ...) input (e.g. (N, C, H, W)).

    Training: each channel is standardised with the batch's mean and biased variance over N and the spatial
    dims, and, when given, the running statistics are updated in place as PyTorch does:
    running_mean ← (1 − momentum)·running_mean + momentum·μ, running_var ← (1 − momentum)·running_var +
    momentum·var·n/(n − 1) (the unbiased variance). Evaluation: the running statistics are used and are
    constants, so y = (x − running_mean)/√(running_var + eps)·γ + β and gx = gy·γ/√(running_var + eps).
    """
    op = "batch_norm"
    x = _float_input(op, input)
    training = check_bool(op, "training", training)
    momentum = check_number(op, "momentum", momentum)
    eps = check_number(op, "eps", eps)
    if x.ndim < 2:
        raise ShapeError(f"{op}: input must have shape (N, C) or (N, C, d1, ...), got {x.shape}")
    n_channels = x.shape[1]
    shape = (n_channels,)
    rm = _param(op, running_mean, "running_mean", shape, x)
    rv = _param(op, running_var, "running_var", shape, x)
    if (rm is None) != (rv is None):
        raise ArgumentError(
            f"{op}: running_mean and running_var must both be given or both be None, got "
            f"{'running_var' if rm is None else 'running_mean'} alone"
        )
    w = _param(op, weight, "weight", shape, x)
    b = _param(op, bias, "bias", shape, x)
    per_channel = (1, n_channels) + (1,) * (x.ndim - 2)
    if training:
        count = x.numel() // n_channels if n_channels else 0
        if count <= 1:
            raise ShapeError(f"{op}: expected more than 1 value per channel when training, got input shape {x.shape}")
        fn = BatchNorm(eps, w is not None, b is not None)
        y = fn(*(t for t in (x, w, b) if t is not None))
        if rm is not None or rv is not None:
            _update_running(rm, rv, fn.mean.reshape(shape), fn.var, count, momentum)
        return y
    if rm is None or rv is None:
        raise ArgumentError(f"{op}: running_mean and running_var are required when training=False")
    xp = backend.get_array_module(x._data)
    rstd = 1 / xp.sqrt(rv._data + x.dtype.type(eps))
    y = (x - Tensor(rm._data.reshape(per_channel))) * Tensor(rstd.reshape(per_channel))
    if w is not None:
        y = y * w.reshape(per_channel)
    if b is not None:
        y = y + b.reshape(per_channel)
    return y


def _update_running(rm: Tensor | None, rv: Tensor | None, mu: Any, biased_var: Any, count: int, momentum: float):
    """In place, on the arrays: r ← (1 − momentum)·r + momentum·statistic, with the unbiased batch variance."""
    # A graph may hold a statistic read-only (a user's computation saved it): update it anyway, and bump its
    # version so that graph refuses the new values.
    if rm is not None:
        c = rm.dtype.type
        with saved.unlocked("batch_norm", rm._data):
            rm._data[...] = c(1 - momentum) * rm._data + c(momentum) * mu.astype(rm.dtype, copy=False)
        rm.bump_version()
    if rv is not None:
        c = rv.dtype.type
        unbiased = biased_var.astype(rv.dtype, copy=False) * c(count / (count - 1))
        with saved.unlocked("batch_norm", rv._data):
            rv._data[...] = c(1 - momentum) * rv._data + c(momentum) * unbiased
        rv.bump_version()


def layer_norm(
    input: Any,  # noqa: A002 - PyTorch's name
    normalized_shape: int | Sequence[int],
    weight: Any = None,
    bias: Any = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalization over the last dims, which must equal ``normalized_shape``; ``weight`` and ``bias``
    (optional) have shape ``normalized_shape``. Each sample is standardised with its own mean and biased variance.
    """
    op = "layer_norm"
    x = _float_input(op, input)
    shape = int_tuple(op, "normalized_shape", normalized_shape)
    eps = check_number(op, "eps", eps)
    k = len(shape)
    if k == 0 or x.shape[x.ndim - k:] != shape or k > x.ndim:
        raise ShapeError(
            f"{op}: normalized_shape {shape} must be non-empty and equal the last dims of the input; got input "
            f"of shape {x.shape}"
        )
    w = _param(op, weight, "weight", shape, x)
    b = _param(op, bias, "bias", shape, x)
    y = Standardize(tuple(range(x.ndim - k, x.ndim)), eps)(x)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y
