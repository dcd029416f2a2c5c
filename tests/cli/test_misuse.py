"""The command line under misuse: every subcommand, given each kind of bad input, ends in exactly one line on
stderr, ``chainrule <command>: error: <what> — <how to fix>``, with exit status 2 for a usage error and 1 for a
failure at run time; never a traceback, and a refused command leaves every existing file as it was."""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule.cli import SUBCOMMANDS, build_parser, main
from chainrule.cli.common import clean
from chainrule.training import RunConfig
from chainrule.training import run as train_run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from data_helpers import write_idx  # noqa: E402

RUN_FIELDS = set(RunConfig.__dataclass_fields__)
TINY = dict(model="mlp", dataset="digits", epochs=1, batch_size=32, limit_train=64, limit_test=32, seed=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A run folder trained for one epoch on 64 digits (shared: tests copy it before changing anything)."""
    folder = tmp_path_factory.mktemp("trained") / "run"
    train_run(RunConfig(**TINY), folder, progress=False, log=lambda *_: None)
    return folder


@pytest.fixture(autouse=True)
def _in_a_scratch_folder(tmp_path, monkeypatch):
    """Relative paths (train's default runs/MODEL-DATASET) land in the test's own folder."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def run_copy(trained, tmp_path) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(trained, folder)
    return folder


@pytest.fixture
def files(tmp_path, trained) -> dict[str, Path]:
    """Paths of each kind that a command may be given."""
    regular = tmp_path / "regular.txt"
    regular.write_text("not a folder\n")
    corrupt = tmp_path / "corrupt" / "checkpoint.npz"
    corrupt.parent.mkdir()
    corrupt.write_bytes(b"PK\x03\x04 this is not a checkpoint")
    garbage = tmp_path / "garbage.idx"
    garbage.write_bytes(b"\x00\x00\x08\x03 cut short")
    rng = np.random.default_rng(0)
    big = write_idx(tmp_path / "big.idx", rng.integers(0, 256, (3, 28, 28), dtype=np.uint8))
    labels = write_idx(tmp_path / "labels.idx", np.arange(5, dtype=np.uint8))
    small = write_idx(tmp_path / "small.idx", rng.integers(0, 17, (4, 8, 8), dtype=np.uint8))
    empty = tmp_path / "empty"
    empty.mkdir()
    return {"run": trained, "file": regular, "corrupt": corrupt.parent, "garbage": garbage, "big": big,
            "labels": labels, "small": small, "empty": empty, "missing": tmp_path / "missing",
            "under_file": regular / "sub", "tmp": tmp_path}


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(err: str, command: str | None, status: int, code: int) -> None:
    prefix = f"chainrule {command}: error: " if command else "chainrule: error: "
    assert code == status, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith(prefix), err
    assert " — " in err, err  # what, then how to fix it
    assert "Traceback" not in err and "\x1b" not in err


def folder_hash(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ----- usage errors: exit 2 ------------------------------------------------------------------------------------

BAD_NUMBERS = [
    *[["train", option, value] for option in ("--epochs", "--batch-size", "--limit-train", "--limit-test")
      for value in ("0", "-5", "1.5", "ten", "1e3")],
    *[["train", "--lr", value] for value in ("inf", "nan", "0", "-1", "1e999", "fast")],
    *[["train", option, value] for option in ("--momentum", "--weight-decay") for value in ("-0.1", "nan", "inf")],
    ["train", "--warmup-epochs", "-1"], ["train", "--warmup-epochs", "0.5"],
    ["train", "--seed", "-1"], ["train", "--seed", "1.5"], ["train", "--seed", "x"],
    ["evaluate", "{run}", "--limit-test", "0"], ["evaluate", "{run}", "--limit-test", "-3"],
    ["predict", "{run}", "{small}", "--top-k", "0"], ["predict", "{run}", "{small}", "--limit", "-1"],
    ["explain", "--conv", "--stride", "0"], ["explain", "--conv", "--padding", "-1"],
]

BAD_CHOICES = [
    ["train", "--model", "char_lstm"], ["train", "--model", "resnet"], ["train", "--dataset", "cifar"],
    ["train", "--optimizer", "lbfgs"], ["train", "--schedule", "cyclic"], ["train", "--bogus"],
    ["evaluate", "{run}", "--bogus", "1"], ["predict", "{run}"], ["explain", "x", "x=1", "--layout", "neato"],
    ["evaluate"],
]

WRONG_KIND = [  # a file where a folder is expected and the reverse, options that contradict each other
    ["train", "--out", "", "--dataset", "digits", "--model", "mlp"], ["train", "--dataset", "digits"],
    ["explain", "x * 2", "x=1", "--dot", ""],
    ["train", "--resume", "{run}/checkpoint.npz"], ["train", "--out", "{file}", "--dataset", "digits"],
    ["train", "--resume", "{run}", "--force"], ["evaluate", "{run}", "--out", "{file}"],
    ["predict", "{run}", "{empty}"], ["explain", "x * 2", "x=1", "--svg", "{empty}"],
    ["predict", "{run}", "{small}", "--top-k", "11"],
    ["train", "--data-dir", "{file}", "--dataset", "kmnist", "--model", "mlp"],
    ["train", "--data-dir", "{missing}", "--dataset", "kmnist", "--model", "mlp"],
    ["evaluate", "{run}", "--data-dir", "{file}"],
]

BAD_EXPRESSIONS = [
    ["explain", "(x + 1", "x=1"], ["explain", "x +* y", "x=1", "y=2"], ["explain", "x", "x=[1,"],
    ["explain", "q = x +; q", "x=1"], ["explain", "x[", "x=[1,2]"], ["explain", "x @ y", "x=[1,2]", "y=[1,2,3]"],
    ["explain", "--conv", "Q=1"], ["explain", "__import__('os')"],
    ["explain", "x * 2", "x=1e309"], ["explain", "x * 2", "x=[1, -1e309]"], ["explain", "x * 2", "x=" + "9" * 400],
]


@pytest.mark.parametrize("argv", BAD_NUMBERS + BAD_CHOICES + WRONG_KIND + BAD_EXPRESSIONS,
                         ids=lambda argv: " ".join(argv))
def test_usage_errors_exit_2_with_one_line(capsys, files, argv):
    argv = [a.format(**files) for a in argv]
    code, out, err = cli(capsys, *argv)
    assert_one_line(err, argv[0], 2, code)
    assert out == ""


def test_no_command_and_an_unknown_one(capsys):
    for argv in ([], ["bogus"], ["--bogus"]):
        code, out, err = cli(capsys, *argv)
        assert_one_line(err, None, 2, code)
        assert out == ""
    assert "train, evaluate, predict, explain" in cli(capsys)[2]


def test_the_line_says_what_came_and_what_was_expected(capsys):
    _, _, err = cli(capsys, "train", "--limit-train", "-5")
    assert err == "chainrule train: error: argument --limit-train: expected a count ≥ 1, got '-5' — give e.g. 10\n"
    _, _, err = cli(capsys, "train", "--lr", "inf")
    assert "expected a finite number > 0, got 'inf'" in err
    _, _, err = cli(capsys, "train", "--model", "char_lstm")
    assert "invalid choice: 'char_lstm'" in err and "'mlp'" in err


def test_a_folder_that_holds_a_run_is_refused_and_left_as_it_was(capsys, run_copy):
    before = folder_hash(run_copy)
    code, out, err = cli(capsys, "train", "--model", "mlp", "--dataset", "digits", "--out", run_copy, "--quiet")
    assert_one_line(err, "train", 2, code)
    assert "already holds a run" in err and "--resume" in err and "--force" in err
    assert folder_hash(run_copy) == before


def test_refused_commands_leave_every_file_as_it_was(capsys, run_copy, files):
    code, _, _ = cli(capsys, "evaluate", run_copy, "--limit-test", "8")  # confusion files to protect
    assert code == 0
    before = folder_hash(run_copy)
    assert {"confusion.txt", "confusion.png", "checkpoint.npz", "config.json"} <= set(before)
    refused = [
        ["evaluate", run_copy, "--limit-test", "0"], ["evaluate", run_copy, "--limit-test", "-1"],
        ["evaluate", run_copy, "--out", files["file"]], ["evaluate", run_copy, "--out", files["under_file"]],
        ["train", "--out", run_copy, "--lr", "nan"], ["train", "--resume", run_copy, "--epochs", "0"],
        ["train", "--resume", run_copy, "--force"], ["train", "--out", run_copy, "--model", "mlp"],
        ["train", "--out", run_copy, "--force", "--dataset", "kmnist", "--data-dir", files["empty"]],
        ["predict", run_copy, files["missing"]], ["explain", "x +", "x=1", "--svg", run_copy / "curves.png"],
    ]
    for argv in refused:
        code, _, err = cli(capsys, *argv)
        assert code in (1, 2) and err.count("\n") == 1, (argv, err)
        assert folder_hash(run_copy) == before, argv


# ----- failures at run time: exit 1 ---------------------------------------------------------------------------

FAILURES = [
    ["evaluate", "{missing}"], ["evaluate", "{empty}"], ["evaluate", "{corrupt}"],
    ["evaluate", "{corrupt}/checkpoint.npz"], ["evaluate", "{run}", "--out", "{under_file}"],
    ["predict", "{missing}", "{small}"], ["predict", "{run}", "{missing}.idx"], ["predict", "{corrupt}", "{small}"],
    ["predict", "{run}", "{garbage}"], ["predict", "{run}", "{labels}"], ["predict", "{run}", "{big}"],
    ["predict", "{run}", "{file}"],
    ["train", "--resume", "{missing}"], ["train", "--resume", "{empty}"], ["train", "--resume", "{corrupt}"],
    ["train", "--model", "mlp", "--dataset", "digits", "--out", "{under_file}"],
    ["explain", "x * 2", "x=1", "--svg", "{missing}/g.svg"], ["explain", "x * 2", "x=1", "--dot", "{under_file}.dot"],
]


@pytest.mark.parametrize("argv", FAILURES, ids=lambda argv: " ".join(argv))
def test_failures_at_run_time_exit_1_with_one_line(capsys, files, argv):
    argv = [a.format(**files) for a in argv]
    code, out, err = cli(capsys, *argv)
    assert_one_line(err, argv[0], 1, code)
    assert out == ""


def test_data_not_found_names_the_options_that_fix_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "cache"))
    out = tmp_path / "out"
    code, _, err = cli(capsys, "train", "--dataset", "kmnist", "--model", "mlp", "--data-dir", tmp_path, "--out", out)
    assert_one_line(err, "train", 1, code)
    assert "were not found" in err and "--data-dir" in err and "--download" in err
    assert not out.exists()  # a run that could not start leaves no folder behind


def test_corrupt_data_files(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "cache"))
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).write_bytes(b"\x1f\x8b not really gzip")
    code, _, err = cli(capsys, "train", "--dataset", "kmnist", "--data-dir", tmp_path, "--out", tmp_path / "o")
    assert_one_line(err, "train", 1, code)


def test_a_missing_optional_extra_names_what_to_install(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if scikit-learn were not installed
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    code, _, err = cli(capsys, "train", "--model", "mlp", "--dataset", "digits", "--out", tmp_path / "o")
    assert_one_line(err, "train", 1, code)
    assert "scikit-learn" in err and 'pip install "chainrule[digits]"' in err


def test_png_without_pillow_names_what_to_install(capsys, trained, tmp_path, monkeypatch):
    png = tmp_path / "drawing.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    monkeypatch.setitem(sys.modules, "PIL", None)
    code, _, err = cli(capsys, "predict", trained, png)
    assert_one_line(err, "predict", 1, code)
    assert 'pip install "chainrule[plot]"' in err


def test_an_unexpected_error_is_one_line_and_shown_in_full_when_debugging(capsys, trained, monkeypatch):
    import chainrule.cli.evaluate as evaluate_command

    def broken(*_args, **_kwargs):
        raise RuntimeError("something no one planned for")

    monkeypatch.setattr(evaluate_command, "evaluate", broken)
    code, _, err = cli(capsys, "evaluate", trained)
    assert_one_line(err, "evaluate", 1, code)
    assert "unexpected RuntimeError: something no one planned for" in err and "CHAINRULE_DEBUG=1" in err
    monkeypatch.setenv("CHAINRULE_DEBUG", "1")
    with pytest.raises(RuntimeError, match="no one planned"):
        main(["evaluate", str(trained)])


# ----- resume, force, interruption ---------------------------------------------------------------------------


def test_resume_names_each_option_that_differs_and_which_value_wins(capsys, run_copy):
    code, out, err = cli(capsys, "train", "--resume", run_copy, "--lr", "0.1", "--epochs", "2", "--batch-size", "32",
                         "--quiet")
    assert code == 0, err
    notes = err.splitlines()
    assert notes == [
        "chainrule train: note: --epochs 2: the run now trains to 2 epochs in all (the saved run's total was 1)",
        "chainrule train: note: --lr 0.1 differs from the saved run's 0.05; the saved value is kept (start over "
        "with --force to change it)",
    ]  # --batch-size 32 is the saved value: no note
    assert "after 2 epochs" in out
    from chainrule import io

    saved = io.load_checkpoint(run_copy / "checkpoint.npz")
    assert saved.config["lr"] == 0.05 and saved.config["epochs"] == 2 and saved.epoch == 2


def test_a_resumed_run_that_cannot_start_shows_its_error_line_alone(capsys, run_copy, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # the digits cannot load: the notes are not shown
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    code, _, err = cli(capsys, "train", "--resume", run_copy, "--lr", "0.1", "--epochs", "3")
    assert_one_line(err, "train", 1, code)
    assert "chainrule[digits]" in err


def test_force_starts_over_and_says_so(capsys, run_copy):
    (run_copy / "notes.txt").write_text("mine\n")
    code, out, err = cli(capsys, "train", "--model", "mlp", "--dataset", "digits", "--out", run_copy, "--force",
                         "--epochs", "1", "--limit-train", "32", "--limit-test", "16", "--seed", "7", "--quiet")
    assert code == 0, err
    assert err.startswith("chainrule train: note: --force: ") and err.count("\n") == 1
    assert str(run_copy) in err and "checkpoint.npz" in err
    from chainrule import io

    saved = io.load_checkpoint(run_copy / "checkpoint.npz")
    assert saved.config["seed"] == 7 and saved.config["limit_train"] == 32
    assert (run_copy / "notes.txt").read_text() == "mine\n"  # only the run's own files are removed


def test_force_keeps_the_old_run_when_the_new_one_cannot_start(capsys, run_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "cache"))
    before = folder_hash(run_copy)
    code, _, err = cli(capsys, "train", "--out", run_copy, "--force", "--dataset", "kmnist", "--data-dir", tmp_path)
    assert_one_line(err, "train", 1, code)
    assert folder_hash(run_copy) == before


class _Terminated(KeyboardInterrupt):
    signum = 15


@pytest.mark.parametrize(("signal", "status"), [(None, 130), (15, 143)])
def test_an_interrupted_run_says_where_it_stopped_and_how_to_continue(capsys, tmp_path, monkeypatch, signal,
                                                                      status):
    import chainrule.cli.train as train_command

    def interrupted(*args, **kwargs):  # what Ctrl-C (or SIGTERM) does after the third batch
        try:
            return train_run(*args, **kwargs, stop_after_batches=3)
        except KeyboardInterrupt:
            if signal is None:
                raise
            raise _Terminated from None

    monkeypatch.setattr(train_command, "run_training", interrupted)
    out = tmp_path / "run"
    code, _, err = cli(capsys, "train", "--model", "mlp", "--dataset", "digits", "--batch-size", "16", "--epochs", "1",
                       "--limit-train", "160", "--limit-test", "16", "--out", out, "--quiet")
    assert code == status
    assert err == f"chainrule train: stopped at epoch 1, batch 3; continue with: chainrule train --resume {out}\n"
    monkeypatch.undo()
    code, out_text, err = cli(capsys, "train", "--resume", out, "--quiet")
    assert code == 0 and err == "", err
    assert "resumed from" in out_text and "after 1 epochs" in out_text


# ----- help, pipes, escape codes --------------------------------------------------------------------------------


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("command", [None, *SUBCOMMANDS])
def test_help_shows_every_default_and_ends_with_examples(capsys, command):
    parser = build_parser()
    sub = parser if command is None else _subparsers(parser)[command]
    with pytest.raises(SystemExit) as info:
        main(["--help"] if command is None else [command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    flat = " ".join(text.split())
    for action in sub._actions:
        takes_value = action.option_strings and action.nargs != 0
        # train's run options default to None, meaning "not typed"; their help states the real default
        if takes_value and (action.default is not None or (command == "train" and action.dest in RUN_FIELDS)):
            shown = " ".join(sub._get_formatter()._get_help_string(action).split()) % {"default": action.default}
            assert "(default: " in shown and shown in flat, (action.option_strings, shown)
    tail = text.rstrip("\n").split("examples:\n")[-1].splitlines()
    examples = [line for line in tail if line.startswith("  chainrule ")]
    assert 2 <= len(examples) <= 4 and examples == tail[-len(examples):], tail
    assert "train --help" not in text or command is None


def test_train_help_states_the_real_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for shown in ("(default: 128)", "(default: 0.05)", "(default: lenet5)", "(default: fashion-mnist)",
                  "(default: 10)", "(default: 0.9)", "char_lstm"):
        assert (shown in text) == (shown != "char_lstm"), shown


ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def _closed_pipe(*argv: str) -> subprocess.CompletedProcess:
    """Run ``python -m chainrule ...`` with stdout a pipe whose reader has already gone (as ``| head`` after
    its first line)."""
    read, write = os.pipe()
    os.close(read)
    try:
        child = subprocess.run([sys.executable, "-m", "chainrule", *argv], stdout=write, stderr=subprocess.PIPE,
                               text=True, timeout=120, env=ENV)
    finally:
        os.close(write)
    return child


@pytest.mark.parametrize("command", ["explain", "evaluate"])
def test_output_into_a_closed_pipe_ends_quietly(trained, tmp_path, command):
    run_dir = tmp_path / "run"
    shutil.copytree(trained, run_dir)
    argv = ["explain", "(x + y) * z", "x=-2", "y=5", "z=-4"] if command == "explain" else ["evaluate", str(run_dir)]
    child = _closed_pipe(*argv)
    assert child.returncode == 0 and child.stderr == "", child.stderr
    if command == "evaluate":  # written before the report is printed
        assert (run_dir / "confusion.txt").read_text().startswith("accuracy ")


def test_into_head_through_a_shell(tmp_path):
    if shutil.which("head") is None or shutil.which("bash") is None:
        pytest.skip("needs bash and head")
    command = f'set -o pipefail; "{sys.executable}" -m chainrule explain --conv --stride 1 | head -1'
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120, env=ENV,
                            cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    assert len(result.stdout.splitlines()) == 1


def test_a_training_run_piped_into_head_still_trains_to_the_end(tmp_path):
    """The reader going away drops the progress lines, not the run: its files are its results."""
    if shutil.which("head") is None or shutil.which("bash") is None:
        pytest.skip("needs bash and head")
    command = (f'set -o pipefail; "{sys.executable}" -m chainrule train --model mlp --dataset digits --epochs 3 '
               f'--limit-train 64 --limit-test 32 --batch-size 32 --quiet --out run | head -1')
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120, env=ENV,
                            cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    assert len(result.stdout.splitlines()) == 1
    rows = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 3


def test_the_sanitiser_escapes_control_characters():
    assert clean("a\x1b[31mred\x07\r") == "a\\x1b[31mred\\x07"
    assert clean("two\nlines\t and  spaces") == "two lines and spaces"
    assert clean("\u202eevil") == "\\u202eevil"
    assert clean("∂f/∂x ×") == "∂f/∂x ×"


def test_text_from_the_user_is_never_echoed_with_escape_codes(capsys, trained, tmp_path):
    red = "\x1b[31mred\x1b[0m"
    for argv, command in (
        (["predict", trained, tmp_path / f"{red}.idx"], "predict"),
        (["evaluate", tmp_path / red], "evaluate"),
        (["explain", "x", f"x={red}"], "explain"),
        (["train", "--model", red], "train"),
        (["train", "--resume", tmp_path / red], "train"),
    ):
        code, out, err = cli(capsys, *argv)
        assert code in (1, 2) and err.startswith(f"chainrule {command}: error: ")
        assert "\x1b" not in err + out and "\\x1b[31mred" in err, err


# ----- through the real entry point --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "status"),
    [
        (["predict", "{run}", "{missing}.idx"], 1),
        (["train", "--limit-train", "0"], 2),
        (["evaluate", "{corrupt}"], 1),
        (["explain", "(x + 1", "x=1"], 2),
        (["train", "--resume", "{run}/checkpoint.npz"], 2),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else str(value),
)
def test_no_traceback_escapes_the_real_entry_point(files, argv, status):
    argv = [a.format(**files) for a in argv]
    child = subprocess.run([sys.executable, "-m", "chainrule", *argv], capture_output=True, text=True, timeout=120,
                           env=ENV, cwd=files["tmp"])
    assert child.returncode == status, child.stderr
    assert child.stdout == ""
    assert child.stderr.count("\n") == 1 and child.stderr.startswith(f"chainrule {argv[0]}: error: ")
    assert "Traceback" not in child.stderr


def test_sigterm_stops_the_real_command_with_128_plus_the_signal(tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    child = subprocess.Popen([sys.executable, "-m", "chainrule", "train", "--model", "mlp", "--dataset", "digits",
                              "--epochs", "1000", "--batch-size", "8", "--out", str(out), "--quiet"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        deadline = time.monotonic() + 120
        while not (out / "config.json").exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # the signal handlers are in place once the run has written its files
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 128 + signal.SIGTERM, err
    assert err.count("\n") == 1 and err.startswith("chainrule train: stopped ")
    assert err.endswith(f"; continue with: chainrule train --resume {out}\n") and "Traceback" not in err


def test_ctrl_c_while_the_library_loads_ends_in_one_line(monkeypatch, capsys):
    """The console script's entry point sits outside the package, so an interrupt during the imports is caught."""
    import chainrule_command

    class Interrupting:  # an import finder that behaves like a Ctrl-C arriving while chainrule.cli loads
        def find_spec(self, name, path=None, target=None):
            if name == "chainrule.cli":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "chainrule.cli")
    monkeypatch.setattr(sys, "meta_path", [Interrupting(), *sys.meta_path])
    assert chainrule_command.main() == 130
    out, err = capsys.readouterr()
    assert out == "" and err == "chainrule: stopped while loading\n"


def test_ctrl_c_at_any_early_moment_of_the_real_command_leaves_no_traceback(tmp_path):
    import signal
    import time

    script = Path(sys.executable).parent / "chainrule"
    assert script.exists(), "the console script comes with the install"
    for delay in (0.05, 0.15, 0.3, 0.6, 1.0):
        child = subprocess.Popen([str(script), "train", "--model", "mlp", "--dataset", "digits", "--epochs", "1000",
                                  "--out", str(tmp_path / f"run{delay}"), "--quiet"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True, env=ENV)
        time.sleep(delay)
        child.send_signal(signal.SIGINT)
        try:
            _, err = child.communicate(timeout=120)
        finally:
            if child.poll() is None:
                child.kill()
        assert "Traceback" not in err, (delay, err)
        assert child.returncode == 128 + signal.SIGINT, (delay, err)
        assert err.count("\n") == 1, (delay, err)


def test_sigterm_after_the_training_loop_still_ends_in_one_line(capsys, tmp_path, monkeypatch):
    """Outside the training loop's own handlers, SIGTERM is turned into the same one-line stop."""
    import signal

    import chainrule.cli.train as train_cli

    def terminated_while_loading(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM should have stopped the command")

    monkeypatch.setattr(train_cli, "run_training", terminated_while_loading)
    before = signal.getsignal(signal.SIGTERM)
    code, _, err = cli(capsys, "train", "--model", "mlp", "--dataset", "digits", "--out", str(tmp_path / "r"))
    assert code == 128 + signal.SIGTERM
    assert err.count("\n") == 1 and err.startswith("chainrule train: stopped")
    assert signal.getsignal(signal.SIGTERM) is before  # the command put the previous handler back
