"""Which module made which op: the module path of every Function a forward pass created, for grouping a graph.

``with record_modules(model) as modules: loss = criterion(model(x), y)`` notes, for each op that ran, the path
of the innermost module running it (``features.0``), with the same recording of module calls that the ONNX
exporter uses (``chainrule.onnx.trace.tracing``). Without such a record, ``module_paths`` falls back on what the
graph itself knows: an op that reads a module's parameter belongs to that module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from chainrule.errors import ArgumentTypeError
from chainrule.nn.module import Module

__all__ = ["ModuleRecord", "module_paths", "record_modules"]


@dataclass
class ModuleRecord:
    """Module paths of the ops a forward pass created, and the class name of every module of the model."""

    paths: dict[int, str] = field(default_factory=dict)  # id(Function) → path of the innermost module
    types: dict[str, str] = field(default_factory=dict)  # module path → class name ('' is the model)
    params: dict[int, str] = field(default_factory=dict)  # id(Parameter) → path of the module that holds it
    keep: list[Any] = field(default_factory=list, repr=False)  # the Functions: no id() is reused meanwhile


@contextlib.contextmanager
def record_modules(model: Module) -> Iterator[ModuleRecord]:
    """Record, while the block runs, the path of the module that ran each op (for ``to_html(..., modules=)``)."""
    if not isinstance(model, Module):
        raise ArgumentTypeError(f"record_modules: model must be an nn.Module, got {type(model).__name__}")
    from chainrule.onnx.trace import OpRecord, tracing  # the module-call recording the exporter uses

    record = ModuleRecord(types={path: type(m).__name__ for path, m in model.named_modules()},
                          params=parameter_owners(model))
    with tracing(model, whole=lambda _: False) as trace:
        yield record
    for op in trace.records:
        if isinstance(op, OpRecord):
            record.paths[id(op.fn)] = op.module
            record.keep.append(op.fn)


def module_paths(functions: Iterable[Any], model: Module | None, record: ModuleRecord | None) -> dict[int, str]:
    """id(Function) → module path, from ``record`` when given, else from the parameters each op reads."""
    functions = list(functions)
    if record is not None:
        return {id(fn): record.paths[id(fn)] for fn in functions if record.paths.get(id(fn))}
    if model is None:
        return {}
    owner = parameter_owners(model)
    result: dict[int, str] = {}
    for fn in functions:
        paths = [owner[id(x)] for x in fn.inputs if id(x) in owner and owner[id(x)]]
        if paths:
            result[id(fn)] = paths[0]
    return result


def parameter_owners(model: Module | None) -> dict[int, str]:
    """id(Parameter) → the path of the module holding it ('' for the model's own)."""
    if model is None:
        return {}
    return {id(p): name.rpartition(".")[0] for name, p in model.named_parameters()}


def module_types(model: Module | None, record: ModuleRecord | None) -> dict[str, str]:
    """Module path → class name, for the labels of the groups."""
    if record is not None:
        return dict(record.types)
    if model is None:
        return {}
    return {path: type(m).__name__ for path, m in model.named_modules()}
