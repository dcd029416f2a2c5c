"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad``, ``step`` and a checked ``state_dict``.

The structure is PyTorch's. ``param_groups`` is a list of dicts, each holding ``'params'`` (a list of Tensors)
and that group's hyper-parameters; ``defaults`` holds the values a group gets for the options it does not set;
``state`` maps each parameter (the Tensor itself, by identity) to a dict of its buffers (``'step'``,
``'exp_avg'``, ...).

Updates work on the arrays: ``step`` reads ``p.grad.data`` and changes ``p.data`` in place, with the array
module that owns ``p.data`` (NumPy or CuPy), so no graph is built and the Parameter objects (and any views of
their arrays) see the new values. A subclass writes only ``_update(p, grad, state, group)``.

Every hyper-parameter enters the arithmetic as a scalar of the parameter's dtype (``_scalar``), so a float32
parameter, its buffers and its updates stay float32 whatever the hyper-parameter's Python or NumPy type is.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.grad_mode import enable_grad
from chainrule.errors import ChainruleError, ShapeError
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
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, but got "
                f"{_type_name(params)}"
            )
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ----- groups ------------------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (a dict with ``'params'`` and optional options), e.g. when unfreezing
        layers during fine-tuning. Options the dict omits take the optimizer's ``defaults``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {_type_name(param_group)}")
        if "params" not in param_group:
            raise ValueError("param_group must have a 'params' entry")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the ordering of tensors "
                "in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {_type_name(p)}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
            if p.dtype.kind != "f":
                raise TypeError(f"optimizer can only optimize floating-point Tensors, got dtype {p.dtype}")
        group["params"] = params
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        ids = [id(p) for p in params]
        if len(ids) != len(set(ids)):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, this will cause an "
                "error.",
                stacklevel=3,
            )
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if not existing.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # ----- gradients and steps -----------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient: ``grad = None`` (default), or zero it in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif getattr(p.grad.data.flags, "writeable", True):
                    p.grad.data[...] = 0
                else:
                    p.grad = Tensor(backend.get_array_module(p.grad.data).zeros_like(p.grad.data))

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
                grad = p.grad.data
                if grad.shape != p.data.shape:
                    raise ShapeError(
                        f"{type(self).__name__}.step: a parameter of shape {p.shape} has a gradient of shape "
                        f"{tuple(grad.shape)}"
                    )
                if grad.dtype != p.data.dtype:
                    grad = grad.astype(p.data.dtype)
                self._update(p, grad, self.state[p], group)
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
        if problems:
            message = f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(problems)
            raise OptimizerStateError(message, problems)
        groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            new_group = dict(group)
            for k, v in saved.items():
                if k == "params":
                    continue
                if isinstance(group.get(k), tuple) and isinstance(v, list):
                    v = tuple(v)  # JSON turns tuples (betas) into lists
                new_group[k] = v
            groups.append(new_group)
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
            value = value.data
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
        xp = backend.get_array_module(p.data)
        if xp is np:
            return np.array(backend.to_numpy(value), dtype=p.dtype, copy=True)
        return xp.array(value, dtype=p.dtype)

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
