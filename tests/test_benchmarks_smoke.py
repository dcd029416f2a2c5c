"""The benchmark suite's smoke mode: every row of benchmarks/run.py (the scaling table's points included) runs
once on tiny sizes, on chainrule and on PyTorch, and their outputs and gradients agree (loose float32
tolerance). Never a timing assertion: benchmarks are not unit tests; the timed suite is `python
benchmarks/run.py` (see benchmarks/README.md)."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_smoke_runs_every_row_and_agrees_with_torch():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke: all rows ok" in result.stdout, result.stdout
    for key in ("conv1", "conv2", "conv3", "pool_lenet", "pool_large", "linear", "rnn", "lstm", "gru",
                "node_overhead", "lenet_epoch", "compact_step", "memory/torch", "memory/chainru",
                # the scaling table's points, each on tiny sizes, checked like every row
                "scale_lenet_b32", "scale_lenet_b128", "scale_lenet_b512", "scale_conv_32", "scale_conv_64",
                "scale_conv_128", "scale_lstm_t25_h256", "scale_lstm_t50_h256", "scale_lstm_t200_h256",
                "scale_lstm_t50_h128", "scale_lstm_t50_h512"):
        assert key in result.stdout, f"row {key} missing from the smoke output:\n{result.stdout}"
