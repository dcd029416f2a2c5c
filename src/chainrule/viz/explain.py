"""``explain(output)``: the backward pass as a table, one row per (node, input), in the engine's order.

The table is a plain structure (a list of dicts, no pandas); printing it gives the chain rule as learners
write it on the graph: at each node, downstream = upstream × local.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from chainrule.tensor import Tensor
from chainrule.viz.steps import BackwardWalk, Names, Step
from chainrule.viz.values import fmt_value, plain


class Explanation(list):
    """The steps of a backward pass as dicts (``step``, ``node``, ``op``, ``pattern``, ``value``, ``upstream``,
    ``inputs``: a list of ``name``, ``value``, ``local``, ``local_formula``, ``product``, ``downstream``).

    Also: ``output`` (its name), ``value`` (its forward value), ``gradients`` (leaf name → ∂output/∂leaf) and
    ``steps`` (the ``Step`` objects). ``str()`` is the printed table.
    """

    def __init__(self, steps: Sequence[Step], output: str, value: Any, gradients: dict[str, Any]) -> None:
        super().__init__(step.to_dict() for step in steps)
        self.steps = list(steps)
        self.output = output
        self.value = value
        self.gradients = gradients

    def __str__(self) -> str:
        return format_table(self)

    def __repr__(self) -> str:
        return f"<Explanation of {self.output}: {len(self)} steps, gradients for {', '.join(self.gradients)}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython and Jupyter print the table
        p.text(str(self))


def explain(output: Tensor, grad: Any = None, names: Names = None) -> Explanation:
    """The backward pass of ``output``, node by node: upstream gradient, local derivative(s), downstream.

    ``grad`` is the gradient to start from (1 for a one-element output). ``names`` names tensors for the table
    (a dict name → tensor or name → Module, pairs, or a Module for its parameter paths such as ``fc1.weight``);
    otherwise ``Tensor.name``, then the caller's own variables (``x``, ``model.fc1.weight``), then ``L`` for the
    output and each intermediate's expression (``w0*x0 + w1*x1 + w2``, elided past 40 characters): the rules are
    in ``chainrule.viz.names``. The graph is not released and no ``.grad`` changes: ``output.backward()`` still
    works afterwards.
    """
    walk = BackwardWalk(output, grad, names, op="explain").run()
    return Explanation(walk.steps, walk.name(output), plain(output), walk.leaf_gradients())


HEADERS = ("step", "node", "op", "pattern", "value", "upstream", "input", "local", "downstream")


def _local_cell(entry: dict[str, Any]) -> str:
    formula, value, product = entry["local_formula"], entry["local"], entry.get("product")
    cell = formula
    if value is not None:
        shown = _fmt(value)
        cell = formula if shown == formula else f"{formula} = {shown}"
    if product:
        cell = f"{cell}; downstream = {product}" if cell else f"downstream = {product}"
    return cell


def table_rows(explanation: Iterable[dict[str, Any]]) -> list[tuple[str, ...]]:
    """The table's cells as strings: one row per input of each node, the node's own cells on its first row."""
    rows: list[tuple[str, ...]] = []
    for entry in explanation:
        head = (
            str(entry["step"]), entry["node"], entry["op"], entry["pattern"], _fmt(entry["value"]),
            _fmt(entry["upstream"]),
        )
        inputs = entry["inputs"] or [{"name": "", "local": None, "local_formula": "", "downstream": None}]
        for k, inp in enumerate(inputs):
            tail = (
                inp["name"], _local_cell(inp),
                "— (constant)" if inp["downstream"] is None and inp["name"] else _fmt(inp["downstream"]),
            )
            rows.append((head if k == 0 else ("",) * len(head)) + tail)
    return rows


def _fmt(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(fmt_value(v) for v in value) + ")"
    return fmt_value(value)


def format_table(explanation: Explanation | Sequence[dict[str, Any]], output: str | None = None) -> str:
    """The printed table: one row per (node, input) in backward order, then the gradient of every leaf."""
    name = output or getattr(explanation, "output", None) or "L"
    headers = list(HEADERS)
    headers[5] = f"upstream ∂{name}/∂node"
    headers[7] = "local ∂node/∂input"
    headers[8] = f"downstream ∂{name}/∂input"
    rows = table_rows(explanation)
    lines = []
    value = getattr(explanation, "value", None)
    if value is not None:
        lines.append(f"{name} = {fmt_value(value)}")
    lines.append("backward pass, in the engine's order; at each node: downstream = upstream × local")
    lines.append("")
    lines.extend(render_table(headers, rows, right=(0,)))
    gradients = getattr(explanation, "gradients", None)
    if gradients:
        lines.append("")
        lines.append("   ".join(f"∂{name}/∂{leaf} = {fmt_value(g)}" for leaf, g in gradients.items()))
    return "\n".join(lines)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> list[str]:
    """Columns padded to their widest cell, separated by two spaces, a rule under the header."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(padded).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]
