"""Every layer chainrule has that ONNX has, exported and run in onnxruntime at two batch sizes (dynamic batch
axis) against chainrule's outputs; and which ONNX ops each one becomes."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from onnx_helpers import ops_of, randn, roundtrip

import chainrule as cr
from chainrule import nn


def images(c: int = 3, h: int = 9, w: int = 9, positive: bool = False) -> Callable[[int], list[np.ndarray]]:
    def make(n: int) -> list[np.ndarray]:
        x = randn(np.random.default_rng(n), n, c, h, w)
        return [np.abs(x) + np.float32(0.1) if positive else x]
    return make


def rows(*shape: int) -> Callable[[int], list[np.ndarray]]:
    return lambda n: [randn(np.random.default_rng(n), n, *shape)]


def with_stats(bn: nn.Module, seed: int = 0) -> nn.Module:
    """A batch norm as after training: statistics and affine parameters away from their initial values."""
    rng = np.random.default_rng(seed)
    n = bn.num_features
    bn.running_mean.data[...] = rng.standard_normal(n).astype(np.float32)
    bn.running_var.data[...] = rng.uniform(0.5, 2.0, n).astype(np.float32)
    if bn.weight is not None:
        bn.weight.data[...] = rng.uniform(0.5, 1.5, n).astype(np.float32)
        bn.bias.data[...] = rng.standard_normal(n).astype(np.float32)
    return bn


def trained_layer_norm(ln: nn.LayerNorm) -> nn.LayerNorm:
    rng = np.random.default_rng(1)
    if ln.weight is not None:
        ln.weight.data[...] = rng.uniform(0.5, 1.5, ln.weight.shape).astype(np.float32)
    if ln.bias is not None:
        ln.bias.data[...] = rng.standard_normal(ln.bias.shape).astype(np.float32)
    return ln


def seeded(layer: Callable[..., nn.Module], *args: Any, **kwargs: Any) -> nn.Module:
    return layer(*args, generator=np.random.default_rng(0), **kwargs)


# case → (the model, the inputs at batch size n, the ONNX op that must appear)
LAYERS: dict[str, tuple[Callable[[], nn.Module], Callable[[int], list[np.ndarray]], str]] = {
    "Linear": (lambda: seeded(nn.Linear, 6, 4), rows(6), "Gemm"),
    "Linear 3-D input": (lambda: seeded(nn.Linear, 6, 4), rows(3, 6), "MatMul"),
    "Linear bias=False": (lambda: seeded(nn.Linear, 6, 4, bias=False), rows(6), "Gemm"),
    "Conv2d": (lambda: seeded(nn.Conv2d, 3, 4, 3), images(), "Conv"),
    "Conv2d stride/padding": (lambda: seeded(nn.Conv2d, 3, 4, (3, 2), stride=2, padding=(1, 2)), images(), "Conv"),
    "Conv2d dilation": (lambda: seeded(nn.Conv2d, 3, 4, 3, dilation=2, padding=1), images(), "Conv"),
    "Conv2d groups": (lambda: seeded(nn.Conv2d, 4, 6, 3, groups=2, bias=False), images(4), "Conv"),
    "Conv2d padding='same'": (lambda: seeded(nn.Conv2d, 3, 2, 4, padding="same"), images(), "Conv"),
    "Conv2d padding_mode=reflect": (lambda: seeded(nn.Conv2d, 3, 2, 3, padding=1, padding_mode="reflect"),
                                    images(), "Gather"),
    "ConvTranspose2d": (lambda: seeded(nn.ConvTranspose2d, 3, 4, 3), images(h=5, w=6), "ConvTranspose"),
    "ConvTranspose2d stride/padding/output_padding": (
        lambda: seeded(nn.ConvTranspose2d, 3, 2, 3, stride=2, padding=1, output_padding=1), images(h=5, w=4),
        "ConvTranspose"),
    "ConvTranspose2d groups/dilation": (lambda: seeded(nn.ConvTranspose2d, 4, 6, 2, groups=2, dilation=2),
                                        images(4, 5, 5), "ConvTranspose"),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), images(), "MaxPool"),
    "MaxPool2d stride/padding": (lambda: nn.MaxPool2d(3, stride=2, padding=1), images(), "MaxPool"),
    "MaxPool2d ceil_mode": (lambda: nn.MaxPool2d(2, ceil_mode=True), images(), "MaxPool"),
    "MaxPool2d dilation": (lambda: nn.MaxPool2d(2, dilation=2), images(), "MaxPool"),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), images(), "AveragePool"),
    "AvgPool2d padding": (lambda: nn.AvgPool2d(3, stride=2, padding=1), images(), "AveragePool"),
    "AvgPool2d count_include_pad=False": (lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
                                          images(), "AveragePool"),
    "AvgPool2d ceil_mode": (lambda: nn.AvgPool2d(2, ceil_mode=True), images(), "AveragePool"),
    "AvgPool2d divisor_override": (lambda: nn.AvgPool2d(2, divisor_override=3), images(), "AveragePool"),
    "LPPool2d p=2": (lambda: nn.LPPool2d(2, 2), images(), "AveragePool"),
    "LPPool2d p=3 ceil_mode": (lambda: nn.LPPool2d(3, (2, 3), stride=2, ceil_mode=True), images(positive=True),
                               "AveragePool"),
    "LPPool2d p=1": (lambda: nn.LPPool2d(1, 3), images(), "AveragePool"),
    "LPPool2d p=inf": (lambda: nn.LPPool2d(math.inf, 2), images(), "MaxPool"),
    "LPPool2d mean p=2": (lambda: nn.LPPool2d(2, 2, mean=True), images(), "AveragePool"),  # the mean itself
    "LPPool2d mean p=3 ceil_mode": (lambda: nn.LPPool2d(3, (2, 3), stride=2, ceil_mode=True, mean=True),
                                    images(positive=True), "Mul"),
    "LPPool2d mean p=1": (lambda: nn.LPPool2d(1, 3, mean=True), images(), "AveragePool"),
    "AdaptiveAvgPool2d 1": (lambda: nn.AdaptiveAvgPool2d(1), images(), "GlobalAveragePool"),
    "AdaptiveAvgPool2d divisible": (lambda: nn.AdaptiveAvgPool2d(3), images(), "AveragePool"),
    "AdaptiveAvgPool2d uneven windows": (lambda: nn.AdaptiveAvgPool2d((4, 2)), images(h=7, w=5), "MatMul"),
    "BatchNorm2d": (lambda: with_stats(nn.BatchNorm2d(3)), images(), "BatchNormalization"),
    "BatchNorm1d (N, C)": (lambda: with_stats(nn.BatchNorm1d(6)), rows(6), "BatchNormalization"),
    "BatchNorm1d (N, C, L)": (lambda: with_stats(nn.BatchNorm1d(4)), rows(4, 7), "BatchNormalization"),
    "BatchNorm2d affine=False": (lambda: with_stats(nn.BatchNorm2d(3, affine=False)), images(),
                                 "BatchNormalization"),
    "BatchNorm2d track_running_stats=False": (lambda: nn.BatchNorm2d(3, track_running_stats=False), images(),
                                              "ReduceMean"),
    "LayerNorm": (lambda: trained_layer_norm(nn.LayerNorm(6)), rows(6), "LayerNormalization"),
    "LayerNorm 2 dims": (lambda: trained_layer_norm(nn.LayerNorm((4, 5))), rows(3, 4, 5), "LayerNormalization"),
    "LayerNorm elementwise_affine=False": (lambda: nn.LayerNorm(6, elementwise_affine=False), rows(6),
                                           "LayerNormalization"),
    "LayerNorm bias=False": (lambda: trained_layer_norm(nn.LayerNorm(6, bias=False)), rows(6), "LayerNormalization"),
    "ReLU": (nn.ReLU, rows(7), "Relu"),
    "Sigmoid": (nn.Sigmoid, rows(7), "Sigmoid"),
    "Tanh": (nn.Tanh, rows(7), "Tanh"),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2), rows(7), "LeakyRelu"),
    "ELU": (lambda: nn.ELU(0.7), rows(7), "Elu"),
    "GELU": (nn.GELU, rows(7), "Erf"),
    "GELU tanh": (lambda: nn.GELU("tanh"), rows(7), "Tanh"),
    "Softplus": (nn.Softplus, rows(7), "Softplus"),
    "Softplus beta/threshold": (lambda: nn.Softplus(beta=2.0, threshold=1.0), rows(7), "Softplus"),
    "Softmax": (lambda: nn.Softmax(dim=1), rows(7), "Softmax"),
    "Softmax dim 1 of 3": (lambda: nn.Softmax(dim=1), rows(4, 3), "Softmax"),
    "LogSoftmax": (lambda: nn.LogSoftmax(dim=-1), rows(7), "LogSoftmax"),
    "Dropout (eval)": (lambda: nn.Sequential(seeded(nn.Linear, 5, 3), nn.Dropout(0.5)), rows(5), "Gemm"),
    "Flatten": (nn.Flatten, images(), "Reshape"),
    "Flatten start_dim=2": (lambda: nn.Flatten(2), images(), "Reshape"),
    "Unflatten": (lambda: nn.Unflatten(1, (2, 3)), rows(6), "Reshape"),
    "Identity": (nn.Identity, rows(3), "Identity"),
}


@pytest.mark.parametrize("case", list(LAYERS))
def test_layer_exports_and_matches_onnxruntime(case: str) -> None:
    build, make, op_type = LAYERS[case]
    proto = roundtrip(case, build(), make, [0])
    assert op_type in ops_of(proto)


class Embed(nn.Module):
    def __init__(self, padding_idx: int | None = None) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4, padding_idx=padding_idx, generator=np.random.default_rng(0))

    def forward(self, tokens: cr.Tensor) -> cr.Tensor:
        return self.embed(tokens)


@pytest.mark.parametrize("padding_idx", [None, 0])
def test_embedding_is_a_gather_of_its_weight(padding_idx: int | None) -> None:
    def tokens(n: int) -> list[np.ndarray]:
        return [np.random.default_rng(n).integers(0, 10, (n, 5)).astype(np.int64)]

    proto = roundtrip("Embedding" + ("" if padding_idx is None else " padding_idx"), Embed(padding_idx), tokens, [0])
    assert ops_of(proto) == ["Gather"]
    assert [i.name for i in proto.graph.initializer] == ["embed.weight"]


def test_parameters_are_initializers_named_by_module_path() -> None:
    model = nn.Sequential(nn.Sequential(seeded(nn.Conv2d, 3, 2, 3), with_stats(nn.BatchNorm2d(2))), nn.Flatten(),
                          seeded(nn.Linear, 98, 3))
    proto = roundtrip("named initializers", model, images(), [0])
    names = {i.name for i in proto.graph.initializer}
    assert {"0.0.weight", "0.0.bias", "0.1.weight", "0.1.bias", "0.1.running_mean", "0.1.running_var",
            "2.weight", "2.bias"} <= names
    weight = next(i for i in proto.graph.initializer if i.name == "0.0.weight")
    from onnx import numpy_helper

    np.testing.assert_array_equal(numpy_helper.to_array(weight), model[0][0].weight.numpy())
    assert "0.1.num_batches_tracked" not in names  # buffers no op reads are not written
