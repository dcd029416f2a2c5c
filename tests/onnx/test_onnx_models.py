"""Whole models: the zoo's LeNet-5, CompactCNN, MLP and CharLSTM, a GRU model and a user-written Module with
slicing and concatenation, each exported with a dynamic batch axis and checked in onnxruntime."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from onnx_helpers import ops_of, randn, roundtrip, session

import chainrule as cr
from chainrule import models, nn
from chainrule.onnx import export


def mnist(n: int) -> list[np.ndarray]:
    return [randn(np.random.default_rng(n), n, 1, 28, 28)]


def trained_statistics(model: nn.Module) -> nn.Module:
    """Batch norms as after training: run a few batches in training mode so the running statistics move."""
    model.train()
    with cr.no_grad():
        for seed in range(3):
            model(cr.tensor(mnist(8 + seed)[0] * np.float32(1 + seed)))
    return model.eval()


def test_lenet5() -> None:
    model = models.LeNet5(generator=np.random.default_rng(0))
    proto = roundtrip("model LeNet-5", model, mnist, [0])
    assert ops_of(proto).count("Conv") == 2 and ops_of(proto).count("Gemm") == 3


def test_lenet5_relu_avg_pool() -> None:
    model = models.LeNet5(activation="relu", pool="avg", generator=np.random.default_rng(0))
    roundtrip("model LeNet-5 relu/avg", model, mnist, [0])


def test_compact_cnn() -> None:
    model = trained_statistics(models.CompactCNN(generator=np.random.default_rng(0)))
    proto = roundtrip("model CompactCNN", model, mnist, [0])
    assert ops_of(proto).count("BatchNormalization") == 4
    assert "Dropout" not in ops_of(proto)


def test_mlp() -> None:
    model = models.MLP(generator=np.random.default_rng(0))
    proto = roundtrip("model MLP", model, mnist, [0])
    assert ops_of(proto) == ["Reshape", "Gemm", "Relu", "Gemm", "Relu", "Gemm"]
    # the output's batch dim was not named, but it follows the input's: it gets a name of its own
    dims = proto.graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["output_dim_0", 10]


def test_char_lstm() -> None:
    model = models.CharLSTM(vocab_size=12, hidden_size=16, num_layers=2, generator=np.random.default_rng(0))

    def tokens(n: int) -> list[np.ndarray]:
        return [np.random.default_rng(n).integers(0, 12, (7, n)).astype(np.int64)]

    proto = roundtrip("model CharLSTM", model, tokens, [1])
    assert ops_of(proto).count("LSTM") == 2 and "Gather" in ops_of(proto)


class GRUClassifier(nn.Module):
    """Embedding → bidirectional GRU (batch_first) → the last step's output → Linear."""

    def __init__(self) -> None:
        super().__init__()
        g = np.random.default_rng(0)
        self.embed = nn.Embedding(20, 8, generator=g)
        self.gru = nn.GRU(8, 6, num_layers=2, batch_first=True, bidirectional=True, generator=g)
        self.head = nn.Linear(12, 3, generator=g)

    def forward(self, tokens: cr.Tensor) -> cr.Tensor:
        out, _ = self.gru(self.embed(tokens))
        return self.head(out[:, -1])


def test_gru_model() -> None:
    def tokens(n: int) -> list[np.ndarray]:
        return [np.random.default_rng(n).integers(0, 20, (n, 9)).astype(np.int64)]

    proto = roundtrip("model GRU classifier", GRUClassifier(), tokens, [0])
    assert ops_of(proto).count("GRU") == 2


class TwoTowers(nn.Module):
    """A user-written forward: slices of the input through two branches, joined by concatenation."""

    def __init__(self) -> None:
        super().__init__()
        g = np.random.default_rng(0)
        self.left = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, generator=g), nn.ReLU())
        self.right = nn.Conv2d(1, 4, 1, generator=g)
        self.head = nn.Linear(8 * 4 * 4, 5, generator=g)
        self.scale = nn.Parameter(np.full((1, 8, 1, 1), 0.5, dtype=np.float32))

    def forward(self, x: cr.Tensor) -> tuple[cr.Tensor, cr.Tensor]:
        a = self.left(x[:, :2, 2:6, 2:6])
        b = self.right(x[:, 2:, ::2, ::2][:, :, :4, :4])
        both = cr.cat([a, b], dim=1) * self.scale
        flat = both.reshape(both.shape[0], -1)
        return self.head(flat), cr.softmax(flat[:, :10], dim=-1)


def test_user_module_with_slicing_and_concat() -> None:
    proto = roundtrip("model user-written slices/concat", TwoTowers(),
                      lambda n: [randn(np.random.default_rng(n), n, 3, 8, 8)], [0])
    assert {"Slice", "Concat", "Conv", "Gemm", "Softmax"} <= set(ops_of(proto))
    assert [o.name for o in proto.graph.output] == ["output_0", "output_1"]
    assert {i.name for i in proto.graph.initializer} >= {"left.0.weight", "right.weight", "head.weight", "scale"}


def test_named_dynamic_axes_appear_in_the_graph() -> None:
    model = models.MLP(in_features=64, hidden=(16,), generator=np.random.default_rng(0))
    buffer = io.BytesIO()
    export(model, (cr.tensor(randn(np.random.default_rng(0), 3, 1, 8, 8)),), buffer, input_names=["image"],
           output_names=["logits"], dynamic_axes={"image": {0: "batch"}, "logits": [0]})
    import onnx

    proto = onnx.load_from_string(buffer.getvalue())
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 1, 8, 8]
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "logits_dynamic_axes_1"
    x = randn(np.random.default_rng(1), 11, 1, 8, 8)
    with cr.no_grad():
        expected = model(cr.tensor(x)).numpy()
    got: Any = session(buffer.getvalue()).run(["logits"], {"image": x})[0]
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_export_puts_every_module_back_in_its_mode() -> None:
    model = models.CompactCNN(generator=np.random.default_rng(0))
    model.train()
    model.classifier[1].eval()
    before = {name: m.training for name, m in model.named_modules()}
    export(model, (cr.tensor(mnist(2)[0]),), io.BytesIO())
    assert {name: m.training for name, m in model.named_modules()} == before


def test_models_at_other_opsets() -> None:
    def tokens(n: int) -> list[np.ndarray]:
        return [np.random.default_rng(n).integers(0, 20, (n, 9)).astype(np.int64)]

    for opset in (13, 18, 21):
        roundtrip(f"model LeNet-5 opset {opset}", models.LeNet5(generator=np.random.default_rng(0)), mnist, [0],
                  opset=opset)
        roundtrip(f"model GRU classifier opset {opset}", GRUClassifier(), tokens, [0], opset=opset)
