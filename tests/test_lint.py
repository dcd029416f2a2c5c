"""The code base stays ruff-clean (ruff is a test dependency)."""

import importlib.util
import subprocess
import sys
from pathlib import Path


def test_ruff_check_is_clean():
    assert importlib.util.find_spec("ruff"), "ruff comes with the test extra: pip install -e '.[test]'"
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", str(root)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
