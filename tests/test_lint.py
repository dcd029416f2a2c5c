"""The code base stays ruff-clean (ruff is a test dependency)."""

import shutil
import subprocess
from pathlib import Path


def test_ruff_check_is_clean():
    assert shutil.which("ruff"), "ruff comes with the test extra: pip install -e '.[test]'"
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(["ruff", "check", "--quiet", str(root)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
