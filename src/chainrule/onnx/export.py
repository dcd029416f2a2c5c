"""``export``: a chainrule model as an ONNX file, with the signature of PyTorch's TorchScript-based
``torch.onnx.export``.

The model runs twice under ``tracing``: once on ``args``, once on inputs with other values and, along each
dynamic axis, one more element. The second run is the proof that the recorded graph is the model's: an op
sequence that changes is data-dependent control flow, a constant that changes was computed from the inputs
outside chainrule's ops, and a shape that changes says which dim of a reshape follows the batch. Both refuse
with one line, naming the module.
"""

from __future__ import annotations

import enum
import inspect
import io
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.errors import ArgumentError, ArgumentTypeError
from chainrule.io.archive import atomic_write
from chainrule.nn.module import Module
from chainrule.onnx.errors import OnnxExporterError, UnsupportedOperatorError
from chainrule.onnx.graph import Graph
from chainrule.onnx.table import FUNCTIONS, MODULES, NOT_EXPORTED
from chainrule.onnx.trace import ModuleRecord, OpRecord, Trace, flatten_tensors, tracing
from chainrule.ops.operands import describe
from chainrule.tensor import Tensor
from chainrule.version import __version__

__all__ = ["IR_VERSIONS", "TrainingMode", "export"]

# opset → the IR version written: the one each opset came with (onnx.helper.VERSION_TABLE), which every
# onnxruntime that runs the opset reads
IR_VERSIONS = {13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}
"""Opset → the ONNX IR version ``export`` writes for it; the keys are the opsets ``export`` accepts."""


class TrainingMode(enum.IntEnum):
    """PyTorch's ``torch.onnx.TrainingMode``: EVAL exports the model in eval mode (dropout is the identity,
    batch norm uses its running statistics) and puts every module's mode back afterwards; PRESERVE exports the
    modes as they are; TRAINING is refused (chainrule writes inference graphs)."""

    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


def export(
    model: Module,
    args: Any,
    f: str | os.PathLike[str] | io.IOBase,
    export_params: bool = True,
    verbose: bool = False,
    training: TrainingMode = TrainingMode.EVAL,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    operator_export_type: Any = None,
    opset_version: int = 17,
    do_constant_folding: bool = True,
    dynamic_axes: Mapping[str, Mapping[int, str] | Sequence[int]] | None = None,
    keep_initializers_as_inputs: bool | None = None,
    custom_opsets: Mapping[str, int] | None = None,
    export_modules_as_functions: bool = False,
    autograd_inlining: bool = True,
    *,
    kwargs: Mapping[str, Any] | None = None,
    dynamo: bool = False,
) -> None:
    """Trace ``model(*args)`` and write it to ``f`` (a path, written atomically, or a binary file object) as ONNX.

    ``args``: a Tensor or a tuple of Tensors (None for an optional argument left out); a dict as its last element
    (or ``kwargs``) gives keyword arguments. Parameters and buffers become initializers named by their module
    path (``features.0.weight``), or, with ``export_params=False``, inputs of those names.
    ``input_names``/``output_names`` name the graph's inputs (default: the forward's parameter names) and
    outputs (default ``output``, or ``output_0``, ``output_1``... for several); ``dynamic_axes`` maps a name to
    its dynamic dims, ``{"input": {0: "batch"}}`` or ``{"input": [0]}``. ``opset_version`` 13 to 21 (default 17);
    the IR version is the opset's own (``IR_VERSIONS``). ``do_constant_folding``: computations on constants are
    done at export either way (weights laid out for ONNX's ops, batch norm's statistics), and unused nodes and
    initializers are dropped. ``verbose`` prints the graph. The graph passes ``onnx.checker.check_model`` with
    ``full_check`` before anything is written.

    Raises ``UnsupportedOperatorError`` naming the op and the module for an op with no ONNX form, and
    ``OnnxExporterError`` for a model whose graph depends on its input values (see the module docstring).
    """
    op = "onnx.export"
    if dynamo:
        raise ArgumentError(f"{op}: dynamo=True (torch.export) has no chainrule counterpart; chainrule traces the "
                            f"forward pass — leave dynamo=False")
    if not isinstance(model, Module):
        raise ArgumentTypeError(f"{op}: argument 'model' must be a chainrule nn.Module, got {describe(model)}")
    opset = _opset(opset_version)
    for name, value in (("export_params", export_params), ("verbose", verbose),
                        ("do_constant_folding", do_constant_folding), ("autograd_inlining", autograd_inlining)):
        if not isinstance(value, (bool, np.bool_)):
            raise ArgumentTypeError(f"{op}: argument '{name}' must be a bool, got {describe(value)}")
    if keep_initializers_as_inputs not in (None, True, False):
        raise ArgumentTypeError(f"{op}: argument 'keep_initializers_as_inputs' must be a bool or None, got "
                                f"{describe(keep_initializers_as_inputs)}")
    if operator_export_type not in (None, "ONNX", 0) and getattr(operator_export_type, "name", None) != "ONNX":
        raise ArgumentError(f"{op}: operator_export_type {operator_export_type!r} is not supported; chainrule "
                            f"writes standard ONNX ops only — leave it None")
    if custom_opsets:
        raise ArgumentError(f"{op}: custom_opsets are not supported; chainrule writes the default domain only — "
                            f"leave it None")
    if export_modules_as_functions:
        raise ArgumentError(f"{op}: export_modules_as_functions is not supported; modules are inlined — leave it "
                            f"False")
    training = _training(training)
    positional, keywords = _arguments(args, kwargs)
    inputs = [t for t in positional if t is not None] + [t for t in keywords.values() if isinstance(t, Tensor)]
    in_names = _names(op, "input_names", input_names, _default_input_names(model, positional, keywords))
    out_names_given = None if output_names is None else _names(op, "output_names", output_names, [])
    try:
        import onnx
    except ImportError as e:
        raise ImportError(f"{op} needs the onnx package: pip install \"chainrule[onnx]\"", name="onnx") from e

    modes = {m: m.training for m in model.modules()}
    if training == TrainingMode.EVAL:
        model.eval()
    try:
        first, result = _trace(model, positional, keywords, opset)
        outputs = [t for t in flatten_tensors(result) if t is not None]
        default_out = ["output"] if len(outputs) == 1 else [f"output_{i}" for i in range(len(outputs))]
        out_names = out_names_given or default_out
        if len(in_names) > len(inputs) or len(out_names) > len(outputs):
            which, names, count = (("input_names", in_names, len(inputs)) if len(in_names) > len(inputs)
                                   else ("output_names", out_names, len(outputs)))
            raise ArgumentError(f"{op}: {len(names)} {which} given for {count} {which[:-6]}s of the model — give at "
                                f"most one name per {which[:-6]}")
        in_names = in_names + [f"input_{i}" for i in range(len(in_names), len(inputs))]
        out_names = out_names + [f"output_{i}" for i in range(len(out_names), len(outputs))]
        axes = _dynamic_axes(op, dynamic_axes, in_names, out_names, inputs, outputs)
        grown = {i: sorted(axes.get(name, {})) for i, name in enumerate(in_names)}
        second_positional, second_keywords = _second_inputs(positional, keywords, inputs, grown)
        try:
            second, second_result = _trace(model, second_positional, second_keywords, opset)
        except Exception as e:  # the model's own error at the second inputs: say what was asked of it
            raise OnnxExporterError(
                f"{op}: the model failed on inputs with other values and one more element along each dynamic axis "
                f"({type(e).__name__}: {e}) — declare the same dynamic axes for every input that shares a dim"
            ) from None
        _pair(first, second)
        second_outputs = [t for t in flatten_tensors(second_result) if t is not None]
        model_proto = _build(onnx, model, opset, first, inputs, outputs, second_outputs, in_names, out_names, axes,
                             export_params, bool(keep_initializers_as_inputs))
    finally:
        for module, mode in modes.items():
            module.training = mode
    try:
        onnx.checker.check_model(model_proto, full_check=True)
    except Exception as e:  # the graph is chainrule's own: a failure here is a bug to report, not a user error
        raise OnnxExporterError(f"{op}: the graph chainrule built fails onnx.checker ({e}); this is a bug in "
                                f"chainrule — please report it with the model") from None
    if verbose:
        print(onnx.printer.to_text(model_proto.graph))
    data = model_proto.SerializeToString()
    if isinstance(f, (str, os.PathLike)):
        atomic_write(f, lambda handle: handle.write(data))
    elif hasattr(f, "write"):
        f.write(data)
    else:
        raise ArgumentTypeError(f"{op}: argument 'f' must be a path or a binary file object, got {describe(f)}")


# ----- arguments ---------------------------------------------------------------------------------------------


def _opset(opset_version: Any) -> int:
    if isinstance(opset_version, bool) or not isinstance(opset_version, (int, np.integer)):
        raise ArgumentTypeError(f"onnx.export: argument 'opset_version' must be an int, got {describe(opset_version)}")
    if int(opset_version) not in IR_VERSIONS:
        raise ArgumentError(f"onnx.export: opset_version {opset_version} is not supported; choose one of "
                            f"{min(IR_VERSIONS)} to {max(IR_VERSIONS)} (default 17)")
    return int(opset_version)


def _training(training: Any) -> TrainingMode:
    try:
        mode = TrainingMode(int(getattr(training, "value", training)))
    except (TypeError, ValueError):
        raise ArgumentError(f"onnx.export: argument 'training' must be a TrainingMode (EVAL, PRESERVE), got "
                            f"{describe(training)}") from None
    if mode == TrainingMode.TRAINING:
        raise ArgumentError("onnx.export: training=TrainingMode.TRAINING is not supported; chainrule exports "
                            "inference graphs — use TrainingMode.EVAL (the default)")
    return mode


def _arguments(args: Any, kwargs: Mapping[str, Any] | None) -> tuple[list[Tensor | None], dict[str, Any]]:
    """PyTorch's convention: a Tensor, or a tuple of them whose last element may be a dict of keyword args."""
    if isinstance(args, Tensor):
        args = (args,)
    if isinstance(args, list):
        args = tuple(args)
    if not isinstance(args, tuple):
        raise ArgumentTypeError(f"onnx.export: argument 'args' must be a Tensor or a tuple of Tensors, got "
                                f"{describe(args)}; hint: args=(x,)")
    keywords: dict[str, Any] = dict(kwargs or {})
    if args and isinstance(args[-1], Mapping):
        keywords.update(args[-1])
        args = args[:-1]
    for i, a in enumerate(args):
        if a is not None and not isinstance(a, Tensor):
            raise ArgumentTypeError(f"onnx.export: args[{i}] must be a Tensor or None, got {describe(a)}; hint: "
                                    f"wrap arrays with chainrule.tensor(...)")
    for key, value in keywords.items():
        if value is not None and not isinstance(value, (Tensor, bool, int, float, str)):
            raise ArgumentTypeError(f"onnx.export: keyword argument '{key}' must be a Tensor, a number, a string or "
                                    f"None, got {describe(value)}")
    return list(args), keywords


def _default_input_names(model: Module, positional: list[Any], keywords: dict[str, Any]) -> list[str]:
    try:
        params = [p.name for p in inspect.signature(model.forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [params[i] if i < len(params) else f"input_{i}" for i, a in enumerate(positional) if a is not None]
    return names + [key for key, value in keywords.items() if isinstance(value, Tensor)]


def _names(op: str, arg: str, names: Any, default: list[str]) -> list[str]:
    if names is None:
        return default
    if isinstance(names, str) or not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n
                                                                                  for n in names):
        raise ArgumentTypeError(f"{op}: argument '{arg}' must be a list of non-empty strings, got {describe(names)}")
    if len(set(names)) != len(names):
        raise ArgumentError(f"{op}: {arg} {list(names)} names a value twice; each name must be unique")
    return list(names)


def _dynamic_axes(op: str, dynamic_axes: Any, in_names: list[str], out_names: list[str], inputs: list[Tensor],
                  outputs: list[Tensor]) -> dict[str, dict[int, str]]:
    """``{name: {axis: dim name}}``, checked against the graph's names and each value's rank."""
    if dynamic_axes is None:
        return {}
    if not isinstance(dynamic_axes, Mapping):
        raise ArgumentTypeError(f"{op}: argument 'dynamic_axes' must be a dict such as {{'input': {{0: 'batch'}}}}, "
                                f"got {describe(dynamic_axes)}")
    ranks = {**{n: t.ndim for n, t in zip(in_names, inputs)}, **{n: t.ndim for n, t in zip(out_names, outputs)}}
    axes: dict[str, dict[int, str]] = {}
    for name, spec in dynamic_axes.items():
        if name not in ranks:
            raise ArgumentError(f"{op}: dynamic_axes names {name!r}, which is neither an input nor an output (inputs "
                                f"{in_names}, outputs {out_names}) — use input_names/output_names to name them")
        if isinstance(spec, Mapping):
            pairs = list(spec.items())
        elif isinstance(spec, (list, tuple)):
            pairs = [(axis, f"{name}_dynamic_axes_{k + 1}") for k, axis in enumerate(spec)]
        else:
            raise ArgumentTypeError(f"{op}: dynamic_axes[{name!r}] must be a dict {{axis: name}} or a list of "
                                    f"axes, got {describe(spec)}")
        axes[name] = {}
        for axis, dim in pairs:
            rank = ranks[name]
            if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -rank <= axis < rank:
                raise ArgumentError(f"{op}: dynamic_axes[{name!r}] names axis {axis!r}, but {name} has "
                                    f"{ranks[name]} dims — give axes from 0 to {ranks[name] - 1}")
            axes[name][int(axis) % ranks[name]] = str(dim)
    return axes


def _second_inputs(positional: list[Any], keywords: dict[str, Any], inputs: list[Tensor],
                   grown: dict[int, list[int]]) -> tuple[list[Any], dict[str, Any]]:
    """The inputs of the second trace: other values (floats scaled and shifted, integers rolled among
    themselves, so that indices stay valid) and one more element along each dynamic axis."""
    changed = {}
    for i, t in enumerate(inputs):
        a = np.asarray(t._data)
        for axis in grown.get(i, []):
            if a.shape[axis]:
                a = np.concatenate([a, np.take(a, [0], axis=axis)], axis=axis)
        if a.dtype.kind == "f":
            a = a * a.dtype.type(0.75) + a.dtype.type(0.375)
        elif a.size > 1:
            a = np.roll(a.reshape(-1), 1).reshape(a.shape)
        changed[id(t)] = Tensor(np.ascontiguousarray(a))
    return ([None if t is None else changed[id(t)] for t in positional],
            {k: changed.get(id(v), v) if isinstance(v, Tensor) else v for k, v in keywords.items()})


# ----- tracing -----------------------------------------------------------------------------------------------


def _trace(model: Module, positional: list[Any], keywords: dict[str, Any], opset: int) -> tuple[Trace, Any]:
    def whole(record: ModuleRecord) -> bool:
        entry = MODULES.get(type(record.module))
        return entry is not None and entry[0](record.module, record, opset)

    with no_grad(), tracing(model, whole) as trace:
        result = model(*positional, **keywords)
    return trace, result


def _pair(first: Trace, second: Trace) -> None:
    """Match each record with its twin from the second trace, or refuse a model whose ops changed."""
    a, b = first.records, second.records
    for k, (x, y) in enumerate(zip(a, b)):
        if type(x) is not type(y) or x.name != y.name:
            where = x.module if isinstance(x, OpRecord) else x.path
            raise OnnxExporterError(
                f"onnx.export: the model runs other ops for other input values or sizes (op {k}: '{x.name}' in "
                f"module '{where}', then '{y.name}'): its forward has control flow that depends on the data, "
                f"which a graph cannot hold — make the branch a fixed choice for export"
            )
        x.other = y  # type: ignore[assignment]
    if len(a) != len(b):
        raise OnnxExporterError(
            f"onnx.export: the model runs {len(a)} ops on the given inputs but {len(b)} for other input values or "
            f"sizes: its forward has control flow (a loop or branch) that depends on the data, which a graph "
            f"cannot hold — make it a fixed choice for export"
        )


# ----- the graph ---------------------------------------------------------------------------------------------


def _named_state(model: Module) -> dict[int, tuple[str, Tensor]]:
    named: dict[int, tuple[str, Tensor]] = {}
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        named.setdefault(id(t), (name, t))
    return named


def _build(onnx: Any, model: Module, opset: int, trace: Trace, inputs: list[Tensor], outputs: list[Tensor],
           second_outputs: list[Tensor], in_names: list[str], out_names: list[str],
           axes: dict[str, dict[int, str]], export_params: bool, initializers_as_inputs: bool) -> Any:
    g = Graph(onnx, opset, _named_state(model), params_as_inputs=not export_params)
    g.taken.update(in_names + out_names)
    for t, name in zip(inputs, in_names):
        if id(t) not in g.values:
            g.bind(t, name)
    for record in trace.records:
        g.record = record
        if isinstance(record, OpRecord):
            emitter = FUNCTIONS.get(type(record.fn))
            if emitter is None:
                reason = NOT_EXPORTED.get(type(record.fn), "no ONNX exporter")
                where = f"module '{record.module}'" if record.module else "the model's forward"
                raise UnsupportedOperatorError(
                    f"onnx.export: cannot export op '{record.name}' in {where} ({reason}); write the forward with "
                    f"ops that have an ONNX form (docs/onnx.md lists them), or leave this part out of the model "
                    f"you export"
                )
            emitter(g, record)
        else:
            MODULES[type(record.module)][1](g, record)
    g.record = None
    _name_outputs(g, outputs, out_names)
    helper = onnx.helper
    graph_inputs = [_value_info(helper, name, t, None, axes.get(name, {})) for t, name in zip(inputs, in_names)]
    graph_outputs = [_value_info(helper, name, t, other, axes.get(name, {}))
                     for t, other, name in zip(outputs, second_outputs, out_names)]
    nodes, initializers = _live(g, out_names)
    param_inputs = [vi for vi in g.param_inputs if vi.name in _consumed(nodes, out_names)]
    if initializers_as_inputs:
        param_inputs += [helper.make_tensor_value_info(i.name, i.data_type, list(i.dims)) for i in initializers]
    graph = helper.make_graph(nodes, type(model).__name__, graph_inputs + param_inputs, graph_outputs, initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=IR_VERSIONS[opset],
                             producer_name="chainrule", producer_version=__version__)


def _name_outputs(g: Graph, outputs: list[Tensor], out_names: list[str]) -> None:
    """Give each output its name: the node that computes it writes it under that name; an output that is an
    input, a parameter, a constant or another output already is copied by an Identity node."""
    produced = {out: node for node in g.nodes for out in node.output}
    renamed: dict[str, str] = {}
    for t, name in zip(outputs, out_names):
        source = g.value(t)
        node = produced.get(source)
        if node is None or source in renamed:
            g.nodes.append(g.onnx.helper.make_node("Identity", [renamed.get(source, source)], [name],
                                                   name=f"/Identity_{name}"))
            continue
        renamed[source] = name
    for node in g.nodes:
        node.output[:] = [renamed.get(n, n) for n in node.output]
        node.input[:] = [renamed.get(n, n) for n in node.input]


def _consumed(nodes: list[Any], out_names: list[str]) -> set[str]:
    return {n for node in nodes for n in node.input} | set(out_names)


def _live(g: Graph, out_names: list[str]) -> tuple[list[Any], list[Any]]:
    """The nodes the outputs depend on, in order, and the initializers they read: a value nobody reads (the
    second output of a split, an unused op in forward) is not written."""
    needed = set(out_names)
    keep = []
    for node in reversed(g.nodes):
        if any(out in needed for out in node.output):
            keep.append(node)
            needed.update(n for n in node.input if n)
    keep.reverse()
    return keep, [i for i in g.initializers if i.name in needed]


def _value_info(helper: Any, name: str, t: Tensor, other: Tensor | None, dynamic: dict[int, str]) -> Any:
    """A graph input's or output's type: its dtype and shape, with a named dim for each dynamic axis (and for an
    output dim that changed in the second trace, which follows some dynamic input axis)."""
    shape: list[Any] = []
    for axis, n in enumerate(t.shape):
        if axis in dynamic:
            shape.append(dynamic[axis])
        elif other is not None and (other.ndim != t.ndim or other.shape[axis] != n):
            shape.append(f"{name}_dim_{axis}")
        else:
            shape.append(int(n))
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(t._data.dtype), shape)
