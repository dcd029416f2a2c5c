"""The computational graph as boxes and arrows: one box per value (name, value, grad), one per op, and edges
labelled upstream × local = downstream. Written as Graphviz DOT here, as SVG in ``svg.py``; ``render.py`` picks
one and writes the file.

Layout is by columns: a value made by an op of generation g sits in column 2g + 2, the op in 2g + 1, and a
leaf or constant just left of the first op that uses it, so the picture reads left to right as the forward
pass ran and right to left as the backward pass runs.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainrule.errors import ChainruleError
from chainrule.tensor import Tensor
from chainrule.viz.steps import BackwardWalk, InputStep, Names, Step, forward_inputs
from chainrule.viz.values import fmt_value, statistics, to_numpy

SMALL = 4  # tensors with at most this many elements show their values; bigger ones a summary


@dataclass
class Node:
    id: str
    kind: str  # "value" or "op"
    role: str  # value: "leaf", "constant", "inner" or "output"; op: its pattern or "op"
    lines: list[str]
    column: int
    title: str = ""
    order: int = 0  # forward order, the first guess of the vertical order within a column


@dataclass
class Edge:
    source: str
    target: str
    label: list[str] = field(default_factory=list)
    constant: bool = False  # into an op from a value that needs no gradient


@dataclass
class Graph:
    nodes: list[Node]
    edges: list[Edge]
    title: str = ""

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)


def _shape(a: np.ndarray) -> str:
    return "(" + ", ".join(str(n) for n in a.shape) + ("," if a.ndim == 1 else "") + ")"


def box_value(label: str, value: Any) -> str:
    """``value 3`` or ``grad [1, 2]`` for small tensors; norm, min/max and zeros for big ones."""
    a = to_numpy(value)
    if a is None:
        return f"{label} —"
    if a.size <= SMALL:
        return f"{label} {fmt_value(a, SMALL, digits=4)}"
    return f"{label} {statistics(a)}"


def edge_label(step: Step, inp: InputStep) -> list[str]:
    """``upstream × local = downstream``, with numbers when all three are small, else the formula."""
    if inp.downstream is None:
        return []
    up = to_numpy(None if isinstance(step.upstream, tuple) else step.upstream)
    local = to_numpy(None if isinstance(inp.local, tuple) else inp.local)  # a tuple: one per output (LSTM)
    down = to_numpy(inp.downstream)
    product = inp.rule.product
    if all(v is not None and v.size <= SMALL for v in (up, down)):
        if product is None and local is not None and local.size <= SMALL:
            shown = fmt_value(local, digits=4)
            text = f"{_factor(up)} × {_factor(local)} = {fmt_value(down, digits=4)}"
            return [text] if inp.formula in (shown, "—") else [text, f"local {inp.formula}"]
        if product is not None:
            return [f"{product} = {fmt_value(down, digits=4)}", f"G = {fmt_value(up, digits=4)}"]
        return [f"downstream {fmt_value(down, digits=4)}"]
    first = f"downstream = {product}" if product else f"local {inp.formula}" if inp.formula != "—" else ""
    return [line for line in (first, box_value("grad", inp.downstream)) if line]


def _factor(a: np.ndarray) -> str:
    """A number in a product: negative ones in brackets, 1 × (-4)."""
    text = fmt_value(a, digits=4)
    return f"({text})" if text.startswith("-") else text


def build_graph(output: Tensor, grad: Any = None, names: Names = None, walk: BackwardWalk | None = None) -> Graph:
    """The boxes and edges of ``output``'s graph, with every value's gradient from one backward walk."""
    walk = walk if walk is not None else BackwardWalk(output, grad, names, op="draw")
    walk.run()
    trace = walk.graph
    steps = {id(s.function): s for s in walk.steps}
    functions = sorted(reversed(trace.functions), key=lambda f: f.generation)  # forward order
    op_ids = {id(fn): f"op{k}" for k, fn in enumerate(functions, start=1)}
    ordered = forward_inputs(trace)
    seen = {id(t) for t in ordered}
    for t in sorted(reversed(list(trace.tensors.values())), key=lambda t: t.generation):
        if id(t) not in seen:
            ordered.append(t)
            seen.add(id(t))
    value_ids = {id(t): f"v{k}" for k, t in enumerate(ordered, start=1)}

    first_use: dict[int, int] = {}
    for fn in functions:
        for x in fn.inputs:
            first_use.setdefault(id(x), 2 * fn.generation + 1)

    nodes = [_value_node(t, value_ids[id(t)], k, walk, output, first_use) for k, t in enumerate(ordered)]
    for fn in functions:
        step = steps.get(id(fn))
        pattern = step.pattern if step else ""
        name = step.op if step else type(fn).__name__.lower()
        lines = [name] + ([pattern] if pattern else [])
        title = f"{name} ({type(fn).__name__})"
        nodes.append(Node(op_ids[id(fn)], "op", pattern or "op", lines, 2 * fn.generation + 1, title, len(nodes)))

    edges: list[Edge] = []
    for fn in functions:
        step = steps.get(id(fn))
        for k, x in enumerate(fn.inputs):
            inp = step.inputs[k] if step else None
            label = edge_label(step, inp) if step and inp else []
            constant = inp is None or inp.downstream is None
            edges.append(Edge(value_ids[id(x)], op_ids[id(fn)], label, constant))
        for ref in fn.outputs:
            out = ref()
            if out is not None and id(out) in value_ids:
                edges.append(Edge(op_ids[id(fn)], value_ids[id(out)]))
    nodes.sort(key=lambda n: (n.column, n.order))
    title = f"{walk.name(output)} = {box_value('', output).strip()}   (each edge: upstream × local = downstream)"
    return Graph(nodes, edges, title)


def _value_node(
    t: Tensor, node_id: str, order: int, walk: BackwardWalk, output: Tensor, first_use: dict[int, int]
) -> Node:
    a = to_numpy(t._data)
    name = walk.name(t)
    if t is output:
        role = "output"
    elif t.creator is None:
        role = "leaf" if t.requires_grad else "constant"
    else:
        role = "inner"
    g = walk.gradient(t)
    head = name if a.size <= SMALL else f"{name} {_shape(a)}"
    lines = [head, box_value("value", a)]
    if role != "constant":
        lines.append(box_value("grad", g))
    if t.creator is not None:
        column = 2 * t.generation
    else:
        column = first_use.get(id(t), 1) - 1
    title = f"{name}: value {fmt_value(a)}" + ("" if role == "constant" else f", grad {fmt_value(g)}")
    return Node(node_id, "value", role, lines, column, title, order)


# ----- DOT -----------------------------------------------------------------------------------------------

_FILL = {
    "leaf": "#dbeafe", "constant": "#f3f4f6", "inner": "#ffffff", "output": "#dcfce7",
    "distributes": "#e0f2fe", "swaps": "#f3e8ff", "routes": "#dcfce7", "moves": "#fef9c3", "op": "#ffedd5",
}


def _dot_text(lines: list[str]) -> str:
    text = "\n".join(lines)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def graph_to_dot(g: Graph) -> str:
    """Graphviz source for the graph (``dot -Tsvg`` lays it out left to right)."""
    out = [
        "digraph chainrule {",
        "  rankdir=LR;",
        f"  label={_dot_text([g.title])}; labelloc=t; fontname=\"monospace\"; fontsize=11;",
        '  node [fontname="monospace", fontsize=10];',
        '  edge [fontname="monospace", fontsize=9, color="#555555"];',
    ]
    for n in g.nodes:
        shape = "box" if n.kind == "value" else "ellipse"
        style = "rounded,filled" if n.kind == "value" else "filled"
        out.append(f'  {n.id} [shape={shape}, style="{style}", fillcolor="{_FILL.get(n.role, "#ffffff")}", '
                   f"label={_dot_text(n.lines)}, tooltip={_dot_text([n.title])}];")
    for e in g.edges:
        attrs = [f"label={_dot_text(e.label)}"] if e.label else []
        if e.constant and e.target.startswith("op"):
            attrs.append("style=dashed")
        out.append(f"  {e.source} -> {e.target}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    out.append("}")
    return "\n".join(out) + "\n"


def to_dot(output: Tensor, grad: Any = None, names: Names = None) -> str:
    """The graph of ``output`` as Graphviz DOT: value boxes (name, value, grad), op ellipses, labelled edges."""
    return graph_to_dot(build_graph(output, grad, names))


class GraphvizError(ChainruleError, RuntimeError):
    """Graphviz's ``dot`` is missing or failed."""


def graphviz_svg(dot_source: str, timeout: float = 60.0) -> str:
    """Lay out DOT with Graphviz's ``dot`` (found with shutil.which, run with an argument list, no shell)."""
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizError("Graphviz's dot was not found on PATH; use layout='chainrule' (no Graphviz needed)")
    try:
        result = subprocess.run([exe, "-Tsvg"], input=dot_source, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise GraphvizError(f"running dot failed: {e}") from None
    if result.returncode != 0:
        raise GraphvizError(f"dot exited with {result.returncode}: {result.stderr.strip()[:200]}")
    return result.stdout
