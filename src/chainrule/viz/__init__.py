"""See the chain rule: every backward pass as a table, a sequence of steps, or a picture.

- ``explain(loss)``: the backward pass node by node (upstream gradient, local derivative(s), downstream
  gradient(s)) as a list of dicts that prints as a table;
- ``backward_steps(loss)``: the same, one ``Step`` at a time;
- ``draw(loss, "graph.svg")``: the graph as SVG (laid out by chainrule, no Graphviz needed) or DOT;
- ``to_html(loss, "steps.html")``: one self-contained page that steps through the forward and backward pass
  (``record_modules(model)`` groups a model's ops by module);
- ``explain_conv(X, W, b, stride=2)``: a small convolution element by element, forward and backward;
- ``plot_curves``, ``plot_confusion``, ``plot_gradient_norms``: training and BPTT plots as PNG (matplotlib,
  imported on first use).

Nothing here releases the graph or changes ``.grad``: call them before or instead of ``loss.backward()``.
"""

from chainrule.viz.conv_explain import ConvExplanation, explain_conv
from chainrule.viz.explain import Explanation, explain, format_table
from chainrule.viz.graph import build_graph, to_dot
from chainrule.viz.html import page_data, to_html
from chainrule.viz.module_groups import ModuleRecord, record_modules
from chainrule.viz.plots import plot_confusion, plot_curves, plot_gradient_norms
from chainrule.viz.render import draw, to_svg
from chainrule.viz.steps import BackwardWalk, Step, backward_steps

__all__ = [
    "BackwardWalk", "ConvExplanation", "Explanation", "Step", "backward_steps", "build_graph", "draw", "explain",
    "explain_conv", "format_table", "plot_confusion", "plot_curves", "plot_gradient_norms", "to_dot", "to_svg",
    "ModuleRecord", "page_data", "record_modules", "to_html",
]
