"""The activation, distance and bilinear layers export to ONNX and give onnxruntime's outputs at two batch sizes
(within 1e-5, float32), each with its own ONNX op where ONNX has one."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from onnx_helpers import ops_of, randn, roundtrip

import chainrule as cr
from chainrule import nn


def rows(*shape: int, scale: float = 4.0) -> Callable[[int], list[np.ndarray]]:
    """Values spread over [−4·3, 4·3]: every piece of the piecewise activations is visited."""
    return lambda n: [randn(np.random.default_rng(n), n, *shape) * np.float32(scale)]


def pairs(*shape: int) -> Callable[[int], list[np.ndarray]]:
    return lambda n: [randn(np.random.default_rng(n), n, *shape), randn(np.random.default_rng(n + 100), n, *shape)]


def prelu(channels: int) -> nn.Module:
    layer = nn.PReLU(channels)
    layer.weight.data.copy_(cr.tensor(np.linspace(-0.5, 1.5, channels, dtype=np.float32)))
    return layer


class Pair(nn.Module):
    """Runs a two-input layer on its two inputs (the harness gives one input list)."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, a: cr.Tensor, b: cr.Tensor) -> cr.Tensor:
        return self.layer(a, b)


class Normalize(nn.Module):
    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return nn.functional.normalize(x, self.p, 1)


# case → (the model, the inputs at batch size n, the ONNX op that must appear)
LAYERS: dict[str, tuple[Callable[[], nn.Module], Callable[[int], list[np.ndarray]], str]] = {
    "ReLU6": (nn.ReLU6, rows(3, 4), "Clip"),
    "Hardtanh": (lambda: nn.Hardtanh(-2.0, 0.5), rows(5), "Clip"),
    "Hardswish": (nn.Hardswish, rows(3, 4), "HardSwish"),
    "Hardsigmoid": (nn.Hardsigmoid, rows(3, 4), "HardSigmoid"),
    "Threshold": (lambda: nn.Threshold(0.5, -2.0), rows(6), "Where"),
    "PReLU shared": (nn.PReLU, rows(3, 4), "PRelu"),
    "PReLU per channel": (lambda: prelu(3), rows(3, 4, 2), "PRelu"),
    "SELU": (nn.SELU, rows(6), "Elu"),
    "SiLU": (nn.SiLU, rows(6), "Sigmoid"),
    "Mish": (nn.Mish, rows(6), "Softplus"),
    "LogSigmoid": (nn.LogSigmoid, rows(6), "Softplus"),
    "Softmin": (lambda: nn.Softmin(1), rows(6), "Softmax"),
    "GLU": (nn.GLU, rows(3, 6), "Sigmoid"),
    "GLU dim=1": (lambda: nn.GLU(1), rows(4, 3), "Sigmoid"),
    "CosineSimilarity": (lambda: Pair(nn.CosineSimilarity()), pairs(5), "ReduceL2"),
    "CosineSimilarity dim=-1": (lambda: Pair(nn.CosineSimilarity(-1)), pairs(3, 4), "ReduceL2"),
    "PairwiseDistance": (lambda: Pair(nn.PairwiseDistance()), pairs(5), "ReduceL2"),
    "PairwiseDistance p=1 keepdim": (lambda: Pair(nn.PairwiseDistance(1.0, keepdim=True)), pairs(5), "ReduceL1"),
    "PairwiseDistance p=3": (lambda: Pair(nn.PairwiseDistance(3.0)), pairs(5), "ReduceSum"),
    "PairwiseDistance p=inf": (lambda: Pair(nn.PairwiseDistance(float("inf"))), pairs(5), "ReduceMax"),
    "normalize": (lambda: Normalize(2.0), rows(5), "ReduceL2"),
    "Bilinear": (lambda: Pair(nn.Bilinear(5, 5, 3, generator=np.random.default_rng(0))), pairs(5), "MatMul"),
}


@pytest.mark.parametrize("case", list(LAYERS))
def test_layer_exports_and_matches_onnxruntime(case: str) -> None:
    build, make, op_type = LAYERS[case]
    n_inputs = len(make(1))
    proto = roundtrip(case, build(), make, [0] * n_inputs)
    assert op_type in ops_of(proto)


def test_hardswish_before_opset_14_is_x_times_hardsigmoid() -> None:
    proto = roundtrip("Hardswish opset 13", nn.Hardswish(), rows(4), [0], opset=13)
    assert "HardSwish" not in ops_of(proto) and "HardSigmoid" in ops_of(proto)
