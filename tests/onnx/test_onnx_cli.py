"""``chainrule export DIR OUTPUT``: a trained run's model as ONNX, with the command line's one-line refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx_helpers import session

from chainrule.autograd.grad_mode import no_grad
from chainrule.cli import main
from chainrule.training import RunConfig, load_trained, to_input
from chainrule.training import run as train_run

TINY = dict(model="mlp", dataset="digits", epochs=1, batch_size=32, limit_train=64, limit_test=32, seed=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("trained") / "run"
    train_run(RunConfig(**TINY), folder, progress=False, log=lambda *_: None)
    return folder


def cli(capsys: pytest.CaptureFixture, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_export_writes_the_runs_model(capsys: pytest.CaptureFixture, trained: Path, tmp_path: Path) -> None:
    target = tmp_path / "digits.onnx"
    code, out, err = cli(capsys, "export", trained, target)
    assert (code, err) == (0, "")
    assert out == f"wrote {target}: mlp on digits, input (batch, 1, 8, 8) float32, opset 17\n"
    images = np.random.default_rng(0).integers(0, 17, (3, 1, 8, 8)).astype(np.uint8)
    x = to_input(images, "digits")
    model, _ = load_trained(trained)
    with no_grad():
        expected = model(x).numpy()
    got = session(target.read_bytes()).run(["output"], {"input": x.numpy()})[0]
    assert np.max(np.abs(got - expected)) <= 1e-5


def test_an_existing_output_needs_force(capsys: pytest.CaptureFixture, trained: Path, tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    target.write_bytes(b"keep me")
    code, _, err = cli(capsys, "export", trained, target)
    assert code == 2 and target.read_bytes() == b"keep me"
    assert err == f"chainrule export: error: {target} already exists — pass --force to replace it, or choose another " \
                  f"OUTPUT\n"
    code, _, err = cli(capsys, "export", trained, target, "--force", "--opset", "18")
    assert (code, err) == (0, "") and target.read_bytes()[:2] != b"ke"


@pytest.mark.parametrize(("argv", "status", "message"), [
    (["{missing}", "{tmp}/m.onnx"], 1, "no checkpoint at"),
    (["{run}", "{tmp}"], 2, "is a folder"),
    (["{run}", "{tmp}/no/such/m.onnx"], 1, "does not exist"),
    (["{run}", "{tmp}/m.onnx", "--opset", "12"], 2, "--opset 12 is not supported"),
    (["{run}", "{tmp}/m.onnx", "--opset", "x"], 2, "expected a count"),
])
def test_refusals_are_one_line(capsys: pytest.CaptureFixture, trained: Path, tmp_path: Path, argv: list[str],
                               status: int, message: str) -> None:
    paths = {"run": trained, "tmp": tmp_path, "missing": tmp_path / "missing"}
    code, out, err = cli(capsys, "export", *[a.format(**paths) for a in argv])
    assert code == status and out == ""
    assert err.startswith("chainrule export: error: ") and err.count("\n") == 1 and " — " in err
    assert message in err
    assert not (tmp_path / "m.onnx").exists()
