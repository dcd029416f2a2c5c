"""The 1-D convolution and pooling layers, adaptive max pooling, group and instance norm, upsampling, the pixel
and channel shuffles and the padding layers, exported and run in onnxruntime at two batch sizes (dynamic batch
axis) against chainrule's outputs; and which ONNX ops each one becomes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from onnx_helpers import ops_of, randn, roundtrip

from chainrule import nn


def signals(c: int = 3, length: int = 11) -> Callable[[int], list[np.ndarray]]:
    return lambda n: [randn(np.random.default_rng(n), n, c, length)]


def images(c: int = 3, h: int = 7, w: int = 9) -> Callable[[int], list[np.ndarray]]:
    return lambda n: [randn(np.random.default_rng(n), n, c, h, w)]


def seeded(layer: Callable[..., nn.Module], *args, **kwargs) -> nn.Module:
    return layer(*args, generator=np.random.default_rng(0), **kwargs)


def trained(norm: nn.Module, seed: int = 0) -> nn.Module:
    """A norm layer as after training: affine parameters and running statistics away from their start."""
    rng = np.random.default_rng(seed)
    for name, t in list(norm.named_parameters()) + list(norm.named_buffers()):
        if name == "num_batches_tracked":
            continue
        low = 0.5 if name in ("weight", "running_var") else -1.0
        t.data[...] = rng.uniform(low, 1.5, t.shape).astype(np.float32)
    return norm


# case → (the model, the inputs at batch size n, the ONNX op that must appear)
LAYERS: dict[str, tuple[Callable[[], nn.Module], Callable[[int], list[np.ndarray]], str]] = {
    "Conv1d": (lambda: seeded(nn.Conv1d, 3, 4, 3), signals(), "Conv"),
    "Conv1d stride/padding/dilation/groups": (lambda: seeded(nn.Conv1d, 4, 6, 3, stride=2, padding=2, dilation=2,
                                                             groups=2), signals(4), "Conv"),
    "Conv1d padding='same' reflect": (lambda: seeded(nn.Conv1d, 3, 2, 4, padding="same", padding_mode="reflect"),
                                      signals(), "Gather"),
    "ConvTranspose1d": (lambda: seeded(nn.ConvTranspose1d, 3, 4, 3, stride=2, padding=1, output_padding=1),
                        signals(length=6), "ConvTranspose"),
    "MaxPool1d": (lambda: nn.MaxPool1d(3, stride=2, padding=1), signals(), "MaxPool"),
    "MaxPool1d ceil_mode/dilation": (lambda: nn.MaxPool1d(2, dilation=2, ceil_mode=True), signals(), "MaxPool"),
    "AvgPool1d": (lambda: nn.AvgPool1d(3, stride=2, padding=1, count_include_pad=False), signals(), "AveragePool"),
    "AdaptiveAvgPool1d": (lambda: nn.AdaptiveAvgPool1d(4), signals(), "MatMul"),
    "AdaptiveMaxPool1d": (lambda: nn.AdaptiveMaxPool1d(4), signals(), "ReduceMax"),
    "AdaptiveMaxPool2d uneven windows": (lambda: nn.AdaptiveMaxPool2d((3, 4)), images(), "ReduceMax"),
    "AdaptiveMaxPool2d divisible": (lambda: nn.AdaptiveMaxPool2d((7, 3)), images(), "MaxPool"),
    "GroupNorm": (lambda: trained(nn.GroupNorm(2, 6)), images(6), "LayerNormalization"),
    "GroupNorm affine=False": (lambda: nn.GroupNorm(3, 3, affine=False), images(3), "LayerNormalization"),
    "InstanceNorm1d": (lambda: trained(nn.InstanceNorm1d(3, affine=True)), signals(), "LayerNormalization"),
    "InstanceNorm2d running stats (eval)": (lambda: trained(nn.InstanceNorm2d(3, track_running_stats=True)),
                                            images(), "Mul"),
    "Upsample nearest": (lambda: nn.Upsample(scale_factor=2), images(), "Gather"),
    "Upsample bilinear": (lambda: nn.Upsample(size=(10, 5), mode="bilinear"), images(), "Gather"),
    "Upsample bilinear align_corners": (lambda: nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True),
                                        images(), "Gather"),
    "Upsample linear": (lambda: nn.Upsample(size=15, mode="linear"), signals(), "Gather"),
    "PixelShuffle": (lambda: nn.PixelShuffle(2), images(8, 3, 4), "Transpose"),
    "PixelUnshuffle": (lambda: nn.PixelUnshuffle(2), images(2, 4, 6), "Transpose"),
    "ChannelShuffle": (lambda: nn.ChannelShuffle(3), images(6), "Transpose"),
    "ZeroPad2d": (lambda: nn.ZeroPad2d((1, 2, 0, 3)), images(), "Pad"),
    "ConstantPad1d": (lambda: nn.ConstantPad1d((2, 1), 1.5), signals(), "Pad"),
    "ReflectionPad2d": (lambda: nn.ReflectionPad2d(2), images(), "Gather"),
    "ReplicationPad2d": (lambda: nn.ReplicationPad2d((1, 0, 2, 1)), images(), "Gather"),
    "Dropout1d, AlphaDropout (eval)": (lambda: nn.Sequential(seeded(nn.Conv1d, 3, 3, 1), nn.Dropout1d(0.5),
                                                             nn.AlphaDropout(0.2)), signals(), "Conv"),
    "Dropout2d (eval)": (lambda: nn.Sequential(nn.Dropout2d(0.5), nn.PixelUnshuffle(1)), images(), "Reshape"),
}


@pytest.mark.parametrize("case", list(LAYERS))
def test_layer_exports_and_matches_onnxruntime(case: str) -> None:
    build, make, op_type = LAYERS[case]
    proto = roundtrip(case, build(), make, [0])
    assert op_type in ops_of(proto)
