"""The API reference has an entry for every public name, and every public name has a docstring.

The names are those of each namespace's ``__all__`` (docs/hooks/api_reference.py lists the namespaces and
generates the pages from them at build time), so a name added to the library without a docstring fails here.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _hook():
    spec = importlib.util.spec_from_file_location("api_reference_hook", ROOT / "docs" / "hooks" / "api_reference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def _entries():
    hook = _hook()
    return [entry for namespace, *_ in hook.NAMESPACES for entry in hook.entries(namespace)]


def _own_docstring(entry, griffe_package) -> str:
    """The docstring written for the object itself (a class does not inherit its base's), or its attribute
    docstring in the source (a constant: the string literal under its assignment)."""
    obj = entry.obj
    if isinstance(obj, types.ModuleType) or inspect.isclass(obj) or inspect.isroutine(obj):
        doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
        return (doc or "").strip()
    found = griffe_package[entry.path.removeprefix("chainrule.")]
    return (found.docstring.value if found.docstring else "").strip()


def test_every_namespace_is_covered():
    hook = _hook()
    namespaces = {namespace for namespace, *_ in hook.NAMESPACES}
    for required in ("chainrule", "chainrule.nn", "chainrule.nn.functional", "chainrule.optim",
                     "chainrule.optim.lr_scheduler", "chainrule.data", "chainrule.utils.data",
                     "chainrule.vision.datasets", "chainrule.vision.transforms", "chainrule.distributed",
                     "chainrule.onnx", "chainrule.distributions", "chainrule.viz", "chainrule.io"):
        assert required in namespaces
        if importlib.util.find_spec(required) is not None and required != "chainrule.distributions":
            assert hook.entries(required), f"{required} has no public names"


def test_every_public_name_has_a_docstring():
    griffe = pytest.importorskip("griffe", reason='the docs tools: pip install -e ".[docs]"')
    package = griffe.load("chainrule", search_paths=[str(ROOT / "src")], allow_inspection=False)
    undocumented = [entry.path for entry in _entries() if not _own_docstring(entry, package)]
    assert undocumented == [], f"{len(undocumented)} public names without a docstring: {undocumented}"


def test_every_public_name_has_an_entry_in_the_built_reference(built_site):
    assert built_site.returncode == 0, built_site.log
    hook = _hook()
    pages = {namespace: page for namespace, page, *_ in hook.NAMESPACES}
    missing = []
    html_of: dict[str, str] = {}
    entries = _entries()
    for entry in entries:
        page = pages[entry.namespace]
        if page not in html_of:
            html_of[page] = (built_site.site / "reference" / f"{page}.html").read_text(encoding="utf-8")
        if f'id="{entry.path}"' not in html_of[page]:
            missing.append(entry.path)
    assert missing == []
    assert len(entries) > 350
    print(f"{len(entries)} API entries")


def test_entries_link_their_derivation(built_site):
    nn_page = (built_site.site / "reference" / "nn.html").read_text(encoding="utf-8")
    functional = (built_site.site / "reference" / "nn.functional.html").read_text(encoding="utf-8")
    assert 'href="../conv.html"' in nn_page and 'href="../rnn.html"' in nn_page
    assert 'href="../loss.html"' in functional and 'href="../pool.html"' in functional
    # the signature and the docstring of a layer are both there
    start = nn_page.index('id="chainrule.nn.Linear"')
    entry = nn_page[start:start + 6000]
    assert "in_features" in entry and "out_features" in entry
