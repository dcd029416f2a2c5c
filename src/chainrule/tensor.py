"""``Tensor``: an array, its gradient, and the function that created it.

This file holds the data structure. Python's operator overloads and the methods that mirror ops (``t + u``,
``t.sum()``, ``t.backward()``, ``t.add_(u)``) need the ops and the engine, which are built on Tensor; they live in
``chainrule.ops.tensor_methods`` and are installed on Tensor once, by ``setup_tensor()``, when ``chainrule`` is
imported (DeZero's ``setup_variable``). So no import circle forms: this module imports nothing above it at
module level.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from chainrule import backend, dtypes
from chainrule.devices import CPU, DEVICE_TYPES, DeviceError, as_device, device
from chainrule.errors import ArgumentTypeError, BackwardError, DTypeError

Scalar = int | float | bool

# Set once any leaf gets a post-accumulate-grad hook: until then backward skips the count those hooks need.
post_accumulate_hooks_in_use = False


def as_array(data: Any, dtype: Any = None) -> Any:
    """``data`` as a backend array, with chainrule's defaults: Python floats become float32, ints int64.

    Arrays keep their dtype (and are not copied) unless ``dtype`` asks for another.
    """
    if isinstance(data, Tensor):
        data = data._data
    if backend.is_array(data):
        array = data if dtype is None or data.dtype == dtype else data.astype(dtype)
        if type(array) is not np.ndarray and isinstance(array, np.ndarray):  # e.g. a memmap or a matrix
            array = array.view(np.ndarray)
    elif isinstance(data, np.generic):  # a NumPy scalar keeps its dtype, like an array
        array = np.asarray(data, dtype=dtype)
    else:
        array = np.asarray(data, dtype=dtype)
        if dtype is None and array.dtype == np.float64:
            array = array.astype(dtypes.default_float)
    if array.dtype.kind not in "biuf":  # strings, objects, dates: no tensor dtype (cr.tensor says more)
        raise DTypeError(f"Tensor: data must hold numbers (bool, int or float), got an array of dtype {array.dtype}; "
                         f"hint: convert it first, e.g. array.astype(np.float32)")
    return array


class Tensor:
    """An n-dimensional array that records how it was computed, so that gradients can flow back to it.

    ``data`` is the array (NumPy, or CuPy on a GPU); ``grad`` is a Tensor of the same shape and dtype once a
    backward pass has reached this tensor; ``creator`` (also ``grad_fn``) is the Function whose output this
    is, or None for a leaf (a tensor the user made).
    """

    __slots__ = (
        "_data", "_version", "grad", "requires_grad", "creator", "generation", "output_index", "name", "__weakref__",
        "_post_accumulate_grad_hooks",
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
        self._post_accumulate_grad_hooks: dict[int, Callable[[Tensor], None]] | None = None

    # ----- the values, and their version ----------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """The same values outside the graph, as PyTorch's ``.data``: a Tensor that shares this one's memory and
        version counter and does not require grad. Its in-place methods write into this tensor without being
        recorded: ``p.data.normal_(0, 0.02)``, ``p.data.zero_()``, ``p.data.add_(g, alpha=-lr)``,
        ``p.data.copy_(w)``. Unlike PyTorch's, the version counter is shared, so a graph that saved the old
        values refuses to backpropagate through the new ones instead of giving a silently wrong gradient.

        Assigning to it (``t.data = u``, a Tensor or an array) replaces the values and bumps ``version``.
        ``t.numpy()`` is the array itself. While a graph holds the values for its backward pass, that array is
        read-only, so a write into it (``t.numpy()[0] = 1``) raises NumPy's "assignment destination is
        read-only" instead of making the gradient silently wrong; write through the tensor instead (``t[0] = 1``
        or ``t.data.mul_(2)``: the graph then refuses to backpropagate through the changed values)."""
        out = Tensor(self._data)
        out._version = self._version
        return out

    @data.setter
    def data(self, value: Any) -> None:
        self._data = as_array(value)
        self._version[0] += 1

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """NumPy's view of a CPU tensor (``np.asarray(t)``), as PyTorch's; a CUDA tensor goes through ``.cpu()``."""
        if backend.is_device_array(self._data):
            raise DeviceError(
                f"__array__: a tensor on {self.device} cannot become a NumPy array implicitly; "
                f"call .cpu() first (t.cpu().numpy())"
            )
        array = self._data if dtype is None else self._data.astype(dtype, copy=False)
        return array.copy() if copy else array

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
    def device(self) -> device:
        """Where the values live: ``device(type='cpu')`` for a NumPy array, ``device(type='cuda', index=N)`` for an
        array of the device module (CuPy) on GPU N."""
        where = backend.device_of(self._data)
        return CPU if where == "cpu" else device(where)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def dim(self) -> int:
        """The number of dims (PyTorch's name for ``ndim``)."""
        return self._data.ndim

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

    def __format__(self, format_spec: str) -> str:
        """``f"{loss:.4f}"`` formats a 0-d tensor as its number; a tensor with dims formats only with an empty
        spec (as ``str``), and refuses any other, as PyTorch does."""
        if self._data.ndim == 0:
            return format(self._data.item(), format_spec)
        if format_spec:
            raise TypeError(
                f"unsupported format string passed to Tensor.__format__: a tensor of shape {self.shape} has no "
                f"number format; hint: format one value, f'{{t.item():{format_spec}}}' on a 0-d or one-element tensor"
            )
        return str(self)

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extra = ""
        if backend.is_device_array(self._data):  # PyTorch's order: device, then dtype
            extra += f", device='{self.device}'"
        if self.dtype not in (dtypes.float32, dtypes.int64, dtypes.bool_):
            extra += f", dtype={self.dtype}"
        if self.creator is not None:
            extra += f", grad_fn=<{type(self.creator).__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    __hash__ = object.__hash__  # identity, although == (installed with the operators) is elementwise

    # ----- autograd -----------------------------------------------------------------------------------
    def detach(self) -> Tensor:
        """The same values (shared memory, shared version counter) cut from the graph."""
        out = Tensor(self._data)
        out._version = self._version
        return out

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.dtype.kind != "f":
            raise DTypeError(f"requires_grad_: only floating-point tensors can require gradients, got {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> RemovableHandle:
        """Call ``hook(self)`` once per ``backward`` that reaches this leaf, after its ``.grad`` is final.

        Final means: no Function still to run in that backward can send this leaf more gradient, so ``.grad``
        holds every piece of this pass (data-parallel training starts averaging a gradient the moment it is
        ready). Hooks run in the order they were registered; ``grad`` (``cr.autograd.grad``) does not call
        them, as it accumulates nothing. Returns a handle whose ``remove()`` unregisters the hook.
        """
        if self.creator is not None:
            raise BackwardError(
                "register_post_accumulate_grad_hook: post accumulate grad hooks cannot be registered on non-leaf "
                "tensors; hint: register it on the leaf (a parameter or a tensor made with requires_grad=True)"
            )
        if not self.requires_grad:
            raise BackwardError(
                "register_post_accumulate_grad_hook: cannot register a hook on a tensor that doesn't require "
                "gradient; hint: call .requires_grad_() first"
            )
        if not callable(hook):
            raise ArgumentTypeError(
                f"register_post_accumulate_grad_hook: hook must be callable, got {type(hook).__name__}"
            )
        global post_accumulate_hooks_in_use
        post_accumulate_hooks_in_use = True
        if self._post_accumulate_grad_hooks is None:
            self._post_accumulate_grad_hooks = {}
        handle = RemovableHandle(self._post_accumulate_grad_hooks)
        self._post_accumulate_grad_hooks[handle.id] = hook
        return handle

    def __getstate__(self) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """What ``copy.deepcopy`` copies: every attribute but the hooks (PyTorch does not copy them either; a hook
        belongs to the object that registered it, such as a DistributedDataParallel wrapper)."""
        slots = {}
        for cls in type(self).__mro__:
            for name in getattr(cls, "__slots__", ()):
                if name not in ("__weakref__", "_post_accumulate_grad_hooks") and hasattr(self, name):
                    slots[name] = getattr(self, name)
        return getattr(self, "__dict__", None), slots

    def __setstate__(self, state: tuple[dict[str, Any] | None, dict[str, Any]]) -> None:
        attributes, slots = state
        if attributes:
            self.__dict__.update(attributes)
        for name, value in slots.items():
            object.__setattr__(self, name, value)
        self._post_accumulate_grad_hooks = None

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the accumulated gradient (``grad = None``), or fill it with zeros if ``set_to_none=False``."""
        if set_to_none or self.grad is None:
            self.grad = None
        else:
            self.grad = Tensor(backend.get_array_module(self._data).zeros_like(self._data))


class RemovableHandle:
    """What a ``register_*_hook`` returns (``torch.utils.hooks.RemovableHandle``): ``remove()`` unregisters."""

    _next_id = itertools.count()

    def __init__(self, hooks: dict[int, Any]) -> None:
        self._hooks = hooks
        self.id = next(RemovableHandle._next_id)

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def parse_to(op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[device | None, Any, bool]:
    """(device, dtype, copy) from the arguments of PyTorch's ``to``: ``to(dtype)``, ``to(device, dtype=None)``,
    ``to(other_tensor)``, each followed by ``non_blocking`` and ``copy`` (``memory_format`` is accepted and has
    no effect: arrays here have one layout). None where an argument was not given."""
    rest = list(args)
    dev = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    flags = {"non_blocking": kwargs.pop("non_blocking", False), "copy": kwargs.pop("copy", False)}
    kwargs.pop("memory_format", None)
    if kwargs:
        raise ArgumentTypeError(f"{op}: got an unexpected keyword argument {next(iter(kwargs))!r}; expected device, "
                                f"dtype, non_blocking, copy or memory_format")
    if rest:
        first = rest.pop(0)
        if isinstance(first, Tensor):
            dev, dtype = first.device, first.dtype
        elif (isinstance(first, (device, str)) and _names_device(first)) or _is_index(first):
            dev = first  # an int is a CUDA device index, as in PyTorch: to(0) is to('cuda:0')
            if rest and not isinstance(rest[0], (bool, np.bool_)):
                dtype = rest.pop(0)
        elif first is not None:
            dtype = first
    for name in ("non_blocking", "copy"):
        if rest:
            flags[name] = rest.pop(0)
    if rest:
        raise ArgumentTypeError(f"{op}: too many positional arguments ({len(args)}); expected to(dtype), "
                                f"to(device, dtype) or to(tensor), then non_blocking and copy")
    for name, value in flags.items():
        if not isinstance(value, (bool, np.bool_)):
            raise ArgumentTypeError(f"{op}: argument '{name}' must be True or False, got {value!r}")
    return (None if dev is None else as_device(op, dev)), dtype, bool(flags["copy"])


def _is_index(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _names_device(value: Any) -> bool:
    """Whether a ``to`` argument names a device ('cpu', 'cuda:0', a device) rather than a dtype ('float32')."""
    if isinstance(value, device):
        return True
    return value.partition(":")[0].strip() in DEVICE_TYPES
