"""See the chain rule: every backward pass as a table, a sequence of steps, or a picture.

- ``explain(loss)``: the backward pass node by node (upstream gradient, local derivative(s), downstream
  gradient(s)) as a list of dicts that prints as a table;
- ``backward_steps(loss)`` (also ``loss.backward_steps()``): the same, one ``Step`` at a time;
- ``draw(loss, "graph.svg")``: the graph as SVG (laid out by chainrule, no Graphviz needed) or DOT;
- ``explain_conv(X, W, b, stride=2)``: a small convolution element by element, forward and backward;
- ``evaluate("(x + y) * z", {"x": -2, ...})``: the safe expression language of ``chainrule explain``.

Nothing here releases the graph or changes ``.grad``: call them before or instead of ``loss.backward()``.
"""

from chainrule.viz.conv_explain import ConvExplanation, explain_conv
from chainrule.viz.explain import Explanation, explain, format_table
from chainrule.viz.expr import ExpressionError, evaluate, parse_binding, parse_value
from chainrule.viz.graph import build_graph, draw, to_dot, to_svg
from chainrule.viz.steps import BackwardWalk, Step, backward_steps

__all__ = [
    "BackwardWalk", "ConvExplanation", "Explanation", "ExpressionError", "Step", "backward_steps", "build_graph",
    "draw", "evaluate", "explain", "explain_conv", "format_table", "parse_binding", "parse_value", "to_dot",
    "to_svg",
]
