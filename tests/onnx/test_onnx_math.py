"""The math ops beyond arithmetic leave as ONNX: rounding, unary functions, modulo, lerp, atan2, products,
norms, flips, rolls, diagonals and einsum, each checked in onnxruntime at two batch sizes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from onnx_helpers import ops_of, roundtrip

import chainrule as cr
from chainrule import nn
from chainrule.onnx import UnsupportedOperatorError, export


class Fn(nn.Module):
    def __init__(self, fn: Callable[..., cr.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *xs: cr.Tensor) -> cr.Tensor:
        return self.fn(*xs)


def one(n: int) -> list[np.ndarray]:
    return [(np.random.default_rng(n).standard_normal((n, 3, 4)) * 2).astype(np.float32)]


def positive(n: int) -> list[np.ndarray]:
    return [np.random.default_rng(n).uniform(0.1, 3.0, (n, 3, 4)).astype(np.float32)]


def two(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(n)
    b = rng.uniform(0.5, 2.0, (n, 3, 4)) * rng.choice([-1, 1], (n, 3, 4))
    return [(rng.standard_normal((n, 3, 4)) * 3).astype(np.float32), b.astype(np.float32)]


def with_specials(n: int) -> list[np.ndarray]:
    x = one(n)[0]
    x[0, 0, :3] = [np.nan, np.inf, -np.inf]
    return [x]


def halves(n: int) -> list[np.ndarray]:
    return [(np.arange(n * 12, dtype=np.float32).reshape(n, 3, 4) - 6) / 2]  # ties at .5: round half to even


OPS: dict[str, tuple[Callable[..., cr.Tensor], Callable[[int], list[np.ndarray]], str]] = {
    "floor ceil": (lambda x: cr.floor(x) + cr.ceil(x), one, "Floor"),
    "sign": (lambda x: cr.sign(x) * x, one, "Sign"),
    "round halves": (lambda x: cr.round(x), halves, "Round"),
    "round decimals": (lambda x: cr.round(x, decimals=1), one, "Round"),
    "trunc": (lambda x: cr.trunc(x), one, "Floor"),
    "nan_to_num": (lambda x: cr.nan_to_num(x, nan=0.5, posinf=9.0), with_specials, "IsNaN"),
    "erf tan": (lambda x: cr.erf(x) + cr.tan(x * 0.3), one, "Erf"),
    "reciprocal rsqrt": (lambda x: cr.reciprocal(x) + cr.rsqrt(x), positive, "Reciprocal"),
    "log1p expm1": (lambda x: cr.log1p(x) + cr.expm1(x * 0.5), positive, "Log"),
    "log2 log10 exp2": (lambda x: cr.log2(x) + cr.log10(x) + cr.exp2(x), positive, "Pow"),
    "fmod": (lambda a, b: cr.fmod(a, b), two, "Mod"),
    "remainder": (lambda a, b: cr.remainder(a, b), two, "Floor"),
    "lerp": (lambda a, b: cr.lerp(a, b, 0.3), two, "Sub"),
    "atan2": (lambda a, b: cr.atan2(a, b), two, "Atan"),
    "prod": (lambda x: cr.prod(x, dim=1), one, "ReduceProd"),
    "norm 2 keepdim": (lambda x: cr.norm(x, dim=-1, keepdim=True), one, "ReduceL2"),
    "norm 1": (lambda x: cr.norm(x, p=1, dim=1), one, "ReduceL1"),
    "norm inf": (lambda x: cr.norm(x, p=float("inf"), dim=2), one, "ReduceMax"),
    "norm 3": (lambda x: cr.norm(x, p=3, dim=2), one, "ReduceSum"),
    "std": (lambda x: cr.std(x, dim=2), one, "Sqrt"),
    "flip": (lambda x: cr.flip(x, (1, 2)), one, "Slice"),
    "roll": (lambda x: cr.roll(x, (1, -1), (1, 2)), one, "Concat"),
    "einsum": (lambda x: cr.einsum("bij,bkj->bik", x, x), one, "Einsum"),
}


@pytest.mark.parametrize("case", sorted(OPS))
def test_math_op_exports_and_matches_onnxruntime(case: str) -> None:
    fn, make, op_type = OPS[case]
    proto = roundtrip(f"math {case}", Fn(fn), make, [0] * len(make(1)))
    assert op_type in ops_of(proto)


def test_diagonals_with_a_fixed_shape() -> None:
    def make(n: int) -> list[np.ndarray]:
        return [np.random.default_rng(n).standard_normal((4, 5)).astype(np.float32)]

    proto = roundtrip("math diag of a matrix", Fn(lambda x: cr.diag(x, 1)[:3] + cr.diag(x, -1)), make, [None],
                      sizes=(3, 3))
    assert "Gather" in ops_of(proto)
    roundtrip("math diag of a vector", Fn(lambda x: cr.diag(x[0], 2)), make, [None], sizes=(3, 3))


def test_a_roll_along_a_dynamic_axis_is_refused_by_name(tmp_path) -> None:
    with pytest.raises(UnsupportedOperatorError, match=r"onnx.export: cannot export .*shift depends on the size of"):
        export(Fn(lambda x: cr.roll(x, 1, 0)), (cr.ones(2, 3),), str(tmp_path / "m.onnx"), input_names=["x"],
               dynamic_axes={"x": {0: "batch"}})


def test_cumprod_is_refused_with_the_reason(tmp_path) -> None:
    with pytest.raises(UnsupportedOperatorError, match=r"no cumulative product"):
        export(Fn(lambda x: cr.cumprod(x, 1)), (cr.ones(2, 3),), str(tmp_path / "m.onnx"))
