"""``Tensor``: an array, its gradient, and the function that created it.

This file holds the data structure and Python's operator overloads; every overload forwards to an op in
``chainrule.ops``, where the forward, the backward and its derivation live together.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from chainrule import backend, dtypes
from chainrule.errors import BackwardError, DTypeError

Scalar = int | float | bool


def as_array(data: Any, dtype: Any = None) -> Any:
    """``data`` as a backend array, with chainrule's defaults: Python floats become float32, ints int64.

    Arrays keep their dtype (and are not copied) unless ``dtype`` asks for another.
    """
    if isinstance(data, Tensor):
        data = data.data
    if backend.is_array(data):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    if isinstance(data, np.generic):  # a NumPy scalar keeps its dtype, like an array
        return np.asarray(data, dtype=dtype)
    array = np.asarray(data, dtype=dtype)
    if dtype is None and array.dtype == np.float64:
        array = array.astype(dtypes.default_float)
    return array


class Tensor:
    """An n-dimensional array that records how it was computed, so that gradients can flow back to it.

    ``data`` is the array (NumPy, or CuPy on a GPU); ``grad`` is a Tensor of the same shape and dtype once a
    backward pass has reached this tensor; ``creator`` (also ``grad_fn``) is the Function whose output this
    is, or None for a leaf (a tensor the user made).
    """

    __slots__ = (
        "_data", "_version", "grad", "requires_grad", "creator", "generation", "output_index", "name", "__weakref__",
    )
    __array_priority__ = 100  # ndarray <op> Tensor defers to Tensor's reflected operators

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> None:
        self._data = as_array(data, dtype)
        self._version = [0]  # a box, shared with detach()ed views of the same values
        if requires_grad and self._data.dtype.kind != "f":
            raise DTypeError(
                f"Tensor: only floating-point tensors can require gradients, got dtype {self._data.dtype}; "
                f"hint: build it with dtype=cr.float32"
            )
        self.requires_grad = bool(requires_grad)
        self.grad: Tensor | None = None
        self.creator = None
        self.generation = 0
        self.output_index = 0
        self.name = name

    # ----- the values, and their version ----------------------------------------------------------------
    @property
    def data(self) -> Any:
        """The array of values. Assigning to it (``t.data = a``) counts as an in-place modification: it bumps
        ``version``, so a graph that saved this tensor refuses to backpropagate through stale values.

        Writing into the array itself (``t.data[0] = 1``, or through a NumPy view of it) is invisible to that
        check, so while a graph holds these values for its backward pass the array is read-only: such a write
        raises NumPy's "assignment destination is read-only" instead of making the gradient silently wrong. The
        array becomes writable again once backward has run (without ``retain_graph``) or the graph is freed. To
        change the values anyway, write through the tensor (``t[0] = 1`` or ``t.mul_(2)`` under
        ``cr.no_grad()``: the graph then refuses to backpropagate through them); for a writable copy use
        ``t.detach().clone()`` or ``t.numpy().copy()``. NumPy views taken while the array was read-only stay
        read-only."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        self._data = as_array(value)
        self._version[0] += 1

    @property
    def version(self) -> int:
        """How many in-place modifications this tensor's values have seen (PyTorch's ``_version``)."""
        return self._version[0]

    def bump_version(self) -> None:
        """Record an in-place modification made directly on ``data``'s array (optimizers call this)."""
        self._version[0] += 1

    # ----- what it is -----------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def device(self) -> str:
        return backend.device_of(self._data)

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user made (no creator); their ``grad`` is filled by ``backward``."""
        return self.creator is None

    @property
    def grad_fn(self):  # noqa: ANN201 - the Function type lives above this module
        """PyTorch's name for ``creator``."""
        return self.creator

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        return int(self._data.size)

    def __len__(self) -> int:
        return len(self._data)

    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (shared with the tensor on the CPU, copied from a GPU)."""
        return backend.to_numpy(self._data)

    def item(self) -> Scalar:
        """The single value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item: only one-element tensors convert to a Python number, got shape {self.shape}")
        return self._data.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        return bool(self.item())

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extra = ""
        if self.dtype not in (dtypes.float32, dtypes.int64, dtypes.bool_):
            extra += f", dtype={self.dtype}"
        if self.creator is not None:
            extra += f", grad_fn=<{type(self.creator).__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    __hash__ = object.__hash__  # identity, although == is elementwise

    # ----- autograd -----------------------------------------------------------------------------------
    def backward(self, grad: Tensor | Any = None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) · grad into ``leaf.grad`` for every leaf that requires grad.

        ``grad`` defaults to 1 for a one-element tensor and is required otherwise. The graph is freed
        afterwards unless ``retain_graph`` (default: ``create_graph``) is true; with ``create_graph`` the
        gradients are themselves part of a graph, so they can be differentiated again.
        """
        from chainrule.autograd.engine import backward

        backward([self], None if grad is None else [grad], retain_graph=retain_graph, create_graph=create_graph)

    def backward_steps(self, grad: Tensor | Any = None) -> Iterator[Any]:
        """Yield the backward pass one node at a time: node, upstream, local and downstream gradients.

        Leaves the graph and every ``.grad`` untouched; see ``chainrule.viz.backward_steps``.
        """
        from chainrule.viz.steps import backward_steps

        return backward_steps(self, grad)

    def detach(self) -> Tensor:
        """The same values (shared memory, shared version counter) cut from the graph."""
        out = Tensor(self._data)
        out._version = self._version
        return out

    def clone(self) -> Tensor:
        """A copy of the values in new memory (its own version counter), differentiable: gradients flow back
        to ``self``. ``t.detach().clone()`` is a writable copy outside the graph."""
        return ops.shape.clone(self)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.dtype.kind != "f":
            raise DTypeError(f"requires_grad_: only floating-point tensors can require gradients, got {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the accumulated gradient (``grad = None``), or fill it with zeros if ``set_to_none=False``."""
        if set_to_none or self.grad is None:
            self.grad = None
        else:
            self.grad = Tensor(backend.get_array_module(self._data).zeros_like(self._data))

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


from chainrule import ops  # noqa: E402 - ops need Tensor defined first
from chainrule.autograd import saved  # noqa: E402
from chainrule.autograd.grad_mode import is_grad_enabled  # noqa: E402
