"""The build hooks: optional pages absent from a checkout leave the build strict-clean, and the reference's
generator renders each kind of public name."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"docs_hook_{name}", ROOT / "docs" / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_an_absent_optional_page_leaves_the_nav_and_its_links_become_text(tmp_path):
    hook = _load("optional_pages")
    (tmp_path / "distributions.md").write_text("# present\n")
    nav = [{"Home": "index.md"}, {"Guide": [{"Steps": "step-through.md"}, {"Install": "guide/install.md"}]},
           {"Derivations": ["derivations.md", {"Distributions": "distributions.md"}]}]
    config = hook.on_config({"docs_dir": str(tmp_path), "nav": nav})
    assert config["nav"] == [{"Home": "index.md"}, {"Guide": [{"Install": "guide/install.md"}]},
                             {"Derivations": ["derivations.md", {"Distributions": "distributions.md"}]}]
    text = "See [the step-through](../step-through.md#keys) and [distributions](../distributions.md)."
    assert hook.on_page_markdown(text, None, config, None) == (
        "See the step-through and [distributions](../distributions.md).")


def test_the_generator_renders_classes_functions_aliases_constants_and_modules():
    hook = _load("api_reference")
    pages = {namespace: page for namespace, page, *_ in hook.NAMESPACES}
    by_name = {e.name: e for e in hook.entries("chainrule")}
    assert hook.render_entry(by_name["Tensor"], pages).startswith("::: chainrule.Tensor")
    assert hook.render_entry(by_name["matmul"], pages).startswith("::: chainrule.matmul")
    clamp = hook.render_entry(by_name["clamp"], pages)  # a second name of clip: a pointer, not a second copy
    assert clamp.startswith("## `clamp` { #chainrule.clamp }") and "[`clip`](#chainrule.clip)" in clamp
    assert "show_attribute_values: true" in hook.render_entry(by_name["float32"], pages)
    nn_entries = {e.name: e for e in hook.entries("chainrule.nn")}
    functional = hook.render_entry(nn_entries["functional"], pages)  # a namespace with its own page: a link
    assert "(nn.functional.md)" in functional
    init = hook.render_entry(nn_entries["init"], pages)  # a module without a page: its __all__ inline
    assert "::: chainrule.nn.init" in init and "kaiming_uniform_" in init
