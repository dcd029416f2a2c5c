"""``DistributedDataParallel``: one model per process, gradients averaged over the processes during backward.

Each process runs the wrapped module on its share of the batch and calls ``loss.backward()``; the averaged
gradients are in every parameter's ``.grad`` when backward returns, so ``optimizer.step()`` takes the same step
everywhere and the replicas stay equal.

Overlap. The parameters that need a gradient are grouped, in reverse registration order (roughly the order
backward finishes them), into buckets of at most ``bucket_cap_mb`` MiB of one dtype. Each parameter carries a
post-accumulate-grad hook: when backward has finished its gradient, the hook copies it into its bucket's flat
buffer; when a bucket's last gradient is in, a non-blocking allreduce (``MPI_Iallreduce``) of the whole buffer
starts, while backward goes on with the layers below. Buckets start in bucket order on every process (MPI
matches collectives by order), so a bucket that fills early waits for the ones before it. Once backward ends
(a callback the engine runs after its last hook) the allreduces are waited for, divided by the world size and
written into ``.grad``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from chainrule import distributed as dist
from chainrule.autograd import engine
from chainrule.autograd.grad_mode import is_grad_enabled, no_grad
from chainrule.distributed.collectives import allreduce_array, iallreduce_array
from chainrule.errors import ArgumentTypeError
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops.operands import check_bool, check_number
from chainrule.tensor import Tensor

__all__ = ["DistributedDataParallel"]


class _Bucket:
    """Parameters whose gradients travel in one allreduce: a flat buffer and each one's place in it."""

    def __init__(self, params: list[Parameter]) -> None:
        self.params = params
        self.offsets: list[tuple[int, int]] = []
        start = 0
        for p in params:
            self.offsets.append((start, start + p.numel()))
            start += p.numel()
        self.buffer = np.zeros(start, dtype=params[0].dtype)
        self.pending = len(params)
        self.request: Any = None  # the allreduce in flight
        self.done = False

    def reset(self) -> None:
        self.pending, self.request, self.done = len(self.params), None, False

    def wait(self) -> None:
        if self.request is not None and not self.done:
            dist.process_group.wait(self.request, "DistributedDataParallel's gradient allreduce")
            self.done = True


class DistributedDataParallel(Module):
    """Data parallelism over the processes of ``chainrule.distributed`` (``torch.nn.parallel``'s name).

    At construction rank 0's parameters and buffers are copied to every process (``init_sync``). The forward
    calls ``module``; during backward the gradients are averaged over the processes in buckets of
    ``bucket_cap_mb`` MiB, each allreduce starting as soon as its bucket's gradients are final. ``no_sync()``
    skips the averaging (gradient accumulation: the gradients accumulate locally and the first backward
    outside it averages the total). ``find_unused_parameters=True`` lets a forward leave parameters without
    gradient: they count as zeros in the average, and one unused on every process keeps its ``.grad``.
    ``broadcast_buffers`` copies rank 0's buffers (batch norm's running statistics) at each training forward.
    ``state_dict`` keys start with ``module.``, as in PyTorch; ``module`` is the wrapped model. ``device_ids``,
    ``output_device``, ``dim``, ``process_group``, ``check_reduction``, ``gradient_as_bucket_view`` and
    ``static_graph`` are accepted for PyTorch's signature and change nothing.
    """

    def __init__(
        self,
        module: Module,
        device_ids: Any = None,
        output_device: Any = None,
        dim: int = 0,
        broadcast_buffers: bool | None = True,
        init_sync: bool = True,
        process_group: Any = None,
        bucket_cap_mb: float | None = None,
        find_unused_parameters: bool = False,
        check_reduction: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
    ) -> None:
        super().__init__()
        name = "DistributedDataParallel"
        if not isinstance(module, Module):
            raise ArgumentTypeError(f"{name}: module must be a chainrule.nn.Module, got {type(module).__name__}")
        dist.process_group.comm(name)  # refuses, clearly, before init_process_group
        self.module = module
        self.broadcast_buffers = True if broadcast_buffers is None else check_bool(name, "broadcast_buffers",
                                                                                   broadcast_buffers)
        self.find_unused_parameters = check_bool(name, "find_unused_parameters", find_unused_parameters)
        cap = 25.0 if bucket_cap_mb is None else check_number(name, "bucket_cap_mb", bucket_cap_mb, 0.0,
                                                              low_open=True)
        self.bucket_cap_mb = cap
        self.require_backward_grad_sync = True
        self._armed = False  # a forward with sync on ran: the next backward averages
        self._launched = 0  # buckets started, in order, in the current backward
        self._queued = False  # the end-of-backward callback is queued for the current backward
        if init_sync:
            with no_grad():
                for t in self._synced_tensors():
                    dist.broadcast(t, 0)
        params = [p for p in module.parameters() if p.requires_grad]
        self._buckets = _make_buckets(list(reversed(params)), int(cap * 1024 * 1024))
        self._place: dict[int, tuple[_Bucket, int]] = {}
        for bucket in self._buckets:
            for i, p in enumerate(bucket.params):
                self._place[id(p)] = (bucket, i)
                p.register_post_accumulate_grad_hook(self._grad_ready)
        self._ready: set[int] = set()
        self._comm = dist.process_group.side_comm("DistributedDataParallel")

    # ----- forward ---------------------------------------------------------------------------------------
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if self.training and self.broadcast_buffers and dist.get_world_size() > 1:
            with no_grad():
                for buf in self.module.buffers():
                    dist.broadcast(buf, 0)
        if is_grad_enabled() and self.require_backward_grad_sync:
            self._start_pass()
        else:
            self._armed = False
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Forwards and backwards inside skip the averaging; gradients accumulate locally (PyTorch's no_sync)."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # ----- backward ---------------------------------------------------------------------------------------
    def _start_pass(self) -> None:
        self._armed = True
        self._launched = 0
        self._ready = set()
        self._queued = False
        for bucket in self._buckets:
            bucket.reset()

    def _grad_ready(self, p: Tensor) -> None:
        """The hook: ``p.grad`` is final for this backward; put it in its bucket, start the buckets now full."""
        if not self._armed or id(p) in self._ready:
            return
        if not self._queued:
            engine.queue_callback(self._finish)
            self._queued = True
        bucket, i = self._place[id(p)]
        lo, hi = bucket.offsets[i]
        bucket.buffer[lo:hi] = p.grad._data.reshape(-1)
        self._ready.add(id(p))
        bucket.pending -= 1
        self._launch_full()

    def _launch_full(self) -> None:
        while self._launched < len(self._buckets) and self._buckets[self._launched].pending == 0:
            bucket = self._buckets[self._launched]
            bucket.request = iallreduce_array(bucket.buffer, self._comm)
            self._launched += 1
        for bucket in self._buckets[: self._launched]:  # MPI progresses a non-blocking collective when called
            if not bucket.done:
                bucket.done = bucket.request.Test()

    def _finish(self) -> None:
        """After backward: the unused parameters, then wait for every bucket and write the averages to .grad."""
        self._armed = False
        missing = [p for b in self._buckets for p in b.params if id(p) not in self._ready]
        if missing and not self.find_unused_parameters:
            for bucket in self._buckets[: self._launched]:  # leave no allreduce in flight behind the error
                bucket.wait()
            names = {id(p): n for n, p in self.module.named_parameters()}
            listed = ", ".join(names.get(id(p), "?") for p in missing[:5])
            raise dist.DistError(
                f"DistributedDataParallel: {len(missing)} parameter(s) received no gradient in this backward "
                f"({listed}); the processes cannot average them. Pass find_unused_parameters=True to "
                f"DistributedDataParallel if the forward does not use every parameter, or make the loss depend "
                f"on all of them"
            )
        for p in missing:  # as zeros, so that the buckets hold the same layout on every process
            bucket, i = self._place[id(p)]
            lo, hi = bucket.offsets[i]
            bucket.buffer[lo:hi] = 0
            bucket.pending -= 1
        self._launch_full()
        used_anywhere = None
        if self.find_unused_parameters:
            flags = np.array([id(p) in self._ready for b in self._buckets for p in b.params], dtype=np.int32)
            used_anywhere = allreduce_array(flags, dist.ReduceOp.MAX, self._comm).astype(bool)
        k = 0
        size = dist.get_world_size()
        for bucket in self._buckets:
            bucket.wait()
            bucket.buffer /= bucket.buffer.dtype.type(size)
            for p, (lo, hi) in zip(bucket.params, bucket.offsets):
                if used_anywhere is None or used_anywhere[k]:
                    _set_grad(p, bucket.buffer[lo:hi].reshape(p.shape))
                k += 1

    def _synced_tensors(self) -> list[Tensor]:
        return [*self.module.parameters(), *self.module.buffers()]

    def extra_repr(self) -> str:
        return f"bucket_cap_mb={self.bucket_cap_mb}, find_unused_parameters={self.find_unused_parameters}"


def _set_grad(p: Tensor, average: np.ndarray) -> None:
    if p.grad is not None and p.grad._data.flags.writeable and p.grad.shape == average.shape:
        np.copyto(p.grad._data, average)
        p.grad.bump_version()
    else:
        p.grad = Tensor(average.copy())


def _make_buckets(params: list[Parameter], cap_bytes: int) -> list[_Bucket]:
    """Consecutive runs of ``params`` of one dtype, each closed once it holds ``cap_bytes`` or more."""
    buckets: list[_Bucket] = []
    run: list[Parameter] = []
    size = 0
    for p in params:
        if run and (p.dtype != run[0].dtype or size >= cap_bytes):
            buckets.append(_Bucket(run))
            run, size = [], 0
        run.append(p)
        size += p._data.nbytes
    if run:
        buckets.append(_Bucket(run))
    return buckets
