"""The README's two commands: they set up the project's own .venv (no sudo, no pip outside a virtual
environment), and the package imported inside the clone is the installed one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = [ROOT / "scripts" / "setup.sh", ROOT / "scripts" / "test.sh", ROOT / "examples" / "fashion_mnist.sh",
           ROOT / ".ci" / "run"]


def readme_commands() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    assert block, "the README starts with a bash block of two commands"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_gives_two_commands_and_ci_runs_the_test_one():
    commands = readme_commands()
    assert commands == ["bash examples/fashion_mnist.sh", "bash scripts/test.sh"]
    ci_lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln.strip()]
    assert ci_lines[-1] == commands[1]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_never_sudo_nor_pip_outside_the_venv(script: Path):
    code = [line for line in script.read_text().splitlines() if not line.lstrip().startswith("#")]
    for line in code:
        assert not re.search(r"\bsudo\b", line.split(" #")[0]), line
        if "pip install" in line:
            assert '"$venv/bin/python" -m pip' in line, line


def system_python() -> str:
    """A PEP 668 system Python when this machine has one (Debian's), else the interpreter's base Python."""
    debian = Path("/usr/bin/python3")
    managed = list(Path("/usr/lib").glob("python3*/EXTERNALLY-MANAGED"))
    if debian.exists() and managed:
        return str(debian)
    return str(Path(sys.base_prefix) / "bin" / Path(sys.executable).name)


def test_setup_makes_its_own_venv_and_the_clone_does_not_shadow_it(tmp_path: Path):
    clone = tmp_path / "clone"
    for name in ("src", "scripts", "pyproject.toml", "README.md"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, clone / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, clone / name)
    python = system_python()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PYTHON"] = python
    result = subprocess.run(["bash", "scripts/setup.sh", ""], cwd=clone, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    venv_python = clone / ".venv" / "bin" / "python"
    where = "import chainrule, sys; print(chainrule.__file__)"
    inside = subprocess.run([str(venv_python), "-c", where], cwd=clone, capture_output=True, text=True, env=env)
    outside = subprocess.run([str(venv_python), "-c", where], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert inside.returncode == 0 and outside.returncode == 0, inside.stderr + outside.stderr
    assert inside.stdout == outside.stdout
    assert Path(inside.stdout.strip()).resolve() == (clone / "src" / "chainrule" / "__init__.py").resolve()
    # the system Python started inside the clone finds no package there to shadow anything
    bare = subprocess.run([python, "-c", "import chainrule"], cwd=clone, capture_output=True, text=True, env=env)
    assert bare.returncode != 0 and "No module named 'chainrule'" in bare.stderr
    # run again: the existing environment is reused, not rebuilt
    marker = clone / ".venv" / "marker"
    marker.write_text("kept")
    again = subprocess.run(["bash", "scripts/setup.sh", ""], cwd=clone, env=env, capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0 and marker.exists(), again.stderr[-2000:]


def test_setup_refuses_a_foreign_dot_venv(tmp_path: Path):
    clone = tmp_path / "clone"
    shutil.copytree(ROOT / "scripts", clone / "scripts")
    (clone / ".venv").mkdir()
    (clone / ".venv" / "notes.txt").write_text("mine")
    result = subprocess.run(["bash", "scripts/setup.sh", ""], cwd=clone, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("setup: error:")
    assert (clone / ".venv" / "notes.txt").read_text() == "mine"


# ----- bringing pip into a Python without ensurepip ---------------------------------------------------------
FAKE_PIP_MAIN = """import pathlib, sys
pathlib.Path(sys.prefix, "pip-was-run").write_text(" ".join(sys.argv[1:]))
"""


def serve(folder: Path):
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("good_digest", [True, False])
def test_bootstrap_pip_checks_the_wheel_by_sha256_then_lets_it_install_itself(tmp_path: Path, good_digest: bool):
    import hashlib
    import json
    import zipfile

    site = tmp_path / "site"
    site.mkdir()
    wheel = site / "pip-99.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:  # a stand-in whose `pip` package records how it was run
        z.writestr("pip/__init__.py", "")
        z.writestr("pip/__main__.py", FAKE_PIP_MAIN)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest() if good_digest else "0" * 64
    (site / "pip.json").write_text(json.dumps({"urls": [{"filename": wheel.name, "url": wheel.name,
                                                         "digests": {"sha256": digest}}]}))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    server = serve(site)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/pip.json"
        result = subprocess.run([str(venv / "bin" / "python"), str(ROOT / "scripts" / "bootstrap_pip.py"), url],
                                capture_output=True, text=True, timeout=60)
    finally:
        server.shutdown()
    if good_digest:
        assert result.returncode == 0, result.stderr
        assert (venv / "pip-was-run").read_text().startswith("install -q --no-index")
    else:
        assert result.returncode == 1 and not (venv / "pip-was-run").exists()
        assert result.stderr.count("\n") == 1 and "has SHA-256" in result.stderr and "0" * 64 in result.stderr


def test_bootstrap_pip_refuses_the_system_python():
    result = subprocess.run([sys.base_prefix + "/bin/python3", str(ROOT / "scripts" / "bootstrap_pip.py")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "virtual environment" in result.stderr
