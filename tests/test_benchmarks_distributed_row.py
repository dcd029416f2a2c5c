"""The suite's data-parallel row (benchmarks/suite/distributed_row.py): how results.md shows it, and one real
``--quick`` run of it alone through ``python -m benchmarks``. Never a timing assertion."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import cases  # noqa: E402 - the repository root is on the path only from here
from benchmarks.suite import cli, distributed_row, report  # noqa: E402
from chainrule import distributed as dist  # noqa: E402


def _row(**overrides):
    row = {"key": "distributed", "title": "LeNet-5 step, batch 128: 2 ranks (MPI) against 1", "kind": "distributed",
           "target": 0.9, "size": {"steps": 30}, "ratio": 1.74, "met": True, "max_wait_share": 0.1,
           "one_rank_step_s": 0.012, "two_ranks_step_s": 0.0069, "wait_s": 0.00012, "wait_share": 0.0174,
           "batch": 128, "latency_s": 6.1e-6, "bandwidth_Bps": {"16": 6.73e9, "1": 5.49e9, "4": 6.70e9},
           "data_source": "Fashion-MNIST", "python": "python"}
    return {**row, **overrides}


def _report(rows):
    return {"command": "python benchmarks/run.py --only distributed --quick", "date": "2026-01-01T00:00:00+00:00",
            "scale": "quick", "duration_s": 20.0, "machine": {"flags": []}, "settings": {
                "threads": 2, "pause_s": 0.2, "block_s": 0.15, "warmup_s": 0.5, "quiet_cores": 0.25}, "rows": rows}


def test_the_row_is_selectable_and_quick_runs_fewer_steps():
    (row,) = cli.select_rows("distributed")
    assert row.kind == "distributed" and row.target == 0.9
    assert (row.sizes["full"]["steps"], row.sizes["quick"]["steps"]) == (120, 30)
    assert "distributed" in cases.MAIN_KEYS


def test_markdown_shows_both_sides_the_ratio_both_targets_and_the_measures():
    md = report.markdown(_report([_row()]))
    lines = md.splitlines()
    assert ("| LeNet-5 step, batch 128: 2 ranks (MPI) against 1 | 6.90 ms (2 ranks × 1 thread) | 12.00 ms (chainrule, "
            "1 rank × 2 threads) | 1.74× | 1 run | ≥ 0.9× throughput, ≤ 10 % waiting | ✓ | | | |") in lines
    section = next(line for line in lines if line.startswith("**Data-parallel training**"))
    assert "30 steps of a global batch of 128 Fashion-MNIST images" in section
    assert "0.12 ms, **1.7 %** of a 2-rank step" in section and "latency 6.1 µs" in section
    assert "5.49 GB/s at 1 MiB, 6.70 GB/s at 4 MiB, 6.73 GB/s at 16 MiB" in section  # sorted by size
    slow = report.markdown(_report([_row(ratio=0.8, met=False)]))
    assert "| 0.80× | 1 run | ≥ 0.9× throughput, ≤ 10 % waiting | ✗ |" in slow
    failed = report.markdown(_report([{"key": "distributed", "title": "t", "kind": "distributed", "target": 0.9,
                                       "max_wait_share": 0.1, "error": "needs mpi4py"}]))
    assert "| t | failed | | | | ≥ 0.9× throughput, ≤ 10 % waiting | ✗ | | | |" in failed
    assert "**Data-parallel training**" not in failed


@pytest.mark.skipif(not dist.is_available() or dist.mpiexec_path() is None, reason="needs mpi4py and mpiexec")
def test_a_quick_run_of_the_row_alone_writes_it_to_the_report(tmp_path):
    pytest.importorskip("torch")  # the suite's workers start both frameworks
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "distributed", "--quick", "--quiet", "0", "--pause", "0",
         "--warmup", "0", "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=600, env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rep = json.loads((out / "results.json").read_text())
    (row,) = rep["rows"]
    assert "error" not in row, row
    assert row["key"] == "distributed" and row["size"] == {"steps": 30}
    assert row["ratio"] == pytest.approx(row["one_rank_step_s"] / row["two_ranks_step_s"])
    assert 0 <= row["wait_s"] < row["two_ranks_step_s"] and row["wait_share"] == pytest.approx(
        row["wait_s"] / row["two_ranks_step_s"])
    assert row["latency_s"] > 0 and sorted(row["bandwidth_Bps"], key=int) == ["1", "4", "16", "64"]
    assert row["met"] == (row["ratio"] >= 0.9 and row["wait_share"] <= 0.1)
    md = (out / "results.md").read_text()
    assert md == report.markdown(rep)
    assert "**Data-parallel training**" in md and "| LeNet-5 step, batch 128: 2 ranks (MPI) against 1 |" in md
    assert distributed_row.MAX_WAIT_SHARE == 0.1
