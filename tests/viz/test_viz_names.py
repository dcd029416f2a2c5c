"""Nodes carry the names a learner recognizes: the code's variables, names=, module paths, and expressions."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.cli import main
from chainrule.errors import ArgumentTypeError
from chainrule.viz import explain
from chainrule.viz.names import MAX_NAME

README = Path(__file__).resolve().parents[2] / "README.md"


def nodes(table):
    return [row["node"] for row in table]


def test_readme_tour_prints_the_table_it_shows():
    text = README.read_text(encoding="utf-8")
    tour = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    shown = re.findall(r"```text\n(f = -12\n.*?)```", text, re.S)[0]
    code = tour.split("f.backward()")[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code, {})  # noqa: S102 - our own documentation
    assert out.getvalue() == shown


def test_sigmoid_neuron_nodes_are_named_by_their_expressions():
    w0, x0, w1, x1, w2 = (cr.tensor(v, dtype=cr.float64, requires_grad=True) for v in (2, -1, -3, -2, -3))
    f = 1 / (1 + cr.exp(-(w0 * x0 + w1 * x1 + w2)))
    table = explain(f)
    assert nodes(table) == [
        "f", "1 + exp(-(w0*x0 + w1*x1 + w2))", "exp(-(w0*x0 + w1*x1 + w2))", "-(w0*x0 + w1*x1 + w2)",
        "w0*x0 + w1*x1 + w2", "w0*x0 + w1*x1", "w0*x0", "w1*x1",
    ]
    assert list(table.gradients) == ["w0", "x0", "w1", "x1", "w2"]
    assert table.gradients["x0"] == pytest.approx(0.393224, abs=1e-6)


def test_brackets_only_where_precedence_needs_them():
    a, b, c = (cr.tensor(v, dtype=cr.float64, requires_grad=True) for v in (1.5, 2.0, 3.0))
    cases = {
        "a - (b - c)": lambda: a - (b - c), "a - b - c": lambda: (a - b) - c, "a + b + c": lambda: a + (b + c),
        "a/(b*c)": lambda: a / (b * c), "(a + b)**2": lambda: (a + b) ** 2, "(-a)**2": lambda: (-a) ** 2,
        "-a**2": lambda: -(a**2), "a**(b + c)": lambda: a ** (b + c), "exp(a + b)*c": lambda: cr.exp(a + b) * c,
        "(a - b)*(b - c)": lambda: (a - b) * (b - c),
    }
    for expected, make in cases.items():
        assert explain(make() * 2).steps[1].node == expected  # the output is L; its input the expression


def test_long_expressions_elide_their_longest_operand_then_fall_back_to_the_op_and_a_number():
    alpha, beta = (cr.tensor(v, dtype=cr.float64, requires_grad=True) for v in (0.5, 0.25))
    names = nodes(explain(_long_expression(alpha, beta)))
    assert all(len(n) <= MAX_NAME for n in names)
    assert "sin(alpha*beta + alpha)" in names and "cos(alpha - beta)" in names
    assert "…*cos(alpha - beta)" in names  # sin(alpha*beta + alpha)*cos(alpha - beta) has 41 characters
    assert "exp(…*cos(alpha - beta)) + beta" in names and "tanh(…)" in names
    assert "add₁" in names  # sin(alpha*beta + alpha*alpha + beta*2) + cos(…) elided both ways says nothing
    twice = explain(cr.exp(alpha) + cr.exp(alpha))  # the same expression computed twice reads the same
    assert nodes(twice) == ["L", "exp(alpha)", "exp(alpha)"]


def _long_expression(alpha, beta):
    inner = cr.exp(cr.sin(alpha * beta + alpha) * cr.cos(alpha - beta)) + beta
    both = cr.sin(alpha * beta + alpha * alpha + beta * 2) + cr.cos(alpha * beta - alpha * alpha - beta * 2)
    return cr.tanh(inner) * cr.tanh(inner * inner) + both * 2


def test_indexing_and_module_parameters_read_as_python():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = cr.randn(5, 3, generator=np.random.default_rng(0))
    loss = model(x)[:, 1].sum()
    assert nodes(explain(loss)) == [
        "loss", "…[:, 1]", "linear(…, model.2.weight, model.2.bias)",
        "tanh(…)", "linear(x, model.0.weight, model.0.bias)",
    ]
    assert list(explain(loss, names=model).gradients) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert list(explain(loss, names={"net": model}).gradients)[0] == "net.0.weight"


def test_given_names_win_over_variables_and_tensor_names():
    x = cr.tensor(2.0, requires_grad=True)
    x.name = "from_tensor"
    y = cr.tensor(3.0, requires_grad=True)
    table = explain(x * y, names={"first": x})
    assert list(table.gradients) == ["first", "y"]
    assert list(explain(x * y).gradients) == ["from_tensor", "y"]


@pytest.mark.parametrize("names, message", [
    ({"x": 3.0}, r"explain: names\['x'\] must be a Tensor or a Module, got float"),
    (5, r"explain: names must be a dict name → tensor, \(name, tensor\) pairs or a Module, got int"),
    (["x"], r"explain: names must hold \(name, tensor\) pairs, got str"),
])
def test_bad_names_are_refused_in_one_line(names, message):
    x = cr.tensor(2.0, requires_grad=True)
    with pytest.raises(ArgumentTypeError, match=message):
        explain(x * 2, names=names)


def test_cli_names_intermediates_by_their_source_up_to_the_limit(capsys):
    code = main(["explain", "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"])
    out = capsys.readouterr().out
    assert code == 0
    rows = [m.group(1) for m in re.finditer(r"^\s+\d+  (\S.*?)  ", out, re.M)]
    assert rows[:5] == ["f", "1 + exp(-(w0*x0 + w1*x1 + w2))", "exp(-(w0*x0 + w1*x1 + w2))",
                        "-(w0*x0 + w1*x1 + w2)", "w0*x0 + w1*x1 + w2"]
    assert not re.search(r"\bt\d\b|leaf", out)


# ----- op names: the functional's, never the class name run together ----------------------------------------

# nodes that only backward passes (or layers) create, with no chainrule functional of their own; conv2d_weight is
# PyTorch's torch.nn.grad.conv2d_weight
BACKWARD_NODES = {"avg_pool2d_backward", "conv2d_weight", "embedding_scatter", "max_pool2d_gather",
                  "max_pool2d_scatter", "normal_cdf", "sum_over_processes", "sync_batch_norm"}


def _functions():
    import importlib

    from chainrule.autograd.function import Function

    for module in ("activation", "conv", "dropout", "elementwise", "indexing", "linalg", "loss", "normalization",
                   "pool", "recurrent", "reduce", "shape", "sparse", "transfer", "triangular", "unfold"):
        importlib.import_module(f"chainrule.ops.{module}")
    importlib.import_module("chainrule.nn.sync_batchnorm")
    stack, seen = [Function], set()
    while stack:
        for cls in stack.pop().__subclasses__():
            if cls not in seen:
                seen.add(cls)
                stack.append(cls)
    return sorted((c for c in seen if c.__module__.startswith("chainrule.") and not c.__name__.startswith("_")),
                  key=lambda c: c.__name__)


def test_every_function_is_shown_by_the_name_users_call():
    from chainrule.nn import functional as F  # noqa: N812
    from chainrule.ops import recurrent
    from chainrule.viz.local import op_info

    public = set(dir(cr)) | set(dir(F)) | set(dir(cr.ops)) | set(dir(recurrent)) | set(dir(cr.Tensor))
    names = {cls.__name__: op_info(object.__new__(cls)).name for cls in _functions()}
    assert {k: names[k] for k in ("LPPool2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm", "LSTMCell",
                                  "RNNSequence", "GRUCell", "NLLLoss", "CumSum", "Concatenate", "ConvTranspose2d")} == {
        "LPPool2d": "lp_pool2d", "MaxPool2d": "max_pool2d", "AvgPool2d": "avg_pool2d",
        "AdaptiveAvgPool2d": "adaptive_avg_pool2d", "BatchNorm": "batch_norm", "LSTMCell": "lstm_cell",
        "RNNSequence": "rnn_sequence", "GRUCell": "gru_cell", "NLLLoss": "nll_loss", "CumSum": "cumsum",
        "Concatenate": "cat", "ConvTranspose2d": "conv_transpose2d",
    }
    unknown = {cls: name for cls, name in names.items() if name not in public and name not in BACKWARD_NODES}
    assert not unknown, unknown
