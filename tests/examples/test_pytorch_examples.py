"""The PyTorch programs in examples/pytorch: each differs from a PyTorch program only in its import lines, trains on
chainrule, and (where torchvision is not needed) also runs on PyTorch with the imports swapped back."""

from __future__ import annotations

import ast
import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "pytorch"
PROGRAMS = sorted(p.name for p in EXAMPLES.glob("*.py"))
# the import lines of a chainrule program and the PyTorch lines they stand for
SWAPS = {
    "import chainrule as torch": "import torch",
    "import chainrule.nn as nn": "import torch.nn as nn",
    "import chainrule.nn.functional as F": "import torch.nn.functional as F",
    "import chainrule.optim as optim": "import torch.optim as optim",
    "from chainrule import nn, optim": "from torch import nn, optim",
    "from chainrule.optim.lr_scheduler import StepLR": "from torch.optim.lr_scheduler import StepLR",
    "from chainrule.utils.data import DataLoader, Subset": "from torch.utils.data import DataLoader, Subset",
    "from chainrule.vision import datasets, transforms": "from torchvision import datasets, transforms",
}


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name[:-3]}", EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _as_pytorch(name: str) -> str:
    source = (EXAMPLES / name).read_text()
    for line, torch_line in SWAPS.items():
        source = source.replace(line, torch_line)
    return source


@pytest.mark.parametrize("name", PROGRAMS)
def test_only_the_imports_name_chainrule(name):
    source = (EXAMPLES / name).read_text()
    tree = ast.parse(source)
    lines = [ast.get_source_segment(source, node) for node in ast.walk(tree)
             if isinstance(node, (ast.Import, ast.ImportFrom))]
    imports = {line for line in lines if "chainrule" in line}
    assert imports <= set(SWAPS), f"imports without a PyTorch twin: {imports - set(SWAPS)}"
    code = _as_pytorch(name).split('"""', 2)[2]  # after the module docstring, which names the library
    assert "chainrule" not in code


@pytest.mark.parametrize("name, argv", [
    ("polynomial_regression.py", []),
    ("sine_forecast.py", ["--steps", "1", "--waves", "6", "--length", "60", "--future", "5"]),
    ("word_language_model.py", ["--epochs", "1", "--data", str(ROOT / "README.md")]),
])
def test_the_pytorch_twin_runs_on_pytorch(name, argv, tmp_path):
    program = tmp_path / name
    program.write_text(_as_pytorch(name))
    result = subprocess.run([sys.executable, str(program), *argv], capture_output=True, text=True, timeout=600,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]


def test_polynomial_regression_fits_the_polynomial():
    loss, batches = _load("polynomial_regression.py").main(["--seed", "3"])
    assert loss < 1e-3 and batches < 5000


def test_sine_forecast_learns_with_lbfgs(tmp_path):
    test_loss = _load("sine_forecast.py").main(
        ["--steps", "2", "--waves", "8", "--length", "60", "--future", "10", "--out", str(tmp_path / "f.png")])
    assert test_loss < 0.02
    assert (tmp_path / "f.png").stat().st_size > 1000


def _corpus(path):
    """A fixed text with structure to learn (sentences from a small grammar): unlike a project file, it does
    not change under the test."""
    rng = np.random.default_rng(0)
    adjectives = [f"adj{i}" for i in range(40)]
    nouns = [f"noun{i}" for i in range(120)]
    verbs = [f"verb{i}" for i in range(60)]
    lines = [f"the {rng.choice(adjectives)} {rng.choice(nouns)} {rng.choice(verbs)} the {rng.choice(nouns)} ."
             for _ in range(1000)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("model", ["LSTM", "Transformer"])
def test_word_language_model_beats_a_uniform_guess(model, tmp_path):
    module = _load("word_language_model.py")
    text = _corpus(tmp_path / "corpus.txt")
    words = len(module.Corpus(str(text)).idx2word)
    best = module.main(["--model", model, "--epochs", "2", "--lr", "5" if model == "Transformer" else "20",
                        "--data", str(text), "--save", str(tmp_path / "best.npz")])
    assert best < math.log(words)
    assert (tmp_path / "best.npz").exists()


def _fashion_mnist_or_skip(tmp_path):
    from chainrule.vision import datasets

    try:
        datasets.FashionMNIST(str(tmp_path), train=False)
    except RuntimeError:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")


def test_fashion_mnist_cnn_learns_with_worker_processes(tmp_path):
    _fashion_mnist_or_skip(tmp_path)
    accuracy = _load("fashion_mnist_cnn.py").main(
        ["--epochs", "1", "--subset", "640", "--batch-size", "32", "--data", str(tmp_path), "--workers", "2",
         "--save-model", str(tmp_path / "cnn.npz")])
    assert accuracy > 0.5
    assert (tmp_path / "cnn.npz").exists()


def test_fashion_mnist_vae_lowers_its_loss(tmp_path):
    _fashion_mnist_or_skip(tmp_path)
    first, last = _load("fashion_mnist_vae.py").main(
        ["--epochs", "2", "--subset", "2000", "--data", str(tmp_path), "--samples", str(tmp_path / "s.png")])
    assert last < first < 550
    assert (tmp_path / "s.png").stat().st_size > 1000
