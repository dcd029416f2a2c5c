"""Training end to end on scikit-learn's digits: metrics, plots, checkpoints, exact resume, the CLI."""

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from chainrule import io
from chainrule.training import (
    Interrupted,
    RunConfig,
    TrainingError,
    format_duration,
    load_trained,
    run,
    saved_config,
)

CONFIG = dict(model="mlp", dataset="digits", batch_size=64, lr=0.05, momentum=0.9, seed=3)


def _params(out: Path) -> dict[str, np.ndarray]:
    return io.load_checkpoint(out / "checkpoint.npz").model_state


def _quiet(*_):
    pass


def _saved_epochs(out: Path) -> int:
    try:
        return io.load_checkpoint(out / "checkpoint.npz").epoch
    except FileNotFoundError:
        return 0


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
        while time.time() < deadline and not _saved_epochs(out):  # the run saves when it starts, then per epoch
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
    assert result.returncode == 1 and "no checkpoint at" in result.stderr
    result = _cli("train", "--model", "nope")
    assert result.returncode == 2 and "invalid choice" in result.stderr


# ----- strict settings ------------------------------------------------------------------------------------------
SMALL = dict(model="mlp", dataset="digits", batch_size=32, lr=0.05, momentum=0.9, seed=1, limit_train=96,
             limit_test=40)


@pytest.mark.parametrize(("field", "value"), [
    ("epochs", 0), ("epochs", -5), ("epochs", 2.5), ("epochs", "10"), ("epochs", True),
    ("batch_size", 0), ("batch_size", 64.0), ("limit_train", 0), ("limit_train", -5), ("limit_test", 0),
    ("limit_test", "all"), ("lr", math.inf), ("lr", math.nan), ("lr", 0), ("lr", -0.1), ("lr", "0.1"),
    ("momentum", -0.5), ("momentum", math.inf), ("weight_decay", math.nan), ("weight_decay", -1e-4),
    ("warmup_epochs", -1), ("warmup_epochs", 1.5), ("seed", -1), ("seed", 1.0), ("model", "resnet"),
    ("model", "char_lstm"), ("dataset", "cifar"), ("optimizer", "lbfgs"), ("schedule", "linear"),
    ("download", "yes"), ("data_dir", 3),
])
def test_every_setting_is_checked_strictly_with_the_field_the_value_and_a_fix(field, value):
    config = RunConfig(**{**SMALL, "epochs": 3, field: value})
    with pytest.raises(TrainingError) as info:
        config.check()
    message = str(info.value)
    assert message.startswith("train: ") and field in message and repr(value) in message and "\n" not in message
    assert "—" in message or "choose one of" in message  # how to fix it


@pytest.mark.parametrize(("schedule", "warmup", "needle"), [
    ("cosine", 3, "warmup_epochs must be < epochs (3), got 3"),
    ("step", 5, "warmup_epochs must be < epochs (3), got 5"),
    ("onecycle", 1, "warmup_epochs=1 has no effect with schedule 'onecycle'"),
    ("plateau", 2, "warmup_epochs=2 has no effect with schedule 'plateau'"),
])
def test_a_warm_up_must_end_before_the_run_and_belong_to_a_schedule_that_uses_it(schedule, warmup, needle):
    with pytest.raises(TrainingError, match=re.escape(needle)):
        RunConfig(**{**SMALL, "epochs": 3, "schedule": schedule, "warmup_epochs": warmup}).check()
    RunConfig(**{**SMALL, "epochs": 3, "schedule": schedule if warmup < 3 else "cosine", "warmup_epochs": 0}).check()
    RunConfig(**{**SMALL, "epochs": 3, "schedule": "cosine", "warmup_epochs": 2}).check()


def _rewrite_config(checkpoint: Path, **changes) -> None:
    saved = io.load_checkpoint(checkpoint)
    io.save_checkpoint(checkpoint, model=saved.model_state, optimizer=saved.optimizer_state,
                       scheduler=saved.scheduler_state, epoch=saved.epoch, step=saved.step,
                       rng={name: saved.generator(name) for name in saved.rng_names},
                       config={**saved.config, **changes}, extra=saved.extra)


@pytest.mark.parametrize(("field", "value"), [("lr", "inf"), ("lr", math.inf), ("epochs", 2.5), ("epochs", "10"),
                                              ("batch_size", None), ("model", "resnet")])
def test_a_checkpoint_whose_config_is_not_valid_is_refused_and_nothing_changes(tmp_path, field, value):
    run(RunConfig(**SMALL, epochs=1), tmp_path, progress=False, log=_quiet)
    checkpoint = tmp_path / "checkpoint.npz"
    _rewrite_config(checkpoint, **{field: value})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for attempt in (lambda: run(None, tmp_path, resume=True, progress=False, log=_quiet),
                    lambda: saved_config(tmp_path), lambda: load_trained(tmp_path)):
        with pytest.raises(TrainingError, match=f"run configuration in {re.escape(str(checkpoint))} cannot be used: "
                                                f".*{field} .*{re.escape(repr(value))}"):
            attempt()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_checkpoint_config_with_missing_or_unknown_fields_is_refused(tmp_path):
    run(RunConfig(**SMALL, epochs=1), tmp_path, progress=False, log=_quiet)
    saved = io.load_checkpoint(tmp_path / "checkpoint.npz").config
    _rewrite_config(tmp_path / "checkpoint.npz", dropout=0.5)
    with pytest.raises(TrainingError, match="it has unknown fields dropout"):
        saved_config(tmp_path)
    del saved["lr"]
    io.save_checkpoint(tmp_path / "checkpoint.npz", model={}, config=saved)
    with pytest.raises(TrainingError, match="it lacks lr"):
        saved_config(tmp_path)


def test_saved_config_gives_the_run_s_settings_or_says_there_is_no_checkpoint(tmp_path):
    config = RunConfig(**SMALL, epochs=1, schedule="cosine")
    run(config, tmp_path / "a", progress=False, log=_quiet)
    assert saved_config(tmp_path / "a") == config == saved_config(tmp_path / "a" / "checkpoint.npz")
    with pytest.raises(TrainingError, match="no checkpoint at .*empty.*checkpoint.npz — train first"):
        saved_config(tmp_path / "empty")


# ----- nothing on disk changes unless the run can start ---------------------------------------------------------
def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_a_refused_run_leaves_every_file_as_it_was_and_creates_no_folder(tmp_path, monkeypatch):
    old = tmp_path / "old"
    run(RunConfig(**SMALL, epochs=1), old, progress=False, log=_quiet)
    (old / "notes.txt").write_text("mine")
    before = _snapshot(old)
    with pytest.raises(TrainingError, match="lr must be a finite number > 0, got inf"):
        run(RunConfig(**{**SMALL, "lr": math.inf}, epochs=1), old, progress=False, log=_quiet, force=True)
    with pytest.raises(TrainingError, match="limit_train must be a whole number ≥ 1, got -5"):
        run(RunConfig(**{**SMALL, "limit_train": -5}, epochs=1), tmp_path / "new", progress=False, log=_quiet)

    def no_data(config, train):
        raise TrainingError("train: the data cannot be read")

    monkeypatch.setattr("chainrule.training.load_split", no_data)
    for out, force in ((old, True), (tmp_path / "new", False)):
        with pytest.raises(TrainingError, match="the data cannot be read"):
            run(RunConfig(**SMALL, epochs=1), out, progress=False, log=_quiet, force=force)
    assert _snapshot(old) == before and not (tmp_path / "new").exists()


def test_a_folder_that_holds_a_run_is_refused_unless_resumed_or_forced(tmp_path):
    out = tmp_path / "run"
    run(RunConfig(**SMALL, epochs=1), out, progress=False, log=_quiet)
    first = _params(out)
    for name in ("checkpoint.npz", "config.json", "metrics.jsonl"):
        only = tmp_path / f"only-{name}"
        only.mkdir()
        (only / name).write_text("x")
        with pytest.raises(TrainingError) as info:
            run(RunConfig(**SMALL, epochs=1), only, progress=False, log=_quiet)
        assert str(info.value) == (f"train: {only} already holds a run — continue it with --resume {only}, or start "
                                   f"over with --force")
        assert (only / name).read_text() == "x"
    (out / "confusion.txt").write_text("old")
    (out / "notes.txt").write_text("mine")
    lines: list[str] = []
    run(RunConfig(**{**SMALL, "seed": 2}, epochs=1), out, progress=False, log=lines.append, force=True)
    assert lines[0].startswith(f"train: --force: replacing the previous run in {out} (removing checkpoint.npz, "
                               f"config.json, metrics.jsonl, metrics.csv, curves.png, confusion.txt)")
    assert not (out / "confusion.txt").exists() and (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "config.json").read_text())["seed"] == 2
    assert not all(np.array_equal(first[k], v) for k, v in _params(out).items())


def test_run_refuses_a_file_for_a_folder_and_a_folder_it_cannot_create(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(TrainingError, match="afile is a file, not a folder"):
        run(RunConfig(**SMALL, epochs=1), afile, progress=False, log=_quiet)
    with pytest.raises(TrainingError, match="cannot create the output folder .*afile/sub"):
        run(RunConfig(**SMALL, epochs=1), afile / "sub", progress=False, log=_quiet)
    run(RunConfig(**SMALL, epochs=1), tmp_path / "run", progress=False, log=_quiet)
    with pytest.raises(TrainingError, match="give the folder of the run"):
        run(None, tmp_path / "run" / "checkpoint.npz", resume=True, progress=False, log=_quiet)
    assert afile.read_text() == "x"


def test_resuming_to_fewer_epochs_than_done_is_refused(tmp_path):
    run(RunConfig(**SMALL, epochs=2), tmp_path, progress=False, log=_quiet)
    before = _snapshot(tmp_path)
    with pytest.raises(TrainingError, match="already trained 2 epochs, more than the 1 asked"):
        run(None, tmp_path, resume=True, epochs=1, progress=False, log=_quiet)
    with pytest.raises(TrainingError, match="epochs must be a whole number ≥ 1, got 0"):
        run(None, tmp_path, resume=True, epochs=0, progress=False, log=_quiet)
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("schedule", ["step", "cosine", "onecycle"])
def test_a_schedule_laid_out_over_the_epochs_cannot_be_stretched_on_resume(tmp_path, schedule):
    run(RunConfig(**SMALL, epochs=1, schedule=schedule), tmp_path, progress=False, log=_quiet)
    before = _snapshot(tmp_path)
    with pytest.raises(TrainingError, match=f"the '{schedule}' schedule of this run is laid out over its 1 epochs "
                                            f"and cannot be stretched to 3"):
        run(None, tmp_path, resume=True, epochs=3, progress=False, log=_quiet)
    assert _snapshot(tmp_path) == before
    assert len(run(None, tmp_path, resume=True, epochs=1, progress=False, log=_quiet)) == 1


# ----- stopping, temporary files, ETA ---------------------------------------------------------------------------
def test_a_stop_raises_interrupted_saves_the_exact_position_and_puts_the_signal_handlers_back(tmp_path):
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(Interrupted) as info:  # 96 images in batches of 32: 3 batches an epoch
        run(RunConfig(**SMALL, epochs=2), tmp_path, progress=False, log=_quiet, stop_after_batches=4)
    assert isinstance(info.value, KeyboardInterrupt) and info.value.signum == signal.SIGINT
    assert info.value.checkpoint == tmp_path / "checkpoint.npz"
    saved = io.load_checkpoint(tmp_path / "checkpoint.npz")
    assert (saved.epoch, saved.extra["batch"], saved.step, saved.extra["sums"][2]) == (1, 1, 4, 32)
    assert {s: signal.getsignal(s) for s in handlers} == handlers
    run(None, tmp_path, resume=True, progress=False, log=_quiet)
    assert {s: signal.getsignal(s) for s in handlers} == handlers


def test_a_sigterm_during_a_step_stops_after_that_step_in_process(tmp_path, monkeypatch):
    import chainrule.training as training

    run(RunConfig(**SMALL, epochs=2), tmp_path / "straight", progress=False, log=_quiet)
    calls = {"n": 0}
    forward = training.to_input

    def to_input(*args):
        calls["n"] += 1
        if calls["n"] == 2:  # in the second step, before its forward pass
            os.kill(os.getpid(), signal.SIGTERM)
        return forward(*args)

    monkeypatch.setattr(training, "to_input", to_input)
    with pytest.raises(Interrupted) as info:
        run(RunConfig(**SMALL, epochs=2), tmp_path / "stopped", progress=False, log=_quiet)
    assert info.value.signum == signal.SIGTERM
    assert io.load_checkpoint(tmp_path / "stopped" / "checkpoint.npz").extra["batch"] == 2  # the step finished
    monkeypatch.setattr(training, "to_input", forward)
    run(None, tmp_path / "stopped", resume=True, progress=False, log=_quiet)
    a, b = _params(tmp_path / "straight"), _params(tmp_path / "stopped")
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_temporary_files_left_by_a_killed_write_are_removed_when_the_run_starts_again(tmp_path):
    run(RunConfig(**SMALL, epochs=1), tmp_path, progress=False, log=_quiet)
    stale = [tmp_path / ".checkpoint.npz.partial-k2j4h6g8.tmp", tmp_path / ".metrics.csv.partial-abc_1234.tmp"]
    kept = [tmp_path / ".notes.txt.partial-k2j4h6g8.tmp", tmp_path / ".checkpoint.npz.k2j4h6g8.tmp"]
    for path in stale + kept:
        path.write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(io.CheckpointError, match="temporary file of an unfinished write .* load .*checkpoint.npz"):
        io.load_checkpoint(stale[0])
    run(None, tmp_path, resume=True, epochs=2, progress=False, log=_quiet)
    assert [p.exists() for p in stale + kept] == [False, False, True, True]


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (0.4, "0s"), (42.4, "42s"), (59.6, "1m 00s"), (130, "2m 10s"), (3599, "59m 59s"), (3600, "1h 00m"),
    (4020, "1h 07m"), (86399, "23h 59m"), (90000 + 3600 * 3, "1d 04h"), (-5, "0s"), (math.inf, "?"), (math.nan, "?"),
])
def test_durations_are_formatted_for_people(seconds, text):
    assert format_duration(seconds) == text


def test_each_epoch_s_line_ends_with_the_run_s_remaining_time(tmp_path):
    lines: list[str] = []
    run(RunConfig(**SMALL, epochs=3), tmp_path, progress=False, log=lines.append)
    assert [line.split(":")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all(re.search(r" \| ETA (\d+s|\d+m \d\ds|\d+h \d\dm|\d+d \d\dh)$", line) for line in lines)
    assert lines[-1].endswith("| ETA 0s")
