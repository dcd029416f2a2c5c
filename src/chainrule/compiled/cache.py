"""Where the compiled kernels' machine code is kept between runs: the user's cache, never the installed package.

Numba's ``cache=True`` writes next to the source file (``compiled/__pycache__``: inside site-packages for an
installed chainrule) and falls back to a user-wide folder only when that is not writable. chainrule's kernels go to
``$CHAINRULE_CACHE/numba``, else ``$XDG_CACHE_HOME/chainrule/numba``, else ``~/.cache/chainrule/numba``, beside the
data cache. A ``NUMBA_CACHE_DIR`` set by the user wins (Numba's own rule). Only the files of this package are
directed; every other Numba function caches as Numba decides.
"""

from __future__ import annotations

import os
from pathlib import Path

from numba.core import caching, config

_HERE = Path(__file__).resolve().parent


def cache_dir() -> Path:
    """The folder that holds chainrule's compiled kernels."""
    root = os.environ.get("CHAINRULE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "chainrule")
    return Path(root).expanduser() / "numba"


class ChainruleCacheLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """Numba's cache locator for the kernels in ``chainrule/compiled``: one subfolder per source folder (Numba's
    naming), under ``cache_dir()``."""

    def __init__(self, py_func, py_file) -> None:
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = str(cache_dir() / self.get_suitable_cache_subpath(py_file))

    def get_cache_path(self) -> str:
        return self._cache_path

    @classmethod
    def from_function(cls, py_func, py_file):
        if config.CACHE_DIR or Path(py_file).resolve().parent != _HERE:
            return None  # the user's NUMBA_CACHE_DIR, or not a kernel of chainrule: Numba's own locators
        locator = cls(py_func, py_file)
        try:
            locator.ensure_cache_path()
        except OSError:
            return None  # not writable: Numba's locators decide (in the end, no cache)
        return locator


def install() -> None:
    """Put the locator first in Numba's list (once)."""
    if ChainruleCacheLocator not in caching.CacheImpl._locator_classes:
        caching.CacheImpl._locator_classes.insert(0, ChainruleCacheLocator)
