"""``chainrule explain``: prints the table and exits 0; refuses unsafe expressions in one line with a non-zero
exit status."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from chainrule.cli import SUBCOMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_mul_example(capsys):
    code, out, err = run(capsys, "explain", "(x + y) * z", "x=-2", "y=5", "z=-4")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "f = -12"
    assert any(line.split() == ["1", "f", "mul", "swaps", "-12", "1", "x", "+", "y", "z", "=", "-4", "-4"]
               for line in lines)
    assert any(line.split() == ["2", "x", "+", "y", "add", "distributes", "3", "-4", "x", "1", "-4"] for line in lines)
    assert "∂f/∂x = -4   ∂f/∂y = -4   ∂f/∂z = 3" in out


def test_named_intermediates_and_pictures(capsys, tmp_path):
    svg, dot = tmp_path / "g.svg", tmp_path / "g.dot"
    code, out, err = run(
        capsys, "explain", "q = x + y; f = q * z", "x=-2", "y=5", "z=-4", "--svg", str(svg), "--dot", str(dot)
    )
    assert code == 0, err
    assert any(line.split()[:4] == ["2", "q", "add", "distributes"] for line in out.splitlines())
    root = ET.parse(svg).getroot()
    names = {g.get("data-name") for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("data-name")}
    assert names == {"x", "y", "z", "q", "f", "add", "mul"}
    assert dot.read_text(encoding="utf-8").startswith("digraph")
    assert f"graph written to {svg}" in out


def test_sigmoid_neuron(capsys):
    code, out, _ = run(
        capsys, "explain", "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"
    )
    assert code == 0
    assert "∂f/∂w0 = -0.196612   ∂f/∂x0 = 0.393224   ∂f/∂w1 = -0.393224   ∂f/∂x1 = -0.589836   ∂f/∂w2 = 0.196612" in out


def test_matrix_example(capsys):
    code, out, _ = run(capsys, "explain", "q = W @ x; f = sum(q ** 2)", "W=[[0.1,0.5],[-0.3,0.8]]", "x=[0.2,0.4]")
    assert code == 0
    assert "∂f/∂W = [[0.088, 0.176], [0.104, 0.208]]   ∂f/∂x = [-0.112, 0.636]" in out
    assert "downstream = Wᵀ·G" in out


def test_conv(capsys):
    code, out, _ = run(capsys, "explain", "--conv")
    assert code == 0
    assert "o11 = x11·w11" in out and "∂L/∂x33 =" in out and "rotated by 180°" in out
    code, out, _ = run(capsys, "explain", "--conv", "X=[[1,2,3],[4,5,6],[7,8,9]]", "W=[[1,0],[0,-1]]", "b=0",
                       "--stride", "1")
    assert code == 0 and "O 2×2" in out
    code, _, err = run(capsys, "explain", "--conv", "Z=1")
    assert code == 2 and err.count("\n") == 1 and "'Z'" in err


@pytest.mark.parametrize(
    ("argv", "token"),
    [
        (["x.__class__", "x=1"], "x.__class__"),
        (["__import__('os').system('echo hacked')", "x=1"], "__import__('os').system"),
        (["open('/etc/passwd')"], "open"),
        (["import os"], "import os"),
        (["lambda: 1"], "lambda: 1"),
        (["[i for i in x]", "x=[1,2]"], "[i for i in x]"),
        (["foo(x)", "x=1"], "foo"),
        (["x * y", "x=1"], "y"),
        (["x ** 1000000", "x=2"], "1000000"),
        (["10**10**10", "x=2"], "10**10"),
        (["2**100000"], "100000"),
        (["x", "x=os.system"], "os.system"),
        (["x", "x=1", "x=2"], "'x' is bound twice"),
        (["(x + 1", "x=1"], "syntax error"),
        (["x + 1"], "unknown name 'x'"),
        (["2 * 3"], "does not depend on any variable"),
        (["W", "W=[[1,2],[3,4]]"], "sum(...)"),
        ([], "no expression"),
        (["--", "-(" * 60 + "x" + ")" * 60, "x=1"], "nested too deeply"),
    ],
)
def test_refused_one_line_nonzero(capsys, argv, token):
    start = time.perf_counter()
    code, out, err = run(capsys, "explain", *argv)
    assert time.perf_counter() - start < 1.0
    assert code != 0
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("chainrule explain: error: ")
    assert token in err


def test_huge_exponent_returns_quickly(capsys):
    start = time.perf_counter()
    code, _, err = run(capsys, "explain", "x ** 10 ** 10 ** 10", "x=2")
    assert time.perf_counter() - start < 1.0
    assert code == 2 and "exponent" in err


def test_dispatcher_is_extensible_and_helpful(capsys):
    assert "explain" in SUBCOMMANDS
    parser = build_parser()
    assert parser.parse_args(["explain", "x", "x=1"]).expression == "x"
    assert main([]) == 2
    assert "explain" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["explain", "--help"])
    assert info.value.code == 0
    assert "sigmoid" in capsys.readouterr().out


def test_python_dash_m(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    ok = subprocess.run(
        [sys.executable, "-m", "chainrule", "explain", "(x + y) * z", "x=-2", "y=5", "z=-4"],
        capture_output=True, text=True, encoding="utf-8", env=env, cwd=tmp_path, timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert "∂f/∂z = 3" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "chainrule", "explain", "__import__('os').system('echo hacked')"],
        capture_output=True, text=True, encoding="utf-8", env=env, cwd=tmp_path, timeout=60,
    )
    assert bad.returncode == 2
    assert "hacked" not in bad.stdout
    assert len(bad.stderr.strip().splitlines()) == 1
