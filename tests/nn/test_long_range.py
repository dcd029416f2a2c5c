"""The long-range example: an LSTM learns the adding problem where a tanh RNN cannot (fixed seed)."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "adding_problem.py"


@pytest.fixture(scope="module")
def adding():
    spec = importlib.util.spec_from_file_location("adding_problem", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lstm_learns_the_adding_problem_in_600_steps(adding):
    # Always answering 1.0 has MSE ≈ 0.167 and accuracy (|error| < 0.04) ≈ 10%.
    result = adding.train("lstm", length=30, steps=600, seed=0)
    assert result["mse"] < 0.01, result
    assert result["accuracy"] > 0.75, result


def test_char_lm_example_trains_with_truncated_bptt_and_samples(tmp_path):
    import subprocess
    import sys

    text = tmp_path / "text.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 40, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(EXAMPLE.parent / "char_lm.py"), str(text), "--steps", "60", "--hidden", "32",
         "--batch", "4", "--bptt", "16", "--lr", "1e-2", "--sample", "50", "--log-every", "20"],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    losses = [float(line.split()[3]) for line in run.stdout.splitlines() if line.startswith("step")]
    assert losses[0] > 2.5 and losses[-1] < 0.75 * losses[0], run.stdout  # it learns
    sample = run.stdout.strip().splitlines()[-1]
    assert len(sample) == 51 and set(sample) <= set("the quick brown fox jumps over the lazy dog.")
