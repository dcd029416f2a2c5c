"""Every code block of the user guide runs, so the guide cannot drift from the code.

Per page, in a fresh temporary folder, the blocks run in order and share one namespace (as a reader would type
them): a ```python block is executed; each line of a ```bash block runs as a command, and such a block may hold
only ``chainrule ...`` commands. A block that must not run (it installs packages, downloads data, or trains for
minutes) is preceded by the visible marker ``<!-- docs-test: skip (the reason) -->``; every other block runs.
The pages are the guide's own (docs/index.md, docs/guide/, CONTRIBUTING.md) and the existing pages its navigation
reuses; a reused page whose code is only fragments of a larger program is named in ``FRAGMENTS`` with the reason.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
GUIDE = [DOCS / "index.md", *sorted((DOCS / "guide").glob("*.md")), ROOT / "CONTRIBUTING.md"]
# The other pages of the user guide's navigation (mkdocs.yml). Their ``` blocks without a language (or in one other
# than python and bash) are program output, not code.
REUSED = [DOCS / name for name in ("tutorial-chain-rule.md", "step-through.md", "onnx.md", "devices.md",
                                   "distributed.md", "errors.md")]
PAGES = GUIDE + [page for page in REUSED if page.exists()]
# Pages whose code is a fragment of a larger program, shown but not runnable alone, and why.
FRAGMENTS = {
    "distributed.md": "fragments of a training script started by mpiexec; tests/distributed runs whole ones",
}
BLOCK = re.compile(
    r"(?:<!-- docs-test: skip \((?P<reason>[^)]+)\) -->\s*\n)?^```(?P<lang>\w*)[^\n]*\n(?P<code>.*?)^```", re.S | re.M
)


@dataclass
class Block:
    page: str
    line: int
    lang: str
    code: str
    skip: str | None


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    return [Block(path.name, text.count("\n", 0, m.start("code")) + 1, m["lang"], m["code"], m["reason"])
            for m in BLOCK.finditer(text)]


def commands(block: Block) -> list[list[str]]:
    """The commands of a bash block, each a chainrule command (comments dropped)."""
    found = []
    for line in block.code.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            found.append(words)
    return found


def test_the_guide_has_runnable_blocks():
    every = [b for page in GUIDE for b in blocks(page)]
    assert len([b for b in every if b.lang == "python" and not b.skip]) >= 10
    assert len([b for b in every if b.lang == "bash" and not b.skip]) >= 5
    for b in every:
        assert b.lang in ("python", "bash", ""), f"{b.page}:{b.line}: a ```{b.lang} block the test cannot run"
        if b.lang == "bash" and not b.skip:
            for words in commands(b):
                assert words[0] == "chainrule", (f"{b.page}:{b.line}: `{' '.join(words)}` is not a chainrule "
                                                 f"command; mark the block <!-- docs-test: skip (reason) -->")


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__docs__"}
    if page.name in FRAGMENTS:
        pytest.skip(f"{page.name}: {FRAGMENTS[page.name]}")
    for block in blocks(page):
        if block.skip or block.lang not in ("python", "bash"):
            continue
        where = f"{page.name}:{block.line}"
        if block.lang == "python":
            code = compile(block.code, where, "exec")
            exec(code, namespace)  # noqa: S102 - the project's own documentation
            continue
        for words in commands(block):
            assert words[0] == "chainrule", f"{where}: `{' '.join(words)}` is not a chainrule command"
            result = subprocess.run([sys.executable, "-m", "chainrule", *words[1:]], capture_output=True, text=True,
                                    timeout=120)
            assert result.returncode == 0, f"{where}: {' '.join(words)}\n{result.stdout}\n{result.stderr}"
