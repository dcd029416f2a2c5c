"""The graph as a picture: ``to_svg`` (laid out by chainrule or by Graphviz) and ``draw`` (SVG or DOT written to a
file, atomically). The boxes and edges come from ``graph.py``; chainrule's own SVG layout from ``svg.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from chainrule.errors import ArgumentError, ArgumentTypeError
from chainrule.io import atomic_write
from chainrule.tensor import Tensor
from chainrule.viz.graph import build_graph, graph_to_dot, graphviz_svg, to_dot
from chainrule.viz.steps import Names
from chainrule.viz.svg import render_svg

__all__ = ["LAYOUTS", "draw", "to_svg"]

LAYOUTS = ("chainrule", "graphviz", "auto")


def to_svg(output: Tensor, grad: Any = None, names: Names = None, layout: str = "chainrule") -> str:
    """The graph of ``output`` as SVG, laid out by chainrule (default) or by Graphviz (``layout='graphviz'``;
    ``'auto'`` uses Graphviz when its ``dot`` is installed)."""
    if layout not in LAYOUTS:
        raise ArgumentError(f"to_svg: layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    g = build_graph(output, grad, names)
    if layout == "graphviz" or (layout == "auto" and shutil.which("dot")):
        return graphviz_svg(graph_to_dot(g))
    return render_svg(g)


def draw(
    output: Tensor, path: str | Path, grad: Any = None, names: Names = None, layout: str = "chainrule",
    format: str | None = None,  # noqa: A002 - the natural name
) -> str:
    """Write the graph of ``output`` to ``path``: SVG for ``.svg``, DOT for ``.dot``/``.gv`` (or ``format``).

    Every value box shows its name, its value and ∂output/∂value (shape, norm, min/max and the fraction of
    zeros for big tensors); every op its name and pattern; every edge upstream × local = downstream. Returns
    the text written. The graph is not released, so ``output.backward()`` still works afterwards.
    """
    if not isinstance(path, (str, Path)):
        raise ArgumentTypeError(f"draw: path must be a str or a Path, got {type(path).__name__}")
    if format is not None and not isinstance(format, str):
        raise ArgumentTypeError(f"draw: format must be 'svg', 'dot' or None, got {type(format).__name__}")
    path = Path(path)
    kind = (format if format is not None else path.suffix.lstrip(".")).lower()
    if kind == "svg":
        text = to_svg(output, grad, names, layout)
    elif kind in ("dot", "gv"):
        text = to_dot(output, grad, names)
    else:
        raise ArgumentError(
            f"draw: cannot tell the format of {str(path)!r}; use a .svg or .dot file or format='svg' or 'dot'"
        )
    data = text.encode("utf-8")  # encoded before the file is touched: a failure leaves the old file as it was
    atomic_write(path, lambda f: f.write(data))  # a temporary file renamed: never a half-written picture
    return text
