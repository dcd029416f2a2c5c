"""Training checkpoints: model, optimizer, scheduler, epoch/step, RNG streams and config in one atomic file.

``save_checkpoint`` writes everything a resumed run needs in chainrule's pickle-free archive format (see
``chainrule.io.archive`` and docs/checkpoints.md); ``load_checkpoint`` reads it back into a ``Checkpoint`` and,
given a model, optimizer, scheduler or generators, restores them. Restoring is all or nothing: every key,
shape and dtype is checked first, every problem is reported in one ``CheckpointStateError`` naming the file,
and on any failure nothing is changed.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import os
import time
from collections import OrderedDict, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainrule.io.archive import FORMAT_VERSION, CheckpointError, read_archive, temp_file_target, write_archive
from chainrule.nn.module import IncompatibleKeys, Module, StateDictError
from chainrule.optim.optimizer import Optimizer, OptimizerStateError
from chainrule.tensor import Tensor

__all__ = ["Checkpoint", "CheckpointStateError", "load_checkpoint", "save_checkpoint"]

_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_SECTIONS = ("model", "optimizer", "scheduler", "rng")


class CheckpointStateError(CheckpointError, StateDictError):
    """A checkpoint does not fit the model, optimizer, scheduler or generators it is loaded into.

    Raised before anything is changed. The message names the file and lists every problem, grouped by what
    it concerns; the same lists are attributes: ``problems`` (section → messages), ``missing_keys``,
    ``unexpected_keys``, ``mismatched`` (key, checkpoint shape, model shape) and ``dtype_mismatched`` (key,
    checkpoint dtype, model dtype) for the model. It is both a ``CheckpointError`` and a ``StateDictError``.
    """

    def __init__(
        self,
        message: str,
        path: str,
        problems: dict[str, list[str]],
        missing_keys: list[str],
        unexpected_keys: list[str],
        mismatched: list[tuple[str, tuple[int, ...] | None, tuple[int, ...]]],
        dtype_mismatched: list[tuple[str, np.dtype, np.dtype]],
    ) -> None:
        CheckpointError.__init__(self, message, path)
        self.problems = problems
        self.missing_keys = missing_keys
        self.unexpected_keys = unexpected_keys
        self.mismatched = mismatched
        self.dtype_mismatched = dtype_mismatched


@dataclass
class Checkpoint:
    """What ``load_checkpoint`` read: the run's counters, config and RNG state, and the raw state dicts.

    ``model_state`` maps keys to NumPy arrays; ``optimizer_state`` and ``scheduler_state`` are the dicts their
    ``state_dict()`` returned (arrays as NumPy arrays; the optimizer's state indices are ints again).
    ``rng_state`` is one generator's ``bit_generator.state`` when a single Generator was saved, or a dict
    name → state when a dict of Generators was (``rng_names`` then lists the names; it is None for a single
    one). ``classes`` has the class names of the saved model, optimizer and scheduler; ``meta`` the rest of
    the file's header (format version, library versions, time of saving). ``incompatible_keys`` is what a
    non-strict model load could not match (None when no model was loaded).
    """

    path: str
    epoch: int | None = None
    step: int | None = None
    config: Any = None
    extra: Any = None
    rng_state: Any = None
    rng_names: list[str] | None = None
    model_state: dict[str, np.ndarray] | None = None
    optimizer_state: dict[str, Any] | None = None
    scheduler_state: dict[str, Any] | None = None
    classes: dict[str, str | None] = field(default_factory=dict)
    version: int = FORMAT_VERSION
    meta: dict[str, Any] = field(default_factory=dict)
    incompatible_keys: IncompatibleKeys | None = None

    def generator(self, name: str | None = None) -> np.random.Generator:
        """A new ``numpy.random.Generator`` that continues the saved stream (``name`` picks one of several)."""
        state = self._rng_state_for(name)
        kind = state.get("bit_generator") if isinstance(state, Mapping) else None
        if kind not in _BIT_GENERATORS:
            raise CheckpointError(f"{self.path!r}: the saved RNG state has an unknown bit generator {kind!r}",
                                  self.path)
        bit_generator = getattr(np.random, kind)()
        bit_generator.state = state
        return np.random.Generator(bit_generator)

    def restore_rng(self, rng: Any) -> None:
        """Set the state of a Generator (or of a dict name → Generator) to the saved one(s); checked first."""
        problems: list[str] = []
        pairs = _rng_pairs(self, rng, strict=True, problems=problems)
        if problems:
            raise CheckpointError(f"cannot restore the RNG state from {self.path!r}:\n\t" + "\n\t".join(problems),
                                  self.path)
        for bit_generator, state in pairs:
            bit_generator.state = state

    def _rng_state_for(self, name: str | None) -> Any:
        if self.rng_state is None:
            raise CheckpointError(f"{self.path!r} holds no RNG state (save_checkpoint was called without rng)",
                                  self.path)
        if self.rng_names is None:
            if name is not None:
                raise KeyError(f"{self.path!r} holds a single generator's state, not one named {name!r}")
            return self.rng_state
        if name is None:
            if len(self.rng_names) != 1:
                raise KeyError(f"{self.path!r} holds the generators {self.rng_names}: pass one name")
            name = self.rng_names[0]
        if name not in self.rng_state:
            raise KeyError(f"{self.path!r} holds no generator named {name!r} (it has {self.rng_names})")
        return self.rng_state[name]


# ----- saving ----------------------------------------------------------------------------------------------
def _state_of(kind: str, obj: Any) -> tuple[Any, str | None]:
    """(state dict, class name) of an object with ``state_dict()``, or (a copy of, None) for a state dict."""
    if obj is None:
        return None, None
    if isinstance(obj, Mapping):
        return dict(obj), None
    if callable(getattr(obj, "state_dict", None)):
        return obj.state_dict(), type(obj).__name__
    raise TypeError(f"save_checkpoint: {kind} must have a state_dict() or be a state dict, got {type(obj).__name__}")


def _counter(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"save_checkpoint: {name} must be an int or None, got {type(value).__name__}")
    return int(value)


def _bit_generator(name: str, g: Any) -> Any:
    if isinstance(g, np.random.Generator):
        return g.bit_generator
    if isinstance(g, np.random.BitGenerator):
        return g
    raise TypeError(f"{name} must be a numpy.random.Generator (or a BitGenerator), got {type(g).__name__}")


def _rng_record(rng: Any) -> dict[str, Any] | None:
    if rng is None:
        return None
    if isinstance(rng, Mapping):
        states = {}
        for name, g in rng.items():
            if not isinstance(name, str):
                raise TypeError(f"save_checkpoint: rng names must be strings, got {name!r}")
            states[name] = _bit_generator(f"save_checkpoint: rng[{name!r}]", g).state
        return {"single": False, "states": states}
    return {"single": True, "state": _bit_generator("save_checkpoint: rng", rng).state}


def _plain_config(config: Any) -> Any:
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    if isinstance(config, argparse.Namespace):
        return vars(config)
    return config


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: Module | Mapping[str, Any] | None = None,
    optimizer: Optimizer | Mapping[str, Any] | None = None,
    scheduler: Any = None,
    epoch: int | None = None,
    step: int | None = None,
    rng: np.random.Generator | Mapping[str, np.random.Generator] | None = None,
    config: Any = None,
    extra: Any = None,
    compress: bool = False,
) -> None:
    """Write a training checkpoint to ``path``, atomically (a crash leaves the previous file intact).

    ``model``, ``optimizer`` and ``scheduler`` are the objects (their ``state_dict()`` is saved, with their
    class names) or state dicts. ``rng`` is a ``numpy.random.Generator`` or a dict name → Generator (e.g. the
    one a DataLoader shuffles with, and ``cr.default_generator()``): their ``bit_generator.state`` is saved, so
    a resumed run draws the same numbers. ``config`` is the run's settings (dicts, lists, numbers, strings;
    a dataclass or an ``argparse.Namespace`` is saved as its dict); ``extra`` anything else ``save`` accepts.
    Nothing is written when a value cannot be saved (``TypeError`` naming it).
    """
    model_state, model_class = _state_of("model", model)
    optimizer_state, optimizer_class = _state_of("optimizer", optimizer)
    scheduler_state, scheduler_class = _state_of("scheduler", scheduler)
    tree = {
        "model": model_state,
        "optimizer": optimizer_state,
        "scheduler": scheduler_state,
        "epoch": _counter("epoch", epoch),
        "step": _counter("step", step),
        "rng": _rng_record(rng),
        "config": _plain_config(config),
        "extra": extra,
        "classes": {"model": model_class, "optimizer": optimizer_class, "scheduler": scheduler_class},
        "saved_at": time.time(),
    }
    write_archive(path, tree, "checkpoint", compress)


# ----- loading ---------------------------------------------------------------------------------------------
def _read_checkpoint(path: str) -> Checkpoint:
    final = temp_file_target(path)
    if final is not None:  # complete or not, it was never renamed into place: the write did not finish
        raise CheckpointError(
            f"cannot load {path!r}: it is the temporary file of an unfinished write (the process was stopped "
            f"while saving), not a checkpoint; load {final!r} instead, and delete this file",
            path,
        )
    header, tree = read_archive(path)
    if header.get("kind") != "checkpoint" or not isinstance(tree, dict):
        raise CheckpointError(
            f"cannot load {path!r}: it holds a value saved by chainrule.io.save, not a checkpoint (load it with "
            f"chainrule.io.load)",
            path,
        )
    try:
        rng = tree.get("rng")
        if rng is None:
            rng_state, rng_names = None, None
        elif rng["single"]:
            rng_state, rng_names = rng["state"], None
        else:
            rng_state, rng_names = dict(rng["states"]), list(rng["states"])
        for key in ("epoch", "step"):
            if tree.get(key) is not None and (not isinstance(tree[key], int) or isinstance(tree[key], bool)):
                raise TypeError(f"{key} is a {type(tree[key]).__name__}, not an int")
        for key in ("model", "optimizer", "scheduler"):
            if tree.get(key) is not None and not isinstance(tree[key], dict):
                raise TypeError(f"the {key} state is a {type(tree[key]).__name__}")
        classes = dict(tree.get("classes") or {})
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"cannot load {path!r}: its checkpoint record is malformed ({e})", path) from e
    meta = dict(header)
    meta["saved_at"] = tree.get("saved_at")
    return Checkpoint(
        path=path,
        epoch=tree.get("epoch"),
        step=tree.get("step"),
        config=tree.get("config"),
        extra=tree.get("extra"),
        rng_state=rng_state,
        rng_names=rng_names,
        model_state=tree.get("model"),
        optimizer_state=tree.get("optimizer"),
        scheduler_state=tree.get("scheduler"),
        classes=classes,
        version=header["version"],
        meta=meta,
    )


def _check_model(model: Module, state: Mapping[str, Any], strict: bool, report: dict[str, Any]) -> None:
    problems: list[str] = report["problems"]
    targets: dict[str, Tensor] = OrderedDict()
    for key, tensor in model.state_dict().items():
        targets.setdefault(key, tensor)
    missing = [key for key in targets if key not in state]
    unexpected = [key for key in state if key not in targets]
    report["missing"], report["unexpected"] = missing, unexpected
    if strict and missing:
        problems.append("Missing key(s) in state_dict: {}.".format(", ".join(f'"{k}"' for k in missing)))
    if strict and unexpected:
        problems.append("Unexpected key(s) in state_dict: {}.".format(", ".join(f'"{k}"' for k in unexpected)))
    for key, target in targets.items():
        if key not in state:
            continue
        value = state[key]
        array = value._data if isinstance(value, Tensor) else value
        if not hasattr(array, "shape") or not hasattr(array, "dtype"):
            array = np.asarray(array)
        if array.dtype == object:
            report["mismatched"].append((key, None, target.shape))
            problems.append(f"the value for {key} is not a numeric array ({type(value).__name__})")
            continue
        if tuple(array.shape) != target.shape:
            report["mismatched"].append((key, tuple(array.shape), target.shape))
            problems.append(f"size mismatch for {key}: copying a param with shape {tuple(array.shape)} from "
                            f"checkpoint, the shape in current model is {target.shape}.")
        if strict and np.dtype(array.dtype) != target.dtype:
            report["dtype_mismatched"].append((key, np.dtype(array.dtype), target.dtype))
            problems.append(f"dtype mismatch for {key}: the checkpoint holds {np.dtype(array.dtype)}, the dtype in "
                            f"current model is {target.dtype}.")


def _optimizer_trial(optimizer: Optimizer) -> Optimizer:
    """A copy of ``optimizer`` whose containers are its own: loading into it changes nothing in the original."""
    trial = copy.copy(optimizer)
    trial.param_groups = [dict(g, params=list(g["params"])) for g in optimizer.param_groups]
    trial.state = defaultdict(dict, {p: dict(s) for p, s in optimizer.state.items()})
    trial.defaults = dict(optimizer.defaults)
    return trial


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _hyper_parameter_problem(saved: Any, current: Any) -> str | None:
    """Why a saved hyper-parameter cannot replace the optimizer's ``current`` one (None when it can): a number
    must stay a number (not a bool, not NaN or ±inf where the current one is finite), a flag a flag."""
    if isinstance(current, bool):
        return None if isinstance(saved, bool) else "expected True or False"
    if _is_number(current):
        if not _is_number(saved):
            return "expected a number"
        if math.isfinite(current) and not math.isfinite(saved):
            return "expected a finite number"
        return None
    if isinstance(current, tuple) and all(_is_number(c) for c in current):
        if not isinstance(saved, (list, tuple)) or len(saved) != len(current):
            return f"expected {len(current)} numbers"
        return next((p for s, c in zip(saved, current) if (p := _hyper_parameter_problem(s, c))), None)
    return None


def _check_hyper_parameters(optimizer: Optimizer, state: Mapping[str, Any], problems: list[str]) -> None:
    """Refuse saved hyper-parameters (lr, momentum, betas, ...) of the wrong kind before they are applied."""
    saved_groups = state.get("param_groups") if isinstance(state, Mapping) else None
    if not isinstance(saved_groups, (list, tuple)):
        return
    for gi, (saved, group) in enumerate(zip(saved_groups, optimizer.param_groups)):
        if not isinstance(saved, Mapping):
            continue
        for name, value in saved.items():
            if name != "params" and name in group:
                problem = _hyper_parameter_problem(value, group[name])
                if problem is not None:
                    problems.append(f"param_groups[{gi}][{name!r}] is {value!r:.60} in the checkpoint: {problem}, "
                                    f"like the optimizer's {group[name]!r}")


def _check_optimizer(
    optimizer: Optimizer, state: Mapping[str, Any], saved_class: str | None, strict: bool, problems: list[str]
) -> None:
    _check_hyper_parameters(optimizer, state, problems)
    if strict and saved_class is not None and saved_class != type(optimizer).__name__:
        problems.append(f"the checkpoint holds the state of {saved_class}, the optimizer is "
                        f"{type(optimizer).__name__}")
    try:
        _optimizer_trial(optimizer).load_state_dict(state)
    except OptimizerStateError as e:
        problems.extend(e.problems)
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        problems.append(f"{type(e).__name__}: {e}")
    if not strict:
        return
    # The optimizer casts arrays to the parameter's dtype; a strict load refuses a different dtype instead.
    param_of: dict[int, Tensor] = {}
    saved_groups = state.get("param_groups") if isinstance(state, Mapping) else None
    if isinstance(saved_groups, (list, tuple)):
        for saved, group in zip(saved_groups, optimizer.param_groups):
            indices = saved.get("params") if isinstance(saved, Mapping) else None
            if isinstance(indices, (list, tuple)) and len(indices) == len(group["params"]):
                for index, p in zip(indices, group["params"]):
                    i = Optimizer._index(index)
                    if i is not None:
                        param_of[i] = p
    saved_state = state.get("state")
    if not isinstance(saved_state, Mapping):
        return
    for key, entries in saved_state.items():
        p = param_of.get(Optimizer._index(key))  # type: ignore[arg-type]
        if p is None or not isinstance(entries, Mapping):
            continue
        for name, value in entries.items():
            array = value._data if isinstance(value, Tensor) else value
            if name in optimizer._scalar_state or not isinstance(array, np.ndarray):
                continue
            if array.dtype != p.dtype:
                problems.append(f"state[{key}][{name!r}]: dtype {array.dtype} in the checkpoint, the parameter has "
                                f"dtype {p.dtype}")


def _check_scheduler(
    scheduler: Any, state: Mapping[str, Any], saved_class: str | None, strict: bool, problems: list[str]
) -> None:
    if not callable(getattr(scheduler, "load_state_dict", None)):
        problems.append(f"a {type(scheduler).__name__} has no load_state_dict")
        return
    if not strict:
        return
    if saved_class is not None and saved_class != type(scheduler).__name__:
        problems.append(f"the checkpoint holds the state of {saved_class}, the scheduler is "
                        f"{type(scheduler).__name__}")
    current = scheduler.state_dict() if callable(getattr(scheduler, "state_dict", None)) else None
    if isinstance(current, Mapping):
        missing = [k for k in current if k not in state]
        unexpected = [k for k in state if k not in current]
        if missing:
            problems.append(f"missing entries: {', '.join(map(repr, missing))}")
        if unexpected:
            problems.append(f"unexpected entries: {', '.join(map(repr, unexpected))}")
        nested, saved_nested = current.get("_schedulers"), state.get("_schedulers")
        if isinstance(nested, list) and isinstance(saved_nested, list) and len(nested) != len(saved_nested):
            problems.append(f"the checkpoint chains {len(saved_nested)} scheduler(s), this one {len(nested)}")


def _rng_pairs(ckpt: Checkpoint, rng: Any, strict: bool, problems: list[str]) -> list[tuple[Any, Any]]:
    """(bit generator, saved state) for each generator to restore; problems are appended, nothing is set."""
    if ckpt.rng_state is None:
        problems.append("the checkpoint holds no RNG state (save_checkpoint was called without rng)")
        return []
    wanted: list[tuple[str, Any, Any]] = []
    if isinstance(rng, Mapping):
        if ckpt.rng_names is None:
            problems.append("the checkpoint holds a single generator's state, but a dict of generators was given")
            return []
        missing = [name for name in rng if name not in ckpt.rng_state]
        unexpected = [name for name in ckpt.rng_state if name not in rng]
        if missing:
            problems.append(f"no saved state for the generator(s) {missing} (the checkpoint has {ckpt.rng_names})")
        if strict and unexpected:
            problems.append(f"the checkpoint has state for generator(s) {unexpected} that were not given")
        wanted = [(f"rng[{name!r}]", g, ckpt.rng_state[name]) for name, g in rng.items() if name in ckpt.rng_state]
    else:
        if ckpt.rng_names is not None:
            problems.append(f"the checkpoint holds a dict of generators {ckpt.rng_names}, but one generator was given")
            return []
        wanted = [("rng", rng, ckpt.rng_state)]
    pairs = []
    for where, g, state in wanted:
        try:
            bit_generator = _bit_generator(where, g)
        except TypeError as e:
            problems.append(str(e))
            continue
        try:  # try the state on a scratch bit generator of the same kind: the real one is not touched
            type(bit_generator)().state = state
        except (TypeError, ValueError, KeyError) as e:
            saved = state.get("bit_generator") if isinstance(state, Mapping) else type(state).__name__
            problems.append(f"{where}: the saved state ({saved}) does not fit a {type(bit_generator).__name__} ({e})")
            continue
        pairs.append((bit_generator, state))
    return pairs


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: Module | None = None,
    optimizer: Optimizer | None = None,
    scheduler: Any = None,
    rng: np.random.Generator | Mapping[str, np.random.Generator] | None = None,
    strict: bool = True,
) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint`` and restore the objects given; returns a ``Checkpoint``.

    Each object passed is restored from its part of the file: ``model`` (parameters and buffers, copied in
    place), ``optimizer`` (state and hyper-parameters), ``scheduler``, and ``rng`` (a Generator, or a dict
    name → Generator, as saved). Everything is checked before anything changes; every problem (missing,
    unexpected, wrong-shape and wrong-dtype model keys, optimizer mismatches, a different optimizer or
    scheduler class, RNG kinds, a part the file does not hold) is listed in one ``CheckpointStateError``
    naming the file, and then no object has been modified.

    ``strict=False`` tolerates missing and unexpected model keys (returned in ``incompatible_keys``), casts
    arrays of another dtype, and skips the class and entry-name checks of the optimizer and scheduler; shape
    mismatches and an optimizer state that does not fit its parameters are errors either way.

    A file that is not an intact chainrule checkpoint raises ``CheckpointError`` (a missing file
    ``FileNotFoundError``), and so does the temporary file that an unfinished write left (``.NAME.partial-*``).
    """
    path = os.fspath(path)
    ckpt = _read_checkpoint(path)
    problems: dict[str, list[str]] = {section: [] for section in _SECTIONS}
    report: dict[str, Any] = {
        "problems": problems["model"], "missing": [], "unexpected": [], "mismatched": [], "dtype_mismatched": [],
    }

    if model is not None:
        if not isinstance(model, Module):
            raise TypeError(f"load_checkpoint: model must be a Module, got {type(model).__name__}")
        if ckpt.model_state is None:
            problems["model"].append("the checkpoint holds no model state")
        else:
            _check_model(model, ckpt.model_state, strict, report)
    if optimizer is not None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"load_checkpoint: optimizer must be an Optimizer, got {type(optimizer).__name__}")
        if ckpt.optimizer_state is None:
            problems["optimizer"].append("the checkpoint holds no optimizer state")
        else:
            _check_optimizer(optimizer, ckpt.optimizer_state, ckpt.classes.get("optimizer"), strict,
                             problems["optimizer"])
    if scheduler is not None:
        if ckpt.scheduler_state is None:
            problems["scheduler"].append("the checkpoint holds no scheduler state")
        else:
            _check_scheduler(scheduler, ckpt.scheduler_state, ckpt.classes.get("scheduler"), strict,
                             problems["scheduler"])
    rng_pairs = _rng_pairs(ckpt, rng, strict, problems["rng"]) if rng is not None else []

    if any(problems.values()):
        names = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "rng": rng}
        lines = [f"Error(s) in loading checkpoint {path!r} (nothing was changed):"]
        for section, found in problems.items():
            if found:
                what = names[section]
                label = section if section == "rng" else f"{section} ({type(what).__name__})"
                lines.append(f"  {label}:")
                lines.extend(f"\t{p}" for p in found)
        raise CheckpointStateError(
            "\n".join(lines), path, {k: v for k, v in problems.items() if v}, report["missing"],
            report["unexpected"], report["mismatched"], report["dtype_mismatched"],
        )

    # Everything fits: apply, optimizer/scheduler/generators first (each can be put back), the model last
    # (Module.load_state_dict checks again and writes only when it passes).
    saved_optimizer = dict(optimizer.__dict__) if optimizer is not None else None
    saved_scheduler = scheduler.state_dict() if scheduler is not None else None
    saved_rng = [(bg, bg.state) for bg, _ in rng_pairs]
    try:
        if optimizer is not None:
            optimizer.load_state_dict(ckpt.optimizer_state)  # type: ignore[arg-type]
        if scheduler is not None:
            scheduler.load_state_dict(ckpt.scheduler_state)
        for bit_generator, state in rng_pairs:
            bit_generator.state = state
        if model is not None:
            ckpt.incompatible_keys = model.load_state_dict(ckpt.model_state, strict=strict)  # type: ignore[arg-type]
    except BaseException as e:
        for bit_generator, state in saved_rng:
            bit_generator.state = state
        if scheduler is not None:
            scheduler.load_state_dict(saved_scheduler)
        if optimizer is not None:
            optimizer.__dict__.clear()
            optimizer.__dict__.update(saved_optimizer)  # type: ignore[arg-type]
        if isinstance(e, (StateDictError, OptimizerStateError, TypeError, ValueError, KeyError)):
            raise CheckpointStateError(
                f"Error(s) in loading checkpoint {path!r} (nothing was changed):\n\t{e}", path, {"apply": [str(e)]},
                [], [], [], [],
            ) from e
        raise
    return ckpt
