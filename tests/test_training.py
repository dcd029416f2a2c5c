"""Training end to end on scikit-learn's digits: metrics, plots, checkpoints, exact resume, the CLI."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from chainrule import io
from chainrule.training import RunConfig, TrainingError, run

CONFIG = dict(model="mlp", dataset="digits", batch_size=64, lr=0.05, momentum=0.9, seed=3)


def _params(out: Path) -> dict[str, np.ndarray]:
    return io.load_checkpoint(out / "checkpoint.npz").model_state


def _quiet(*_):
    pass


def test_training_learns_and_writes_metrics_plot_checkpoint(tmp_path):
    history = run(RunConfig(**CONFIG, epochs=3), tmp_path, progress=False, log=_quiet)
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert history[-1]["test_acc"] > 0.85  # 8×8 digits (the last 20% as the test split): about 89% in 3 epochs
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows == history
    assert (tmp_path / "metrics.csv").read_text().splitlines()[0].startswith("epoch,train_loss,train_acc")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "config.json").read_text())["model"] == "mlp"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_the_same_seed_gives_bit_identical_training_and_another_seed_does_not(tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        run(RunConfig(**{**CONFIG, "seed": seed}, epochs=1), tmp_path / name, progress=False, log=_quiet)
    a, b, c = (_params(tmp_path / name) for name in "abc")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_two_epochs_equal_one_epoch_resumed_for_a_second_bit_for_bit(tmp_path):
    run(RunConfig(**CONFIG, epochs=2), tmp_path / "straight", progress=False, log=_quiet)
    run(RunConfig(**CONFIG, epochs=1), tmp_path / "resumed", progress=False, log=_quiet)
    history = run(None, tmp_path / "resumed", resume=True, epochs=2, progress=False, log=_quiet)
    assert [row["epoch"] for row in history] == [1, 2]
    a, b = _params(tmp_path / "straight"), _params(tmp_path / "resumed")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_interrupted_mid_epoch_then_resumed_equals_uninterrupted(tmp_path):
    run(RunConfig(**CONFIG, epochs=2), tmp_path / "straight", progress=False, log=_quiet)
    with pytest.raises(KeyboardInterrupt):  # what Ctrl-C does, at batch 7 of epoch 2
        run(RunConfig(**CONFIG, epochs=2), tmp_path / "stopped", progress=False, log=_quiet,
            stop_after_batches=30)
    saved = io.load_checkpoint(tmp_path / "stopped" / "checkpoint.npz")
    assert saved.epoch == 1 and saved.extra["batch"] == 30 - 23  # 1,437 images / 64 = 23 batches per epoch
    run(None, tmp_path / "stopped", resume=True, progress=False, log=_quiet)
    a, b = _params(tmp_path / "straight"), _params(tmp_path / "stopped")
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_killed_with_sigkill_mid_epoch_resumes_from_the_last_checkpoint_to_the_same_result(tmp_path):
    run(RunConfig(**CONFIG, epochs=3), tmp_path / "straight", progress=False, log=_quiet)
    out = tmp_path / "killed"
    code = (
        "import time, chainrule.training as t\n"
        "slow = t.to_input\n"
        "def to_input(*a):\n"
        "    time.sleep(0.02)\n"  # slow batches, so the kill lands mid-epoch
        "    return slow(*a)\n"
        "t.to_input = to_input\n"
        f"t.run(t.RunConfig(**{CONFIG!r}, epochs=3), {str(out)!r}, progress=False)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (out / "checkpoint.npz").exists():
            time.sleep(0.05)
        time.sleep(0.2)  # into epoch 2
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    saved = io.load_checkpoint(out / "checkpoint.npz")  # intact, from the end of an epoch
    assert saved.extra["batch"] == 0 and 1 <= saved.epoch < 3
    run(None, out, resume=True, progress=False, log=_quiet)
    a, b = _params(tmp_path / "straight"), _params(out)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_bad_options_are_refused_clearly(tmp_path):
    with pytest.raises(TrainingError, match="unknown model 'resnet'; choose one of"):
        run(RunConfig(**{**CONFIG, "model": "resnet"}), tmp_path, progress=False, log=_quiet)
    with pytest.raises(TrainingError, match="no checkpoint at"):
        run(None, tmp_path / "empty", resume=True, progress=False, log=_quiet)


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "chainrule", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_cli_train_evaluate_predict(tmp_path):
    out = tmp_path / "run"
    result = _cli("train", "--model", "mlp", "--dataset", "digits", "--epochs", "2", "--batch-size", "64",
                  "--lr", "0.05", "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "epoch 2/2" in result.stdout and "done: test accuracy" in result.stdout
    result = _cli("evaluate", str(out))
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.split()[1])
    assert accuracy > 0.85
    assert "per-class accuracy" in result.stdout and "confusion matrix" in result.stdout
    assert (out / "confusion.png").exists() and (out / "confusion.txt").exists()

    from sklearn.datasets import load_digits

    sys.path.insert(0, str(Path(__file__).parent / "data"))
    from data_helpers import write_idx

    digits = load_digits()
    images = digits.images[-5:].astype(np.uint8)
    write_idx(tmp_path / "five.idx", images)
    result = _cli("predict", str(out), str(tmp_path / "five.idx"), "--top-k", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 5 and lines[0].startswith("five.idx[0]: ")
    predicted = [int(line.split(": ")[1].split()[0]) for line in lines]
    assert np.mean(np.array(predicted) == digits.target[-5:]) >= 0.6


def test_cli_errors_exit_non_zero_with_one_line(tmp_path):
    result = _cli("evaluate", str(tmp_path / "nothing"))
    assert result.returncode == 2 and "no checkpoint at" in result.stderr
    result = _cli("train", "--model", "nope")
    assert result.returncode == 2 and "invalid choice" in result.stderr
