"""Recording a forward pass: every op (``Function``) and every module call, in the order they ran.

While ``tracing`` is active, ``Function.__call__`` and ``Module.__call__`` are wrapped: each op call becomes an
``OpRecord`` (the Function object, which keeps its attributes such as a reshape's target or a convolution's
geometry, its input and output Tensors, and the path of the innermost module running it). A module whose class
has an exporter of its own (a recurrent layer becomes one native ONNX op, not the ops of its time loop) becomes
one ``ModuleRecord`` instead, and the ops inside it are not recorded. Wrapping at the class is what sees every op,
whether or not it records a graph for autograd (integer ops on token ids, ops on tensors that need no grad); the
autograd graph alone would miss those. The wrappers are installed under a lock and always put back.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from chainrule.autograd.function import Function
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["ModuleRecord", "OpRecord", "Trace", "flatten_tensors", "tracing"]

_LOCK = threading.Lock()  # one trace at a time: the wrappers are installed on the classes, process-wide


@dataclass
class OpRecord:
    """One op call: ``fn`` (its attributes say how it was called), its inputs and outputs, and ``module``, the
    path of the innermost module that ran it (``''`` for the model itself). ``other`` is the same call in a
    second trace at other sizes of the dynamic axes, when there is one."""

    fn: Function
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    module: str
    other: OpRecord | None = None

    @property
    def name(self) -> str:
        return type(self.fn).__name__


@dataclass
class ModuleRecord:
    """One call of a module exported as a whole: its arguments and what it returned."""

    module: Module
    path: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    result: Any
    other: ModuleRecord | None = None

    @property
    def name(self) -> str:
        return type(self.module).__name__


@dataclass
class Trace:
    records: list[OpRecord | ModuleRecord] = field(default_factory=list)
    keep: list[Any] = field(default_factory=list)  # holds every recorded Tensor, so that no id() is reused


def flatten_tensors(value: Any) -> list[Tensor | None]:
    """The Tensors in ``value`` (a Tensor, None, or tuples/lists of them), depth first, None kept in place."""
    if value is None or isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in flatten_tensors(item)]
    return []


@contextlib.contextmanager
def tracing(model: Module, whole: Callable[[ModuleRecord], bool]) -> Iterator[Trace]:
    """Record the ops and module calls of what runs inside the ``with`` block. ``whole(record)`` says whether a
    module call (its ``result`` not yet known) is recorded as one ``ModuleRecord``: its class has an exporter
    that accepts this module with these arguments."""
    paths = {id(m): name for name, m in model.named_modules()}
    trace = Trace()
    stack: list[str] = []
    inside_whole = [0]
    function_call, module_call = Function.__call__, Module.__call__
    owner = threading.get_ident()  # ops that other threads run meanwhile are theirs, not the model's

    def call_function(fn: Function, *inputs: Tensor) -> Any:
        out = function_call(fn, *inputs)
        if not inside_whole[0] and threading.get_ident() == owner:
            outputs = out if isinstance(out, tuple) else (out,)
            trace.records.append(OpRecord(fn, tuple(inputs), tuple(outputs), stack[-1] if stack else ""))
            trace.keep.append((inputs, outputs))
        return out

    def call_module(module: Module, *args: Any, **kwargs: Any) -> Any:
        if inside_whole[0] or threading.get_ident() != owner:
            return module_call(module, *args, **kwargs)
        # a module built inside forward has no path of its own: its ops belong to the module that built it
        path = paths.get(id(module), stack[-1] if stack else "")
        stack.append(path)
        try:
            record = ModuleRecord(module, path, args, dict(kwargs), None)
            if not whole(record):
                return module_call(module, *args, **kwargs)
            inside_whole[0] += 1
            try:
                record.result = module_call(module, *args, **kwargs)
            finally:
                inside_whole[0] -= 1
            result = record.result
            trace.records.append(record)
            trace.keep.append((args, kwargs, result))
            return result
        finally:
            stack.pop()

    with _LOCK:
        Function.__call__ = call_function  # type: ignore[method-assign]
        Module.__call__ = call_module  # type: ignore[method-assign]
        try:
            yield trace
        finally:
            Function.__call__ = function_call  # type: ignore[method-assign]
            Module.__call__ = module_call  # type: ignore[method-assign]
