"""The README's Python examples run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the tour writes a checkpoint into the working directory
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 3
    namespace: dict = {}
    for block in blocks:
        exec(block, namespace)  # noqa: S102 - our own documentation
    assert namespace["x"].grad.item() == -4.0 and namespace["z"].grad.item() == 3.0
    assert (tmp_path / "run.npz").exists()
    assert len(namespace["norms"]) == 50
