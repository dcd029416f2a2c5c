"""The errors page has an entry, with a stable anchor, for every error type chainrule raises on purpose, and a
traceback of each points to it."""

from __future__ import annotations

import importlib
import pkgutil
import re
import traceback
from pathlib import Path

import chainrule
from chainrule.errors import ChainruleError

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "errors.md"
SKIP = ("chainrule.compiled",)  # Numba kernels: importing them compiles; they define no error types


def _error_types() -> set[type]:
    for module in pkgutil.walk_packages(chainrule.__path__, "chainrule."):
        if not module.name.startswith(SKIP) and module.name != "chainrule.__main__":
            try:
                importlib.import_module(module.name)
            except ImportError:  # an optional extra that is not installed: its module defines nothing we check
                continue
    found, todo = set(), [ChainruleError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("chainrule") and cls not in found:
            found.add(cls)
            todo += cls.__subclasses__()
    return found


def test_every_error_type_has_an_entry_with_a_stable_anchor():
    text = PAGE.read_text(encoding="utf-8")
    anchors = set(re.findall(r"^### (\w+) \{#(\w+)\}$", text, re.M))
    types = _error_types()
    assert len(types) >= 25
    missing = sorted(cls.__name__ for cls in types if (cls.__name__, cls.__name__.lower()) not in anchors)
    assert missing == [], f"docs/errors.md has no '### Name {{#name}}' entry for {missing}"
    for name, _anchor in anchors:  # each entry says what causes the error and how to fix it
        entry = text.split(f"### {name} ", 1)[1].split("\n### ", 1)[0]
        assert "**Cause:**" in entry or name == "ChainruleError", name
        assert "**Fix:**" in entry or name == "ChainruleError", name


def test_a_traceback_points_to_the_entry_and_the_message_is_unchanged():
    try:
        chainrule.ones(2, 3) + chainrule.ones(4)
    except chainrule.ShapeError as error:
        caught = error
    assert str(caught).startswith("add: shapes (2, 3) and (4,) do not broadcast")
    assert "errors.md" not in str(caught)
    assert caught.docs == "docs/errors.md#shapeerror"
    printed = "".join(traceback.format_exception(caught))
    assert printed.rstrip().endswith("see docs/errors.md#shapeerror (what causes a ShapeError, how to fix it)")
    caught.add_note("a note of the caller's")  # add_note keeps working; the pointer stays the last line
    assert caught.__notes__[0] == "a note of the caller's" and "errors.md#shapeerror" in caught.__notes__[-1]
    assert len(caught.__notes__) == 2
    assert "".join(traceback.format_exception(caught)).rstrip().endswith("how to fix it)")


def test_the_pointer_names_each_types_own_anchor():
    from chainrule.data import DataNotFoundError
    from chainrule.io import CheckpointError

    assert DataNotFoundError("x").docs == "docs/errors.md#datanotfounderror"
    assert CheckpointError("damaged", "f.npz").docs == "docs/errors.md#checkpointerror"
