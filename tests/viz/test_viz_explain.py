"""explain / backward_steps: the textbook examples give exactly the stated gradients, node by node."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli.expr import evaluate
from chainrule.viz import backward_steps, explain


def leaf(value, name):
    return cr.Tensor(np.asarray(value, dtype=np.float64), requires_grad=True, name=name)


def by_node(table):
    return {row["node"]: row for row in table}


def inputs(row):
    return {i["name"]: i for i in row["inputs"]}


# ----- (x + y)·z -------------------------------------------------------------------------------------------


def xyz():
    x, y, z = leaf(-2.0, "x"), leaf(5.0, "y"), leaf(-4.0, "z")
    q = x + y
    q.name = "q"
    f = q * z
    f.name = "f"
    return x, y, z, q, f


def test_add_mul_example_gradients_and_every_intermediate():
    x, y, z, q, f = xyz()
    table = explain(f)
    assert table.gradients == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert table.output == "f" and table.value == -12.0
    assert [row["node"] for row in table] == ["f", "q"]  # backward order
    mul, add = table
    assert (mul["op"], mul["pattern"], mul["value"], mul["upstream"]) == ("mul", "swaps", -12.0, 1.0)
    assert inputs(mul)["q"] | {} == {
        "name": "q", "value": 3.0, "local": -4.0, "local_formula": "z", "product": None, "downstream": -4.0,
    }
    assert (inputs(mul)["z"]["local"], inputs(mul)["z"]["local_formula"], inputs(mul)["z"]["downstream"]) == (
        3.0, "q", 3.0,
    )
    assert (add["op"], add["pattern"], add["value"], add["upstream"]) == ("add", "distributes", 3.0, -4.0)
    for name in "xy":
        assert (inputs(add)[name]["local"], inputs(add)[name]["downstream"]) == (1.0, -4.0)


def test_explain_leaves_the_graph_and_grads_alone():
    x, y, z, q, f = xyz()
    explain(f)
    list(backward_steps(f))
    assert x.grad is None and y.grad is None and z.grad is None
    f.backward()  # the graph was not released
    assert (x.grad.item(), y.grad.item(), z.grad.item()) == (-4.0, -4.0, 3.0)


def test_printed_table():
    *_, f = xyz()
    text = str(explain(f))
    lines = text.splitlines()
    assert lines[0] == "f = -12"
    assert "∂f/∂x = -4   ∂f/∂y = -4   ∂f/∂z = 3" in text
    row1 = next(line for line in lines if line.strip().startswith("1 "))
    assert row1.split() == ["1", "f", "mul", "swaps", "-12", "1", "q", "z", "=", "-4", "-4"]
    row2 = next(line for line in lines if line.strip().startswith("2 "))
    assert row2.split() == ["2", "q", "add", "distributes", "3", "-4", "x", "1", "-4"]
    assert "downstream = upstream × local" in text


def test_backward_steps_unpack_and_match_the_table():
    *_, f = xyz()
    steps = list(backward_steps(f))
    node, upstream, local, downstream = steps[0]
    assert (node, upstream, local, downstream) == ("f", 1.0, (-4.0, 3.0), (-4.0, 3.0))
    node, upstream, local, downstream = steps[1]
    assert (node, upstream, local, downstream) == ("q", -4.0, (1.0, 1.0), (-4.0, -4.0))
    assert steps[1].local_formulas == ("1", "1")
    assert [s.index for s in steps] == [1, 2]


def test_backward_steps_is_lazy_and_can_stop_early():
    *_, f = xyz()
    it = backward_steps(f)
    first = next(it)
    assert first.node == "f"
    assert cr.is_grad_enabled()  # the walk never holds no_grad across a step
    y = leaf(1.0, "y") * 2
    assert y.requires_grad
    it.close()
    assert cr.is_grad_enabled()


def test_fan_out_accumulates_like_the_engine():
    x = leaf(3.0, "x")
    f = x * x + x  # x used three times
    table = explain(f)
    assert table.gradients == {"x": 7.0}


# ----- the sigmoid neuron ----------------------------------------------------------------------------------

NEURON = dict(w0=2.0, x0=-1.0, w1=-3.0, x1=-2.0, w2=-3.0)


@pytest.mark.parametrize(
    "source", ["1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))", "s = w0*x0 + w1*x1 + w2; f = sigmoid(s)"],
)
def test_sigmoid_neuron(source):
    table = explain(evaluate(source, NEURON).output)
    s = 1 / (1 + math.exp(-1.0))  # σ(w0·x0 + w1·x1 + w2) = σ(1)
    local = s * (1 - s)
    g = table.gradients
    assert list(g) == ["w0", "x0", "w1", "x1", "w2"]
    np.testing.assert_allclose([g["w0"], g["w1"], g["w2"]], [local * -1, local * -2, local * 1], rtol=1e-14)
    np.testing.assert_allclose([g["x0"], g["x1"]], [local * 2, local * -3], rtol=1e-14)
    assert [round(g[k], 2) for k in ("w0", "w1", "w2")] == [-0.2, -0.39, 0.2]
    assert [round(g[k], 2) for k in ("x0", "x1")] == [0.39, -0.59]
    assert table.value == pytest.approx(s, rel=1e-15)


def test_sigmoid_neuron_circuit_values():
    """The gate-by-gate values of the classic circuit: 1/x, +1, exp, ×(−1), +, ×."""
    ev = evaluate("s = w0*x0 + w1*x1 + w2; f = 1 / (1 + exp(-s))", NEURON)
    rows = by_node(explain(ev.output))
    e = math.exp(-1.0)
    assert rows["f"]["op"] == "div"
    denominator = inputs(rows["f"])["1 + exp(-s)"]
    assert denominator["value"] == pytest.approx(1 + e)
    assert denominator["local"] == pytest.approx(-1 / (1 + e) ** 2)
    assert denominator["downstream"] == pytest.approx(-0.53, abs=5e-3)
    assert inputs(rows["f"])["1"]["downstream"] is None  # a constant: no gradient
    assert rows["exp(-s)"]["upstream"] == pytest.approx(-0.53, abs=5e-3)
    assert inputs(rows["exp(-s)"])["-s"]["local"] == pytest.approx(e)
    assert inputs(rows["exp(-s)"])["-s"]["downstream"] == pytest.approx(-0.20, abs=5e-3)
    assert inputs(rows["-s"])["s"]["local"] == -1.0
    assert rows["s"]["pattern"] == "distributes"
    assert rows["s"]["upstream"] == pytest.approx(0.20, abs=5e-3)
    mul = inputs(rows["w0*x0"])
    assert (mul["w0"]["local_formula"], mul["w0"]["local"]) == ("x0", -1.0)
    assert (mul["x0"]["local_formula"], mul["x0"]["local"]) == ("w0", 2.0)


# ----- the matrix example -----------------------------------------------------------------------------------


def test_matrix_example():
    W = np.array([[0.1, 0.5], [-0.3, 0.8]])
    x = np.array([0.2, 0.4])
    ev = evaluate("q = W @ x; f = sum(q ** 2)", {"W": W, "x": x})
    table = explain(ev.output)
    q = W @ x
    np.testing.assert_allclose(table.gradients["W"], 2 * np.outer(q, x), rtol=1e-14)
    np.testing.assert_allclose(table.gradients["x"], 2 * W.T @ q, rtol=1e-14)
    np.testing.assert_allclose(table.gradients["W"], [[0.088, 0.176], [0.104, 0.208]], rtol=1e-12)
    np.testing.assert_allclose(table.gradients["x"], [-0.112, 0.636], rtol=1e-12)
    rows = by_node(table)
    assert rows["f"]["pattern"] == "distributes"
    np.testing.assert_allclose(rows["q ** 2"]["upstream"], [1, 1])
    np.testing.assert_allclose(inputs(rows["q ** 2"])["q"]["local"], 2 * q)  # local 2·q
    matmul = rows["q"]
    assert (matmul["op"], matmul["pattern"]) == ("matmul", "swaps")
    np.testing.assert_allclose(matmul["upstream"], 2 * q)
    assert inputs(matmul)["W"]["product"] == "G·xᵀ" and inputs(matmul)["x"]["product"] == "Wᵀ·G"
    # ... and the same without the expression language
    Wt, xt = leaf(W, "W"), leaf(x, "x")
    qt = Wt @ xt
    g = explain((qt * qt).sum()).gradients
    np.testing.assert_allclose(g["W"], 2 * np.outer(q, x), rtol=1e-14)


# ----- patterns, names, errors ------------------------------------------------------------------------------


def test_max_routes_and_ties_split():
    a, b = leaf(3.0, "a"), leaf(1.0, "b")
    table = explain(cr.maximum(a, b) * 2)
    row = by_node(table)["max(a, b)"]
    assert (row["op"], row["pattern"]) == ("max", "routes")
    assert table.gradients == {"a": 2.0, "b": 0.0}
    tie = explain(cr.maximum(leaf(1.0, "a"), leaf(1.0, "b")))
    assert tie.gradients == {"a": 0.5, "b": 0.5}


def test_automatic_and_given_names():
    w = cr.Tensor(np.ones(3), requires_grad=True)
    loss = (cr.relu(w * 2.0) - 1.0).sum()
    table = explain(loss)  # the caller's variables name the output and the leaf
    assert table.output == "loss" and list(table.gradients) == ["w"]
    assert [row["node"] for row in table] == ["loss", "relu(w*2) - 1", "relu(w*2)", "w*2"]
    assert explain(loss, names={"weights": w}).gradients.keys() == {"weights"}
    unnamed = explain((cr.relu(cr.Tensor(np.ones(3), requires_grad=True) * 2.0) - 1.0).sum())
    assert unnamed.output == "L" and list(unnamed.gradients) == ["leaf₁"]


def test_module_parameters_name_the_leaves():
    model = cr.nn.Linear(3, 2)
    x = cr.ones(4, 3)
    loss = model(x).sum()
    table = explain(loss, names=model)
    assert set(table.gradients) == {"weight", "bias"}
    np.testing.assert_allclose(table.gradients["bias"], [4.0, 4.0])
    assert [row["node"] for row in table] == ["loss", "linear(x, weight, bias)"]
    assert set(explain(loss).gradients) == {"model.weight", "model.bias"}  # the caller's variable: its path
    assert set(explain(loss, names={"fc": model}).gradients) == {"fc.weight", "fc.bias"}


def test_non_scalar_output_needs_a_grad():
    x = leaf([1.0, 2.0], "x")
    with pytest.raises(cr.BackwardError, match="one-element"):
        explain(x * 2)
    table = explain(x * 3, grad=np.array([1.0, 10.0]))
    np.testing.assert_allclose(table.gradients["x"], [3.0, 30.0])


def test_freed_graph_and_no_grad_are_refused_clearly():
    *_, f = xyz()
    f.backward()
    with pytest.raises(cr.BackwardError, match="freed by an earlier backward"):
        explain(f)
    with pytest.raises(cr.BackwardError, match="does not require grad"):
        explain(cr.tensor(1.0) * 2)


def test_explanation_repr_and_plain_structure():
    *_, f = xyz()
    table = explain(f)
    assert isinstance(table, list) and all(isinstance(row, dict) for row in table)
    assert "2 steps" in repr(table)
    assert str(table) == cr.viz.format_table(table)
