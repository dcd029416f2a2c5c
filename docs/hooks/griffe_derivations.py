"""A griffe extension: each public op, layer and class of the API reference ends its docstring with a link to
the page that derives it (its op family's page in docs/), so the link sits inside the entry it belongs to.

Only the rendered reference changes; the docstrings in the code stay as written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import griffe

DOCS = Path(__file__).resolve().parent.parent

# The page that derives or explains what a module defines, by the module's dotted name (longest prefix wins).
DERIVATIONS: dict[str, str] = {
    "chainrule.ops.activation": "activation.md",
    "chainrule.ops.attention": "attention.md",
    "chainrule.ops.conv": "conv.md",
    "chainrule.ops.unfold": "conv.md",
    "chainrule.ops.elementwise": "elementwise.md",
    "chainrule.ops.indexing": "indexing.md",
    "chainrule.ops.linalg": "linalg.md",
    "chainrule.ops.loss": "loss.md",
    "chainrule.ops.normalization": "normalization.md",
    "chainrule.ops.pool": "pool.md",
    "chainrule.ops.recurrent": "rnn.md",
    "chainrule.ops.reduce": "reduce.md",
    "chainrule.ops.shape": "shape.md",
    "chainrule.ops.transfer": "devices.md",
    "chainrule.ops.activation_extra": "activation.md",
    "chainrule.ops.unary_math": "elementwise.md",
    "chainrule.ops.binary_math": "elementwise.md",
    "chainrule.ops.rounding": "elementwise.md",
    "chainrule.ops.predicates": "elementwise.md",
    "chainrule.ops.contractions": "linalg.md",
    "chainrule.ops.conv1d": "conv.md",
    "chainrule.ops.pool1d": "pool.md",
    "chainrule.ops.group_norm": "normalization.md",
    "chainrule.ops.loss_extra": "loss.md",
    "chainrule.ops.distance": "loss.md",
    "chainrule.ops.products": "reduce.md",
    "chainrule.ops.norms": "reduce.md",
    "chainrule.ops.rearrange": "shape.md",
    "chainrule.ops.resample": "shape.md",
    "chainrule.ops.select_along": "indexing.md",
    "chainrule.nn.activation_extra": "activation.md",
    "chainrule.nn.bilinear": "linalg.md",
    "chainrule.nn.conv1d": "conv.md",
    "chainrule.nn.pooling1d": "pool.md",
    "chainrule.nn.group_norm": "normalization.md",
    "chainrule.nn.loss_extra": "loss.md",
    "chainrule.nn.distance": "loss.md",
    "chainrule.nn.padding": "shape.md",
    "chainrule.nn.resample": "shape.md",
    "chainrule.nn.activation": "activation.md",
    "chainrule.nn.attention": "attention.md",
    "chainrule.nn.transformer": "attention.md",
    "chainrule.nn.conv": "conv.md",
    "chainrule.nn.fold": "conv.md",
    "chainrule.nn.linear": "linalg.md",
    "chainrule.nn.loss": "loss.md",
    "chainrule.nn.normalization": "normalization.md",
    "chainrule.nn.sync_batchnorm": "distributed.md",
    "chainrule.nn.pooling": "pool.md",
    "chainrule.nn.rnn": "rnn.md",
    "chainrule.nn.bptt": "rnn.md",
    "chainrule.nn.parallel": "distributed.md",
    "chainrule.autograd": "autograd.md",
    "chainrule.tensor": "autograd.md",
    "chainrule.optim": "optim.md",
    "chainrule.data": "data.md",
    "chainrule.utils.data": "data.md",
    "chainrule.vision": "data.md",
    "chainrule.io": "checkpoints.md",
    "chainrule.serialization": "checkpoints.md",
    "chainrule.devices": "devices.md",
    "chainrule.cuda": "devices.md",
    "chainrule.accelerator": "devices.md",
    "chainrule.distributed": "distributed.md",
    "chainrule.onnx": "onnx.md",
    "chainrule.distributions": "distributions.md",
    "chainrule.errors": "errors.md",
    "chainrule.viz": "tutorial-chain-rule.md",
}
TITLES: dict[str, str] = {"tutorial-chain-rule.md": "the chain-rule tutorial"}


def derivation_page(module: str) -> str | None:
    """The docs page for an object defined in ``module``, if that page exists."""
    best = max((p for p in DERIVATIONS if module == p or module.startswith(p + ".")), key=len, default=None)
    page = DERIVATIONS.get(best) if best else None
    return page if page and (DOCS / page).is_file() else None


class DerivationLinks(griffe.Extension):
    """Append "Derivation: [page](../page.md)" to the docstring of every module-level function and class."""

    def _link(self, obj: griffe.Object) -> None:
        if not obj.parent or not obj.parent.is_module or obj.name.startswith("_"):
            return
        page = derivation_page(obj.module.path)
        if page is None:
            return
        title = TITLES.get(page, page.removesuffix(".md"))
        line = f"Derivation and notes: [{title}](../{page})."
        if obj.docstring is None:
            obj.docstring = griffe.Docstring(line, parent=obj)
        elif line not in obj.docstring.value:
            obj.docstring.value = f"{obj.docstring.value.rstrip()}\n\n{line}"

    def on_function_instance(self, *, func: griffe.Function, **kwargs: Any) -> None:
        self._link(func)

    def on_class_instance(self, *, cls: griffe.Class, **kwargs: Any) -> None:
        self._link(cls)
