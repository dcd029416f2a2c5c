"""The named pairs that max, min, median, sort and topk return along a dim, as PyTorch's ``torch.return_types``.

Each is a tuple ``(values, indices)``: it unpacks (``values, indices = cr.max(x, 1)``), indexes (``r[0]``) and
has the fields ``.values`` and ``.indices``; its repr names the op, as PyTorch's does.
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["max", "median", "min", "sort", "topk"]


class _Pair(NamedTuple):
    values: Any
    indices: Any


def _pair(name: str) -> type:
    def _repr(self: Any) -> str:
        return f"chainrule.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"

    namespace = {"__repr__": _repr, "__slots__": (), "__module__": "chainrule.return_types",
                 "__doc__": f"(values, indices) from ``{name}`` along a dim."}
    return type(name, (_Pair,), namespace)


max = _pair("max")  # noqa: A001 - PyTorch's name
min = _pair("min")  # noqa: A001 - PyTorch's name
median = _pair("median")
sort = _pair("sort")
topk = _pair("topk")
