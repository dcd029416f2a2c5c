"""Generate the API reference from the code at build time: one page per public namespace, one entry per name.

The names come from each namespace's ``__all__`` (or, where a module has none, its public attributes defined in
chainrule), so a name added to the library appears in the reference without anyone listing it here. Each entry
is a mkdocstrings block (signature and docstring); griffe_derivations.py adds the link to its derivation page.
"""

from __future__ import annotations

import importlib
import inspect
import types
from dataclasses import dataclass

from mkdocs.structure.files import File, Files

# (module, page, title, one line on what the namespace holds)
NAMESPACES: list[tuple[str, str, str, str]] = [
    ("chainrule", "chainrule", "chainrule", "Tensors, creation functions, the differentiable ops, autograd, dtypes."),
    ("chainrule.nn", "nn", "chainrule.nn", "Modules: layers, containers and losses with PyTorch's names."),
    ("chainrule.nn.functional", "nn.functional", "chainrule.nn.functional", "The neural-network ops as functions."),
    ("chainrule.optim", "optim", "chainrule.optim", "Optimizers."),
    ("chainrule.optim.lr_scheduler", "optim.lr_scheduler", "chainrule.optim.lr_scheduler",
     "Learning-rate schedules."),
    ("chainrule.data", "data", "chainrule.data", "Datasets, samplers, the DataLoader and dataset readers."),
    ("chainrule.utils.data", "utils.data", "chainrule.utils.data", "torch.utils.data's import path."),
    ("chainrule.vision.datasets", "vision.datasets", "chainrule.vision.datasets", "torchvision's datasets."),
    ("chainrule.vision.transforms", "vision.transforms", "chainrule.vision.transforms",
     "torchvision's transforms on NumPy images."),
    ("chainrule.distributed", "distributed", "chainrule.distributed", "Data-parallel training on MPI."),
    ("chainrule.onnx", "onnx", "chainrule.onnx", "Export to ONNX."),
    ("chainrule.distributions", "distributions", "chainrule.distributions", "Probability distributions."),
    ("chainrule.viz", "viz", "chainrule.viz", "Explain tables, graphs, step-through and plots."),
    ("chainrule.io", "io", "chainrule.io", "Pickle-free archives and checkpoints."),
]

# classes whose methods are defined elsewhere and installed on them at import (the Tensor ↔ ops knot)
INSTALLED_METHODS: dict[str, str] = {"chainrule.tensor.Tensor": "chainrule.ops.tensor_methods.TensorMethods"}

# modules whose pages are their own, or whose members are all documented on the page that exports them
NO_MEMBERS: set[str] = {"chainrule.ops", "chainrule.nn.functional", "chainrule.optim.lr_scheduler",
                        "chainrule.vision.datasets", "chainrule.vision.transforms", "chainrule.data.transforms"}


@dataclass
class Entry:
    """One public name of a namespace: where it is documented and what derives it."""

    namespace: str
    name: str
    obj: object

    @property
    def path(self) -> str:
        return f"{self.namespace}.{self.name}"

    @property
    def defined_in(self) -> str:
        if isinstance(self.obj, types.ModuleType):
            return self.obj.__name__
        return getattr(self.obj, "__module__", None) or type(self.obj).__module__


def public_names(module: types.ModuleType) -> list[str]:
    """The namespace's ``__all__``, or its public attributes defined inside chainrule where it has none."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    found = []
    for name, obj in vars(module).items():
        if name.startswith("_") or isinstance(obj, types.ModuleType):
            continue
        if (getattr(obj, "__module__", "") or "").startswith("chainrule"):
            found.append(name)
    return sorted(found)


def entries(namespace: str) -> list[Entry]:
    """Every public name of ``namespace`` with its object; a namespace that cannot be imported has none."""
    try:
        module = importlib.import_module(namespace)
    except ImportError:
        return []
    return [Entry(namespace, name, getattr(module, name)) for name in public_names(module)]


def _plain_signature(function: object) -> str:
    """The signature without annotations (they are strings under ``from __future__ import annotations``)."""
    signature = inspect.signature(function)
    empty = inspect.Parameter.empty
    parameters = [p.replace(annotation=empty) for p in signature.parameters.values()]
    return str(signature.replace(parameters=parameters, return_annotation=empty))


def render_entry(entry: Entry, pages: dict[str, str]) -> str:
    """The Markdown of one entry: a mkdocstrings block (or, for a second name of a function, a pointer)."""
    obj = entry.obj
    lines: list[str] = []
    if isinstance(obj, types.ModuleType) and obj.__name__ in pages and obj.__name__ != entry.namespace:
        lines += [f"## `{entry.name}` {{ #{entry.path} }}", "", f"The module `{obj.__name__}`: see [{obj.__name__}]"
                  f"({pages[obj.__name__]}.md).", ""]
        return "\n".join(lines)
    if isinstance(obj, types.ModuleType):
        target = obj.__name__
        members = "false" if target in NO_MEMBERS or not hasattr(obj, "__all__") else repr(list(obj.__all__))
        if target != entry.path:  # the module's own name differs from the name it is exported as
            lines += [f'<span id="{entry.path}"></span>', ""]
        lines += [f"::: {target}", "    options:", "      show_root_full_path: true", f"      members: {members}"]
    elif inspect.isfunction(obj) and obj.__name__ != entry.name:
        # a second name for a function (clamp for clip): one entry documents it, this one points there
        lines += [f'## `{entry.name}` {{ #{entry.path} }}', "",
                  f"The same function as [`{obj.__name__}`](#{entry.namespace}.{obj.__name__}), under PyTorch's "
                  f"other name: `{entry.name}{_plain_signature(obj)}`.", "", inspect.getdoc(obj) or "", ""]
    elif inspect.isclass(obj) or callable(obj):
        lines += [f"::: {entry.path}"]
        installed = INSTALLED_METHODS.get(f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}")
        if installed:
            lines += ["", f"**Methods of `{entry.name}` installed when chainrule is imported** (operators and the "
                      f"methods that mirror ops: `t + u`, `t.sum()`, `t.backward()`; from `{installed}`):", "",
                      f"::: {installed}", "    options:", "      show_root_heading: false",
                      "      show_root_toc_entry: false", "      heading_level: 3", "      members_order: alphabetical"]
    else:
        # a constant or an instance (a dtype, a version number): its value and its attribute docstring
        lines += [f"::: {entry.path}", "    options:", "      show_attribute_values: true"]
    return "\n".join(lines) + "\n"


def render_page(namespace: str, title: str, blurb: str, pages: dict[str, str]) -> str:
    """The whole reference page of one namespace."""
    found = entries(namespace)
    head = [f"# {title}", "", blurb, "", f"{len(found)} public names, from `{namespace}.__all__`.", ""]
    return "\n".join(head) + "\n".join(render_entry(e, pages) for e in found)


def render_index(pages: dict[str, str]) -> str:
    """The reference's front page: each namespace, its page and how many names it holds."""
    lines = ["# API reference", "", "Generated from the docstrings at build time: every name in each namespace's",
             "`__all__` has an entry with its signature, its docstring and, for ops and layers, a link to the page",
             "that derives its backward rule.", "", "| namespace | names | holds |", "|---|---|---|"]
    for namespace, page, _title, blurb in NAMESPACES:
        lines.append(f"| [`{namespace}`]({page}.md) | {len(entries(namespace))} | {blurb} |")
    return "\n".join(lines) + "\n"


def on_files(files: Files, config) -> Files:
    """Add the generated reference pages to the site's files (they exist only in the build)."""
    pages = {namespace: page for namespace, page, _t, _b in NAMESPACES}
    files.append(File.generated(config, "reference/index.md", content=render_index(pages)))
    for namespace, page, title, blurb in NAMESPACES:
        content = render_page(namespace, title, blurb, pages)
        files.append(File.generated(config, f"reference/{page}.md", content=content))
    return files
