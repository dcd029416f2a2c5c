"""Tensor's operators and the methods that mirror ops, installed on ``Tensor`` by ``setup_tensor()``.

Tensor sits below the ops and the engine (they build and return Tensors), yet ``t + u`` must run ``ops.add``. As
in DeZero (``setup_variable``), the knot is tied once, late: ``chainrule/__init__.py`` calls ``setup_tensor()``
after the ops are defined, and it copies every method of ``TensorMethods`` onto ``Tensor``. Nothing else adds
to Tensor, and ``chainrule.tensor`` imports nothing above it, so the module graph has no circle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule import backend, dtypes, ops
from chainrule.autograd import engine, saved
from chainrule.autograd.grad_mode import is_grad_enabled
from chainrule.errors import BackwardError
from chainrule.tensor import Tensor

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
    def backward(self, grad: Tensor | Any = None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) · grad into ``leaf.grad`` for every leaf that requires grad.

        ``grad`` defaults to 1 for a one-element tensor and is required otherwise. The graph is freed
        afterwards unless ``retain_graph`` (default: ``create_graph``) is true; with ``create_graph`` the
        gradients are themselves part of a graph, so they can be differentiated again.
        """
        engine.backward([self], None if grad is None else [grad], retain_graph=retain_graph, create_graph=create_graph)

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

    # ----- dtype conversions (differentiable) -----------------------------------------------------------
    def to(self, dtype: Any) -> Tensor:
        return ops.cast(self, dtype)

    def float(self) -> Tensor:
        return ops.cast(self, dtypes.float32)

    def double(self) -> Tensor:
        return ops.cast(self, dtypes.float64)

    def long(self) -> Tensor:
        return ops.cast(self, dtypes.int64)

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

    def max(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return ops.max(self, dim, keepdim)

    def min(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return ops.min(self, dim, keepdim)

    amax = max
    amin = min

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

    def split(self, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        return ops.split(self, split_size_or_sections, dim)
