"""``SyncBatchNorm``: batch normalization whose statistics cover the batch of every process.

With ``chainrule.distributed`` running, a training forward standardises each channel with the mean and biased
variance of the global batch (all processes' inputs together), so the result equals one ``BatchNorm`` over the
concatenated batch. The sums go over the processes with allreduce (``SumOverProcesses``, whose gradient is
again an allreduce: every process's loss depends on every process's statistics); without a process group, or
with one process, or in evaluation, it is ``BatchNorm``. The formulas are ``BatchNorm``'s
(``chainrule.ops.normalization``, docs/normalization.md) with n the global count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import distributed as dist
from chainrule.autograd.function import Function
from chainrule.errors import DTypeError, ShapeError
from chainrule.nn.module import Module
from chainrule.nn.normalization import _BatchNorm
from chainrule.ops.normalization import _channel_dims, _per_channel, _update_running
from chainrule.ops.reduce import sum as reduce_sum
from chainrule.tensor import Tensor

__all__ = ["SumOverProcesses", "SyncBatchNorm", "SyncBatchNormFunction"]

Reduce = Callable[[np.ndarray], np.ndarray]


def _allreduce_sum(array: np.ndarray) -> np.ndarray:
    """Sum over the processes (in place, on SyncBatchNorm's own communicator)."""
    return dist.collectives.allreduce_array(array, dist.ReduceOp.SUM, dist.process_group.side_comm("SyncBatchNorm"))


class SumOverProcesses(Function):
    """s = Σ_r a_r, the same on every process r. Its gradient is an allreduce too: each process's loss L_q reads s,
    so ∂(Σ_q L_q)/∂a_r = Σ_q ∂L_q/∂s = Σ_q g_q, the upstream gradients summed over the processes."""

    uses_inputs = False

    def __init__(self, reduce: Reduce) -> None:
        self.reduce = reduce

    def forward(self, a):
        return self.reduce(np.ascontiguousarray(a).copy())

    def backward(self, g: Tensor) -> Tensor:
        return SumOverProcesses(self.reduce)(g)


class SyncBatchNormFunction(Function):
    """Training-mode batch norm with statistics over every process: N = Σ_r n_r values per channel,
    μ = Σ_r Σ_D x / N, σ² = Σ_r Σ_D (x − μ)² / N (two passes, the second around the global mean, accumulated in
    float64), y = (x − μ)·r·γ + β with r = 1/√(σ² + eps)."""

    def __init__(self, eps: float, has_weight: bool, has_bias: bool, reduce: Reduce) -> None:
        self.eps, self.has_weight, self.has_bias, self.reduce = eps, has_weight, has_bias, reduce

    def forward(self, x, *params):
        weight = params[0] if self.has_weight else None
        bias = params[-1] if self.has_bias else None
        dims, shape, c = _channel_dims(x.ndim), _per_channel(x), x.shape[1]
        first = np.empty(c + 1)
        first[:c] = x.sum(axis=dims, dtype=np.float64)
        first[c] = x.size // c
        first = self.reduce(first)
        self.count = int(first[c])
        mu = (first[:c] / self.count).astype(x.dtype)
        y = x - mu.reshape(shape)
        variance = self.reduce(np.square(y).sum(axis=dims, dtype=np.float64)) / self.count
        self.var = variance.astype(x.dtype)
        rstd = (1 / np.sqrt(variance + self.eps)).astype(x.dtype)
        self.mean = mu
        y *= rstd.reshape(shape) if weight is None else (rstd * weight).reshape(shape)
        if bias is not None:
            y += bias.reshape(shape)
        return y

    def backward(self, gy: Tensor) -> tuple[Tensor | None, ...]:
        """With x̂ = (x − μ)·r, g = gy·γ and sums Σ over every process's N values (docs/distributed.md):

        gx = r·(g − Σ g / N − x̂ ⊙ Σ (g ⊙ x̂) / N)   (the two sums allreduced)
        gγ = Σ_D gy ⊙ x̂,  gβ = Σ_D gy              (this process's sums: DistributedDataParallel averages them)

        On Tensors, with μ and r recomputed through ``SumOverProcesses``, so the rule is itself differentiable."""
        x, *params = self.inputs
        weight = params[0] if self.has_weight else None
        dims, shape = _channel_dims(x.ndim), _per_channel(x)
        n = x.dtype.type(self.count)

        def total(t: Tensor) -> Tensor:
            return SumOverProcesses(self.reduce)(reduce_sum(t, dims, keepdim=True))

        centred = x - total(x) / n
        r = (total(centred * centred) / n + x.dtype.type(self.eps)) ** -0.5
        xhat = centred * r
        g = gy if weight is None else gy * weight.reshape(shape)
        need = self.needs_input_grad
        gx = r * (g - total(g) / n - xhat * (total(g * xhat) / n)) if need[0] else None
        grads = [gx]
        if self.has_weight:
            grads.append(reduce_sum(gy * xhat, dims) if need[len(grads)] else None)
        if self.has_bias:
            grads.append(reduce_sum(gy, dims) if need[len(grads)] else None)
        return tuple(grads)


class SyncBatchNorm(_BatchNorm):
    """Batch normalization over the channel dim 1 of (N, C, ...) input, with the statistics of the batch of every
    process in training (``torch.nn.SyncBatchNorm``): equal to one ``BatchNorm`` over the global batch.

    Without an initialized process group, or with one process, it is ``BatchNorm`` over this batch; in
    evaluation it uses the running statistics, which every process updates with the same global values.
    ``process_group`` is accepted for PyTorch's signature (the default group is used).
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group: Any = None,
        device: Any = None,
        dtype: Any = np.float32,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, bias=bias, device=device,
                         dtype=dtype)
        self.process_group = process_group

    def _check_input_dim(self, input: Tensor) -> None:  # noqa: A002 - PyTorch's name
        if input.ndim < 2:
            raise ShapeError(f"SyncBatchNorm: expected at least 2D input (got {input.ndim}D input)")
        if input.shape[1] != self.num_features:
            raise ShapeError(f"SyncBatchNorm: expected {self.num_features} channels in dim 1, got input of shape "
                             f"{input.shape}")

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(input)
        self._check_input_dim(input)
        if input.dtype.kind != "f":
            raise DTypeError(f"SyncBatchNorm: input must be floating point, got {input.dtype}; hint: .float()")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked.item()) if self.momentum is None else self.momentum
        fn = SyncBatchNormFunction(self.eps, self.weight is not None, self.bias is not None, _allreduce_sum)
        y = fn(*(t for t in (input, self.weight, self.bias) if t is not None))
        if self.track_running_stats:
            _update_running(self.running_mean, self.running_var, fn.mean, fn.var, fn.count, factor)
        return y

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """``module`` with every ``BatchNorm*d`` inside replaced by a ``SyncBatchNorm`` holding its parameters,
        running statistics and mode (the module itself is returned, changed, unless it is a batch norm)."""
        result = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            bias = module.affine and module.bias is not None
            dtype = module.weight.dtype if module.affine else (
                module.running_mean.dtype if module.running_mean is not None else np.float32)
            result = cls(module.num_features, module.eps, module.momentum, module.affine,
                         module.track_running_stats, process_group, bias=bias, dtype=dtype)
            if module.affine:
                result.weight = module.weight
                if bias:
                    result.bias = module.bias
            result.running_mean = module.running_mean
            result.running_var = module.running_var
            result.num_batches_tracked = module.num_batches_tracked
            result.train(module.training)
        for name, child in list(module._modules.items()):
            if child is not None:
                converted = cls.convert_sync_batchnorm(child, process_group)
                if converted is not child:
                    setattr(module, name, converted)
        return result
