"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad``, ``step`` and a checked ``state_dict``.

The structure is PyTorch's. ``param_groups`` is a list of dicts, each holding ``'params'`` (a list of Tensors)
and that group's hyper-parameters; ``defaults`` holds the values a group gets for the options it does not set;
``state`` maps each parameter (the Tensor itself, by identity) to a dict of its buffers (``'step'``,
``'exp_avg'``, ...).

Updates work on the arrays: ``step`` reads the gradient's array and changes the parameter's array in place, with
the array module that owns it (NumPy or CuPy), so no graph is built and the Parameter objects (and any views of
their arrays) see the new values. A subclass writes only ``_update(p, grad, state, group)``.

Every hyper-parameter enters the arithmetic as a scalar of the parameter's dtype (``_scalar``), so a float32
parameter, its buffers and its updates stay float32 whatever the hyper-parameter's Python or NumPy type is.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.grad_mode import enable_grad
from chainrule.autograd.saved import unlocked
from chainrule.errors import ArgumentError, ArgumentTypeError, ChainruleError, DTypeError, ShapeError
from chainrule.ops.operands import check_number
from chainrule.tensor import Tensor

__all__ = ["Optimizer", "OptimizerStateError"]


class OptimizerStateError(ChainruleError, ValueError):
    """``Optimizer.load_state_dict`` refused a state dict; ``problems`` lists every mismatch found.

    It is raised before anything is changed, so the optimizer keeps its previous state and groups.
    """

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


def _scalar(value: float, array: Any) -> Any:
    """``value`` as a scalar of ``array``'s dtype: multiplying by it never changes the array's dtype."""
    return array.dtype.type(value)


def _lerp_(start: Any, end: Any, weight: float) -> None:
    """start ← start + w·(end − start), in place, with PyTorch's two-sided formula (``torch.lerp``).

    For w < 0.5 it is start + w·(end − start); otherwise end − (end − start)·(1 − w). Both equal
    (1 − w)·start + w·end; the split only keeps the rounding close to PyTorch's.
    """
    diff = end - start
    if abs(weight) < 0.5:
        diff *= _scalar(weight, start)
        start += diff
    else:
        diff *= _scalar(1.0 - weight, start)
        start[...] = end - diff


def _plain(value: Any) -> Any:
    """A group option as a plain Python value (NumPy scalars → int/float/bool; tuples and lists recursively)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    return value


def _type_name(value: Any) -> str:
    return type(value).__name__


def _param_list(name: str, arg: str, params: Any) -> list[Any]:
    """``params`` (an iterable of Tensors or of group dicts) as a list; refuses what has no fixed order."""
    if isinstance(params, Tensor):
        raise ArgumentTypeError(
            f"{name}: params argument given to the optimizer should be an iterable of Tensors or dicts, but got "
            f"a Tensor; hint: pass [tensor] or model.parameters()"
        )
    if isinstance(params, (set, frozenset)):
        raise ArgumentTypeError(
            f"{name}: optimizer parameters need to be organized in ordered collections (argument '{arg}' is a "
            f"set), but the ordering of tensors in sets will change between runs. Please use a list instead."
        )
    if isinstance(params, (dict, str, bytes)) or not isinstance(params, Iterable):
        raise ArgumentTypeError(
            f"{name}: argument '{arg}' should be an iterable of Tensors or dicts, but got {_type_name(params)}; "
            f"hint: pass model.parameters(), a list of Tensors, or a list of group dicts"
        )
    return list(params)


#: What each hyper-parameter is, for the hint of a refusal.
_MEANING = {
    "lr": "the learning rate, e.g. 1e-3",
    "momentum": "the momentum factor, 0 for none",
    "dampening": "the dampening of the momentum, 0 for none",
    "weight_decay": "the L2 penalty factor, 0 for none",
    "eps": "the epsilon term that keeps the division away from zero, e.g. 1e-8",
    "alpha": "the smoothing constant, e.g. 0.99",
    "lr_decay": "the learning-rate decay, 0 for none",
    "initial_accumulator_value": "the starting value of the sum of squares, e.g. 0",
    "rho": "the decay of the running averages, in [0, 1], e.g. 0.9",
}


def check_nonnegative(where: str, options: Mapping[str, Any], *names: str) -> None:
    """Each named option: a finite number ≥ 0 (a NaN or infinite one would turn every weight into NaN)."""
    for name in names:
        check_number(where, name, options[name], 0.0, finite=True, hint=f"; hint: {name} is {_MEANING[name]}")


class Optimizer:
    """Base class of the optimizers: holds the parameter groups and the per-parameter state.

    ``params`` is an iterable of Tensors (one group), or of dicts (several groups), each with a ``'params'``
    entry and any options that differ from ``defaults``::

        SGD([{'params': model.features.parameters()},
             {'params': model.head.parameters(), 'lr': 1e-2}], lr=1e-3, momentum=0.9)

    Subclasses call ``super().__init__(params, defaults)`` and implement ``_update``.
    """

    #: Names of the per-parameter state entries that are numbers (the rest are arrays of the parameter's shape).
    _scalar_state: tuple[str, ...] = ("step",)
    #: Every state name this optimizer may hold (checked by ``load_state_dict``).
    _state_names: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Tensor] | Iterable[dict[str, Any]], defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        self._check_options(defaults, name)
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = _param_list(name, "params", params)
        if len(param_groups) == 0:
            raise ArgumentError(
                f"{name}: optimizer got an empty parameter list (argument 'params'); hint: pass "
                f"model.parameters() of a model that has parameters, or a list of Tensors with requires_grad=True"
            )
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ----- groups ------------------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (a dict with ``'params'`` and optional options), e.g. when unfreezing
        layers during fine-tuning. Options the dict omits take the optimizer's ``defaults``."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise ArgumentTypeError(
                f"{name}: param_group must be a dict, but got {_type_name(param_group)}; hint: give every group as "
                f"a dict {{'params': [...], option: value}}, or pass plain Tensors only"
            )
        if "params" not in param_group:
            raise ArgumentError(f"{name}: param_group must have a 'params' entry, got keys {sorted(param_group)}")
        group = dict(param_group)
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else _param_list(name, "param_group['params']", params)
        for p in params:
            if not isinstance(p, Tensor):
                raise ArgumentTypeError(
                    f"{name}: optimizer can only optimize Tensors, but one of the params is {_type_name(p)}; hint: "
                    f"pass the model's parameters (cr.Tensor with requires_grad=True)"
                )
            if not p.is_leaf:
                raise ArgumentError(f"{name}: can't optimize a non-leaf Tensor (one computed from others); hint: "
                                    f"optimize the leaf it came from, or .detach() it and set requires_grad=True")
            if p.dtype.kind != "f":
                raise DTypeError(f"{name}: optimizer can only optimize floating-point Tensors, got dtype {p.dtype}")
        group["params"] = params
        for option, default in self.defaults.items():
            group.setdefault(option, default)
        self._check_options(group, f"{name} (parameter group {len(self.param_groups)})")
        ids = [id(p) for p in params]
        if len(ids) != len(set(ids)):  # it would be updated twice per step
            raise ArgumentError(
                f"{name}: optimizer contains a parameter group with duplicate parameters (the same Tensor twice in "
                f"'params'); hint: list each parameter once"
            )
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if not existing.isdisjoint(ids):
            raise ArgumentError(f"{name}: some parameters appear in more than one parameter group; hint: list each "
                                f"parameter in one group only")
        self.param_groups.append(group)

    def _check_options(self, options: Mapping[str, Any], where: str) -> None:
        """Refuse a hyper-parameter outside its range, for the defaults and for every group's own values
        (a subclass checks its options here; ``where`` names the optimizer, or the group)."""

    # ----- gradients and steps -----------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient: ``grad = None`` (default), or zero it in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif getattr(p.grad._data.flags, "writeable", True):
                    p.grad._data[...] = 0
                else:
                    p.grad = Tensor(backend.get_array_module(p.grad._data).zeros_like(p.grad._data))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient (parameters whose ``grad`` is None are skipped).

        ``closure``, if given, re-evaluates the model and returns the loss (with gradients recorded); its value
        is returned. The update itself works on arrays, in place, and records no graph.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad._data
                if grad.shape != p._data.shape:
                    raise ShapeError(
                        f"{type(self).__name__}.step: a parameter of shape {p.shape} has a gradient of shape "
                        f"{tuple(grad.shape)}"
                    )
                if grad.dtype != p._data.dtype:
                    grad = grad.astype(p._data.dtype)
                state = self.state[p]
                if state and backend.devices_in_use:  # the state may lag a model moved since the last step
                    follow_device(state, p._data)
                if getattr(p._data.flags, "writeable", True):
                    self._update(p, grad, state, group)
                else:  # a live graph saved p (read-only while it holds it): update anyway, the version tells it
                    with unlocked(f"{type(self).__name__}.step", p._data):
                        self._update(p, grad, state, group)
                p.bump_version()  # an in-place change: a graph still holding the old values will refuse them
        return loss

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Apply one step to ``p.data`` in place, given its gradient array, its state dict and its group."""
        raise NotImplementedError

    # ----- state dict --------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in PyTorch's layout, made of NumPy arrays, numbers and plain Python values.

        ``{'state': {index: {name: value}}, 'param_groups': [{option: value, ..., 'params': [index, ...]}]}``:
        parameters are numbered in the order of the groups, then of each group's ``'params'``. Arrays are NumPy
        copies (a snapshot: later steps do not change them); numbers are Python ints and floats. Nothing needs
        pickling: the arrays can go into an ``.npz`` file and the rest into JSON.
        """
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: _plain(v) for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            groups.append(packed)
        state: dict[int, dict[str, Any]] = {}
        for group in self.param_groups:
            for p in group["params"]:
                s = self.state.get(p)
                if s:
                    state[index_of[id(p)]] = {k: self._export(v) for k, v in s.items()}
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    @staticmethod
    def _export(value: Any) -> Any:
        if backend.is_array(value):
            return np.array(backend.to_numpy(value), copy=True)
        if isinstance(value, Tensor):
            return np.array(value.numpy(), copy=True)
        return _plain(value)

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a state dict from ``state_dict()`` (also one from PyTorch, converted to NumPy).

        Checked before anything changes: the number of groups, the number of parameters in each group, every
        state entry's name and every array's shape against its parameter. All mismatches are listed in one
        ``OptimizerStateError``. Arrays are copied to the parameter's dtype and array module; the hyper-
        parameters of each group are taken from the saved groups (options they lack keep their current
        values). State indices may be ints or digit strings (as JSON writes them).
        """
        if not isinstance(state_dict, Mapping) or "state" not in state_dict or "param_groups" not in state_dict:
            raise OptimizerStateError(
                f"Error(s) in loading state_dict for {type(self).__name__}: expected a dict with 'state' and "
                f"'param_groups' entries, got {_type_name(state_dict)}"
                + (f" with keys {sorted(map(str, state_dict))}" if isinstance(state_dict, Mapping) else ""),
                ["bad structure"],
            )
        saved_groups = list(state_dict["param_groups"])
        saved_state = state_dict["state"]
        problems: list[str] = []
        if len(saved_groups) != len(self.param_groups):
            problems.append(
                f"loaded state dict has {len(saved_groups)} parameter group(s), the optimizer has "
                f"{len(self.param_groups)}"
            )
        param_of: dict[int, Tensor] = {}
        in_bad_group: set[int] = set()
        for gi, saved in enumerate(saved_groups):
            if not isinstance(saved, Mapping) or "params" not in saved:
                problems.append(f"param_groups[{gi}] is not a dict with a 'params' entry")
                continue
            indices = [self._index(k) for k in saved["params"]]
            if gi >= len(self.param_groups):
                in_bad_group.update(i for i in indices if i is not None)
                continue
            params = self.param_groups[gi]["params"]
            if len(indices) != len(params):
                problems.append(
                    f"parameter group {gi} has {len(indices)} parameter(s) in the loaded state dict, "
                    f"{len(params)} in the optimizer"
                )
                in_bad_group.update(i for i in indices if i is not None)
                continue
            for k, i in zip(saved["params"], indices):
                if i is None:
                    problems.append(f"param_groups[{gi}]['params'] holds {k!r}, which is not a parameter index")
            param_of.update((i, p) for i, p in zip(indices, params) if i is not None)
        if not isinstance(saved_state, Mapping):
            problems.append(f"'state' must be a dict of per-parameter dicts, got {_type_name(saved_state)}")
            saved_state = {}
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, entries in saved_state.items():
            index = self._index(key)
            if index is None or (index not in param_of and index not in in_bad_group):
                problems.append(f"state has an entry for {key!r}, which is not the index of any parameter")
                continue
            if index not in param_of:
                continue  # its group's size is already reported
            if not isinstance(entries, Mapping):
                problems.append(f"state[{index}] must be a dict, got {_type_name(entries)}")
                continue
            p = param_of[index]
            new_state[p] = converted = {}
            for name, value in entries.items():
                where = f"state[{index}][{name!r}]"
                if self._state_names and name not in self._state_names:
                    problems.append(
                        f"{where}: {type(self).__name__} keeps no state named {name!r} "
                        f"(it keeps {', '.join(self._state_names)})"
                    )
                    continue
                try:
                    converted[name] = self._import(name, value, p)
                except (TypeError, ValueError) as e:
                    problems.append(f"{where}: {e}")
        groups = []
        for gi, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            new_group = dict(group)
            for k, v in (saved.items() if isinstance(saved, Mapping) else ()):
                if k == "params":
                    continue
                if isinstance(group.get(k), tuple) and isinstance(v, list):
                    v = tuple(v)  # JSON turns tuples (betas) into lists
                new_group[k] = v
            try:  # a saved lr of NaN or "0.1" would otherwise reach the next step
                self._check_options(new_group, f"param_groups[{gi}]")
            except ChainruleError as e:
                problems.append(str(e))
            groups.append(new_group)
        if problems:
            message = f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(problems)
            raise OptimizerStateError(message, problems)
        self.param_groups = groups
        self.state = defaultdict(dict, new_state)

    @staticmethod
    def _index(key: Any) -> int | None:
        if isinstance(key, (bool, np.bool_)):
            return None
        if isinstance(key, (int, np.integer)):
            return int(key)
        if isinstance(key, str) and key.isdigit():
            return int(key)
        return None

    def _import(self, name: str, value: Any, p: Tensor) -> Any:
        """A saved state value for parameter ``p``: a number for scalar entries, else an array of p's shape."""
        if isinstance(value, Tensor):
            value = value._data
        if name in self._scalar_state:
            if isinstance(value, (bool, np.bool_)):
                raise TypeError("expected a number, got a bool")
            if isinstance(value, (int, float, np.number)) or (backend.is_array(value) and value.size == 1):
                number = float(backend.to_numpy(value).reshape(()).item()) if backend.is_array(value) else value
                number = _plain(number)
                if isinstance(number, float) and number.is_integer():
                    number = int(number)
                if isinstance(number, float) and not math.isfinite(number):
                    raise ValueError(f"expected a finite number, got {number}")
                return number
            raise TypeError(f"expected a number, got {_type_name(value)}")
        if not backend.is_array(value):
            try:
                value = np.asarray(value)
            except (TypeError, ValueError, RuntimeError) as e:
                raise TypeError(f"expected an array, got {_type_name(value)}") from e
            if value.dtype == object or value.dtype.kind not in "biuf":
                raise TypeError(f"expected a numeric array, got {_type_name(value)}")
        if tuple(value.shape) != p.shape:
            raise ValueError(f"shape {tuple(value.shape)} in the loaded state dict, the parameter has shape {p.shape}")
        if not backend.is_device_array(p._data):
            return np.array(backend.to_numpy(value), dtype=p.dtype, copy=True)
        copy = backend.to_device(value, p._data.device.id)  # on p's own GPU
        return copy.astype(p.dtype) if copy is value or copy.dtype != p.dtype else copy

    # ----- printing ----------------------------------------------------------------------------------------
    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def follow_device(state: dict[str, Any], like: Any) -> None:
    """Move the arrays of a parameter's state to the device of its values (``like``), in place: after
    ``model.to(device)`` the next step finds its momentum and moment estimates where the parameter now is."""
    where = backend.device_of(like)
    for name, value in state.items():
        if backend.is_array(value) and backend.device_of(value) != where:
            state[name] = backend.to_device(value, None if where == "cpu" else like.device.id)


def implementation_hints(optimizer: str, **flags: bool | None) -> None:
    """PyTorch's implementation switches: ``foreach`` and ``fused`` choose how its kernels are batched (one
    NumPy update per parameter here, whatever they say); ``capturable`` (CUDA graphs) and ``differentiable``
    (a step recorded by autograd) change behaviour chainrule does not have, so only False is accepted."""
    for name in ("capturable", "differentiable"):
        if flags.get(name):
            raise ArgumentError(
                f"{optimizer}: {name}=True is not supported: chainrule's optimizer steps update the arrays in place "
                f"and record no graph; pass {name}=False (the default)"
            )
