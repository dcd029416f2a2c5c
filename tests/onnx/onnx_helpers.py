"""Export a model, check the file with ``onnx.checker``, run it in onnxruntime at two batch sizes and compare
with chainrule's own outputs. ``DIFFS`` collects the largest difference seen per case;
tests/onnx/report_differences.py runs the tests and prints them."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.onnx import IR_VERSIONS, export

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

DIFFS: dict[str, float] = {}
TOLERANCE = 1e-5  # float32


def flat(value: Any) -> list[Any]:
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in flat(v)]
    return [value]


def session(data: bytes) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # the test machine's cores are shared
    options.inter_op_num_threads = 1
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def exported(model: cr.nn.Module, args: Sequence[Any], **kwargs: Any) -> Any:
    """The ModelProto written by export (into memory), after the full checker."""
    buffer = io.BytesIO()
    export(model, tuple(args), buffer, **kwargs)
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    return proto


def roundtrip(case: str, model: cr.nn.Module, make: Callable[[int], Sequence[np.ndarray]],
              batch_axes: Sequence[int | None], sizes: tuple[int, int] = (2, 5), opset: int = 17,
              tolerance: float = TOLERANCE) -> Any:
    """Export ``model`` at batch ``sizes[0]`` with a dynamic batch axis per input (None: none), and assert that
    onnxruntime gives chainrule's outputs (shape, dtype, values within ``tolerance``) at both sizes. Returns
    the ModelProto."""
    model.eval()
    arrays = make(sizes[0])
    names = [f"input_{i}" for i in range(len(arrays))]
    dynamic = {n: {axis: "batch"} for n, axis in zip(names, batch_axes) if axis is not None}
    proto = exported(model, [cr.tensor(a) for a in arrays], input_names=names, dynamic_axes=dynamic,
                     opset_version=opset)
    assert proto.ir_version == IR_VERSIONS[opset]
    assert proto.opset_import[0].version == opset
    run = session(proto.SerializeToString())
    worst = 0.0
    for n in sizes:
        arrays = make(n)
        with cr.no_grad():
            expected = [t.numpy() for t in flat(model(*[cr.tensor(a) for a in arrays]))]
        got = run.run(None, dict(zip(names, arrays)))
        assert len(got) == len(expected)
        for e, o in zip(expected, got):
            assert o.shape == e.shape, (o.shape, e.shape)
            assert o.dtype == e.dtype, (o.dtype, e.dtype)
            if e.dtype.kind == "f":
                diff = float(np.max(np.abs(o.astype(np.float64) - e), initial=0.0, where=~np.isnan(e)))
                assert np.array_equal(np.isnan(o), np.isnan(e))
                assert diff <= tolerance, f"{case}: largest difference {diff:.3g} > {tolerance}"
                worst = max(worst, diff)
            else:
                assert np.array_equal(o, e)
    DIFFS[case] = max(DIFFS.get(case, 0.0), worst)
    return proto


def ops_of(proto: Any) -> list[str]:
    return [node.op_type for node in proto.graph.node]


def randn(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)
