"""Run the ONNX export tests and print each exported case's largest |onnxruntime − chainrule| difference:

.venv/bin/python tests/onnx/report_differences.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


class Report:
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from onnx_helpers import DIFFS

        terminalreporter.section("largest |onnxruntime - chainrule| per exported case (float32)")
        for case in sorted(DIFFS):
            terminalreporter.write_line(f"{case:<48} {DIFFS[case]:.3g}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(pytest.main(["-p", "no:cacheprovider", str(HERE), *sys.argv[1:]], plugins=[Report()]))
