"""Leave out the pages that a checkout may not have yet, instead of failing the strict build.

An absent optional page is dropped from the navigation, and links to it become their plain text.

The API reference's namespaces work the same way: a namespace that cannot be imported gets no page (see
api_reference.py); its nav entry is dropped here.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

# page -> the module it documents (None: the page stands alone)
OPTIONAL: dict[str, str | None] = {
    "step-through.md": None,
    "distributions.md": None,
}


def _present(docs_dir: Path, page: str, module: str | None) -> bool:
    if module is not None:
        try:
            return importlib.util.find_spec(module) is not None
        except ImportError:
            return False
    return (docs_dir / page).is_file()


def _prune(items: list, absent: set[str]) -> list:
    kept = []
    for item in items:
        if isinstance(item, dict):
            (title, value), = item.items()
            if isinstance(value, list):
                kept.append({title: _prune(value, absent)})
            elif value not in absent:
                kept.append(item)
        elif item not in absent:
            kept.append(item)
    return kept


_ABSENT: set[str] = set()


def on_config(config):
    """Drop the nav entries of optional pages that are not there."""
    docs_dir = Path(config["docs_dir"])
    _ABSENT.clear()
    _ABSENT.update(page for page, module in OPTIONAL.items() if not _present(docs_dir, page, module))
    if _ABSENT and config["nav"]:
        config["nav"] = _prune(config["nav"], _ABSENT)
    return config


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Turn links to absent optional pages into their text."""
    for absent in _ABSENT:
        pattern = r"\[([^\]]+)\]\((?:\.\./)*" + re.escape(absent) + r"(?:#[^)]*)?\)"
        markdown = re.sub(pattern, r"\1", markdown)
    return markdown
