"""The shape of the package, read from its source with ``ast``: no import circle, no module importing a layer above
its own, and Tensor tied to the ops in one place only.

An edge A → B means that importing A runs B: a top-level ``import``/``from`` (also inside a top-level ``if``,
``try`` or class body), to the module named and to every package on the way to it that A is not inside. An import
inside a function runs when the function is called: it is a *deferred* edge, allowed only where ``DEFERRED`` below
says why.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import chainrule
from chainrule.ops.tensor_methods import CLASS_ATTRIBUTES, TensorMethods, setup_tensor
from chainrule.tensor import Tensor

PACKAGE = Path(chainrule.__file__).resolve().parent

# Lowest first. A module may import its own layer and the layers below it, never one above.
LAYERS: list[tuple[str, ...]] = [
    ("backend", "dtypes", "errors", "threads", "version", "workspace", "devices", "cuda", "accelerator", "backends"),
    ("tensor", "random"),  # random: generators, whose state is a uint8 tensor
    ("autograd",),
    ("ops", "compiled", "creation"),
    ("nn", "optim", "data", "io", "serialization", "distributed", "distributions"),  # distributed: tensor and ops only
    ("utils", "vision"),  # PyTorch's torch.utils.data and torchvision's paths, over data
    ("viz",),
    ("onnx",),  # export: traces a forward of nn modules and ops
    ("models", "training"),
    ("",),  # the package itself: ``import chainrule`` gives the public names
    ("cli",),
    ("__main__",),
]

# The deferred imports of chainrule modules, each with its reason; any other is a failure (keep them rare).
DEFERRED: dict[tuple[str, str], str] = {
    ("chainrule.autograd.function", "chainrule.autograd.broadcast"):
        "Function sums broadcast gradients with SumTo, itself a Function defined after it",
    ("chainrule.viz.module_groups", "chainrule.onnx.trace"):
        "record_modules reuses the exporter's recording of module calls, only when a page groups ops by module",
}


def documented(source: str, target: str) -> bool:
    """Whether ``DEFERRED`` lists this edge (the module named, or a package on the way to it)."""
    return any(s == source and (t == target or target in _ancestors(t)) for s, t in DEFERRED)


def module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("chainrule", *path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


MODULES = module_names()


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts))]


def _targets(importer: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The chainrule modules an import statement runs, seen from ``importer``."""
    if isinstance(node, ast.Import):
        named = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = importer if MODULES[importer].name == "__init__.py" else importer.rpartition(".")[0]
            package = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
            base = f"{package}.{base}" if base else package
        named = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
    targets = set()
    for name in named:
        while name and name not in MODULES:  # ``import chainrule.ops.conv.something``: the module part
            name = name.rpartition(".")[0]
        if not name:
            continue
        targets.add(name)
        targets.update(a for a in _ancestors(name) if a not in _ancestors(importer) and a != importer)
    targets.discard(importer)
    return targets


def _imports(tree: ast.AST, deferred: bool = False):
    """(statement, deferred) for every import in ``tree``; deferred once inside a function."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, deferred
        else:
            inside = deferred or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            yield from _imports(child, inside)


def import_graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module-level edges, deferred edges) between chainrule's modules."""
    eager: dict[str, set[str]] = {name: set() for name in MODULES}
    late: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for node, deferred in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            (late if deferred else eager)[name] |= _targets(name, node)
    return eager, late


EAGER, LATE = import_graph()


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if start in state:
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def layer(name: str) -> int:
    relative = name.removeprefix("chainrule").lstrip(".")
    top = relative.split(".")[0]
    for level, members in enumerate(LAYERS):
        if top in members:
            return level
    raise AssertionError(f"{name} is in no layer: add {top!r} to LAYERS")


def test_the_graph_is_read_from_every_module():
    assert {"chainrule", "chainrule.tensor", "chainrule.ops.conv", "chainrule.viz.svg", "chainrule.cli.expr"} <= set(
        MODULES)
    assert {"chainrule.autograd.function", "chainrule.tensor"} <= EAGER["chainrule.ops.elementwise"]
    assert "chainrule.autograd" in EAGER["chainrule.ops.elementwise"]  # the package on the way runs too
    assert "chainrule.autograd.broadcast" in LATE["chainrule.autograd.function"]  # read inside a function


def test_the_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle():
    cycle = find_cycle(EAGER)
    assert cycle is None, "import circle: " + " → ".join(cycle or [])


def test_no_import_circle_through_deferred_imports_either():
    # the documented late bindings may close a circle by design: that is why they are late
    both = {name: EAGER[name] | {t for t in LATE[name] if not documented(name, t)} for name in MODULES}
    cycle = find_cycle(both)
    assert cycle is None, "import circle: " + " → ".join(cycle or [])


def test_every_module_is_in_a_layer():
    for name in MODULES:
        layer(name)


@pytest.mark.parametrize("kind", ["module-level", "deferred"])
def test_no_module_imports_a_layer_above_its_own(kind):
    graph = EAGER if kind == "module-level" else LATE
    upward = [
        f"{source} (layer {layer(source)}) imports {target} (layer {layer(target)})"
        for source, targets in sorted(graph.items()) for target in sorted(targets)
        if layer(target) > layer(source) and not (kind == "deferred" and documented(source, target))
    ]
    assert upward == []


def test_every_deferred_import_is_documented():
    found = {(source, target) for source, targets in LATE.items() for target in targets}
    assert [edge for edge in sorted(found) if not documented(*edge)] == []
    assert set(DEFERRED) <= found, f"stale entries in DEFERRED: {sorted(set(DEFERRED) - found)}"


def test_tensor_imports_only_the_bottom_layer():
    assert {layer(target) for target in EAGER["chainrule.tensor"]} == {0}


def test_only_setup_tensor_adds_to_tensor():
    """Tensor meets the ops in one place: no other module assigns or setattr()s an attribute of Tensor."""
    writers = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            target = node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else None
            if target == "setattr" and isinstance(node.args[0], ast.Name) and node.args[0].id == "Tensor":
                writers.append(name)
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "Tensor":
                        writers.append(name)
    assert writers == ["chainrule.ops.tensor_methods"]


def test_setup_tensor_installed_every_operator_and_method():
    installed = set(vars(TensorMethods)) - CLASS_ATTRIBUTES
    assert {"__add__", "__radd__", "__eq__", "__getitem__", "__setitem__", "backward", "sum", "T", "add_"} <= installed
    for name in installed:
        assert vars(Tensor)[name] is vars(TensorMethods)[name], name
    assert vars(Tensor)["__module__"] == "chainrule.tensor" and Tensor.__doc__.startswith("An n-dimensional array")
    setup_tensor()  # idempotent
    x = chainrule.tensor([1.0, 2.0])
    assert (2 - x).tolist() == [1.0, 0.0]
    assert hash(x) == object.__hash__(x)  # hashed by identity although == is elementwise


def test_architecture_doc_names_only_files_that_exist():
    """docs/architecture.md tells which files a change touches: every path and test it names must exist."""
    import re

    root = PACKAGE.parent.parent
    text = (root / "docs" / "architecture.md").read_text(encoding="utf-8")
    paths = set(re.findall(r"`((?:src|tests|benchmarks|docs)/[\w./]+?)(?:::(\w+))?`", text))
    paths |= {(p, t) for p, t in re.findall(r"`((?:src|tests|benchmarks|docs)/[\w./]+\.py)::(\w+)", text)}
    assert len(paths) > 10
    for path, test in paths:
        assert (root / path).exists(), path
        if test:
            assert f"def {test}(" in (root / path).read_text(encoding="utf-8"), f"{path}::{test}"
