"""``chainrule train`` on several processes: ``mpiexec -n P chainrule train ...`` and ``chainrule train --nproc P``
run as subprocesses, each with a timeout so that a hang fails instead of blocking.

The global batch (``--batch-size``) is split over the processes, so P processes train the same run as one: the
final float32 parameters equal the single-process run's within 1e-6 and its metrics to rounding (accuracies
exactly), for 2 processes, for 3 (uneven shares: 64 = 21 + 21 + 22), and for the compact CNN, whose batch norms
become SyncBatchNorm and whose dropout masks are the single-process masks' rows. Rank 0 alone prints and
writes; a checkpoint written by 2 processes resumes on 1 and one written by 1 resumes on 3, each ending like the
uninterrupted run; a rank that fails ends the job with one line naming it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from chainrule import distributed as dist
from chainrule import io

SCRIPT = Path(__file__).parent / "scripts" / "cli_train.py"
MPIEXEC = dist.mpiexec_path()
TIMEOUT = 180
ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1",
           CHAINRULE_NUM_THREADS="1")
TIMING = ("epoch_time_s", "samples_per_s", "world_size")  # the only metrics allowed to differ
DIGITS = ["--model", "mlp", "--dataset", "digits", "--epochs", "2", "--batch-size", "64", "--limit-train", "600",
          "--limit-test", "200", "--seed", "3", "--quiet"]

needs_mpi = pytest.mark.skipif(not dist.is_available() or MPIEXEC is None,
                               reason="needs mpi4py and mpiexec: pip install -e '.[mpi]'")


def train(out: Path, *args: str, n: int = 1, script: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """``chainrule train ARGS --out OUT`` on ``n`` processes started by mpiexec (n = 1: no mpiexec)."""
    command = [sys.executable, str(SCRIPT), *script, "train", *args, "--out", str(out)]
    if n > 1:
        command = [MPIEXEC, "-n", str(n), *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, env=ENV)


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def params(out: Path) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in io.load_checkpoint(out / "checkpoint.npz").model_state.items()}


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def assert_same_run(out: Path, reference: Path, tolerance: float = 1e-6) -> None:
    mine, ref = params(out), params(reference)
    assert mine.keys() == ref.keys()
    assert all(ref[k].dtype == mine[k].dtype for k in ref)
    assert {str(v.dtype) for k, v in ref.items() if "num_batches" not in k} == {"float32"}
    for k in ref:
        assert np.max(np.abs(mine[k].astype(np.float64) - ref[k]), initial=0.0) <= tolerance, k
    rows, ref_rows = metrics(out), metrics(reference)
    assert len(rows) == len(ref_rows)
    for row, ref_row in zip(rows, ref_rows):
        assert row.keys() == ref_row.keys()
        for key in row:
            if key in ("train_acc", "test_acc", "epoch", "lr"):
                assert row[key] == ref_row[key], key
            elif key not in TIMING:
                assert row[key] == pytest.approx(ref_row[key], rel=1e-6), key


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("single") / "run"
    ok(train(out, *DIGITS))
    return out


@pytest.fixture(scope="module")
def two(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("two") / "run"
    return out, ok(train(out, *DIGITS, n=2))


@needs_mpi
def test_two_processes_train_the_single_process_run_and_only_rank_0_speaks(single, two):
    out, proc = two
    assert_same_run(out, single)
    lines = proc.stdout.splitlines()
    assert len(lines) == len(set(lines)) == 3  # two epoch lines and "done", once each
    assert lines[-1].startswith("done: test accuracy ") and sum(line.startswith("epoch ") for line in lines) == 2
    assert proc.stderr == ""
    assert json.loads((out / "config.json").read_text())["world_size"] == 2
    assert [row["world_size"] for row in metrics(out)] == [2, 2]
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.npz", "config.json", "curves.png", "metrics.csv",
                                                     "metrics.jsonl"]


@needs_mpi
def test_nproc_2_is_mpiexec_n_2(tmp_path, two):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "chainrule", "train", *DIGITS, "--out", str(out), "--nproc", "2"],
                          capture_output=True, text=True, timeout=TIMEOUT, env=ENV)
    ok(proc)
    mine, theirs = params(out), params(two[0])
    assert all(np.array_equal(mine[k], theirs[k]) for k in theirs)  # the same processes: bit for bit
    assert len(proc.stdout.splitlines()) == 3 and proc.stdout.count("done: ") == 1
    assert json.loads((out / "config.json").read_text())["world_size"] == 2


@needs_mpi
def test_three_processes_split_the_batch_unevenly_and_train_the_same_run(tmp_path, single):
    out = tmp_path / "run"
    proc = ok(train(out, *DIGITS, n=3))  # 64 = 21 + 21 + 22; the last batch, 600 − 9·64 = 24 = 8 + 8 + 8
    assert_same_run(out, single)
    assert proc.stdout.count("done: ") == 1


def _fashion(folder: Path) -> Path:
    """A tiny synthetic Fashion-MNIST (28×28 images: the compact CNN's input)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from data.data_helpers import write_split

    write_split(folder, 48, seed=1, split="train")
    write_split(folder, 20, seed=2, split="test")
    return folder


@needs_mpi
def test_the_compact_cnn_with_batch_norm_and_dropout_on_two_processes_equals_one(tmp_path):
    data = _fashion(tmp_path / "data")
    args = ["--model", "cnn", "--dataset", "fashion-mnist", "--data-dir", str(data), "--epochs", "1",
            "--batch-size", "16", "--lr", "0.02", "--seed", "5", "--quiet"]
    ok(train(tmp_path / "one", *args, script=("--synthetic",)))
    ok(train(tmp_path / "two", *args, n=2, script=("--synthetic",)))
    assert_same_run(tmp_path / "two", tmp_path / "one")
    start = io.load_checkpoint(tmp_path / "one" / "checkpoint.npz").model_state
    assert any("running_mean" in k for k in start)  # batch norms' statistics are compared too


@needs_mpi
@pytest.mark.parametrize(("first", "then"), [(2, 1), (1, 3)])
def test_a_run_stopped_on_some_processes_resumes_on_others_to_the_uninterrupted_result(tmp_path, single, first,
                                                                                      then):
    out = tmp_path / "run"
    stopped = train(out, *DIGITS, n=first, script=("--stop-after", "13"))  # mid-epoch 2 (10 batches an epoch)
    assert stopped.returncode == 130, stopped.stderr[-3000:]
    assert stopped.stderr.count("stopped at epoch 2, batch 3; continue with: chainrule train --resume") == 1
    assert io.load_checkpoint(out / "checkpoint.npz").extra["batch"] == 3
    command = [sys.executable, "-m", "chainrule", "train", "--resume", str(out)]
    resumed = subprocess.run([MPIEXEC, "-n", str(then), *command] if then > 1 else command, capture_output=True,
                             text=True, timeout=TIMEOUT, env=ENV)
    ok(resumed)
    assert resumed.stdout.count("resumed from") == 1
    assert_same_run(out, single)
    assert [row["world_size"] for row in metrics(out)] == [first, then]


@needs_mpi
def test_a_failing_rank_ends_the_job_with_one_line_naming_it(tmp_path):
    started = time.monotonic()
    proc = train(tmp_path / "run", *DIGITS, n=2, script=("--fail-rank", "1"))
    assert time.monotonic() - started < 60  # not the collectives' 30-minute timeout
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.startswith("chainrule train:")]
    assert lines == ["chainrule train: error: rank 1 of 2 failed: unexpected ValueError: a deliberate failure — "
                     "this is a bug in chainrule: rerun with CHAINRULE_DEBUG=1 to see where, and report it; the job "
                     "is stopped"]
    assert "Traceback" not in proc.stderr and "done:" not in proc.stdout


@needs_mpi
@pytest.mark.parametrize("rank", [0, 1])
def test_a_rank_that_cannot_start_stops_every_process_with_one_line_naming_it_and_writes_nothing(tmp_path, rank):
    proc = train(tmp_path / "run", *DIGITS, n=2, script=("--refuse-rank", str(rank)))
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [f"chainrule train: error: rank {rank} of 2 could not start the run: a "
                                        "deliberate refusal — nothing to fix"]
    assert proc.stdout == "" and not (tmp_path / "run").exists()


@needs_mpi
def test_ctrl_c_stops_every_process_at_the_same_step_and_the_run_resumes(tmp_path):
    out = tmp_path / "run"
    args = [*DIGITS[:4], "--epochs", "400", *DIGITS[6:]]  # long enough to be stopped
    child = subprocess.Popen([sys.executable, "-m", "chainrule", "train", *args, "--out", str(out), "--nproc", "2"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        deadline = time.monotonic() + 60
        while not (out / "metrics.jsonl").exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        child.send_signal(signal.SIGINT)  # to the launcher, as a terminal's Ctrl-C: it passes it on once
        stdout, stderr = child.communicate(timeout=TIMEOUT)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, stderr[-3000:]
    assert stderr.count("continue with: chainrule train --resume") == 1
    saved = io.load_checkpoint(out / "checkpoint.npz")
    assert 1 <= saved.epoch < 400
    assert stdout.count("interrupted: saved") == 1


@needs_mpi
@pytest.mark.parametrize(("n", "extra", "line"), [
    (3, ["--batch-size", "2"], "chainrule train: error: a batch of 2 cannot be split over 3 processes (each needs at "
                               "least one image a step) — give --batch-size ≥ 3, or start fewer processes"),
    (2, ["--nproc", "2"], "chainrule train: error: --nproc 2 inside a job that mpiexec started with 2 processes — "
                          "leave --nproc out under mpiexec (it already started the processes)"),
])
def test_a_refusal_on_every_process_is_one_line_from_rank_0(tmp_path, n, extra, line):
    proc = train(tmp_path / "run", *DIGITS, *extra, n=n)
    assert proc.returncode in (1, 2)
    assert proc.stderr.splitlines() == [line] and proc.stdout == ""
    assert not (tmp_path / "run").exists()


@needs_mpi
def test_evaluate_reads_a_run_trained_on_two_processes_like_one_trained_alone(single, two):
    def evaluate(out: Path) -> str:
        proc = subprocess.run([sys.executable, "-m", "chainrule", "evaluate", str(out)], capture_output=True,
                              text=True, timeout=TIMEOUT, env=ENV)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.splitlines()[0]

    assert evaluate(two[0]) == evaluate(single)
    assert evaluate(single).startswith("accuracy 0.8")


@pytest.mark.parametrize(("missing", "line"), [
    ("mpi4py", "chainrule train: error: --nproc 2 needs mpi4py, which is not installed — pip install "
               "\"chainrule[mpi]\" (mpi4py and the MPICH wheel, which brings mpiexec)"),
    ("mpiexec", "chainrule train: error: --nproc 2 needs mpiexec, found neither beside {python} nor on PATH — pip "
                "install \"chainrule[mpi]\" (mpi4py and the MPICH wheel, which brings mpiexec)"),
])
def test_nproc_without_mpi_is_one_clear_line(tmp_path, monkeypatch, capsys, missing, line):
    from chainrule.cli import main

    if missing == "mpi4py":
        monkeypatch.setattr(dist, "is_available", lambda: False)
    else:
        monkeypatch.setattr(dist, "is_available", lambda: True)
        monkeypatch.setattr(dist, "mpiexec_path", lambda: None)
    code = main(["train", *DIGITS, "--out", str(tmp_path / "run"), "--nproc", "2"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines() == [line.format(python=sys.executable)]
    assert not (tmp_path / "run").exists()
