"""``to_html(output, "page.html")``: one self-contained HTML page that steps through a forward and backward pass.

The page holds everything it needs (the graph as JSON, its own script and style, no network): it opens from
``file://`` on a machine without internet. It lays the graph out itself, steps through the forward pass (each
node's value) and then the backward pass in the engine's order (``BackwardWalk``), showing at each node the
upstream gradient, each input's local derivative (``chainrule.viz.local``) and their product, the downstream
gradient, and where a value fans out, its gradient as the sum of what each consumer sent back. A convolution
opens an element-by-element view (as ``explain --conv``), a recurrent layer its per-step ‖∂L/∂h_t‖ and each
step's share of ∂L/∂W_hh. Ops can be grouped by the module that ran them (``record_modules``), and groups
collapse so that big models stay readable. docs/step-through.md describes the page.

``page_data`` returns the JSON the page is built from, so that what the page shows can be tested without a
browser.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from chainrule.errors import ArgumentTypeError
from chainrule.io import atomic_write
from chainrule.nn.module import Module
from chainrule.ops import conv as conv_ops
from chainrule.tensor import Tensor
from chainrule.viz.html_views import array_json, conv_json, rnn_json
from chainrule.viz.module_groups import ModuleRecord, module_paths, module_types, parameter_owners
from chainrule.viz.steps import BackwardWalk, Names, Step, forward_inputs

__all__ = ["page_data", "render_html", "to_html"]


# ----- the data of the page ----------------------------------------------------------------------------------


def page_data(
    output: Tensor, grad: Any = None, names: Names = None, modules: ModuleRecord | None = None, title: str = "",
) -> dict[str, Any]:
    """Everything the page shows, as plain JSON-ready data: nodes, the forward and backward steps, the groups,
    and the convolution and recurrent views. ``names`` names tensors (as for ``explain``; a Module also names
    its parameters and groups ops by the module that holds the parameters they read); ``modules``, from
    ``record_modules(model)``, groups every op by the module that ran it."""
    if modules is not None and not isinstance(modules, ModuleRecord):
        raise ArgumentTypeError(
            f"to_html: modules must be what record_modules(model) yields, got {type(modules).__name__}; hint: "
            f"with cr.viz.record_modules(model) as modules: loss = ..."
        )
    walk = BackwardWalk(output, grad, names, op="to_html").run()
    trace = walk.graph
    functions = sorted(reversed(trace.functions), key=lambda f: f.generation)  # forward order
    steps = {id(s.function): s for s in walk.steps}
    model = names if isinstance(names, Module) else None

    # value nodes first (in the order the forward pass used them), then one node per op
    tensors = forward_inputs(trace)
    seen = {id(t) for t in tensors}
    for t in sorted(reversed(list(trace.tensors.values())), key=lambda t: t.generation):
        if id(t) not in seen:
            tensors.append(t)
            seen.add(id(t))
    value_id = {id(t): k for k, t in enumerate(tensors)}
    op_id = {id(fn): len(tensors) + k for k, fn in enumerate(functions)}
    backward_index = {id(s.function): k for k, s in enumerate(walk.steps)}

    op_paths = module_paths(functions, model, modules)
    owners = modules.params if modules is not None else parameter_owners(model)
    producer: dict[int, int] = {}
    for fn in functions:
        for ref in fn.outputs:
            out = ref()
            if out is not None and id(out) in value_id:
                producer[id(out)] = op_id[id(fn)]

    nodes: list[dict[str, Any]] = []
    for t in tensors:
        role = "output" if t is output else ("inner" if t.creator is not None else
                                             "leaf" if t.requires_grad else "constant")
        group = op_paths.get(id(t.creator), "") if t.creator is not None else owners.get(id(t), "")
        nodes.append({
            "id": value_id[id(t)], "k": "v", "name": walk.name(t), "role": role, "s": list(t.shape),
            "dtype": str(t.dtype), "val": array_json(t.data),
            "grad": None if role == "constant" else array_json(walk.gradient(t)),
            "g": group, "by": producer.get(id(t)),
        })
    for fn in functions:
        step = steps.get(id(fn))
        outs = [ref() for ref in fn.outputs]
        nodes.append({
            "id": op_id[id(fn)], "k": "o", "name": step.op if step else type(fn).__name__.lower(),
            "cls": type(fn).__name__, "pattern": step.pattern if step else "", "g": op_paths.get(id(fn), ""),
            "in": [value_id[id(x)] for x in fn.inputs],
            "out": [value_id[id(o)] if o is not None and id(o) in value_id else None for o in outs],
            "bwd": backward_index.get(id(fn)),
        })

    backward = [_step_json(s, value_id, op_id) for s in walk.steps]
    groups = _groups(nodes, module_types(model, modules))
    data: dict[str, Any] = {
        "title": title or f"{walk.name(output)}: the chain rule, step by step",
        "output": walk.name(output), "outputValue": array_json(output.data),
        "nodes": nodes, "forward": [op_id[id(fn)] for fn in functions], "backward": backward, "groups": groups,
        "conv": {}, "rnn": [],
    }
    for s in walk.steps:
        if isinstance(s.function, conv_ops.Conv2d):
            data["conv"][str(op_id[id(s.function)])] = conv_json(s)
    data["rnn"] = rnn_json(walk, op_id)
    return data


def _step_json(s: Step, value_id: dict[int, int], op_id: dict[int, int]) -> dict[str, Any]:
    ups = s.upstream if isinstance(s.upstream, tuple) else (s.upstream,)
    return {
        "op": op_id[id(s.function)], "node": s.node, "up": [array_json(u) for u in ups],
        "in": [
            {
                "v": value_id[id(i.tensor)], "name": i.name, "f": i.formula, "local": array_json(i.local),
                "product": i.rule.product, "down": array_json(i.downstream),
            }
            for i in s.inputs
        ],
    }


def _groups(nodes: list[dict[str, Any]], types: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every module path that holds a node, with its parents: path → label, parent and how many ops it holds."""
    groups: dict[str, dict[str, Any]] = {}
    for n in nodes:
        path = n["g"]
        while path:
            parent = path.rpartition(".")[0]
            entry = groups.setdefault(path, {"label": path, "type": types.get(path, ""), "parent": parent or None,
                                             "ops": 0})
            if n["k"] == "o":
                entry["ops"] += 1
            path = parent
    return groups


# ----- the page ----------------------------------------------------------------------------------------------


def _asset(name: str) -> str:
    return resources.files("chainrule.viz").joinpath("page", name).read_text(encoding="utf-8")


def render_html(data: dict[str, Any]) -> str:
    """The page: the template with its style, its script and ``data`` inlined (nothing loaded from elsewhere)."""
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    # no "<" at all inside the <script> element ("</script>" or "<!--" in a name would end or change it):
    payload = payload.replace("<", "\\u003c")  # JSON's escape for "<", which JSON.parse reads back
    title = data.get("title", "chainrule").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    parts = {"/*STYLE*/": _asset("page.css"), "/*SCRIPT*/": _asset("page.js"), "/*DATA*/": payload,
             "<!--TITLE-->": title}
    # one pass over the template: what is inlined is never searched for markers again
    return re.sub(r"/\*(?:STYLE|SCRIPT|DATA)\*/|<!--TITLE-->", lambda m: parts[m.group(0)], _asset("page.html"))


def to_html(
    output: Tensor, path: str | Path, grad: Any = None, names: Names = None, modules: ModuleRecord | None = None,
    title: str = "",
) -> str:
    """Write a self-contained HTML page that steps through ``output``'s forward and backward pass to ``path``.

    Arrow keys, buttons and a slider step through the forward pass (each node's value) and then the backward
    pass in the engine's order (upstream × local = downstream at each node); clicking a node shows its op,
    formula, shapes and values. ``names`` names tensors as for ``explain`` (a Module names its parameters);
    ``modules`` (from ``record_modules(model)``) groups ops by the module that ran them. The graph is not
    released and no ``.grad`` changes. Returns the HTML written (atomically: never a half-written page).
    """
    if not isinstance(path, (str, Path)):
        raise ArgumentTypeError(f"to_html: path must be a str or a Path, got {type(path).__name__}")
    text = render_html(page_data(output, grad, names, modules, title))
    data = text.encode("utf-8")  # encoded before the file is touched: a failure leaves the old file as it was
    atomic_write(path, lambda f: f.write(data))
    return text
