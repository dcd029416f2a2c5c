"""chainrule.distributed across processes: small scripts (tests/distributed/scripts/) run under ``mpiexec -n 2``
and ``-n 3`` as subprocesses, each with a timeout so that a hang fails instead of blocking.

Training: after several steps of SGD with momentum and of Adam, rank 0's float32 parameters equal one process
trained on the whole global batch to within 1e-6, for an MLP, a CNN and a CNN with SyncBatchNorm; 3 processes
split the batch of 8 unevenly (3, 3, 2), each rank weighting its shard's mean by its size. Every replica ends
bit-for-bit equal to rank 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chainrule import distributed as dist

SCRIPTS = Path(__file__).parent / "scripts"
MPIEXEC = dist.mpiexec_path()
TIMEOUT = 120

pytestmark = pytest.mark.skipif(
    not dist.is_available() or MPIEXEC is None,
    reason="needs mpi4py and mpiexec: pip install -e '.[mpi]' (the test extra includes them)",
)


def run(n: int, script: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1")
    return subprocess.run([MPIEXEC, "-n", str(n), sys.executable, str(SCRIPTS / script), *args],
                          capture_output=True, text=True, timeout=TIMEOUT, env=env)


def result(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, proc.stdout
    return json.loads(lines[0][len("RESULT "):])


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("model", ["mlp", "cnn", "cnn_sync"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_ddp_equals_one_process_on_the_global_batch(n, model, optimizer):
    r = result(run(n, "mpi_train.py", model, optimizer))
    assert r["world"] == n and r["dtypes"] == ["float32"]
    assert r["moved"] > 1e-3  # training changed every parameter: the comparison is not of untouched values
    assert r["max_diff"] <= 1e-6
    assert r["spread"] == 0.0


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_no_sync_gradient_accumulation_equals_one_process(model):
    r = result(run(2, "mpi_train.py", model, "adam", "--accumulate"))
    assert r["max_diff"] <= 1e-6 and r["spread"] == 0.0


def test_unused_parameters_count_as_zeros_and_keep_no_gradient():
    r = result(run(3, "mpi_train.py", "mlp_unused", "sgd"))
    assert r["max_diff"] <= 1e-6 and r["spread"] == 0.0
    assert r["unused_grad_is_none"] is True


def test_unused_parameters_without_find_unused_are_refused_by_name():
    proc = run(2, "mpi_unused_refused.py")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "received no gradient" in proc.stdout and "unused.weight" in proc.stdout
    assert "find_unused_parameters=True" in proc.stdout


@pytest.mark.parametrize("n", [2, 3])
def test_collectives_equal_numpy_references(n):
    proc = run(n, "mpi_collectives.py")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == f"OK {n}"


def test_a_failing_rank_ends_the_job_naming_the_rank():
    proc = run(2, "mpi_fail.py")  # rank 0 waits in a barrier that rank 1 never reaches: only the abort ends it
    assert proc.returncode != 0
    assert "chainrule.distributed: rank 1 failed: ValueError: a deliberate failure" in proc.stderr
    assert "passed the barrier" not in proc.stdout


@pytest.mark.parametrize("n", [2, 3])
def test_buckets_start_during_backward_in_order_and_average_right(n):
    r = result(run(n, "mpi_overlap.py"))
    assert r["buckets"] == [3, 1, 2]  # reverse registration order, closed at 100 bytes
    sizes = [2 + 16 + 8, 64, 8 + 32]
    assert r["events"] == [f"launch {sizes[0]}", f"launch {sizes[1]}", "first layer final", f"launch {sizes[2]}"]
    assert r["diff"] <= 1e-6


def test_a_rank_that_stops_answering_ends_the_job_after_the_timeout():
    proc = run(2, "mpi_hang.py")  # rank 1 sleeps far longer than the 2 s timeout; the test's own limit is 120 s
    assert proc.returncode != 0
    assert "chainrule.distributed: rank 0 failed: all_reduce did not complete within 0:00:02" in proc.stderr
    assert "finished the all_reduce" not in proc.stdout
