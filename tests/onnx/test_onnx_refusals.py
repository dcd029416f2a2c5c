"""What export refuses, each with one line naming the op or argument and the fix; and nothing half-written."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnx_helpers import randn

import chainrule as cr
from chainrule import nn
from chainrule.errors import ArgumentError, ArgumentTypeError
from chainrule.onnx import OnnxExporterError, TrainingMode, UnsupportedOperatorError, export


class Cumsum(cr.Function):
    """An op with no ONNX exporter."""

    def forward(self, x):
        return np.cumsum(x, axis=-1)


class Lambda(nn.Module):
    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.fn(x)


def x34(seed: int = 0) -> cr.Tensor:
    return cr.tensor(randn(np.random.default_rng(seed), 3, 4))


def one_line(e: pytest.ExceptionInfo) -> str:
    message = str(e.value)
    assert "\n" not in message and message.startswith("onnx.export")
    return message


def test_an_op_without_exporter_is_named_with_its_module_path() -> None:
    encoder = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), Lambda(lambda x: Cumsum()(x)))
    model = nn.Sequential()
    model.add_module("encoder", encoder)
    with pytest.raises(UnsupportedOperatorError) as e:
        export(model, (x34(),), io.BytesIO())
    assert one_line(e).startswith("onnx.export: cannot export op 'Cumsum' in module 'encoder.2' (no ONNX exporter)")


def test_a_loss_in_forward_says_why() -> None:
    model = Lambda(lambda x: cr.nn.functional.cross_entropy(x, cr.tensor(np.array([0, 1, 2]))))
    with pytest.raises(UnsupportedOperatorError, match="op 'CrossEntropyIndex' in the model's forward .a loss"):
        export(model, (x34(),), io.BytesIO())


def test_a_mask_computed_outside_the_graph_is_refused() -> None:
    model = Lambda(lambda x: cr.where(x > 0, x, x * 0.1))  # x > 0 is a plain tensor: no op records it
    with pytest.raises(OnnxExporterError) as e:
        export(model, (x34(),), io.BytesIO())
    assert "values change with the inputs" in one_line(e)


def test_data_dependent_control_flow_is_refused() -> None:
    model = Lambda(lambda x: cr.tanh(x) if float(x.sum().item()) < 0 else cr.sigmoid(x) * 2)
    with pytest.raises(OnnxExporterError) as e:
        export(model, (cr.tensor(np.full((3, 4), -0.4, np.float32)),), io.BytesIO())
    assert "control flow" in one_line(e)


def test_a_batch_sized_constant_is_refused_with_dynamic_axes() -> None:
    model = Lambda(lambda x: x + cr.tensor(np.ones((x.shape[0], 4), np.float32)))
    export(model, (x34(),), io.BytesIO())  # a fixed batch: a constant is fine
    with pytest.raises(OnnxExporterError) as e:
        export(model, (x34(),), io.BytesIO(), input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    assert "changes shape with the dynamic axes" in one_line(e)


def test_inputs_that_share_a_dim_need_the_same_dynamic_axes() -> None:
    with pytest.raises(OnnxExporterError) as e:
        export(Lambda2(), (x34(), x34(1)), io.BytesIO(), input_names=["a", "b"], dynamic_axes={"a": {0: "batch"}})
    assert "declare the same dynamic axes for every input that shares a dim" in one_line(e)


def test_dropout_in_training_mode_is_refused_unless_eval() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)).train()
    export(model, (x34(),), io.BytesIO())  # TrainingMode.EVAL: dropout is the identity
    with pytest.raises(OnnxExporterError, match="Dropout"):
        export(model, (x34(),), io.BytesIO(), training=TrainingMode.PRESERVE)
    assert model.training  # put back after either export


def test_an_unbatched_lstm_input_is_refused_by_name() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(4, 3)

        def forward(self, x: cr.Tensor) -> cr.Tensor:
            return self.lstm(x)[0]

    with pytest.raises(UnsupportedOperatorError, match="module 'lstm' .LSTM.*add the batch dim"):
        export(Net(), (x34(),), io.BytesIO())


BAD_ARGUMENTS = [
    ({"args": (np.zeros((3, 4), np.float32),)}, ArgumentTypeError, "args\\[0\\] must be a Tensor"),
    ({"opset_version": 12}, ArgumentError, "opset_version 12 is not supported"),
    ({"opset_version": "17"}, ArgumentTypeError, "'opset_version' must be an int"),
    ({"training": TrainingMode.TRAINING}, ArgumentError, "TrainingMode.TRAINING is not supported"),
    ({"dynamic_axes": {"y": {0: "batch"}}}, ArgumentError, "dynamic_axes names 'y'"),
    ({"dynamic_axes": {"x": {2: "batch"}}}, ArgumentError, "axis 2, but x has 2 dims"),
    ({"input_names": ["a", "b"]}, ArgumentError, "2 input_names given for 1 inputs"),
    ({"input_names": ["x", "x"], "args": (x34(), x34())}, ArgumentError, "names a value twice"),
    ({"dynamo": True}, ArgumentError, "dynamo=True"),
    ({"custom_opsets": {"mine": 1}}, ArgumentError, "custom_opsets"),
    ({"export_params": "yes"}, ArgumentTypeError, "'export_params' must be a bool"),
    ({"f": 42}, ArgumentTypeError, "'f' must be a path or a binary file object"),
]


@pytest.mark.parametrize(("change", "error", "match"), BAD_ARGUMENTS)
def test_bad_arguments(change: dict[str, Any], error: type, match: str) -> None:
    model = Lambda(cr.relu) if "args" not in change or len(change["args"]) == 1 else Lambda2()
    kwargs = {"args": (x34(),), "f": io.BytesIO(), "input_names": ["x"], **change}
    with pytest.raises(error, match=match):
        export(model, **kwargs)


class Lambda2(nn.Module):
    def forward(self, a: cr.Tensor, b: cr.Tensor) -> cr.Tensor:
        return a + b


def test_a_refused_export_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous")
    with pytest.raises(UnsupportedOperatorError):
        export(Lambda(lambda x: Cumsum()(x)), (x34(),), target)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]  # no temporary file left behind
    export(Lambda(cr.relu), (x34(),), target)
    assert target.read_bytes() != b"previous"
    import onnx

    onnx.checker.check_model(onnx.load(str(target)), full_check=True)


def test_export_params_false_makes_parameters_inputs() -> None:
    buffer = io.BytesIO()
    export(nn.Linear(4, 2), (x34(),), buffer, export_params=False, input_names=["x"])
    import onnx

    proto = onnx.load_from_string(buffer.getvalue())
    assert not proto.graph.initializer
    assert [i.name for i in proto.graph.input] == ["x", "weight", "bias"]


def test_keep_initializers_as_inputs_and_verbose(capsys: pytest.CaptureFixture) -> None:
    buffer = io.BytesIO()
    export(nn.Linear(4, 2), (x34(),), buffer, input_names=["x"], keep_initializers_as_inputs=True, verbose=True)
    import onnx

    proto = onnx.load_from_string(buffer.getvalue())
    assert [i.name for i in proto.graph.input] == ["x", "weight", "bias"]
    assert {i.name for i in proto.graph.initializer} == {"weight", "bias"}
    assert "Gemm" in capsys.readouterr().out


def test_importing_chainrule_loads_no_onnx() -> None:
    import subprocess
    import sys

    code = "import sys, chainrule; print(sorted(m for m in ('onnx', 'onnxruntime') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
