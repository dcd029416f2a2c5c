"""ONNX form of the fixed selection along one dim that interpolation and adaptive max pooling use
(``chainrule.ops.select_along.IndexSelect``): ``Gather`` on that axis with the positions as a constant."""

from __future__ import annotations

from collections.abc import Callable

from chainrule.onnx.graph import Graph
from chainrule.onnx.trace import OpRecord
from chainrule.ops import select_along

__all__ = ["EMITTERS"]


def _index_select(g: Graph, r: OpRecord) -> None:
    g.node("Gather", [g.inp(r, 0), g.held(r, "index")], r.outputs, axis=r.fn.dim)


EMITTERS: dict[type, Callable[[Graph, OpRecord], None]] = {
    select_along.IndexSelect: _index_select,
}
