"""``Graph``: the ONNX graph under construction. It names every traced Tensor, turns parameters and buffers into
initializers named by their module path (``features.0.weight``, as PyTorch names them), turns any other Tensor
met as an input into a constant initializer, and makes nodes with ``onnx.helper``.

The ``onnx`` package is imported by ``chainrule.onnx.export`` only when an export runs, and handed in here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.onnx.errors import OnnxExporterError, UnsupportedOperatorError
from chainrule.onnx.trace import ModuleRecord, OpRecord
from chainrule.tensor import Tensor

__all__ = ["Graph"]


class Graph:
    """Nodes, initializers and the names of values, for one export at one opset."""

    def __init__(self, onnx: Any, opset: int, named: dict[int, tuple[str, Tensor]], params_as_inputs: bool) -> None:
        self.onnx, self.opset = onnx, opset
        self.named = named  # id(parameter or buffer) → (its module path name, the Tensor)
        self.params_as_inputs = params_as_inputs
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.param_inputs: list[Any] = []  # value infos of parameters fed as inputs (export_params=False)
        self.values: dict[int, str] = {}  # id(Tensor) → name
        self.arrays: dict[int, str] = {}  # id(Tensor's array) → name: ops that keep an index array, not a Tensor
        self.dtypes: dict[str, np.dtype] = {}
        self.taken: set[str] = set()
        self.constants: dict[int, str] = {}  # id(array) → the initializer made of it
        self.small: dict[tuple[Any, ...], str] = {}  # (dtype, shape, bytes) of a small constant → its initializer
        self.keep: list[Any] = []
        self.record: OpRecord | ModuleRecord | None = None  # what is being emitted, for names and messages
        self.counts: dict[str, int] = {}

    # ----- names ----------------------------------------------------------------------------------------------
    def unique(self, hint: str) -> str:
        name, k = hint, 0
        while name in self.taken:
            k += 1
            name = f"{hint}_{k}"
        self.taken.add(name)
        return name

    def bind(self, t: Tensor, name: str) -> None:
        """``t`` is the value called ``name`` (and so is its array, for ops that kept the array)."""
        self.values[id(t)] = name
        self.arrays[id(t._data)] = name
        self.dtypes[name] = t._data.dtype
        self.keep.append(t)

    def value(self, t: Tensor, other: Tensor | None = None) -> str:
        """The name of ``t``: a traced value, a parameter or buffer (an initializer, made on first use), or a
        constant. ``other`` is the same input in the trace at other dynamic sizes: a constant whose shape differs
        there was made from the batch size inside forward, and cannot be a constant."""
        name = self.values.get(id(t)) or self.arrays.get(id(t._data))
        if name is not None:
            return name
        if id(t) in self.named:
            path, param = self.named[id(t)]
            name = self.unique(path)
            if self.params_as_inputs:
                self.param_inputs.append(self.onnx.helper.make_tensor_value_info(
                    name, self.onnx.helper.np_dtype_to_tensor_dtype(param._data.dtype), list(param.shape)))
            else:
                self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(param._data), name))
            self.bind(param, name)
            return name
        return self.constant(t._data, None if other is None else other._data)

    def constant(self, a: Any, other: Any = None) -> str:
        """A constant array met during the trace. ``other`` is the same array in the second trace (other input
        values, other sizes of the dynamic axes): if it differs, the array was computed from the inputs outside
        chainrule's ops (a comparison, argmax, ``.data``, NumPy), which no graph can record, or sized by the batch
        inside forward; either way it cannot be a constant."""
        self.check_constant(a, other)
        return self.array(a)

    def check_constant(self, a: Any, other: Any) -> None:
        """Refuse a constant that differs in the second trace (see ``constant``)."""
        if other is not None:
            if tuple(np.shape(other)) != tuple(np.shape(a)):
                raise OnnxExporterError(
                    f"onnx.export: {self.where()} uses a tensor of shape {tuple(np.shape(a))} that is made inside "
                    f"forward and changes shape with the dynamic axes ({tuple(np.shape(other))} at other sizes), so "
                    f"it cannot be a constant of the graph — pass it to forward as an input (e.g. an initial state "
                    f"h_0), or export without dynamic_axes"
                )
            same = np.array_equal(np.asarray(a), np.asarray(other), equal_nan=np.asarray(a).dtype.kind in "fc")
            if not same:
                raise OnnxExporterError(
                    f"onnx.export: {self.where()} uses a tensor whose values change with the inputs but that no "
                    f"traced op computed (a comparison such as x > 0, argmax, .data, .detach() or NumPy produce "
                    f"tensors outside the graph, or a random draw inside forward), so it cannot be a constant — "
                    f"compute it with differentiable ops (e.g. relu, clamp, where on a constant mask), or pass it "
                    f"as an input"
                )

    def held(self, r: OpRecord, attr: str) -> str:
        """The name of an array an op kept as an attribute (an embedding's indices, a where's condition)."""
        a = getattr(r.fn, attr)
        name = self.arrays.get(id(a))
        if name is not None:
            return name
        return self.constant(a, None if r.other is None else getattr(r.other.fn, attr))

    def array(self, a: Any, hint: str = "const") -> str:
        """A constant initializer holding ``a`` (made once per array)."""
        name = self.arrays.get(id(a)) or self.constants.get(id(a))
        if name is not None:
            return name
        array = np.asarray(a)
        key = (array.dtype.str, array.shape, array.tobytes()) if array.size <= 16 else None
        if key is not None and key in self.small:  # axes, shapes and scalars repeat: one initializer each
            return self.small[key]
        name = self.unique(f"onnx::{hint}_{len(self.initializers)}")
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        self.constants[id(a)] = name
        if key is not None:
            self.small[key] = name
        self.dtypes[name] = array.dtype
        self.keep.append(a)
        return name

    def named_array(self, a: Any, name: str) -> str:
        """An initializer with a chosen name (a layer's weights in ONNX's layout, named after the layer)."""
        array = np.asarray(a)
        name = self.unique(name)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        self.dtypes[name] = array.dtype
        return name

    def ints(self, values: Sequence[int]) -> str:
        """A constant int64 vector (axes, shapes, pads given as inputs)."""
        return self.array(np.asarray(list(values), dtype=np.int64), "ints")

    def scalar(self, value: float, dtype: Any) -> str:
        return self.array(np.asarray(value, dtype=dtype), "scalar")

    def inp(self, r: OpRecord, j: int) -> str:
        """The name of input ``j`` of the op record ``r``."""
        return self.value(r.inputs[j], r.other.inputs[j] if r.other is not None else None)

    def input_as(self, r: OpRecord, j: int, dtype: Any) -> str:
        """Input ``j`` converted to ``dtype`` (ONNX's arithmetic takes one dtype; NumPy promotes)."""
        t = r.inputs[j]
        if t._data.dtype == dtype:
            return self.inp(r, j)
        if id(t) not in self.values and id(t._data) not in self.arrays and id(t) not in self.named:
            self.check_constant(t._data, r.other.inputs[j]._data if r.other is not None else None)
            return self.array(np.asarray(t._data).astype(dtype))
        return self.cast(self.inp(r, j), dtype)

    # ----- nodes ----------------------------------------------------------------------------------------------
    def where(self) -> str:
        r = self.record
        if isinstance(r, OpRecord):
            return f"op '{r.name}' in module '{r.module}'" if r.module else f"op '{r.name}' in the model's forward"
        if isinstance(r, ModuleRecord):
            return f"module '{r.path}' ({r.name})" if r.path else f"the model ({r.name})"
        return "the model"

    def scope(self) -> str:
        r = self.record
        path = r.module if isinstance(r, OpRecord) else r.path if isinstance(r, ModuleRecord) else ""
        return "/" + "/".join(path.split(".")) if path else ""

    def node(self, op_type: str, inputs: Sequence[str], outputs: int | Sequence[Tensor | None] = 1,
             **attrs: Any) -> Any:
        """Add a node; ``outputs`` is a count (fresh names) or the Tensors it computes (bound to its outputs).
        Returns the output name, or the list of names when there are several."""
        k = self.counts[op_type] = self.counts.get(op_type, -1) + 1
        if isinstance(outputs, int):
            names = [self.unique(f"{self.scope()}/{op_type}_{k}_output_{i}") for i in range(outputs)]
        else:
            names = []
            for i, t in enumerate(outputs):
                names.append(self.unique(f"{self.scope()}/{op_type}_{k}_output_{i}"))
                if t is not None:
                    self.bind(t, names[-1])
        attrs = {key: v for key, v in attrs.items() if v is not None}
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), names, name=f"{self.scope()}/{op_type}_{k}",
                                                     **attrs))
        return names[0] if len(names) == 1 else names

    def cast(self, name: str, dtype: Any) -> str:
        out = self.node("Cast", [name], to=self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))
        self.dtypes[out] = np.dtype(dtype)
        return out

    def unsqueeze(self, name: str, axes: Sequence[int], out: Tensor | None = None) -> str:
        return self.node("Unsqueeze", [name, self.ints(axes)], [out] if out is not None else 1)

    def squeeze(self, name: str, axes: Sequence[int], out: Tensor | None = None) -> str:
        return self.node("Squeeze", [name, self.ints(axes)], [out] if out is not None else 1)

    def reduce(self, op_type: str, name: str, axes: Sequence[int], keepdims: bool,
               out: Tensor | None = None) -> str:
        """A Reduce* node: axes as an input for ReduceSum (opset 13) and for every reduction from opset 18."""
        outputs = [out] if out is not None else 1
        if not axes:  # ONNX reads empty axes as "all of them"; reducing over no dim is the identity
            return self.node("Identity", [name], outputs)
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.node(op_type, [name, self.ints(axes)], outputs, keepdims=int(keepdims))
        return self.node(op_type, [name], outputs, axes=list(axes), keepdims=int(keepdims))

    def refuse(self, why: str, fix: str) -> UnsupportedOperatorError:
        return UnsupportedOperatorError(f"onnx.export: cannot export {self.where()}: {why} — {fix}")
