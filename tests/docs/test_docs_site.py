"""The site builds strictly, loads nothing from the network, and every internal link and anchor resolves."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

REMOTE = re.compile(r"^(https?:)?//", re.I)


class Page(HTMLParser):
    """The ids, links and asset references of one HTML file."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.assets: list[tuple[str, str]] = []  # (tag, url) of what the browser loads with the page

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for key in ("id", "name"):
            if key in a and (key == "id" or tag == "a"):
                self.ids.add(a[key])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag == "script" and "src" in a:
            self.assets.append((tag, a["src"]))
        if tag == "link" and "href" in a and a.get("rel", "") not in ("canonical",):
            self.assets.append((tag, a["href"]))
        if tag in ("img", "iframe", "source", "embed") and "src" in a:
            self.assets.append((tag, a["src"]))


def _pages(site: Path) -> dict[Path, Page]:
    pages = {}
    for path in sorted(site.rglob("*.html")):
        page = Page()
        page.feed(path.read_text(encoding="utf-8"))
        pages[path] = page
    return pages


def test_site_builds_strictly_without_warnings(built_site):
    assert built_site.returncode == 0, built_site.log
    warnings = [line for line in built_site.log.splitlines() if re.match(r"\s*(WARNING|ERROR)\b", line)]
    assert warnings == [], "\n".join(warnings)
    for page in ("index.html", "guide/install.html", "guide/migrating-from-pytorch.html", "errors.html",
                 "reference/index.html", "reference/nn.html", "conv.html", "changelog.html", "contributing.html",
                 "version-policy.html"):
        assert (built_site.site / page).is_file(), page


def test_pages_load_nothing_from_the_network(built_site):
    remote = []
    for path, page in _pages(built_site.site).items():
        remote += [(str(path.relative_to(built_site.site)), tag, url) for tag, url in page.assets if REMOTE.match(url)]
    assert remote == []
    for css in built_site.site.rglob("*.css"):  # no web fonts or imports fetched by a stylesheet
        assert not re.search(r"(@import|url\()\s*['\"]?(https?:)?//", css.read_text(encoding="utf-8")), css


def test_every_internal_link_and_anchor_resolves(built_site):
    site = built_site.site
    pages = _pages(site)
    broken, external = [], set()
    for path, page in pages.items():
        for href in page.links:
            parts = urlsplit(href)
            if parts.scheme or href.startswith("//"):
                if parts.scheme in ("http", "https"):
                    external.add(href)
                continue
            if not parts.path:
                target = path
            elif parts.path.startswith("/"):  # 404.html links from the site's root (it is served at any depth)
                target = site / unquote(parts.path).lstrip("/")
            else:
                target = (path.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            where = f"{path.relative_to(site)} → {href}"
            if not target.exists():
                broken.append(f"{where}: no such file")
            elif parts.fragment and target.suffix == ".html":
                if unquote(parts.fragment) not in pages[target].ids:
                    broken.append(f"{where}: no anchor #{parts.fragment}")
    assert broken == [], "\n".join(broken)
    # external links are listed, not fetched: the build must not depend on the network
    print(f"{len(external)} external links:", *sorted(external), sep="\n  ")


def test_search_works_offline(built_site):
    index = json.loads((built_site.site / "search" / "search_index.json").read_text(encoding="utf-8"))
    text = " ".join(doc["text"] for doc in index["docs"])
    assert "gradcheck" in text and "ShapeError" in text
    assert list(built_site.site.rglob("lunr*.js")) or list(built_site.site.rglob("search*.js"))
