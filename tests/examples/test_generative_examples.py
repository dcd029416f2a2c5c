"""The generative examples in examples/generative: each trains for a few epochs on a tiny synthetic slice (a few
seconds) and its printed loss is finite and falls; the FVBN's masks make output i depend on pixels < i only;
outputs are written under --out and never overwritten unasked; one run on real Fashion-MNIST where installed."""

from __future__ import annotations

import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "generative"
TINY = ["--synthetic", "--limit", "256", "--test-limit", "200", "--epochs", "3", "--batch-size", "32"]


def _run(name: str, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True,
                            timeout=300, cwd=ROOT)
    return result


def _column(stdout: str, pattern: str) -> list[float]:
    """The number after ``pattern`` on each "epoch k:" line, in order."""
    lines = [line for line in stdout.splitlines() if line.startswith("epoch ")]
    values = [float(re.search(pattern + r" (-?[\d.]+|nan|inf)", line).group(1)) for line in lines
              if re.search(pattern, line)]
    assert values, f"no {pattern!r} in:\n{stdout}"
    return values


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"generative_{name[:-3]}", EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vae_elbo_is_finite_and_falls_and_outputs_are_not_overwritten(tmp_path):
    out = tmp_path / "vae"
    result = _run("vae.py", *TINY, "--hidden", "64", "--out", str(out), "--samples", "8")
    assert result.returncode == 0, result.stderr[-2000:]
    for column in ("-ELBO", "test -ELBO", "reconstruction"):
        values = _column(result.stdout, column)
        assert len(values) == 3 and all(math.isfinite(v) for v in values)
        assert values[-1] < values[0], f"{column} did not fall: {values}"
    kl = _column(result.stdout, "KL")
    assert all(k >= 0 for k in kl)  # a KL divergence
    assert re.search(r"^final: epoch 3, -ELBO [\d.]+ nats .* test -ELBO [\d.]+ nats", result.stdout, re.M)
    assert (out / "checkpoint.npz").stat().st_size > 1000 and (out / "samples.png").stat().st_size > 500
    assert set(cr.load(out / "checkpoint.npz")) >= {"encoder.0.weight", "decoder.2.bias"}
    before = (out / "checkpoint.npz").read_bytes()
    again = _run("vae.py", *TINY, "--out", str(out))
    assert again.returncode == 2 and "already holds checkpoint.npz, samples.png; pass --overwrite" in again.stderr
    assert again.stderr.strip().splitlines()[-1].startswith("vae.py: error: --out") and "Traceback" not in again.stderr
    assert (out / "checkpoint.npz").read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left behind


def test_gan_losses_are_finite_and_the_generator_learns_the_mean_image():
    result = _run("gan.py", *TINY, "--hidden", "64", "--lr", "1e-3")
    assert result.returncode == 0, result.stderr[-2000:]
    d_loss, g_loss = _column(result.stdout, "D loss"), _column(result.stdout, "G loss")
    assert len(d_loss) == len(g_loss) == 3 and all(math.isfinite(v) for v in d_loss + g_loss)
    assert all(v > 0 for v in d_loss + g_loss)  # cross-entropies
    gap = _column(result.stdout, "mean-image gap")
    assert len(gap) == 4 and gap[-1] < 0.8 * gap[0], f"the mean-image gap did not fall: {gap}"
    assert re.search(r"^final: epoch 3, D loss [\d.]+ nats, G loss [\d.]+ nats", result.stdout, re.M)


def test_fvbn_nll_is_finite_and_falls():
    result = _run("fvbn.py", *TINY, "--hidden", "100")
    assert result.returncode == 0, result.stderr[-2000:]
    for column in ("NLL", "test NLL"):
        values = _column(result.stdout, column)
        assert len(values) == 3 and all(math.isfinite(v) and v > 0 for v in values)
        assert values[-1] < values[0], f"{column} did not fall: {values}"
    assert re.search(r"^final: epoch 3, NLL [\d.]+ nats, test NLL [\d.]+ nats per image", result.stdout, re.M)


@pytest.mark.parametrize("dims, hidden", [(12, 30), (784, 64)])
def test_fvbn_output_i_depends_only_on_pixels_before_i(dims, hidden):
    """∂logitᵢ/∂xⱼ = 0 for j ≥ i, from the engine's gradients, and ≠ 0 for some j < i (the masks cut no more)."""
    cr.manual_seed(0)
    fvbn = _load("fvbn.py")
    model = fvbn.MADE(dims, hidden)
    for layer in (model.direct,):  # start it non-zero, so that the direct path is checked too
        layer.weight.data.copy_(cr.randn(*layer.weight.shape))
    x = cr.tensor(np.random.default_rng(0).integers(0, 2, (1, dims)).astype(np.float32), requires_grad=True)
    logits = model(x)
    outputs = range(dims) if dims <= 12 else (0, 1, 2, 100, 400, 783)
    for i in outputs:
        (g,) = cr.grad(logits[0, i], [x], retain_graph=True)
        g = g.numpy()[0]
        assert np.all(g[i:] == 0), f"output {i} depends on pixels {np.nonzero(g[i:])[0][:5] + i}"
        if i > 0:
            assert np.any(g[:i] != 0), f"output {i} depends on no earlier pixel"
    if dims <= 12:  # ancestral sampling, pixel by pixel, gives binary images
        samples = model.sample(5)
        assert samples.shape == (5, dims) and set(np.unique(samples)) <= {0.0, 1.0}


def test_bad_flags_are_refused_in_one_line():
    result = _run("fvbn.py", "--synthetic", "--epochs", "0")
    assert result.returncode == 2 and "--epochs must be ≥ 1, got 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_vae_learns_on_real_fashion_mnist():
    from chainrule.data import FashionMNIST
    from chainrule.data.idx import DataNotFoundError

    try:
        FashionMNIST(None, train=False)
    except DataNotFoundError:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    result = _run("vae.py", "--limit", "1000", "--test-limit", "500", "--epochs", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    test_elbo = _column(result.stdout, "test -ELBO")
    assert test_elbo[-1] < test_elbo[0] < 545  # 784·log 2 = 543 nats: better than a coin per pixel
