"""RNN, LSTM and GRU layers and cells as ONNX's own RNN, LSTM and GRU ops: gate order, GRU's
linear_before_reset, [W_b; R_b] biases, stacked layers, both directions, batch_first and initial states."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from onnx_helpers import ops_of, randn, roundtrip, session

import chainrule as cr
from chainrule import models, nn
from chainrule.onnx import export
from chainrule.onnx.emit_rnn import onnx_gates

LENGTH, FEATURES, HIDDEN = 4, 3, 5


class Run(nn.Module):
    """A recurrent layer with its outputs flattened: (output, h_n) or (output, h_n, c_n)."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.rnn = layer

    def forward(self, x: cr.Tensor, *state: cr.Tensor) -> Any:
        if not state:
            return self.rnn(x)
        return self.rnn(x, tuple(state) if len(state) == 2 else state[0])


def layer(kind: str, **kwargs: Any) -> nn.Module:
    cls = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}[kind]
    return cls(FEATURES, HIDDEN, generator=np.random.default_rng(0), **kwargs)


CONFIGS = {
    "1 layer": {},
    "2 layers": {"num_layers": 2},
    "bidirectional": {"bidirectional": True},
    "2 layers bidirectional": {"num_layers": 2, "bidirectional": True},
    "batch_first": {"batch_first": True},
    "bias=False": {"bias": False},
}


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_recurrent_layer_is_one_native_op_per_layer(kind: str, config: str) -> None:
    kwargs = CONFIGS[config]
    batch_first = kwargs.get("batch_first", False)

    def make(n: int) -> list[np.ndarray]:
        shape = (n, LENGTH, FEATURES) if batch_first else (LENGTH, n, FEATURES)
        return [randn(np.random.default_rng(n), *shape)]

    proto = roundtrip(f"{kind} {config}", Run(layer(kind, **kwargs)), make, [0 if batch_first else 1])
    assert ops_of(proto).count(kind) == kwargs.get("num_layers", 1)
    node = next(n for n in proto.graph.node if n.op_type == kind)
    attrs = {a.name: a for a in node.attribute}
    assert attrs["direction"].s == (b"bidirectional" if kwargs.get("bidirectional") else b"forward")
    if kind == "GRU":
        assert attrs["linear_before_reset"].i == 1


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_initial_states_are_inputs(kind: str) -> None:
    model = Run(layer(kind, num_layers=2, bidirectional=True))
    states = 2 if kind == "LSTM" else 1

    def make(n: int) -> list[np.ndarray]:
        rng = np.random.default_rng(n)
        return [randn(rng, LENGTH, n, FEATURES)] + [randn(rng, 4, n, HIDDEN) for _ in range(states)]

    roundtrip(f"{kind} initial states", model, make, [1] + [1] * states)


def test_relu_rnn_sets_the_activation() -> None:
    model = Run(nn.RNN(FEATURES, HIDDEN, nonlinearity="relu", generator=np.random.default_rng(0)))
    proto = roundtrip("RNN relu", model, lambda n: [randn(np.random.default_rng(n), LENGTH, n, FEATURES)], [1])
    node = next(n for n in proto.graph.node if n.op_type == "RNN")
    assert [a.strings for a in node.attribute if a.name == "activations"] == [[b"Relu"]]


def test_lstm_weights_are_reordered_to_onnx_gate_order() -> None:
    """PyTorch's LSTM rows i, f, g, o become ONNX's i, o, f, c; GRU's r, z, n become z, r, h."""
    w = np.arange(8)[:, None].repeat(2, axis=1)  # H = 2: blocks [0 1] [2 3] [4 5] [6 7] = i f g o
    np.testing.assert_array_equal(onnx_gates(w, "LSTM")[:, 0], [0, 1, 6, 7, 2, 3, 4, 5])
    np.testing.assert_array_equal(onnx_gates(np.arange(6), "GRU"), [2, 3, 0, 1, 4, 5])
    model = Run(layer("LSTM"))
    proto = roundtrip("LSTM weights", model, lambda n: [randn(np.random.default_rng(n), LENGTH, n, FEATURES)], [1])
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    assert sorted(n for n in inits if not n.startswith("onnx::")) == ["rnn.B_l0", "rnn.R_l0", "rnn.W_l0"]
    assert inits["rnn.W_l0"].shape == (1, 4 * HIDDEN, FEATURES)
    o_gate = model.rnn.weight_ih_l0.numpy()[3 * HIDDEN:]  # PyTorch's 4th block is the output gate, ONNX's 2nd
    np.testing.assert_array_equal(inits["rnn.W_l0"][0, HIDDEN:2 * HIDDEN], o_gate)
    b = inits["rnn.B_l0"][0]  # [W_b; R_b]
    np.testing.assert_array_equal(b[4 * HIDDEN:5 * HIDDEN], model.rnn.bias_hh_l0.numpy()[:HIDDEN])


class Cell(nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        cls = {"RNNCell": nn.RNNCell, "LSTMCell": nn.LSTMCell, "GRUCell": nn.GRUCell}[kind]
        self.cell = cls(FEATURES, HIDDEN, generator=np.random.default_rng(0))

    def forward(self, x: cr.Tensor, h: cr.Tensor, c: cr.Tensor | None = None) -> Any:
        # two steps, the second from the first's state: the cell as a user's own loop would call it
        state = h if c is None else (h, c)
        for _ in range(2):
            state = self.cell(x, state)
        return state


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_are_one_step_of_the_native_op(kind: str) -> None:
    states = 2 if kind == "LSTMCell" else 1

    def make(n: int) -> list[np.ndarray]:
        rng = np.random.default_rng(n)
        return [randn(rng, n, FEATURES)] + [randn(rng, n, HIDDEN) for _ in range(states)]

    proto = roundtrip(kind, Cell(kind), make, [0] * (1 + states))
    assert ops_of(proto).count(kind.removesuffix("Cell")) == 2


def test_sequence_length_and_batch_both_dynamic() -> None:
    model = models.CharLSTM(vocab_size=9, hidden_size=6, generator=np.random.default_rng(0)).eval()
    tokens = np.random.default_rng(0).integers(0, 9, (5, 2)).astype(np.int64)
    buffer = io.BytesIO()
    export(model, (cr.tensor(tokens),), buffer, input_names=["tokens"], output_names=["logits", "h_n", "c_n"],
           dynamic_axes={"tokens": {0: "length", 1: "batch"}, "logits": {0: "length", 1: "batch"}})
    run = session(buffer.getvalue())
    for length, batch in ((5, 2), (8, 3), (1, 1)):
        t = np.random.default_rng(length).integers(0, 9, (length, batch)).astype(np.int64)
        with cr.no_grad():
            logits, (h, c) = model(cr.tensor(t))
        got = run.run(None, {"tokens": t})
        for o, e in zip(got, (logits, h, c)):
            assert o.shape == e.shape and np.max(np.abs(o - e.numpy())) <= 1e-5
