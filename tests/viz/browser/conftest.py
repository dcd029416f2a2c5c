"""A real headless browser for the step-through page: Playwright for Python driving the system's Chromium.

No browser is downloaded: Debian's ``chromium`` (``apt-get install chromium``) is passed as ``executable_path``.
Without Playwright or Chromium the tests are skipped, with the reason saying how to install what is missing.
Every page is opened with all requests other than ``file://`` refused and recorded, and with page errors and
console errors recorded; a test fails if any occurred.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def _skip(reason: str) -> None:
    """Skip, and say so in the warnings summary too: a missing browser shows without -rs."""
    warnings.warn(reason, UserWarning, stacklevel=2)
    pytest.skip(reason)


def _chromium() -> str | None:
    return next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip("the step-through page tests need Playwright for Python: pip install playwright "
                    "(or pip install -e '.[test]'); no browser download is needed, see the next line")
    executable = _chromium()
    if executable is None:
        _skip("the step-through page tests need Chromium: apt-get install chromium (Debian/Ubuntu); "
                    "Playwright drives it through executable_path")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable)
        try:
            yield launched
        finally:
            launched.close()


class Opened:
    """A page loaded from a file, with what went wrong on it: page errors, console errors, refused requests."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []

    def check(self) -> None:
        assert self.errors == [], self.errors
        assert all(url.startswith("file://") for url in self.requests), self.requests


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[[Path], Any]]:
    opened: list[Opened] = []

    def open_(path: Path, width: int = 1400, height: int = 900) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height}, offline=True)
        page = context.new_page()
        state = Opened(page)

        def route(r: Any) -> None:  # the page may load nothing but itself
            state.requests.append(r.request.url)
            if r.request.url.startswith("file://"):
                r.continue_()
            else:
                r.abort()

        page.route("**/*", route)
        page.on("pageerror", lambda e: state.errors.append(f"page error: {e}"))
        page.on("console", lambda m: state.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.goto(Path(path).resolve().as_uri())
        page.wait_for_function("document.body.dataset.ready === '1'")
        opened.append(state)
        return page

    yield open_
    for state in opened:
        state.page.context.close()
    for state in opened:
        state.check()
