"""The documentation site, built once per test session with ``mkdocs build --strict`` into a temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Build:
    site: Path
    returncode: int
    log: str


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Build:
    pytest.importorskip("mkdocs", reason='the site needs the docs tools: pip install -e ".[docs]" (also in test)')
    pytest.importorskip("mkdocstrings", reason='the site needs the docs tools: pip install -e ".[docs]"')
    pytest.importorskip("material", reason='the site needs the docs tools: pip install -e ".[docs]"')
    site = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's notice about its successor, not a build warning
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300,
    )
    return Build(site, result.returncode, result.stdout + result.stderr)
