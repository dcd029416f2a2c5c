"""The general ops in user-written forwards: arithmetic, reductions, shapes, indexing, matmul."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from onnx_helpers import ops_of, randn, roundtrip

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F  # noqa: N812 - PyTorch's name


class Fn(nn.Module):
    """A forward given as a function of the inputs, with one parameter ``w`` (4, 4) to compute with."""

    def __init__(self, fn: Callable[..., cr.Tensor]) -> None:
        super().__init__()
        self.fn = fn
        self.w = nn.Parameter(randn(np.random.default_rng(7), 4, 4))

    def forward(self, *xs: cr.Tensor) -> cr.Tensor:
        return self.fn(self, *xs)


def two(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(n)
    return [randn(rng, n, 3, 4), randn(rng, n, 3, 4)]


def one(n: int) -> list[np.ndarray]:
    return [randn(np.random.default_rng(n), n, 3, 4)]


def one_image(n: int) -> list[np.ndarray]:
    return [randn(np.random.default_rng(n), n, 2, 5, 6)]


INDEX = np.array([[[0, 3], [1, 1], [2, 0]]])  # (1, 3, 2): along dim 2 of a (n, 3, 4) input
SOURCE = np.arange(6, dtype=np.float32).reshape(1, 3, 2)

OPS: dict[str, tuple[Callable[..., cr.Tensor], Callable[[int], list[np.ndarray]], str]] = {
    "add": (lambda m, x, y: x + y, two, "Add"),
    "sub scalar": (lambda m, x: x - 1.5, one, "Sub"),
    "mul": (lambda m, x, y: x * y * 2.0, two, "Mul"),
    "div": (lambda m, x, y: x / (y * y + 1.0), two, "Div"),
    "pow scalar": (lambda m, x: x ** 2, one, "Pow"),
    "pow tensor": (lambda m, x, y: (x * x + 0.5) ** y, two, "Pow"),
    "neg abs": (lambda m, x: -cr.abs(x), one, "Neg"),
    "exp log sqrt": (lambda m, x: cr.log(cr.exp(x) + 1.0) + cr.sqrt(cr.abs(x)), one, "Sqrt"),
    "sin cos": (lambda m, x: cr.sin(x) * cr.cos(x), one, "Sin"),
    "maximum minimum": (lambda m, x, y: cr.maximum(x, y) - cr.minimum(x, 0.2 * y), two, "Max"),
    "clamp": (lambda m, x: cr.clamp(x, -0.5, 0.7) + cr.clamp(x, min=0.1), one, "Clip"),
    "matmul": (lambda m, x: x @ m.w, one, "MatMul"),
    "sum over a dim": (lambda m, x: x.sum(dim=1), one, "ReduceSum"),
    "mean keepdim": (lambda m, x: x.mean(dim=(1, 2), keepdim=True), one, "ReduceMean"),
    "max over a dim": (lambda m, x: cr.amax(x, dim=-1), one, "ReduceMax"),
    "min over a dim": (lambda m, x: cr.amin(x, dim=1), one, "ReduceMin"),
    "logsumexp": (lambda m, x: cr.logsumexp(x, dim=2), one, "ReduceLogSumExp"),
    "var": (lambda m, x: cr.var(x, dim=2), one, "ReduceMean"),
    "view -1": (lambda m, x: x.view(x.shape[0], -1), one, "Reshape"),
    "reshape merging batch": (lambda m, x: x.reshape(-1, 4).sum(dim=1), one, "Reshape"),
    "permute transpose": (lambda m, x: x.permute(0, 2, 1).transpose(1, 2), one, "Transpose"),
    "squeeze unsqueeze": (lambda m, x: x.unsqueeze(1).squeeze(1), one, "Reshape"),
    "expand": (lambda m, x: x[:, :1, :].expand(-1, 3, 4) + x, one, "Expand"),
    "cat": (lambda m, x, y: cr.cat([x, y], dim=2), two, "Concat"),
    "stack": (lambda m, x, y: cr.stack([x, y], dim=1), two, "Concat"),
    "split": (lambda m, x: cr.split(x, [1, 3], dim=2)[1], one, "Split"),
    "chunk via split": (lambda m, x: sum(cr.split(x, 2, dim=2)), one, "Split"),
    "unbind": (lambda m, x: cr.unbind(x, 1)[2], one, "Split"),
    "pad": (lambda m, x: cr.pad(x, (1, 2, 0, 1), value=0.5), one, "Pad"),
    "slice steps": (lambda m, x: x[:, 1:, ::2], one, "Slice"),
    "slice negative": (lambda m, x: x[:, -2:, :-1], one, "Slice"),
    "reverse": (lambda m, x: x[:, ::-1], one, "Slice"),
    "int index": (lambda m, x: x[:, 1], one, "Gather"),
    "ellipsis and None": (lambda m, x: x[..., None, 0], one, "Gather"),
    "integer array index": (lambda m, x: x[:, :, [3, 0, 0]], one, "Gather"),
    "boolean mask": (lambda m, x: x[:, np.array([True, False, True])], one, "Gather"),
    "cast": (lambda m, x: (x * 3).long().float(), one, "Cast"),
    "gather": (lambda m, x: cr.gather(x, 2, cr.tensor(INDEX)), one, "GatherElements"),
    "scatter": (lambda m, x: cr.scatter(x, 2, cr.tensor(INDEX), cr.tensor(SOURCE)), one, "ScatterElements"),
    "unfold": (lambda m, x: F.unfold(x, (2, 3), padding=1, stride=(1, 2)), one_image, "Conv"),
    "fold of unfold": (lambda m, x: F.fold(F.unfold(x, 2, dilation=2), (5, 6), 2, dilation=2), one_image,
                       "ConvTranspose"),
    "cumsum": (lambda m, x: cr.cumsum(x, dim=2), one, "CumSum"),
    "repeat": (lambda m, x: x.repeat(1, 2, 1, 3), one, "Tile"),
    "tril": (lambda m, x: cr.tril(x, diagonal=1), one, "Trilu"),
    "triu": (lambda m, x: cr.triu(x), one, "Trilu"),
    "where on a constant mask": (lambda m, x, y: cr.where(cr.tensor(np.tril(np.ones((3, 4), bool))), x, y), two,
                                 "Where"),
}


@pytest.mark.parametrize("case", list(OPS))
def test_op_exports_and_matches_onnxruntime(case: str) -> None:
    fn, make, op_type = OPS[case]
    proto = roundtrip(f"op {case}", Fn(fn), make, [0] * len(make(1)))
    assert op_type in ops_of(proto)


def test_scatter_add_with_a_fixed_batch() -> None:
    fn = Fn(lambda m, x: cr.scatter_add(x, 2, cr.tensor(INDEX), x[:1, :, :2]))
    proto = roundtrip("op scatter_add", fn, one, [None], sizes=(3, 3))
    assert "ScatterElements" in ops_of(proto)


def test_median_with_a_fixed_batch() -> None:
    proto = roundtrip("op median", Fn(lambda m, x: cr.median(x) * x), one, [None], sizes=(3, 3))
    assert "TopK" in ops_of(proto)


def test_opset_18_passes_reduction_axes_as_inputs() -> None:
    proto = roundtrip("mean at opset 18", Fn(lambda m, x: x.mean(dim=1)), one, [0], opset=18)
    node = next(n for n in proto.graph.node if n.op_type == "ReduceMean")
    assert len(node.input) == 2 and not node.attribute[1:]


def test_opset_13_writes_layer_norm_as_its_definition() -> None:
    proto = roundtrip("LayerNorm at opset 13", nn.LayerNorm(4), one, [0], opset=13)
    assert "LayerNormalization" not in ops_of(proto) and "ReduceMean" in ops_of(proto)


def test_opset_20_uses_gelu() -> None:
    proto = roundtrip("GELU at opset 20", nn.GELU(), one, [0], opset=20)
    assert ops_of(proto) == ["Gelu"]


def test_float64_models_stay_float64() -> None:
    model = nn.Linear(4, 2, dtype=cr.float64)
    proto = roundtrip("Linear float64", model, lambda n: [np.random.default_rng(n).standard_normal((n, 4))], [0],
                      tolerance=1e-12)
    assert proto.graph.input[0].type.tensor_type.elem_type == 11  # DOUBLE
