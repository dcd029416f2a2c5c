"""docs/tutorial-chain-rule.md stays true: its console examples print what it shows, its Python runs, and its
pictures are what docs/make_pictures.py draws today."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import shlex
from pathlib import Path

import pytest

from chainrule.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs"
TUTORIAL = DOCS / "tutorial-chain-rule.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", TUTORIAL.read_text(encoding="utf-8"), flags=re.S)


def console_examples() -> list[tuple[str, list[str]]]:
    """(command, expected output lines) for every ``$ chainrule ...`` line of the console blocks."""
    examples = []
    for block in blocks("console"):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, *output = chunk.rstrip("\n").split("\n")
            examples.append((command, output))
    return examples


EXAMPLES = console_examples()


def test_the_tutorial_has_its_examples():
    assert len(EXAMPLES) >= 8
    for picture in ("add-mul", "neuron", "matrix", "conv"):
        assert f"img/chain-rule-{picture}.svg" in TUTORIAL.read_text(encoding="utf-8")


@pytest.mark.parametrize(("command", "expected"), EXAMPLES, ids=[c[:40] for c, _ in EXAMPLES])
def test_console_example_prints_what_the_tutorial_shows(command, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = shlex.split(command)
    assert argv[0] == "chainrule"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        main(argv[1:])
    actual = [line.rstrip() for line in (out.getvalue() + err.getvalue()).splitlines()]
    position = 0
    for line in expected:  # in order; "..." stands for lines left out
        if line == "...":
            continue
        assert line.rstrip() in actual[position:], f"{command!r} no longer prints:\n{line}"
        position = actual.index(line.rstrip(), position) + 1


PYTHON = blocks("python")


@pytest.mark.parametrize("code", PYTHON, ids=[f"python-{k}" for k in range(1, len(PYTHON) + 1)])
def test_python_example_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, str(TUTORIAL), "exec"), {})  # noqa: S102 - our own documentation


def test_pictures_are_up_to_date():
    spec = importlib.util.spec_from_file_location("make_pictures", DOCS / "make_pictures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, svg in module.pictures().items():
        committed = DOCS / "img" / name
        assert committed.read_text(encoding="utf-8") == svg, f"run python docs/make_pictures.py ({name})"
