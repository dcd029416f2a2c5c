"""``Module``: the base class of every layer and model, with PyTorch's registration, traversal and state_dict.

Assigning a ``Parameter`` or a ``Module`` to an attribute registers it (``self.fc = Linear(3, 4)``);
``register_buffer`` registers a Tensor that is state but not learned (BatchNorm's running statistics).
Traversal (``named_parameters``, ``named_modules``, ``state_dict`` ...) visits a module's own members in
registration order, then its children depth-first, and names members by their dotted path
(``'features.0.weight'``), so a chainrule model and the same ``torch.nn`` model have identical keys.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from chainrule import backend
from chainrule.devices import check_available, move
from chainrule.devices import device as _device
from chainrule.errors import ArgumentError, ArgumentTypeError, ChainruleError
from chainrule.nn.parameter import Parameter
from chainrule.ops.operands import as_dtype
from chainrule.tensor import Tensor, parse_to

__all__ = ["IncompatibleKeys", "Module", "StateDictError"]


class StateDictError(ChainruleError, RuntimeError):
    """``load_state_dict`` refused a state dict: every missing key, unexpected key and wrong shape is listed.

    The lists are also attributes: ``missing_keys``, ``unexpected_keys`` and ``mismatched`` (tuples of
    key, checkpoint shape, model shape; a value that is not an array has ``None`` as its shape).
    """

    def __init__(
        self,
        message: str,
        missing_keys: list[str],
        unexpected_keys: list[str],
        mismatched: list[tuple[str, tuple[int, ...] | None, tuple[int, ...]]],
    ) -> None:
        super().__init__(message)
        self.missing_keys = missing_keys
        self.unexpected_keys = unexpected_keys
        self.mismatched = mismatched


class IncompatibleKeys(NamedTuple):
    """What a non-strict ``load_state_dict`` could not match (PyTorch's ``_IncompatibleKeys``)."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return f"IncompatibleKeys(missing_keys={self.missing_keys}, unexpected_keys={self.unexpected_keys})"

    __str__ = __repr__


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _type_name(value: Any) -> str:
    return type(value).__name__


def _check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str):
        raise ArgumentTypeError(f"{kind} name should be a string, got {_type_name(name)}")
    if name == "":
        raise KeyError(f'{kind} name can\'t be empty string ""')
    if "." in name:
        raise KeyError(f'{kind} name can\'t contain ".", got: {name}')


def _checkpoint_array(value: Any) -> Any:
    """A state-dict value as an array (NumPy, or CuPy): Tensors, arrays, numbers, or anything with __array__."""
    if isinstance(value, Tensor):
        return value._data
    if backend.is_array(value):
        return value
    try:
        array = np.asarray(value)
    except (TypeError, ValueError, RuntimeError):
        detach = getattr(value, "detach", None)  # e.g. a torch tensor that requires grad
        if detach is None:
            raise
        array = np.asarray(detach().cpu())
    if array.dtype == object:
        raise ArgumentTypeError(f"a {_type_name(value)} is not a numeric array")
    return array


def _on_backend_of(array: Any, like: Any, dtype: np.dtype) -> Any:
    """``array`` cast to ``dtype`` on the backend (NumPy or CuPy) that holds ``like``; always a new array."""
    if not backend.is_device_array(like):
        return np.array(backend.to_numpy(array), dtype=dtype)
    copy = backend.to_device(array, like.device.id)  # on like's own GPU, not merely the current one
    return copy.astype(dtype) if copy is array or copy.dtype != dtype else copy


class Module:
    """Base class of layers and models: subclass it, assign parameters and submodules in ``__init__``
    (after ``super().__init__()``), and write ``forward``. Calling the module calls ``forward``.

    ``training`` (default True) is switched by ``train()``/``eval()`` for the whole tree; layers such as
    Dropout and BatchNorm read it.
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", {})

    # ----- running ---------------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ----- registration ----------------------------------------------------------------------------------
    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None: a declared but absent parameter, e.g. ``bias=False``) as ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_name("parameter", name)
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise ArgumentTypeError(
                f"cannot assign '{_type_name(param)}' object to parameter '{name}' (chainrule.nn.Parameter or None "
                f"required)"
            )
        if param is not None and not param.is_leaf:
            raise ArgumentError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be created explicitly; "
                f"wrap a detached copy: Parameter(t.detach())"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register ``tensor`` as state that is not learned; persistent buffers are part of ``state_dict``."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_name("buffer", name)
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise ArgumentTypeError(
                f"cannot assign '{_type_name(tensor)}' object to buffer '{name}' (Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as the child ``name`` (same as assigning it as an attribute)."""
        if module is not None and not isinstance(module, Module):
            raise ArgumentTypeError(
                f"{type(self).__name__}.add_module: argument 'module' must be a Module or None, got "
                f"{_type_name(module)} ({_type_name(module)} is not a Module subclass); hint: wrap the function in a "
                f"Module, or pass the layer object itself"
            )
        if "_modules" not in self.__dict__:
            raise AttributeError("cannot assign module before Module.__init__() call")
        _check_name("module", name)
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__

        def remove_from(*containers: Any) -> None:
            for c in containers:
                if name in c:
                    if isinstance(c, dict):
                        del c[name]
                    else:
                        c.discard(name)

        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            remove_from(d, self._buffers, self._modules, self._non_persistent_buffers_set)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise ArgumentTypeError(
                    f"cannot assign '{_type_name(value)}' as parameter '{name}' (chainrule.nn.Parameter or None "
                    f"expected)"
                )
            self.register_parameter(name, value)
        else:
            modules = d.get("_modules")
            if isinstance(value, Module):
                if modules is None:
                    raise AttributeError("cannot assign module before Module.__init__() call")
                remove_from(d, self._parameters, self._buffers, self._non_persistent_buffers_set)
                modules[name] = value
            elif modules is not None and name in modules:
                if value is not None:
                    raise ArgumentTypeError(
                        f"cannot assign '{_type_name(value)}' as child module '{name}' (Module or None expected)"
                    )
                modules[name] = value
            else:
                buffers = d.get("_buffers")
                if buffers is not None and name in buffers:
                    if value is not None and not isinstance(value, Tensor):
                        raise ArgumentTypeError(
                            f"cannot assign '{_type_name(value)}' as buffer '{name}' (Tensor or None expected)"
                        )
                    buffers[name] = value
                else:
                    object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for kind in ("_parameters", "_buffers", "_modules"):
            members = d.get(kind)
            if members is not None and name in members:
                return members[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        keys = list(super().__dir__()) + list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(k for k in set(keys) if not k[:1].isdigit())

    # ----- traversal -------------------------------------------------------------------------------------
    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """This module and every descendant, pre-order, each once (unless ``remove_duplicate=False``)."""
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct submodules with their attribute names (each module once)."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(
        self, kind: str, prefix: str, recurse: bool, remove_duplicate: bool
    ) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in module.__dict__[kind].items():
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) for this module's parameters, then its children's; shared ones once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)  # type: ignore[misc]

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer) for every buffer, persistent or not, in the order of ``named_parameters``."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def get_submodule(self, target: str) -> Module:
        """The descendant at the dotted path ``target`` (``''`` is this module)."""
        module: Module = self
        if target == "":
            return module
        for i, item in enumerate(target.split(".")):
            child = module._modules.get(item)
            if not isinstance(child, Module):
                path = ".".join(target.split(".")[:i])
                owner = type(module).__name__ + (f" at '{path}'" if path else "")
                raise AttributeError(f"{owner} has no submodule '{item}' (looking up '{target}')")
            module = child
        return module

    # ----- modes and gradients -----------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set ``training`` to ``mode`` on this module and every descendant; returns self."""
        if not isinstance(mode, bool):
            raise ArgumentError(f"{type(self).__name__}.train: training mode is expected to be boolean, got {mode!r}")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        """``train(False)``: Dropout stops dropping, BatchNorm uses its running statistics."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Switch gradient tracking for every parameter (``False`` freezes the module); returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (``grad = None``), or fill them with zeros (``set_to_none=False``)."""
        for p in self.parameters():
            if p.grad is not None:
                p.zero_grad(set_to_none)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every child (recursively), then on self (as PyTorch: e.g. custom initialisation)."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """PyTorch's forms: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)``: move every
        parameter, gradient and buffer to ``device`` and cast the floating-point ones to ``dtype``, in place;
        returns self. A device that is not available raises ``DeviceError`` before anything moves.

        The Parameter objects stay the same (only their ``data`` changes), so optimizers keep working (their
        state follows the parameters at the next step).
        """
        device, dtype, _ = parse_to("Module.to", args, kwargs)
        dev = None if device is None else check_available("Module.to", device)
        if dtype is not None:
            dtype = as_dtype("Module.to", dtype)
            if dtype.kind != "f":
                raise ArgumentTypeError(f"Module.to only accepts floating point dtypes, got {dtype}")
        if dev is None and dtype is None:
            return self
        for module in self.modules():
            for t in list(module._parameters.values()) + list(module._buffers.values()):
                if t is None:
                    continue
                cast = dtype if dtype is not None and t.dtype.kind == "f" else None
                if cast is not None:
                    t.data = t._data.astype(cast)
                if dev is not None and t.device != dev:
                    t.data = move(t._data, dev)
                if t.grad is not None:
                    grad = t.grad._data if cast is None else t.grad._data.astype(cast)
                    t.grad = Tensor(grad if dev is None else move(grad, dev))
        return self

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    def half(self) -> Module:
        return self.to(np.float16)

    def cpu(self) -> Module:
        """Move every parameter, gradient and buffer to the CPU; returns self."""
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Module:
        """Move every parameter, gradient and buffer to a CUDA device (the current one, or ``device``: an index
        or 'cuda:N'); returns self. ``DeviceError`` when no CUDA device is available."""
        if device is None:
            return self.to("cuda")
        return self.to(_device("cuda", device) if isinstance(device, int) and not isinstance(device, bool) else device)

    # ----- state dict ------------------------------------------------------------------------------------
    def _state_items(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """(key, tensor) for every state_dict entry: own parameters, own persistent buffers, then children."""
        for name, p in self._parameters.items():
            if p is not None:
                yield prefix + name, p
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                yield prefix + name, b
        for name, module in self._modules.items():
            if module is not None:
                yield from module._state_items(prefix + name + ".")

    def state_dict(
        self, *, destination: dict[str, Tensor] | None = None, prefix: str = "", keep_vars: bool = False
    ) -> dict[str, Tensor]:
        """Every parameter and persistent buffer by dotted name (PyTorch's keys), in traversal order.

        Values are detached Tensors sharing memory with the module (as in PyTorch): later training changes
        them; copy (``{k: v.numpy().copy() for ...}``) for a snapshot. ``keep_vars=True`` returns the
        Parameters themselves. A parameter shared by two submodules appears under both names.
        """
        if destination is None:
            destination = OrderedDict()
        for key, value in self._state_items(prefix):
            destination[key] = value if keep_vars else value.detach()
        return destination

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy values (Tensors, NumPy arrays, anything ``numpy.asarray`` takes) into the parameters and buffers.

        Each value is cast to its target's dtype and copied in place, so Parameter objects keep their identity.
        Everything is checked before anything is written: with ``strict=True`` a missing key, an unexpected
        key or a wrong shape raises one ``StateDictError`` listing every problem and leaves the module as it
        was. With ``strict=False`` missing and unexpected keys are returned as ``(missing_keys,
        unexpected_keys)`` instead, but a wrong shape still raises.
        """
        if not isinstance(state_dict, Mapping):
            raise ArgumentTypeError(f"Expected state_dict to be dict-like, got {_type_name(state_dict)}.")
        targets: dict[str, Tensor] = OrderedDict()
        for key, tensor in self._state_items():
            targets.setdefault(key, tensor)
        missing = [key for key in targets if key not in state_dict]
        unexpected = [key for key in state_dict if key not in targets]
        mismatched: list[tuple[str, tuple[int, ...] | None, tuple[int, ...]]] = []
        problems: list[str] = []
        converted: list[tuple[Tensor, Any]] = []
        for key, target in targets.items():
            if key not in state_dict:
                continue
            try:
                array = _checkpoint_array(state_dict[key])
            except (TypeError, ValueError, RuntimeError) as e:
                mismatched.append((key, None, target.shape))
                problems.append(f"could not convert the value for {key} ({_type_name(state_dict[key])}) to an array: "
                                f"{e}")
                continue
            if tuple(array.shape) != target.shape:
                mismatched.append((key, tuple(array.shape), target.shape))
                problems.append(f"size mismatch for {key}: copying a param with shape {tuple(array.shape)} from "
                                f"checkpoint, the shape in current model is {target.shape}.")
                continue
            converted.append((target, _on_backend_of(array, target._data, target.dtype)))
        errors = []
        if strict and missing:
            errors.append("Missing key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in missing)))
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in unexpected)))
        errors += problems
        if errors:
            message = f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors)
            raise StateDictError(message, missing, unexpected, mismatched)
        for target, array in converted:
            if getattr(target._data.flags, "writeable", True):
                target._data[...] = array
                target.bump_version()
            else:
                target.data = array
        return IncompatibleKeys(missing, unexpected)

    # ----- printing --------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (override it: e.g. ``'in_features=3, ...'``)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): {_addindent(repr(module), 2)}" for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"
