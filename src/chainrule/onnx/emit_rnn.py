"""Recurrent layers as ONNX's own ``RNN``, ``LSTM`` and ``GRU`` ops, one op per layer (both directions in one op).

A layer is exported whole, from its parameters, not from the ops of its time loop. ONNX lays the weights out
per direction as W (D, G·H, I), R (D, G·H, H) and B (D, 2·G·H) = [W_b; R_b], with the gate blocks in its own
order, so the blocks of PyTorch's ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` are
reordered (docs/onnx.md writes the equations out):

- LSTM: PyTorch's rows are i, f, g, o (input, forget, cell, output gates); ONNX's are i, o, f, c.
- GRU: PyTorch's rows are r, z, n; ONNX's are z, r, h. PyTorch applies the reset gate after the hidden
  product, n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), which is ONNX's ``linear_before_reset=1``.
- RNN: one block; the nonlinearity (tanh or relu) is the ``activations`` attribute.

ONNX's Y is (L, D, N, H): it becomes PyTorch's (L, N, D·H) by a transpose and a reshape (a squeeze for one
direction). Layers stack by feeding each Y to the next layer; h_n (and c_n) concatenates each layer's Y_h (Y_c).
The reordered weights are initializers named ``<layer path>.W_l{k}``, ``.R_l{k}``, ``.B_l{k}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.nn import rnn as nn_rnn
from chainrule.onnx.graph import Graph
from chainrule.onnx.trace import ModuleRecord
from chainrule.tensor import Tensor

__all__ = ["MODULE_EMITTERS", "onnx_gates"]

# for each mode, the PyTorch gate block that goes to each ONNX position
GATE_ORDER = {"LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2), "RNN_TANH": (0,), "RNN_RELU": (0,)}
OP_TYPE = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


def onnx_gates(a: Any, mode: str) -> np.ndarray:
    """A PyTorch weight or bias (G·H rows) with its gate blocks in ONNX's order."""
    blocks = np.split(np.asarray(a), len(GATE_ORDER[mode]), axis=0)
    return np.concatenate([blocks[k] for k in GATE_ORDER[mode]], axis=0)


def _arg(m: ModuleRecord, k: int, name: str) -> tuple[Any, Any]:
    """Argument ``k`` (or keyword ``name``) of the call, and the same in the second trace."""
    def pick(rec: ModuleRecord) -> Any:
        return rec.args[k] if len(rec.args) > k else rec.kwargs.get(name)
    return pick(m), (pick(m.other) if m.other is not None else None)


def _attrs(mode: str, hidden: int, directions: int) -> dict[str, Any]:
    attrs: dict[str, Any] = {"hidden_size": hidden, "direction": "bidirectional" if directions == 2 else "forward"}
    if mode == "GRU":
        attrs["linear_before_reset"] = 1
    if mode.startswith("RNN"):
        attrs["activations"] = ["Tanh" if mode == "RNN_TANH" else "Relu"] * directions
    return attrs


def _weights(g: Graph, prefix: str, mode: str, params: list[tuple[Any, Any, Any, Any]], layer: int) -> list[str]:
    """[W, R, B] (B empty when the layer has no bias) for one layer, both directions stacked."""
    w = np.stack([onnx_gates(p[0]._data, mode) for p in params])
    r = np.stack([onnx_gates(p[1]._data, mode) for p in params])
    names = [g.named_array(w, f"{prefix}W_l{layer}"), g.named_array(r, f"{prefix}R_l{layer}")]
    if params[0][2] is None:
        return names + [""]
    b = np.stack([np.concatenate([onnx_gates(p[2]._data, mode), onnx_gates(p[3]._data, mode)]) for p in params])
    return names + [g.named_array(b, f"{prefix}B_l{layer}")]


def _state_name(g: Graph, state: Any, other: Any) -> str | None:
    return None if state is None else g.value(state, other)


def _layer_states(g: Graph, state: str | None, layer: int, directions: int) -> str:
    if state is None:
        return ""  # ONNX starts from zeros, as PyTorch does without h_0
    return g.node("Slice", [state, g.ints([layer * directions]), g.ints([(layer + 1) * directions]), g.ints([0])])


def _trim(inputs: list[str]) -> list[str]:
    while inputs and inputs[-1] == "":
        inputs.pop()
    return inputs


def _sequence_module(g: Graph, m: ModuleRecord) -> None:
    layer_module = m.module
    mode, hidden, layers = layer_module.mode, layer_module.hidden_size, layer_module.num_layers
    directions = 2 if layer_module.bidirectional else 1
    x, x_other = _arg(m, 0, "input")
    if not isinstance(x, Tensor) or x.ndim != 3:
        raise g.refuse(f"its input has shape {getattr(x, 'shape', None)}; ONNX's {OP_TYPE[mode]} takes a batch",
                       "add the batch dim: x.unsqueeze(1) (or unsqueeze(0) with batch_first)")
    if layer_module.training and layer_module.dropout and layers > 1:
        raise g.refuse("dropout between layers runs in training mode", "export in eval mode (the default)")
    hx, hx_other = _arg(m, 1, "hx")
    if mode == "LSTM":
        (h0, c0), (h0_other, c0_other) = hx if hx is not None else (None, None), (
            hx_other if hx_other is not None else (None, None))
    else:
        (h0, c0), (h0_other, c0_other) = (hx, None), (hx_other, None)
    h_state, c_state = _state_name(g, h0, h0_other), _state_name(g, c0, c0_other)
    prefix = f"{m.path}." if m.path else ""
    seq = g.value(x, x_other)
    if layer_module.batch_first:
        seq = g.node("Transpose", [seq], perm=[1, 0, 2])
    finals: list[list[str]] = [[], []]
    suffixes = ("", "_reverse")[:directions]
    result = m.result
    out_t, states_t = result[0], result[1]
    h_t, c_t = (states_t if mode == "LSTM" else (states_t, None))
    for layer in range(layers):
        params = [layer_module._weights(layer, s) for s in suffixes]
        inputs = [seq, *_weights(g, prefix, mode, params, layer), "", _layer_states(g, h_state, layer, directions)]
        if mode == "LSTM":
            inputs.append(_layer_states(g, c_state, layer, directions))
        outs = g.node(OP_TYPE[mode], _trim(inputs), 3 if mode == "LSTM" else 2, **_attrs(mode, hidden, directions))
        y, finals[0] = outs[0], finals[0] + [outs[1]]
        if mode == "LSTM":
            finals[1].append(outs[2])
        last = layer == layers - 1 and not layer_module.batch_first
        target = [out_t] if last else 1
        if directions == 1:
            seq = g.squeeze(y, [1], out_t if last else None)
        else:  # (L, D, N, H) → (L, N, D, H) → (L, N, D·H): both directions' h_t side by side, forward first
            seq = g.node("Reshape", [g.node("Transpose", [y], perm=[0, 2, 1, 3]), g.ints([0, 0, -1])], target)
    if layer_module.batch_first:
        g.node("Transpose", [seq], [out_t], perm=[1, 0, 2])
    for names, t in zip(finals, (h_t, c_t)):
        if t is not None:
            g.node("Concat" if len(names) > 1 else "Identity", names, [t], **({"axis": 0} if len(names) > 1 else {}))


def _cell_module(g: Graph, m: ModuleRecord) -> None:
    """One step: the layer's op over a sequence of length 1."""
    cell = m.module
    mode = {nn_rnn.LSTMCell: "LSTM", nn_rnn.GRUCell: "GRU"}.get(type(cell))
    if mode is None:
        mode = "RNN_TANH" if cell.nonlinearity == "tanh" else "RNN_RELU"
    x, x_other = _arg(m, 0, "input")
    if not isinstance(x, Tensor) or x.ndim != 2:
        raise g.refuse(f"its input has shape {getattr(x, 'shape', None)}; ONNX's {OP_TYPE[mode]} takes a batch",
                       "add the batch dim: x.unsqueeze(0)")
    hx, hx_other = _arg(m, 1, "hx")
    states = list(hx) if mode == "LSTM" and hx is not None else [hx] + ([None] if mode == "LSTM" else [])
    others = list(hx_other) if mode == "LSTM" and hx_other is not None else [hx_other] * len(states)
    prefix = f"{m.path}." if m.path else ""
    params = [(cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
    inputs = [g.unsqueeze(g.value(x, x_other), [0]), *_weights(g, prefix, mode, params, 0), ""]
    for state, other in zip(states, others):
        inputs.append("" if state is None else g.unsqueeze(g.value(state, other), [0]))
    outs = g.node(OP_TYPE[mode], _trim(inputs), 3 if mode == "LSTM" else 2, **_attrs(mode, cell.hidden_size, 1))
    results = list(m.result) if mode == "LSTM" else [m.result]
    for name, t in zip(outs[1:], results):
        g.squeeze(name, [0], t)


def _every_call(module: Any, m: ModuleRecord, opset: int) -> bool:
    return True  # every call is exported whole; the emitter refuses, by name, an input it cannot take


Whole = Callable[[Any, ModuleRecord, int], bool]
MODULE_EMITTERS: dict[type, tuple[Whole, Callable[[Graph, ModuleRecord], None]]] = {
    nn_rnn.RNN: (_every_call, _sequence_module),
    nn_rnn.LSTM: (_every_call, _sequence_module),
    nn_rnn.GRU: (_every_call, _sequence_module),
    nn_rnn.RNNCell: (_every_call, _cell_module),
    nn_rnn.LSTMCell: (_every_call, _cell_module),
    nn_rnn.GRUCell: (_every_call, _cell_module),
}
