"""Tensor's operators and the methods that mirror ops, installed on ``Tensor`` by ``setup_tensor()``.

Tensor sits below the ops and the engine (they build and return Tensors), yet ``t + u`` must run ``ops.add``. As
in DeZero (``setup_variable``), the knot is tied once, late: ``chainrule/__init__.py`` calls ``setup_tensor()``
after the ops are defined, and it copies every method of ``TensorMethods`` onto ``Tensor``. Nothing else adds
to Tensor, and ``chainrule.tensor`` imports nothing above it, so the module graph has no circle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import backend, creation, dtypes, ops
from chainrule.autograd import engine, saved
from chainrule.autograd.grad_mode import is_grad_enabled, no_grad
from chainrule.devices import check_available
from chainrule.devices import device as _device
from chainrule.errors import ArgumentError, ArgumentTypeError, BackwardError
from chainrule.ops import transfer
from chainrule.tensor import Tensor, parse_to

__all__ = ["TensorMethods", "setup_tensor"]

class _Empty:
    pass


# What every class statement defines by itself (__module__, __dict__, __doc__, ...): not methods to install.
CLASS_ATTRIBUTES = frozenset(vars(_Empty))


def setup_tensor() -> None:
    """Install Tensor's operators and op methods (``TensorMethods``) on ``Tensor``; idempotent."""
    for name, value in vars(TensorMethods).items():
        if name not in CLASS_ATTRIBUTES:
            setattr(Tensor, name, value)


class TensorMethods:
    """The methods of ``Tensor`` that need the ops or the engine. Never instantiated: ``setup_tensor`` copies
    them onto ``Tensor``, where ``self`` is a Tensor."""

    # ----- autograd -----------------------------------------------------------------------------------
    def backward(self, gradient: Tensor | Any = None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs: Any = None) -> None:
        """Accumulate d(self)/d(leaf) · gradient into ``leaf.grad`` for every leaf that requires grad (only those
        in ``inputs``, when given: leaves that require grad).

        ``gradient`` defaults to 1 for a one-element tensor and is required otherwise. The graph is freed
        afterwards unless ``retain_graph`` (default: ``create_graph``) is true; with ``create_graph`` the
        gradients are themselves part of a graph, so they can be differentiated again.
        """
        engine.backward([self], None if gradient is None else [gradient], retain_graph=retain_graph,
                        create_graph=create_graph, inputs=inputs)

    def tril(self, diagonal: int = 0) -> Tensor:
        """The lower triangle of the last two dims (``chainrule.tril``)."""
        return ops.triangular.tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        """The upper triangle of the last two dims (``chainrule.triu``)."""
        return ops.triangular.triu(self, diagonal)

    def clone(self) -> Tensor:
        """A copy of the values in new memory (its own version counter), differentiable: gradients flow back
        to ``self``. ``t.detach().clone()`` is a writable copy outside the graph."""
        return ops.shape.clone(self)

    # ----- in-place modification (outside the graph) ----------------------------------------------------
    def _check_inplace(self, op: str) -> None:
        if is_grad_enabled() and self.requires_grad:
            raise BackwardError(
                f"{op}: a tensor that requires grad cannot be modified in place while gradients are recorded "
                f"(shape {self.shape}); do it under `with cr.no_grad():` (e.g. a parameter update), or compute "
                f"a new tensor out of place"
            )

    def _inplace(self, op: str, values: Any) -> Tensor:
        self._check_inplace(op)
        xp = backend.get_array_module(self._data)
        other = values._data if isinstance(values, Tensor) else values
        if xp is not np and not backend.is_device_array(other):  # host values (a draw, copy_ from the CPU) go over
            other = xp.asarray(other, dtype=self._data.dtype)
        with saved.unlocked(op, self._data):  # legal although a graph holds the values: the version says so
            self._data[...] = xp.asarray(other, dtype=self._data.dtype) if not backend.is_array(other) else other
        self._version[0] += 1
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        """``t[index] = value`` in place (bumps ``version``)."""
        self._check_inplace("__setitem__")
        value = value._data if isinstance(value, Tensor) else value
        with saved.unlocked("__setitem__", self._data):
            self._data[index] = value
        self._version[0] += 1

    def copy_(self, src: Any) -> Tensor:
        return self._inplace("copy_", src)

    def fill_(self, value: float) -> Tensor:
        return self._inplace("fill_", value)

    def zero_(self) -> Tensor:
        return self._inplace("zero_", 0)

    def add_(self, other: Any, alpha: float = 1) -> Tensor:
        other = other._data if isinstance(other, Tensor) else other
        return self._inplace("add_", self._data + self._data.dtype.type(alpha) * other)

    def sub_(self, other: Any, alpha: float = 1) -> Tensor:
        other = other._data if isinstance(other, Tensor) else other
        return self._inplace("sub_", self._data - self._data.dtype.type(alpha) * other)

    def mul_(self, other: Any) -> Tensor:
        return self._inplace("mul_", self._data * (other._data if isinstance(other, Tensor) else other))

    def div_(self, other: Any) -> Tensor:
        return self._inplace("div_", self._data / (other._data if isinstance(other, Tensor) else other))

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
        return self._inplace("clamp_", backend.get_array_module(self._data).clip(self._data, min, max))

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
        """Fill with samples of N(mean, std²) from chainrule's default generator (``cr.manual_seed``)."""
        rng = creation._generator("normal_", generator)
        return self._inplace("normal_", rng.normal(mean, std, self.shape))

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> Tensor:  # noqa: A002
        """Fill with samples of U(a, b) from chainrule's default generator (``cr.manual_seed``)."""
        rng = creation._generator("uniform_", generator)
        return self._inplace("uniform_", rng.uniform(a, b, self.shape))

    def masked_fill_(self, mask: Any, value: Any) -> Tensor:
        """In place: ``value`` where ``mask`` is True (see ``masked_fill``)."""
        with no_grad():
            filled = ops.masked_fill(self.detach(), mask, value)
        return self._inplace("masked_fill_", filled)

    def scatter_(self, dim: int, index: Any, src: Any = None, *, value: Any = None) -> Tensor:
        """In place: ``src`` (or ``value``) written along ``dim`` at ``index`` (see ``scatter``)."""
        with no_grad():
            out = ops.scatter(self.detach(), dim, index, src.detach() if isinstance(src, Tensor) else src, value=value)
        return self._inplace("scatter_", out)

    def scatter_add_(self, dim: int, index: Any, src: Any) -> Tensor:
        """In place: ``src`` added along ``dim`` at ``index`` (see ``scatter_add``)."""
        with no_grad():
            out = ops.scatter_add(self.detach(), dim, index, src.detach() if isinstance(src, Tensor) else src)
        return self._inplace("scatter_add_", out)

    # ----- devices and dtypes (differentiable where the values change type) -----------------------------
    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """PyTorch's forms: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)`` (other's device
        and dtype), each with ``non_blocking`` (no effect) and ``copy`` (a new tensor even when nothing changes).
        Returns ``self`` when nothing changes; a dtype change and a device move are differentiable (gradients
        flow back to this tensor's device). A device that is not available raises ``DeviceError``."""
        device, dtype, copy = parse_to("to", args, kwargs)
        out = self if dtype is None else ops.cast(self, dtype)
        if device is not None:
            moved = transfer.to_device(out, device)
            if moved is not out:
                return moved
        return out.clone() if copy and out is self else out

    def cpu(self) -> Tensor:
        """The tensor on the CPU: ``self`` when it is there, else a (differentiable) copy."""
        return transfer.to_device(self, "cpu", "cpu")

    def cuda(self, device: Any = None, non_blocking: bool = False) -> Tensor:
        """The tensor on a CUDA device (the current one, or ``device``: an index or 'cuda:N'): ``self`` when it
        is there, else a (differentiable) copy; ``DeviceError`` when no CUDA device is available."""
        return transfer.to_device(self, _cuda_device(device), "cuda")

    def type(self, dtype: Any = None, non_blocking: bool = False) -> Any:  # noqa: A003 - PyTorch's name
        """Without ``dtype``: the type name ('chainrule.FloatTensor', PyTorch's 'torch.FloatTensor'); with one (a
        dtype or such a name): the tensor cast to it."""
        if dtype is None:
            return dtypes.TYPE_NAMES.get(self.dtype, f"chainrule.Tensor[{self.dtype}]")
        if isinstance(dtype, str) and "." in dtype:
            found = dtypes.from_type_name(dtype)
            if found is None:
                raise ArgumentError(f"type: unknown tensor type {dtype!r}; expected one of "
                                    f"{', '.join(sorted(dtypes.TYPE_NAMES.values()))}, or a dtype")
            dtype = found
        return ops.cast(self, dtype)

    def float(self) -> Tensor:
        return ops.cast(self, dtypes.float32)

    def double(self) -> Tensor:
        return ops.cast(self, dtypes.float64)

    def half(self) -> Tensor:
        return ops.cast(self, dtypes.float16)

    def long(self) -> Tensor:
        return ops.cast(self, dtypes.int64)

    def int(self) -> Tensor:
        return ops.cast(self, dtypes.int32)

    def short(self) -> Tensor:
        return ops.cast(self, dtypes.int16)

    def bool(self) -> Tensor:
        return ops.cast(self, dtypes.bool_)

    # ----- new tensors like this one ---------------------------------------------------------------------
    def new_tensor(self, data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        """A new tensor holding a copy of ``data``, in this tensor's dtype unless ``dtype`` says otherwise."""
        return creation.tensor(data, **_like(self, "new_tensor", dtype, device),
                               requires_grad=requires_grad)

    def new_zeros(self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        return creation.zeros(*size, **_like(self, "new_zeros", dtype, device),
                              requires_grad=requires_grad)

    def new_ones(self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        return creation.ones(*size, **_like(self, "new_ones", dtype, device),
                             requires_grad=requires_grad)

    def new_empty(self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        """A new tensor of ``size`` (zeros here: chainrule never hands out uninitialised memory)."""
        return creation.empty(*size, **_like(self, "new_empty", dtype, device),
                              requires_grad=requires_grad)

    def new_full(self, size: Sequence[int], fill_value: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> Tensor:
        return creation.full(size, fill_value, **_like(self, "new_full", dtype, device),
                             requires_grad=requires_grad)

    # ----- arithmetic --------------------------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.div(other, self)

    def __neg__(self) -> Tensor:
        return ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __pow__(self, exponent: Any) -> Tensor:
        return ops.pow(self, exponent)

    def __rpow__(self, base: Any) -> Tensor:
        return ops.pow(base, self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.matmul(other, self)

    def __abs__(self) -> Tensor:
        return ops.abs(self)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.getitem(self, index)

    # comparisons give boolean tensors, outside the graph
    def __lt__(self, other: Any) -> Tensor:
        return ops.lt(self, other)

    def __le__(self, other: Any) -> Tensor:
        return ops.le(self, other)

    def __gt__(self, other: Any) -> Tensor:
        return ops.gt(self, other)

    def __ge__(self, other: Any) -> Tensor:
        return ops.ge(self, other)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return ops.eq(self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return ops.ne(self, other)

    __hash__ = object.__hash__  # identity: a class defining __eq__ would otherwise get __hash__ = None

    # ----- methods that mirror functions in chainrule.ops ---------------------------------------------
    def pow(self, exponent: Any) -> Tensor:
        return ops.pow(self, exponent)

    def matmul(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    def exp(self) -> Tensor:
        return ops.exp(self)

    def log(self) -> Tensor:
        return ops.log(self)

    def sqrt(self) -> Tensor:
        return ops.sqrt(self)

    def abs(self) -> Tensor:
        return ops.abs(self)

    def sin(self) -> Tensor:
        return ops.sin(self)

    def cos(self) -> Tensor:
        return ops.cos(self)

    def tanh(self) -> Tensor:
        return ops.tanh(self)

    def sigmoid(self) -> Tensor:
        return ops.sigmoid(self)

    def relu(self) -> Tensor:
        return ops.relu(self)

    def clip(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
        return ops.clip(self, min, max)

    clamp = clip

    def maximum(self, other: Any) -> Tensor:
        return ops.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return ops.minimum(self, other)

    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return ops.sum(self, dim, keepdim)

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return ops.mean(self, dim, keepdim)

    def var(self, dim: int | Sequence[int] | None = None, keepdim: bool = False, correction: int = 1) -> Tensor:
        return ops.var(self, dim, keepdim, correction=correction)

    def max(self, dim: Any = None, keepdim: bool = False) -> Any:
        """``x.max()`` a 0-d tensor, ``x.max(dim)`` the pair (values, indices), ``x.max(other)`` elementwise."""
        return ops.max(self, dim, keepdim)

    def min(self, dim: Any = None, keepdim: bool = False) -> Any:
        """``x.min()`` a 0-d tensor, ``x.min(dim)`` the pair (values, indices), ``x.min(other)`` elementwise."""
        return ops.min(self, dim, keepdim)

    def amax(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return ops.amax(self, dim, keepdim)

    def amin(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return ops.amin(self, dim, keepdim)

    def median(self, dim: int | None = None, keepdim: bool = False) -> Any:
        return ops.median(self, dim, keepdim)

    def cumsum(self, dim: int, dtype: Any = None) -> Tensor:
        return ops.cumsum(self, dim, dtype=dtype)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
        return ops.sort(self, dim, descending, stable)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
        return ops.argsort(self, dim, descending, stable)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:  # noqa: A002
        return ops.topk(self, k, dim, largest, sorted)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return ops.argmin(self, dim, keepdim)

    def gather(self, dim: int, index: Any) -> Tensor:
        return ops.gather(self, dim, index)

    def scatter(self, dim: int, index: Any, src: Any = None, *, value: Any = None) -> Tensor:
        return ops.scatter(self, dim, index, src, value=value)

    def scatter_add(self, dim: int, index: Any, src: Any) -> Tensor:
        return ops.scatter_add(self, dim, index, src)

    def index_select(self, dim: int, index: Any) -> Tensor:
        return ops.index_select(self, dim, index)

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        return ops.masked_fill(self, mask, value)

    def eq(self, other: Any) -> Tensor:
        return ops.eq(self, other)

    def ne(self, other: Any) -> Tensor:
        return ops.ne(self, other)

    def lt(self, other: Any) -> Tensor:
        return ops.lt(self, other)

    def le(self, other: Any) -> Tensor:
        return ops.le(self, other)

    def gt(self, other: Any) -> Tensor:
        return ops.gt(self, other)

    def ge(self, other: Any) -> Tensor:
        return ops.ge(self, other)

    def mm(self, mat2: Any) -> Tensor:
        return ops.mm(self, mat2)

    def bmm(self, mat2: Any) -> Tensor:
        return ops.bmm(self, mat2)

    def t(self) -> Tensor:
        return ops.t(self)

    def logsumexp(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return ops.logsumexp(self, dim, keepdim)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return ops.argmax(self, dim, keepdim)

    def softmax(self, dim: int = -1) -> Tensor:
        return ops.softmax(self, dim)

    def log_softmax(self, dim: int = -1) -> Tensor:
        return ops.log_softmax(self, dim)

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        return ops.reshape(self, *shape)

    view = reshape

    def view_as(self, other: Tensor) -> Tensor:
        """This tensor's elements in ``other``'s shape."""
        if not isinstance(other, Tensor):
            raise ArgumentTypeError(f"view_as: argument 'other' must be a Tensor, got {type(other).__name__}")
        return ops.reshape(self, other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return self.view_as(other)

    def contiguous(self) -> Tensor:
        """``self`` when its values are laid out in row-major order, else a (differentiable) row-major copy."""
        return self if self._data.flags.c_contiguous else ops.shape.clone(self)

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def repeat(self, *sizes: int | Sequence[int]) -> Tensor:
        return ops.shape.repeat(self, *sizes)

    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        return ops.narrow(self, dim, start, length)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        return ops.chunk(self, chunks, dim)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return ops.transpose(self, dim0, dim1)

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        return ops.permute(self, *dims)

    @property
    def T(self) -> Tensor:  # noqa: N802 - NumPy's and PyTorch's name
        """All axes reversed (the matrix transpose for 2-D tensors)."""
        return ops.permute(self, tuple(reversed(range(self.ndim))))

    @property
    def mT(self) -> Tensor:  # noqa: N802 - PyTorch's name
        """The last two axes swapped: a batch of transposed matrices."""
        return ops.transpose(self, -2, -1)

    def expand(self, *shape: int | Sequence[int]) -> Tensor:
        return ops.expand(self, *shape)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return ops.broadcast_to(self, shape)

    def squeeze(self, dim: int | Sequence[int] | None = None) -> Tensor:
        return ops.squeeze(self, dim)

    def unsqueeze(self, dim: int) -> Tensor:
        return ops.unsqueeze(self, dim)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return ops.flatten(self, start_dim, end_dim)

    def split(self, split_size: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        return ops.split(self, split_size, dim)

    # ----- more math (PyTorch's methods of the same names) ---------------------------------------------
    def __mod__(self, other: Any) -> Tensor:
        return ops.remainder(self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return ops.remainder(other, self)

    def is_floating_point(self) -> bool:
        return self.dtype.kind == "f"

    def sign(self) -> Tensor:
        return ops.sign(self)

    def floor(self) -> Tensor:
        return ops.floor(self)

    def ceil(self) -> Tensor:
        return ops.ceil(self)

    def round(self, *, decimals: int = 0) -> Tensor:
        return ops.round(self, decimals=decimals)

    def trunc(self) -> Tensor:
        return ops.trunc(self)

    def isnan(self) -> Tensor:
        return ops.isnan(self)

    def isinf(self) -> Tensor:
        return ops.isinf(self)

    def isfinite(self) -> Tensor:
        return ops.isfinite(self)

    def nan_to_num(self, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
        return ops.nan_to_num(self, nan, posinf, neginf)

    def logical_and(self, other: Any) -> Tensor:
        return ops.logical_and(self, other)

    def logical_or(self, other: Any) -> Tensor:
        return ops.logical_or(self, other)

    def logical_xor(self, other: Any) -> Tensor:
        return ops.logical_xor(self, other)

    def logical_not(self) -> Tensor:
        return ops.logical_not(self)

    def any(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return ops.any(self, dim, keepdim)

    def all(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return ops.all(self, dim, keepdim)

    def allclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
        return ops.allclose(self, other, rtol, atol, equal_nan)

    def isclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
        return ops.isclose(self, other, rtol, atol, equal_nan)

    def equal(self, other: Any) -> bool:
        return ops.equal(self, other)

    def count_nonzero(self, dim: int | Sequence[int] | None = None) -> Tensor:
        return ops.count_nonzero(self, dim)

    def nonzero(self, *, as_tuple: bool = False) -> Any:
        return ops.nonzero(self, as_tuple=as_tuple)

    def masked_select(self, mask: Any) -> Tensor:
        return ops.masked_select(self, mask)

    def log1p(self) -> Tensor:
        return ops.log1p(self)

    def expm1(self) -> Tensor:
        return ops.expm1(self)

    def log2(self) -> Tensor:
        return ops.log2(self)

    def log10(self) -> Tensor:
        return ops.log10(self)

    def exp2(self) -> Tensor:
        return ops.exp2(self)

    def erf(self) -> Tensor:
        return ops.erf(self)

    def rsqrt(self) -> Tensor:
        return ops.rsqrt(self)

    def reciprocal(self) -> Tensor:
        return ops.reciprocal(self)

    def square(self) -> Tensor:
        return ops.square(self)

    def tan(self) -> Tensor:
        return ops.tan(self)

    def atan2(self, other: Any) -> Tensor:
        return ops.atan2(self, other)

    def lerp(self, end: Any, weight: Any) -> Tensor:
        return ops.lerp(self, end, weight)

    def fmod(self, other: Any) -> Tensor:
        return ops.fmod(self, other)

    def remainder(self, other: Any) -> Tensor:
        return ops.remainder(self, other)

    def prod(self, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
        return ops.prod(self, dim, keepdim, dtype=dtype)

    def cumprod(self, dim: int, *, dtype: Any = None) -> Tensor:
        return ops.cumprod(self, dim, dtype=dtype)

    def std(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: float | None = None) -> Tensor:
        return ops.std(self, dim, unbiased, keepdim, correction=correction)

    def norm(self, p: float | str | None = "fro", dim: int | Sequence[int] | None = None, keepdim: bool = False,
             dtype: Any = None) -> Tensor:
        return ops.norm(self, p, dim, keepdim, dtype)

    def dist(self, other: Any, p: float = 2) -> Tensor:
        return ops.dist(self, other, p)

    def dot(self, other: Any) -> Tensor:
        return ops.dot(self, other)

    def outer(self, vec2: Any) -> Tensor:
        return ops.outer(self, vec2)

    def mv(self, vec: Any) -> Tensor:
        return ops.mv(self, vec)

    def trace(self) -> Tensor:
        return ops.trace(self)

    def diag(self, diagonal: int = 0) -> Tensor:
        return ops.diag(self, diagonal)

    def flip(self, *dims: int | Sequence[int]) -> Tensor:
        return ops.flip(self, dims[0] if len(dims) == 1 and not isinstance(dims[0], int) else dims)

    def roll(self, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None) -> Tensor:
        return ops.roll(self, shifts, dims)

    def tile(self, *dims: int | Sequence[int]) -> Tensor:
        return ops.tile(self, dims[0] if len(dims) == 1 and not isinstance(dims[0], int) else dims)

    def repeat_interleave(self, repeats: Any = None, dim: int | None = None, *,
                          output_size: int | None = None) -> Tensor:
        return ops.repeat_interleave(self, repeats, dim, output_size=output_size)

    def multinomial(self, num_samples: int, replacement: bool = False, *, generator: Any = None) -> Tensor:
        return ops.multinomial(self, num_samples, replacement, generator=generator)


def _cuda_device(device: Any) -> Any:
    """``Tensor.cuda``'s argument as a device: None is the current CUDA device, an int an index."""
    if device is None:
        return "cuda"
    if isinstance(device, int) and not isinstance(device, bool):
        return _device("cuda", device)
    return device


def _like(t: Tensor, op: str, dtype: Any, device: Any) -> dict[str, Any]:
    """``new_*``'s defaults, as PyTorch's: the dtype and the device of the tensor they are called on."""
    return {"dtype": t.dtype if dtype is None else dtype,
            "device": t.device if device is None else check_available(op, device)}
